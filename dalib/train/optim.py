"""The optimizer of a training run: parameter groups, SGD / Adam, and the lr schedule.

Shared by the single-run `dalib.train.trainer.Trainer` and the many-run
`dalib.train.vectorized.VectorizedTrainer`, so both train with the same groups and rates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from dalib.train.param_groups import param_groups
from dalib.train.schedules import inverse_decay

if TYPE_CHECKING:
    from dalib.train.trainer import TrainConfig


def training_groups(model: nn.Module, objective: nn.Module, lr_mults: dict[str, float],
                    anchored: list[nn.Parameter]) -> list[dict]:
    """All model parameters, frozen ones included (so unfreezing needs no new optimizer), grouped
    by lr multiplier (`param_groups`; parameters anchored by a regulariser such as L2-SP get no
    weight decay), plus one group of the objective's own trainable parameters (discriminators).
    Each group is ``{"params", "lr_mult", "no_decay"}``."""
    groups = param_groups(model, lr_mults, anchored)
    extra = [p for p in objective.parameters() if p.requires_grad]
    if extra:
        groups.append({"params": extra, "lr_mult": 1.0, "no_decay": False})
    return groups


def make_optimizer(groups: list[dict], cfg: "TrainConfig", fused: bool = False) -> torch.optim.Optimizer:
    """SGD (momentum, Nesterov when momentum > 0) or Adam over ``groups``: group lr
    ``cfg.lr · lr_mult`` and weight decay ``cfg.weight_decay`` (0 on ``no_decay`` groups).

    ``fused`` runs SGD in one pass over each tensor (CPU and CUDA; ~3× faster than the
    multi-tensor kernel of single runs, and equal to it up to rounding); Adam stays foreach."""
    groups = [{"params": g["params"], "lr_mult": g["lr_mult"], "lr": cfg.lr * g["lr_mult"],
               "weight_decay": 0.0 if g["no_decay"] else cfg.weight_decay} for g in groups]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)
    fused = fused and torch.device(cfg.device).type in ("cpu", "cuda")
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                           nesterov=cfg.momentum > 0, foreach=None if fused else True, fused=fused or None)


def set_lr(optimizer: torch.optim.Optimizer, cfg: "TrainConfig", progress: float) -> float:
    """Set every group's lr to lr·mult·schedule(p); returns the base lr·schedule(p)."""
    factor = inverse_decay(progress, cfg.lr_alpha, cfg.lr_beta) if cfg.lr_schedule == "inverse_decay" else 1.0
    for g in optimizer.param_groups:
        g["lr"] = cfg.lr * g["lr_mult"] * factor
    return cfg.lr * factor
