"""A domain: named samples over a fixed, ordered class set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from dalib.errors import DalibError


@dataclass
class Domain:
    """Samples of one domain.

    ``dataset`` yields ``(x, y)`` pairs: a `TensorDataset` for in-memory features
    (x (n, d) float32, y (n,) int64) or any map-style dataset for files (images).
    ``labels`` (n,) int64 holds every sample's class index in ``[0, len(class_names))``;
    ``short`` is the initial used in task names (``A`` in ``A→W``). ``texts`` (n strings) keeps
    the raw text of a text domain whose ``dataset`` holds its embeddings or token ids, for
    baselines that featurise text themselves (TF-IDF).
    """

    name: str
    short: str
    class_names: list[str]
    dataset: Dataset
    labels: torch.Tensor
    texts: list[str] | None = None

    def __post_init__(self) -> None:
        n_cls = len(self.class_names)
        if len(self.labels) != len(self.dataset):  # type: ignore[arg-type]
            raise DalibError(
                f"domain {self.name!r}: {len(self.labels)} labels for {len(self.dataset)} samples; "  # type: ignore[arg-type]
                "give one label per sample"
            )
        if len(self.labels) == 0:
            raise DalibError(f"domain {self.name!r} has no samples; check its files or folder")
        if self.texts is not None and len(self.texts) != len(self.labels):
            raise DalibError(f"domain {self.name!r}: {len(self.texts)} texts for {len(self.labels)} samples; give one text per sample")
        lo, hi = int(self.labels.min()), int(self.labels.max())
        if lo < 0 or hi >= n_cls:
            raise DalibError(
                f"domain {self.name!r}: labels span [{lo}, {hi}] but there are {n_cls} classes; "
                f"labels must be in [0, {n_cls - 1}] (1-based labels need label_offset=1)"
            )

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(x, y)`` when the domain is in memory, else None."""
        if isinstance(self.dataset, TensorDataset):
            x, y = self.dataset.tensors
            return x, y
        return None

    def subset(self, indices: np.ndarray, suffix: str = "") -> "Domain":
        """The same domain restricted to ``indices`` (in-memory data stays in memory)."""
        idx = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        tensors = self.tensors
        if tensors is not None:
            dataset: Dataset = TensorDataset(tensors[0][idx], tensors[1][idx])
        else:
            dataset = Subset(self.dataset, idx.tolist())
        texts = None if self.texts is None else [self.texts[i] for i in idx.tolist()]
        return Domain(self.name + suffix, self.short, self.class_names, dataset, self.labels[idx], texts)


def tensor_domain(name: str, short: str, class_names: list[str], x: np.ndarray, y: np.ndarray) -> Domain:
    """A `Domain` from in-memory arrays: ``x`` (n, d) features, ``y`` (n,) class indices."""
    if x.ndim < 2 or len(x) != len(y):
        raise DalibError(
            f"domain {name!r}: features of shape {x.shape} do not match {len(y)} labels; "
            "expected (n_samples, n_features)"
        )
    if not np.isfinite(x).all():
        raise DalibError(f"domain {name!r}: features contain NaN or inf; clean or impute them first")
    xt = torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32)
    yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
    return Domain(name, short, list(class_names), TensorDataset(xt, yt), yt)


def check_compatible(domains: list[Domain]) -> None:
    """Raise when domains differ in class set or (for in-memory data) feature dimension."""
    first = domains[0]
    for d in domains[1:]:
        if d.class_names != first.class_names:
            only_a = sorted(set(first.class_names) - set(d.class_names))
            only_b = sorted(set(d.class_names) - set(first.class_names))
            raise DalibError(
                f"class sets differ between domains {first.name!r} and {d.name!r}: "
                f"only in {first.name}: {only_a or '-'}; only in {d.name}: {only_b or '-'}"
                + ("" if only_a or only_b else " (same names, different order)")
                + "; every domain needs the same classes"
            )
        ta, tb = first.tensors, d.tensors
        if ta is not None and tb is not None and ta[0].shape[1:] != tb[0].shape[1:]:
            raise DalibError(
                f"feature dimension mismatch: {first.name!r} has {tuple(ta[0].shape[1:])}, "
                f"{d.name!r} has {tuple(tb[0].shape[1:])}; domains must share one feature space"
            )
