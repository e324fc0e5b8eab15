"""Spectral terms on a batch: BNM (target predictions) and BSP (features of both domains).

Both read singular values of a batch matrix: ``torch.linalg.svdvals`` (descending), whose
gradient is defined wherever the singular values are distinct.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from dalib.alignment.base import Discrepancy
from dalib.alignment.entropy import target_logits
from dalib.alignment.mmd import check_features
from dalib.alignment.registry import register
from dalib.errors import DalibError


def bnm_loss(logits: Tensor) -> Tensor:
    """Batch nuclear-norm maximisation (Cui et al., CVPR 2020), logits (n, C) → scalar.

    A = softmax(logits) (n, C); L = −‖A‖_* / n with ‖A‖_* = Σ_i σ_i(A) (the nuclear norm).
    Minimising L maximises ‖A‖_*, which rewards both confident (low-entropy) and diverse
    (many classes in the batch) predictions. For one-hot predictions with n_c rows of class c,
    AᵀA = diag(n_c) and L = −Σ_c √n_c / n.
    """
    return -torch.linalg.svdvals(F.softmax(logits, dim=1)).sum() / logits.shape[0]


@register("bnm", family="self-training", weight=1.0)
class BNM(Discrepancy):
    """BNM: batch nuclear-norm maximisation of target predictions (Cui et al., CVPR 2020).

    D = −‖softmax(logits_t)‖_* / n_t with logits_t (n_t, C); see `bnm_loss`. Needs logits_t;
    everything else is ignored. Default term weight 1 (the paper's λ for Office).
    """

    def forward(self, f_s: Tensor, f_t: Tensor, *, logits_s: Tensor | None = None,
                logits_t: Tensor | None = None, y_s: Tensor | None = None,
                w_s: Tensor | None = None, progress: float = 0.0) -> Tensor:
        logits_t = target_logits(logits_t, self.num_classes, "bnm")
        return bnm_loss(logits_t)


def top_singular_energy(f: Tensor, k: int) -> Tensor:
    """Σ_{i=1..k} σ_i²(f) for f (n, d): the energy of the k largest singular values."""
    return (torch.linalg.svdvals(f)[:k] ** 2).sum()


@register("bsp", family="regulariser", weight=1e-4, k=1)
class BSP(Discrepancy):
    """BSP: batch spectral penalisation (Chen, Wang, Long & Wang, ICML 2019).

    D = Σ_{i=1..k} (σ_i²(F_s) + σ_i²(F_t)) with σ_1 ≥ σ_2 ≥ … the singular values of the
    source (n_s, d) and target (n_t, d) feature batches: the k dominant directions, which
    adversarial alignment inflates at the expense of discriminability, are penalised in both
    domains. Default k = 1 and term weight 1e-4, as in the paper; usually combined with an
    alignment term (``dann+bsp``).
    """

    def __init__(self, feature_dim: int, num_classes: int, k: int = 1) -> None:
        super().__init__(feature_dim, num_classes)
        if int(k) != k or k < 1:
            raise DalibError(f"bsp: k must be an integer ≥ 1 (the number of largest singular values), got {k}")
        self.k = int(k)

    def forward(self, f_s: Tensor, f_t: Tensor, *, logits_s: Tensor | None = None,
                logits_t: Tensor | None = None, y_s: Tensor | None = None,
                w_s: Tensor | None = None, progress: float = 0.0) -> Tensor:
        check_features(f_s, f_t, "bsp")
        return top_singular_energy(f_s, self.k) + top_singular_energy(f_t, self.k)
