"""k-shot fine-tuning: adapt a (pretrained) backbone to a new domain from k labelled images per class.

The domain is split once per seed into k labelled samples per class (train) and the rest
(test). Every strategy of `dalib.finetune.strategies` trains through the one trainer for a
fixed budget and is reported at its last epoch: with k = 3 there is no labelled data left
for selection, and test labels are never used to pick an epoch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from dalib.data.domain import Domain
from dalib.data.image_tensors import get_augmentation
from dalib.data.tasks import split_source
from dalib.errors import DalibError
from dalib.finetune.strategies import FineTuneStrategy, GradualUnfreezing, extract_features
from dalib.finetune.trunk_cache import trunk_inputs, view_recipe
from dalib.methods import build_terms, resolve_method
from dalib.models import Classifier, build_backbone
from dalib.models.backbones import MLP
from dalib.models.trunk import TrunkCut, parse_trunk
from dalib.models.vision import save_weights
from dalib.train.objective import Objective
from dalib.train.trainer import TrainConfig, Trainer, seed_everything


@dataclass(frozen=True)
class FewShotConfig:
    """Budget of one k-shot run: ``epochs`` × ``iters_per_epoch`` steps of ``batch_size``.

    ``trunk`` ("", ``frozen``, ``top:N``, ``full``; `dalib.models.trunk`) trains on a cached
    trunk of the domain's images at ``image_size`` px (0: the backbone's own) with ``views``
    views per image; cached outputs replace ``augment`` by one cached view per sample.
    """

    k: int = 3
    epochs: int = 10
    iters_per_epoch: int = 10
    batch_size: int = 32
    lr: float = 0.01
    weight_decay: float = 5e-4
    bottleneck_dim: int = 256
    augment: str = "flip_crop"
    trunk: str = ""
    image_size: int = 0
    views: int = 10


def kshot_split(domain: Domain, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): ``k`` random samples of every class for train, the rest for test."""
    y = domain.labels.numpy()
    counts = np.bincount(y, minlength=domain.num_classes)
    if counts.min() <= k:
        c = int(counts.argmin())
        raise DalibError(f"domain {domain.name!r} has {counts[c]} samples of class {domain.class_names[c]!r}; "
                         f"k={k} shots per class need at least k+1 (one left to test)")
    rng = np.random.default_rng(seed)
    train = np.concatenate([rng.choice(np.flatnonzero(y == c), k, replace=False) for c in range(domain.num_classes)])
    return np.sort(train), np.setdiff1d(np.arange(len(y)), train)


def run_kshot(strategy: FineTuneStrategy, backbone_name: str, weights: str | Path | None,
              domain: Domain, seed: int, config: FewShotConfig) -> dict[str, Any]:
    """Train one strategy on a k-shot split of ``domain``; return a record with per-epoch test
    accuracy (``epochs[i].target_acc``), the last-epoch accuracy ``test_acc`` and wall time."""
    if strategy.pretrained and not weights:
        raise DalibError(f"strategy {strategy.name!r} starts from pretrained weights; give a weights file")
    train_idx, test_idx = kshot_split(domain, config.k, seed)
    cut = parse_trunk(config.trunk)
    check_trunk_strategy(strategy, cut)
    seed_everything(seed)
    in_dim = int(domain.dataset[0][0].numel())
    backbone = build_backbone(backbone_name, in_dim, weights=str(weights) if strategy.pretrained else None)
    augment = get_augmentation(config.augment)
    if cut is not None:
        recipe = view_recipe(backbone_name, config.image_size, config.views)
        (domain,), backbone = trunk_inputs([domain], backbone, cut, recipe)
        if cut.cached:  # one cached view per sample replaces the image augmentation
            augment = get_augmentation("views" if recipe.views > 1 else "")
    train, test = domain.subset(train_idx, ":kshot"), domain.subset(test_idx, ":test")
    if strategy.freeze_backbone:  # features once; the head trains on them, no augmentation
        train, test = extract_features(backbone, train), extract_features(backbone, test)
        backbone, augment = MLP(backbone.feature_dim, hidden=()), None
    model = Classifier(backbone, domain.num_classes, config.bottleneck_dim)
    hooks = []
    if strategy.unfreeze_every:
        if not hasattr(backbone, "stages"):
            raise DalibError(f"backbone {backbone_name!r} has no stages to unfreeze gradually; use lenet, resnet or vgg")
        hooks.append(GradualUnfreezing(backbone.stages(), strategy.unfreeze_every))
    terms = build_terms(resolve_method(strategy.method), model.feature_dim, model.num_classes, model=model)
    cfg = TrainConfig(epochs=config.epochs, iters_per_epoch=config.iters_per_epoch,
                      batch_size=config.batch_size, lr=config.lr, weight_decay=config.weight_decay,
                      seed=seed, lr_mults=strategy.lr_mults, selection_scores=False)
    history = Trainer(model, Objective(terms), cfg, hooks=hooks, augment=augment).fit(train, train, test)
    return {"strategy": strategy.name, "seed": seed, "k": config.k, "backbone": backbone_name,
            "weights": str(weights) if strategy.pretrained else None, "n_train": len(train),
            "n_test": len(test), "config": asdict(config), "test_acc": history.epochs[-1].target_acc,
            **history.to_dict()}


def check_trunk_strategy(strategy: FineTuneStrategy, cut: TrunkCut | None) -> None:
    """Refuse a strategy the trunk cannot run: ``scratch`` needs the whole backbone to train
    (trunk ``full``); under ``frozen`` nothing of the backbone trains (only ``feature_extraction``)."""
    if cut is None or cut.mode == "full":
        return
    if not strategy.pretrained:
        raise DalibError(f"strategy {strategy.name!r} trains a random backbone, which trunk {cut} would freeze; "
                         "use trunk full (or '') for it")
    if cut.mode == "frozen" and not strategy.freeze_backbone:
        raise DalibError(f"strategy {strategy.name!r} trains the backbone, which trunk frozen keeps fixed; "
                         "use feature_extraction, or trunk top:N / full")


def pretrain(domains: list[Domain], backbone_name: str, out: Path, seed: int, config: TrainConfig,
             augment: str = "flip_crop", bottleneck_dim: int = 256) -> dict[str, Any]:
    """Supervised pre-training on the pooled ``domains`` (80/20 split for source-val); saves the
    backbone's state dict to ``out`` and returns the training record."""
    pooled = pool_domains(domains)
    train, val = split_source(pooled, seed)
    seed_everything(seed)
    model = Classifier(build_backbone(backbone_name, int(train.dataset[0][0].numel())),
                       pooled.num_classes, bottleneck_dim)
    trainer = Trainer(model, Objective([]), config, augment=get_augmentation(augment))
    history = trainer.fit(train, val, val)
    save_weights(model.backbone, out)
    return {"domains": [d.name for d in domains], "backbone": backbone_name, "weights": str(out),
            "source_val_acc": history.epochs[-1].source_val_acc, **history.to_dict()}


def pool_domains(domains: list[Domain]) -> Domain:
    """One in-memory domain holding the samples of ``domains`` (same classes), named ``a+b``."""
    tensors = [d.tensors for d in domains]
    if any(t is None for t in tensors) or len({tuple(d.class_names) for d in domains}) != 1:
        raise DalibError("pooling needs in-memory domains with the same classes (decode image folders first)")
    x = torch.cat([t[0] for t in tensors])  # type: ignore[index]
    y = torch.cat([t[1] for t in tensors])  # type: ignore[index]
    name = "+".join(d.name for d in domains)
    return Domain(name, "".join(d.short for d in domains), list(domains[0].class_names), TensorDataset(x, y), y)
