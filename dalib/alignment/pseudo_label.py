"""Self-training with confidence-thresholded target pseudo-labels (Lee, ICML-W 2013)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from dalib.alignment.base import Discrepancy
from dalib.alignment.entropy import target_logits
from dalib.alignment.registry import register
from dalib.errors import DalibError


def pseudo_label_loss(logits: Tensor, threshold: float) -> Tensor:
    """logits (n, C) → (1/n) Σ_j 1[max_c p_jc ≥ τ]·CE(logits_j, ŷ_j), ŷ_j = argmax_c p_jc.

    p = softmax(logits) and ŷ are detached (the pseudo-labels are targets, not functions of the
    parameters); dividing by the batch size n, not by the number of confident samples, lets
    the term grow as the model becomes confident (0 when no sample passes τ).
    """
    with torch.no_grad():
        confidence, pseudo = F.softmax(logits, dim=1).max(dim=1)
        mask = (confidence >= threshold).to(logits.dtype)
    return (F.cross_entropy(logits, pseudo, reduction="none") * mask).sum() / logits.shape[0]


@register("pseudo_label", family="self-training", weight=1.0, schedule="warm_start", threshold=0.95)
class PseudoLabel(Discrepancy):
    """Pseudo-label: cross-entropy on target samples predicted with confidence ≥ τ (Lee 2013).

    D = (1/n_t) Σ_j 1[max_c p_jc ≥ τ]·CE(logits_j^t, argmax_c p_jc) with logits_t (n_t, C),
    p = softmax(logits_t) detached; default τ = 0.95. λ(p) warm-starts like DANN's
    (λ_max·(2/(1 + e^{−10p}) − 1)), standing in for the paper's ramp-up, so early, wrong
    pseudo-labels weigh little. Needs logits_t; everything else is ignored.
    """

    def __init__(self, feature_dim: int, num_classes: int, threshold: float = 0.95) -> None:
        super().__init__(feature_dim, num_classes)
        if not 0.0 < threshold <= 1.0:
            raise DalibError(f"pseudo_label: threshold must be in (0, 1] (a softmax confidence), got {threshold}")
        self.threshold = float(threshold)

    def forward(self, f_s: Tensor, f_t: Tensor, *, logits_s: Tensor | None = None,
                logits_t: Tensor | None = None, y_s: Tensor | None = None,
                w_s: Tensor | None = None, progress: float = 0.0) -> Tensor:
        logits_t = target_logits(logits_t, self.num_classes, "pseudo_label")
        return pseudo_label_loss(logits_t, self.threshold)
