"""Several labelled tasks at once through the one trainer: a shared backbone, one head each.

Each step draws a batch from every task's domain, computes ℓ_k = CE(h_k(x_k), y_k) and
minimises the weighted sum of `MultiTaskLoss`. The tasks may share images (digit class and
rotation angle of the same digits) or come from different domains.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dalib.data.domain import Domain
from dalib.data.sampling import BatchStream
from dalib.errors import DalibError
from dalib.eval.metrics import predict
from dalib.train.objective import describe_nonfinite, is_finite
from dalib.train.trainer import History, Trainer, steps_per_epoch

WEIGHTINGS = ("fixed", "uncertainty")


class MultiTaskLoss(nn.Module):
    """L = Σ_k w_k·ℓ_k (``fixed``), or, learned (``uncertainty``, Kendall et al. 2018, the
    classification form): L = Σ_k exp(−s_k)·ℓ_k + ½·s_k with s_k = log σ_k² trained with the
    model (initialised at 0, so both weightings start equal with unit weights).

    ``forward(losses)`` takes ``{name: ℓ_k}`` (scalars) and returns ``(L, parts)`` where
    ``parts`` holds each ℓ_k and, as ``weight/<name>``, its current weight (w_k or exp(−s_k)).
    """

    def __init__(self, tasks: list[str], weighting: str = "fixed", weights: dict[str, float] | None = None) -> None:
        super().__init__()
        if weighting not in WEIGHTINGS:
            raise DalibError(f"unknown multi-task weighting {weighting!r}; use one of {WEIGHTINGS}")
        weights = dict(weights or {})
        extra = sorted(set(weights) - set(tasks))
        if extra:
            raise DalibError(f"weights given for unknown task(s) {extra}; tasks are {tasks}")
        self.tasks, self.weighting = list(tasks), weighting
        self.fixed = {t: float(weights.get(t, 1.0)) for t in tasks}
        self.log_var = nn.Parameter(torch.zeros(len(tasks))) if weighting == "uncertainty" else None

    def task_weights(self) -> dict[str, float]:
        """Current weight of each task's loss."""
        if self.log_var is None:
            return dict(self.fixed)
        return {t: float(torch.exp(-s)) for t, s in zip(self.tasks, self.log_var.detach())}

    def forward(self, losses: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor | float]]:
        if set(losses) != set(self.tasks):
            raise DalibError(f"losses for {sorted(losses)} but the tasks are {sorted(self.tasks)}")
        parts: dict[str, Tensor | float] = dict(losses)
        total: Tensor = torch.zeros((), device=next(iter(losses.values())).device)
        for i, t in enumerate(self.tasks):
            if self.log_var is None:
                total = total + self.fixed[t] * losses[t]
            else:
                s = self.log_var[i]
                total = total + torch.exp(-s) * losses[t] + 0.5 * s
        parts.update({f"weight/{t}": w for t, w in self.task_weights().items()})
        return total, parts


@dataclass
class MultiTaskRecord:
    """Per-epoch mean loss per task, validation accuracy per task and the task weights."""

    epoch: int
    step: int
    losses: dict[str, float]
    val_acc: dict[str, float]
    weights: dict[str, float]


def fit_multitask(trainer: Trainer, train: dict[str, Domain], val: dict[str, Domain]) -> History:
    """Train ``trainer.model`` (a `MultiTaskNet`) with ``trainer.objective`` (a `MultiTaskLoss`)
    on every task of ``train`` at once; after each epoch record each head's accuracy on ``val``.

    Uses the trainer's optimizer, lr schedule, layer-wise rates, epoch hooks and NaN check.
    One epoch is ``config.iters_per_epoch`` steps, or one pass over the largest task.
    """
    model, loss_fn, cfg = trainer.model, trainer.objective, trainer.config
    # a multi-task model (e.g. `dalib.models.MultiTaskNet`) has named heads and ``head(name)``;
    # checked by shape, not by class, so the loop does not import models (../shared/ARCHITECTURE.md)
    if not callable(getattr(model, "head", None)) or not isinstance(loss_fn, MultiTaskLoss):
        raise DalibError("fit_multitask needs a Trainer built with a MultiTaskNet and a MultiTaskLoss")
    names = list(loss_fn.tasks)
    for what, given in (("train", train), ("val", val)):
        if set(given) != set(names) or set(names) != set(model.heads):
            raise DalibError(f"{what} tasks {sorted(given)} must match the heads {sorted(model.heads)} "
                             f"and the loss's tasks {sorted(names)}")
    for t in names:
        if train[t].num_classes != model.heads[t].out_features:
            raise DalibError(f"task {t!r} has {train[t].num_classes} classes but its head has "
                             f"{model.heads[t].out_features} outputs")
    streams = {t: BatchStream(train[t], cfg.batch_size, torch.Generator().manual_seed(cfg.seed + i))
               for i, t in enumerate(names)}
    iters = cfg.iters_per_epoch or max(steps_per_epoch(len(train[t]), cfg.batch_size) for t in names)
    total, step, history, start = iters * cfg.epochs, trainer.epoch * iters, History(), time.perf_counter()
    for epoch in range(trainer.epoch, cfg.epochs):
        for hook in trainer.hooks:
            hook(trainer, epoch)
        trainer.train_mode()
        sums = {t: 0.0 for t in names}
        for _ in range(iters):
            trainer.set_lr(step / total)
            losses = {}
            for t in names:
                x, y, _ = next(streams[t])
                if trainer.augment is not None:
                    x = trainer.augment(x, trainer.augment_rng)
                losses[t] = F.cross_entropy(model(x.to(trainer.device))[1][t], y.to(trainer.device))
            loss, parts = loss_fn(losses)
            if not is_finite(loss):
                raise DalibError(describe_nonfinite(step, parts))
            trainer.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            trainer.optimizer.step()
            for t in names:
                sums[t] += float(losses[t].detach())
            step += 1
        trainer.epoch = epoch + 1
        acc = {t: predict(model.head(t), val[t], cfg.eval_batch_size, trainer.device).accuracy for t in names}
        history.epochs.append(MultiTaskRecord(epoch + 1, step, {t: v / iters for t, v in sums.items()},
                                              acc, loss_fn.task_weights()))
    history.seconds = time.perf_counter() - start
    return history
