"""Multi-task demonstration on any catalog dataset: object class + domain on one backbone.

Pooling a dataset's domains gives every sample two labels: its class and the domain it came
from (the rotation angle of rotated digits, the camera of Office-Caltech10). The same
backbone is trained with the class head alone (``single``) or with both heads, the losses
weighted equally (``fixed``) or by learned uncertainty (``uncertainty``, Kendall et al. 2018).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from dalib.data.domain import Domain
from dalib.data.image_tensors import get_augmentation
from dalib.data.tasks import split_indices
from dalib.errors import DalibError
from dalib.finetune.fewshot import pool_domains
from dalib.models import build_backbone
from dalib.models.multitask import MultiTaskNet
from dalib.train.multitask import MultiTaskLoss, fit_multitask
from dalib.train.trainer import TrainConfig, Trainer, seed_everything

MULTITASK_SETTINGS = ("single", "fixed", "uncertainty")


def class_and_domain_tasks(domains: list[Domain], seed: int) -> tuple[dict[str, Domain], dict[str, Domain]]:
    """(train, val) task dicts ``{"class": …, "domain": …}`` over the pooled domains, split
    80/20 stratified by class; both tasks see the same samples."""
    pooled = pool_domains(domains)
    domain_ids = torch.cat([torch.full((len(d),), i, dtype=torch.long) for i, d in enumerate(domains)])
    train_idx, val_idx = split_indices(pooled, seed)

    def by_domain(idx: np.ndarray, suffix: str) -> Domain:
        x, y = pooled.tensors[0][idx], domain_ids[idx]  # type: ignore[index]
        return Domain(pooled.name + suffix, pooled.short, [d.name for d in domains], TensorDataset(x, y), y)

    return ({"class": pooled.subset(train_idx, ":train"), "domain": by_domain(train_idx, ":train")},
            {"class": pooled.subset(val_idx, ":val"), "domain": by_domain(val_idx, ":val")})


def run_multitask(domains: list[Domain], backbone_name: str, setting: str, seed: int, config: TrainConfig,
                  bottleneck_dim: int = 256, weights: str | None = None, augment: str = "") -> dict[str, Any]:
    """Train one setting of `MULTITASK_SETTINGS`; return last-epoch val accuracy per head,
    the final task weights and per-epoch records."""
    if setting not in MULTITASK_SETTINGS:
        raise DalibError(f"unknown multi-task setting {setting!r}; choose from {MULTITASK_SETTINGS}")
    train, val = class_and_domain_tasks(domains, seed)
    if setting == "single":
        train, val = {"class": train["class"]}, {"class": val["class"]}
    heads = {name: d.num_classes for name, d in train.items()}
    seed_everything(seed)
    in_dim = int(train["class"].dataset[0][0].numel())
    model = MultiTaskNet(build_backbone(backbone_name, in_dim, weights=weights), heads, bottleneck_dim)
    loss = MultiTaskLoss(list(heads), "fixed" if setting == "single" else setting)
    trainer = Trainer(model, loss, config, augment=get_augmentation(augment))
    history = fit_multitask(trainer, train, val)
    last = history.epochs[-1]
    return {"setting": setting, "seed": seed, "backbone": backbone_name, "heads": heads,
            "val_acc": last.val_acc, "task_weights": last.weights, **history.to_dict()}
