"""MDD: margin disparity discrepancy (Zhang, Liu, Long & Jordan, ICML 2019)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dalib.alignment.adversarial import GradientReversal
from dalib.alignment.base import Discrepancy
from dalib.alignment.entropy import target_logits
from dalib.alignment.mmd import require_input
from dalib.alignment.registry import register
from dalib.alignment.schedules import warm_start
from dalib.errors import DalibError


def log_one_minus_softmax(logits: Tensor, labels: Tensor) -> Tensor:
    """log(1 − softmax(z)_y) per row, logits (n, C), labels (n,): logsumexp_{c≠y} z_c − logsumexp_c z_c
    (exact and finite even when softmax(z)_y rounds to 1)."""
    others = logits.masked_fill(F.one_hot(labels, logits.shape[1]).bool(), float("-inf"))
    return torch.logsumexp(others, dim=1) - torch.logsumexp(logits, dim=1)


def margin_disparity(adv_s: Tensor, adv_t: Tensor, pred_s: Tensor, pred_t: Tensor, margin: float) -> Tensor:
    """The MDD loss −D_γ that the auxiliary head minimises (Zhang et al. 2019, eq. 29 with the
    paper's cross-entropy surrogate):

    −D_γ = γ·mean_i CE(h'(f_i^s), ŷ_i^s) − mean_j log(1 − softmax(h'(f_j^t))_{ŷ_j^t}),

    adv_s (n_s, C) and adv_t (n_t, C) are the auxiliary head's logits h'(f), pred_s (n_s,) and
    pred_t (n_t,) the main head's argmax labels ŷ, γ = ``margin``.
    """
    return margin * F.cross_entropy(adv_s, pred_s) - log_one_minus_softmax(adv_t, pred_t).mean()


@register("mdd", family="adversarial", weight=1.0, margin=4.0, lam_max=0.1, gamma=10.0, hidden=0)
class MDD(Discrepancy):
    """MDD: an auxiliary head h' maximises the margin disparity D_γ, the encoder minimises it (Zhang et al., ICML 2019).

    ŷ = argmax h(f) are the model head's predictions (no gradient through them); h' reads the
    gradient-reversed features R_λ(f) and the term returns `margin_disparity` −D_γ, so h'
    descends −D_γ (agrees with h on the source, disagrees on the target) while the encoder,
    through R_λ, descends D_γ. R_λ follows λ(p) = λ_max·(2/(1+exp(−γ_λ p)) − 1) with
    λ_max = ``lam_max`` 0.1 and γ_λ = ``gamma`` (the authors' code warms its reversal up to 0.1);
    ``margin`` γ = 4 (Office-31 in the paper). h' has the main head's shape: linear for
    ``hidden`` = 0, else Linear → ReLU → Linear with ``hidden`` units.
    """

    def __init__(self, feature_dim: int, num_classes: int, margin: float = 4.0, lam_max: float = 0.1,
                 gamma: float = 10.0, hidden: int = 0) -> None:
        super().__init__(feature_dim, num_classes)
        if margin <= 0:
            raise DalibError(f"mdd: margin γ must be > 0, got {margin}")
        if isinstance(hidden, bool) or int(hidden) != hidden or hidden < 0:
            raise DalibError(f"mdd: hidden must be an integer ≥ 0 (0 = a linear auxiliary head), got {hidden}")
        self.margin, self.lam_max, self.gamma = margin, lam_max, gamma
        self.grl = GradientReversal()
        hidden = int(hidden)
        self.aux_head = (nn.Linear(feature_dim, num_classes) if hidden == 0 else
                         nn.Sequential(nn.Linear(feature_dim, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)))

    def forward(self, f_s: Tensor, f_t: Tensor, *, logits_s: Tensor | None = None,
                logits_t: Tensor | None = None, y_s: Tensor | None = None,
                w_s: Tensor | None = None, progress: float = 0.0) -> Tensor:
        logits_s = require_input(logits_s, "logits_s", "mdd")
        logits_t = target_logits(logits_t, self.num_classes, "mdd")
        self.grl.coeff = warm_start(progress, self.lam_max, self.gamma)
        adv = self.aux_head(self.grl(torch.cat([f_s, f_t])))
        n = len(f_s)
        return margin_disparity(adv[:n], adv[n:], logits_s.detach().argmax(1), logits_t.detach().argmax(1),
                                self.margin)
