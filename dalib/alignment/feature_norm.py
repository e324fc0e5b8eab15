"""AFN: stepwise adaptive feature norm (Xu, Li, Yang & Lin, ICCV 2019)."""

from __future__ import annotations

from torch import Tensor

from dalib.alignment.base import Discrepancy
from dalib.alignment.mmd import check_features
from dalib.alignment.registry import register
from dalib.errors import DalibError


def stepwise_feature_norm_loss(f: Tensor, delta_r: float) -> Tensor:
    """SAFN's per-domain term for f (n, d): mean_i (‖f_i‖ − sg(‖f_i‖ + Δr))².

    ``sg`` stops the gradient: the target norm is the current norm plus Δr, so the value is
    always Δr² and the gradient, −2Δr·f_i/(n‖f_i‖), enlarges every feature norm by a step of
    Δr per update (the paper's "stepwise" enlargement).
    """
    norms = f.norm(dim=1)
    return ((norms - (norms.detach() + delta_r)) ** 2).mean()


@register("afn", family="regulariser", weight=0.05, delta_r=1.0)
class AFN(Discrepancy):
    """AFN: stepwise adaptive feature norm on both domains (Xu et al., ICCV 2019, SAFN).

    D = mean_i (‖f_i^s‖ − sg(‖f_i^s‖ + Δr))² + mean_j (‖f_j^t‖ − sg(‖f_j^t‖ + Δr))² with
    f_s (n_s, d), f_t (n_t, d) and sg the stop-gradient: larger-norm features transfer
    better, so both domains' norms grow by Δr per step. Default Δr = 1 and term weight 0.05,
    as in the paper (which also uses dropout on the bottleneck, as the deep profiles here do).
    """

    def __init__(self, feature_dim: int, num_classes: int, delta_r: float = 1.0) -> None:
        super().__init__(feature_dim, num_classes)
        if not delta_r > 0:
            raise DalibError(f"afn: delta_r must be positive (the norm step per update), got {delta_r}")
        self.delta_r = float(delta_r)

    def forward(self, f_s: Tensor, f_t: Tensor, *, logits_s: Tensor | None = None,
                logits_t: Tensor | None = None, y_s: Tensor | None = None,
                w_s: Tensor | None = None, progress: float = 0.0) -> Tensor:
        check_features(f_s, f_t, "afn")
        return stepwise_feature_norm_loss(f_s, self.delta_r) + stepwise_feature_norm_loss(f_t, self.delta_r)
