"""Fine-tuning strategies: how a pretrained backbone is adapted to a new labelled task.

| strategy             | backbone start | backbone trains        | extra term |
|----------------------|----------------|------------------------|------------|
| `scratch`            | random         | yes, lr × 1            |            |
| `feature_extraction` | pretrained     | no: features cached once, only the head trains | |
| `full`               | pretrained     | yes, lr × 1            |            |
| `layerwise`          | pretrained     | yes, lr × ``backbone_lr_mult`` (0.1) |  |
| `gradual`            | pretrained     | stages unfrozen from the top, one every ``unfreeze_every`` epochs | |
| `l2sp`               | pretrained     | yes, lr × 1            | L2-SP      |
| `bss`                | pretrained     | yes, lr × 1            | BSS        |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.utils.data import TensorDataset

from dalib.data.domain import Domain
from dalib.data.sampling import iterate_in_order
from dalib.errors import DalibError
from dalib.train.param_groups import backbone_lr_mults

if TYPE_CHECKING:
    from dalib.train.trainer import Trainer


@dataclass(frozen=True)
class FineTuneStrategy:
    """One row of the table above. ``method`` is the objective's extra term (``source_only``
    for none), so a strategy runs through the one trainer like any method."""

    name: str
    pretrained: bool = True
    freeze_backbone: bool = False
    backbone_lr_mult: float = 1.0
    unfreeze_every: int = 0
    method: str = "source_only"

    @property
    def lr_mults(self) -> dict[str, float]:
        """Layer-wise learning-rate multipliers for `TrainConfig.lr_mults`."""
        return backbone_lr_mults(self.backbone_lr_mult)


STRATEGIES: dict[str, FineTuneStrategy] = {s.name: s for s in [
    FineTuneStrategy("scratch", pretrained=False),
    FineTuneStrategy("feature_extraction", freeze_backbone=True),
    FineTuneStrategy("full"),
    FineTuneStrategy("layerwise", backbone_lr_mult=0.1),
    FineTuneStrategy("gradual", unfreeze_every=2),
    FineTuneStrategy("l2sp", method="l2sp"),
    FineTuneStrategy("bss", method="bss"),
]}


def get_strategy(name: str) -> FineTuneStrategy:
    """The strategy called ``name``."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise DalibError(f"unknown fine-tuning strategy {name!r}; choose from {', '.join(STRATEGIES)}") from None


def freeze(module: nn.Module, frozen: bool = True) -> None:
    """Set ``requires_grad = not frozen`` on every parameter of ``module``."""
    for p in module.parameters():
        p.requires_grad_(not frozen)


class GradualUnfreezing:
    """Epoch hook: before epoch e, the top ⌊e / every⌋ backbone stages train, the rest are frozen.

    ``stages`` run from input to output (e.g. ResNet stem, layer1 … layer4), so the stages
    next to the head are unfrozen first (ULMFiT, Howard & Ruder 2018). Epoch 0 trains only
    the new layers on top of the backbone.
    """

    def __init__(self, stages: list[tuple[str, nn.Module]], every: int) -> None:
        if every < 1 or not stages:
            raise DalibError("gradual unfreezing needs backbone stages and unfreeze_every ≥ 1")
        self.stages, self.every = stages, every

    def trainable(self, epoch: int) -> list[str]:
        """Names of the stages that train in ``epoch``."""
        n = min(len(self.stages), epoch // self.every)
        return [name for name, _ in self.stages[len(self.stages) - n:]]

    def __call__(self, trainer: "Trainer", epoch: int) -> None:
        keep = set(self.trainable(epoch))
        for name, stage in self.stages:
            freeze(stage, name not in keep)


@torch.no_grad()
def extract_features(backbone: nn.Module, domain: Domain, batch_size: int = 128,
                     device: str = "cpu") -> Domain:
    """The domain's backbone features g(x), computed once in eval mode: an in-memory domain
    with x (n, feature_dim) float32, the same labels, class names and texts.

    Training a head on it runs at feature speed and is exactly feature extraction: the
    frozen backbone sees each sample once, deterministically (no dropout, fixed BN statistics).
    """
    was_training = backbone.training
    backbone.eval().to(device)
    feats = [backbone(x.to(device)).float().cpu() for x, _ in iterate_in_order(domain, batch_size)]
    backbone.train(was_training)
    x = torch.cat(feats)
    return Domain(domain.name, domain.short, domain.class_names, TensorDataset(x, domain.labels.clone()),
                  domain.labels.clone(), domain.texts)
