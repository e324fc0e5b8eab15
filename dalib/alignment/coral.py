"""Deep CORAL: match second-order statistics of source and target features (Sun & Saenko 2016)."""

from __future__ import annotations

from torch import Tensor

from dalib.alignment.base import Discrepancy
from dalib.alignment.mmd import check_features
from dalib.alignment.registry import register


def covariance(f: Tensor) -> Tensor:
    """Unbiased covariance (d, d) of f (n, d), n ≥ 2: C = (f − 1μᵀ)ᵀ(f − 1μᵀ) / (n − 1)."""
    centred = f - f.mean(0, keepdim=True)
    return centred.T @ centred / (len(f) - 1)


def coral_loss(f_s: Tensor, f_t: Tensor) -> Tensor:
    """‖C_s − C_t‖²_F / (4d²) for f_s (n_s, d), f_t (n_t, d) (Sun & Saenko 2016, eq. 1)."""
    check_features(f_s, f_t, "deep_coral", min_samples=2)
    d = f_s.shape[1]
    return ((covariance(f_s) - covariance(f_t)) ** 2).sum() / (4.0 * d * d)


@register("deep_coral", family="alignment", weight=1.0)
class DeepCORAL(Discrepancy):
    """Deep CORAL: ‖C_s − C_t‖²_F / (4d²) with unbiased (n − 1) feature covariances.

    f_s (n_s, d) and f_t (n_t, d), each with at least 2 rows; logits and labels are ignored.
    Sun & Saenko, "Deep CORAL", ECCV 2016 workshops. Default term weight 1.
    """

    def forward(self, f_s: Tensor, f_t: Tensor, *, logits_s: Tensor | None = None,
                logits_t: Tensor | None = None, y_s: Tensor | None = None,
                w_s: Tensor | None = None, progress: float = 0.0) -> Tensor:
        return coral_loss(f_s, f_t)
