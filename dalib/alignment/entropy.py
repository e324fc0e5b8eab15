"""Target-prediction regularisers: entropy minimisation and minimum class confusion (MCC).

Both use only the target logits (n_t, C); f_s, f_t, logits_s, y_s and w_s are accepted for
the common `Discrepancy` interface and ignored.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from dalib.alignment.base import Discrepancy
from dalib.alignment.mmd import require_input
from dalib.alignment.registry import register
from dalib.errors import DalibError


def target_logits(logits_t: Tensor | None, num_classes: int, method: str) -> Tensor:
    """``logits_t`` of a term that reads the target predictions, checked: given, and of shape
    (n_t, C) with n_t ≥ 1 and C = ``num_classes``."""
    logits_t = require_input(logits_t, "logits_t", method)
    if logits_t.dim() != 2 or logits_t.shape[1] != num_classes or len(logits_t) == 0:
        raise DalibError(f"{method}: logits_t has shape {tuple(logits_t.shape)}, expected (n_t, "
                         f"{num_classes}), n_t ≥ 1; pass the classifier outputs of the target batch")
    return logits_t


def prediction_entropy(logits: Tensor) -> Tensor:
    """Per-sample Shannon entropy (n,) of softmax(logits), logits (n, C): −Σ_c p_c log p_c (nats)."""
    log_p = F.log_softmax(logits, dim=1)
    return -(log_p.exp() * log_p).sum(1)


def mcc_loss(logits: Tensor, temperature: float = 2.5) -> Tensor:
    """Minimum class confusion (Jin et al., ECCV 2020), logits (n, C) → scalar in [0, 1).

    Ŷ = softmax(logits/T) (n, C); W = diag(n·w/Σw) with w_i = 1 + exp(−H(ŷ_i)) (detached);
    C = Ŷᵀ W Ŷ (C, C); category normalisation C̃_jj' = C_jj' / Σ_j'' C_j''j';
    L = (Σ_jj' C̃_jj' − Σ_j C̃_jj) / C.
    """
    probs = F.softmax(logits / temperature, dim=1)
    with torch.no_grad():
        h = -(probs * torch.log(probs.clamp_min(1e-12))).sum(1)
        w = 1.0 + torch.exp(-h)
        w = w * (len(w) / w.sum())
    confusion = probs.T @ (probs * w[:, None])
    col_sums = confusion.sum(0, keepdim=True).clamp_min(torch.finfo(confusion.dtype).tiny)
    confusion = confusion / col_sums
    return (confusion.sum() - confusion.diagonal().sum()) / logits.shape[1]


@register("entropy", family="self-training", weight=0.1)
class EntropyMinimization(Discrepancy):
    """Target entropy minimisation: D = mean_j H(softmax(logits_j^t)), logits_t (n_t, C).

    Grandvalet & Bengio, NeurIPS 2004. Needs logits_t; everything else is ignored. Default
    term weight 0.1.
    """

    def forward(self, f_s: Tensor, f_t: Tensor, *, logits_s: Tensor | None = None,
                logits_t: Tensor | None = None, y_s: Tensor | None = None,
                w_s: Tensor | None = None, progress: float = 0.0) -> Tensor:
        logits_t = target_logits(logits_t, self.num_classes, "entropy")
        return prediction_entropy(logits_t).mean()


@register("mcc", family="self-training", weight=1.0, temperature=2.5)
class MCC(Discrepancy):
    """MCC: minimum class confusion of target predictions (Jin et al., ECCV 2020, eq. 1–7).

    D = (Σ_jj' C̃_jj' − Σ_j C̃_jj)/C on temperature-scaled (T = 2.5), entropy-weighted,
    category-normalised class correlations of logits_t (n_t, C); see `mcc_loss`. Needs
    logits_t; everything else is ignored. Default term weight 1.
    """

    def __init__(self, feature_dim: int, num_classes: int, temperature: float = 2.5) -> None:
        super().__init__(feature_dim, num_classes)
        if temperature <= 0:
            raise DalibError(f"mcc: temperature must be positive, got {temperature}")
        self.temperature = temperature

    def forward(self, f_s: Tensor, f_t: Tensor, *, logits_s: Tensor | None = None,
                logits_t: Tensor | None = None, y_s: Tensor | None = None,
                w_s: Tensor | None = None, progress: float = 0.0) -> Tensor:
        logits_t = target_logits(logits_t, self.num_classes, "mcc")
        return mcc_loss(logits_t, self.temperature)
