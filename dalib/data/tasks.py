"""Transfer tasks (ordered domain pairs) and the protocol's source train / source-val split."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations

import numpy as np

from dalib.data.domain import Domain
from dalib.errors import DalibError


@dataclass(frozen=True)
class Task:
    """Adapt from labelled ``source`` to unlabelled ``target``; named ``A→W`` (ASCII ``A2W``)."""

    source: Domain
    target: Domain

    @property
    def name(self) -> str:
        return f"{self.source.short}→{self.target.short}"

    @property
    def ascii_name(self) -> str:
        return f"{self.source.short}2{self.target.short}"


def all_tasks(domains: list[Domain]) -> list[Task]:
    """Every ordered pair (S, T), S ≠ T, in catalog order."""
    return [Task(s, t) for s, t in permutations(domains, 2)]


def select_tasks(domains: list[Domain], names: list[str] | None) -> list[Task]:
    """The tasks named in ``names`` (``A→W`` or ``A2W``), or all tasks when None."""
    tasks = all_tasks(domains)
    if not names:
        return tasks
    by_name = {key.lower(): t for t in tasks for key in (t.name, t.ascii_name)}
    chosen = []
    for n in names:
        if n.lower() not in by_name:
            raise DalibError(f"unknown task {n!r}; available: {', '.join(t.ascii_name for t in tasks)}")
        chosen.append(by_name[n.lower()])
    return chosen


def partial_target(task: Task, num_classes: int) -> Task:
    """The partial-set protocol (PADA, Cao et al. 2018): the target keeps only its samples of the
    first ``num_classes`` classes (labels 0 … k−1, in the dataset's class order); the source keeps
    all C classes, so a model still predicts among C. ``num_classes`` 0 returns ``task`` unchanged."""
    total = task.source.num_classes
    if num_classes == 0:
        return task
    if not 1 <= num_classes < total:
        raise DalibError(f"target_classes={num_classes}: the partial-set target keeps 1 … {total - 1} of the "
                         f"{total} classes (0 keeps all)")
    keep = np.flatnonzero(task.target.labels.numpy() < num_classes)
    return Task(task.source, task.target.subset(keep, f":first{num_classes}"))


def split_source(domain: Domain, seed: int, val_fraction: float = 0.2) -> tuple[Domain, Domain]:
    """Stratified split of a labelled source into (train, source-val), fixed by ``seed``."""
    train_idx, val_idx = split_indices(domain, seed, val_fraction)
    return domain.subset(train_idx, ":train"), domain.subset(val_idx, ":val")


def _split(y: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted positions (kept, split off) of labels ``y``: stratified when every class present
    has at least 2 samples, else plain; raises scikit-learn's ValueError when impossible."""
    from sklearn.model_selection import train_test_split  # imported by the runs, not by planning

    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 else None
    kept, off = train_test_split(np.arange(len(y)), test_size=test_size, random_state=seed, stratify=stratify)
    return np.sort(kept), np.sort(off)


def split_indices(domain: Domain, seed: int, val_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices (train, val) of the stratified split used by `split_source`."""
    try:
        return _split(domain.labels.numpy(), val_fraction, seed)
    except ValueError as err:
        raise DalibError(f"cannot split source {domain.name!r} 80/20 ({err}); "
                         "it needs more samples per class") from None


def split_target(domain: Domain, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified 50/50 split of the target's indices into (labelled half, held-out half).

    The target-only baseline trains on the labelled half; every method is also evaluated on
    the held-out half, so the rows of a table with the target-only line are comparable.
    """
    try:
        return _split(domain.labels.numpy(), 0.5, seed)
    except ValueError as err:
        raise DalibError(f"cannot split target {domain.name!r} 50/50 ({err}); it needs at least 2 samples") from None


def target_only_problem(labels: np.ndarray, seed: int) -> str | None:
    """Why the target-only reference cannot be trained on a target with class indices
    ``labels`` (n,) and ``seed``, or None.

    The reference splits the target 50/50 (`split_target`), then its labelled half 80/20 into
    train and val (`split_source`); it needs both splits to succeed and at least 2 training
    samples (a batch of one cannot be batch-normalised). With at least 10 samples in every class
    present, both stratified splits always succeed and leave ≥ 2 per class to train on, so they
    are not tried (planning a grid then needs no scikit-learn)."""
    counts = np.bincount(labels)
    if counts[counts > 0].min() >= 10:
        return None
    try:
        labelled, _ = _split(labels, 0.5, seed)
        train, _ = _split(labels[labelled], 0.2, seed)
    except ValueError as err:
        return f"({len(labels)} samples) is too small to split 50/50, then 80/20 ({err})"
    if len(train) < 2:
        return f"({len(labels)} samples) leaves {len(train)} training sample after the 50/50 and 80/20 splits"
    return None
