"""Transfer tasks (ordered domain pairs) and the protocol's source train / source-val split."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations

import numpy as np
from sklearn.model_selection import train_test_split

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


def split_source(domain: Domain, seed: int, val_fraction: float = 0.2) -> tuple[Domain, Domain]:
    """Stratified split of a labelled source into (train, source-val), fixed by ``seed``."""
    train_idx, val_idx = split_indices(domain, seed, val_fraction)
    return domain.subset(train_idx, ":train"), domain.subset(val_idx, ":val")


def split_indices(domain: Domain, seed: int, val_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices (train, val) of the stratified split used by `split_source`."""
    y = domain.labels.numpy()
    counts = np.bincount(y, minlength=domain.num_classes)
    stratify = y if counts[counts > 0].min() >= 2 else None
    try:
        train_idx, val_idx = train_test_split(np.arange(len(y)), test_size=val_fraction,
                                              random_state=seed, stratify=stratify)
    except ValueError as err:
        raise DalibError(f"cannot split source {domain.name!r} 80/20 ({err}); it needs more samples per class") from None
    return np.sort(train_idx), np.sort(val_idx)


def split_target(domain: Domain, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified 50/50 split of the target's indices into (labelled half, held-out half).

    The target-only baseline trains on the labelled half; every method is also evaluated on
    the held-out half, so the rows of a table with the target-only line are comparable.
    """
    y = domain.labels.numpy()
    counts = np.bincount(y, minlength=domain.num_classes)
    stratify = y if counts[counts > 0].min() >= 2 else None
    labelled, heldout = train_test_split(np.arange(len(y)), test_size=0.5, random_state=seed, stratify=stratify)
    return np.sort(labelled), np.sort(heldout)
