"""PADA: partial adversarial domain adaptation (Cao, Ma, Long & Wang, ECCV 2018)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from dalib.alignment.adversarial import DomainDiscriminator, GradientReversal, domain_adversarial_loss
from dalib.alignment.base import Discrepancy
from dalib.alignment.registry import register
from dalib.alignment.schedules import warm_start
from dalib.errors import DalibError
from dalib.update_steps import StepBatch, UpdateStep


@register("pada", family="partial", weight=1.0, lam_max=1.0, gamma=10.0, hidden=256, depth=2, dropout=0.5,
          momentum=0.99)
class PADA(Discrepancy):
    """PADA: DANN with source classes weighted by how much the target predicts them (Cao et al., ECCV 2018).

    Class weights γ ∈ ℝ^C: the mean softmax prediction over the target, normalised by its
    largest entry (γ ← γ / max_c γ_c), so classes absent from the target fade out. The paper
    recomputes the mean over the whole target now and then; here it is an exponential moving
    average of target-batch means, ā ← m·ā + (1 − m)·mean_j softmax(h(f_j^t)) with m =
    ``momentum`` (ā starts uniform, so PADA starts as DANN). With c_i = γ_{y_i^s}, one step over
    all parameters minimises

        L = mean_i w_i·c_i·CE(h(f_i^s), y_i^s)
            + λ·½·[mean_i c_i·BCE(D(R(f_i^s)), 1) + mean_j BCE(D(R(f_j^t)), 0)]

    (plus any single-step terms): the objective's task loss runs with the source weights times
    c_i (paper eq. 5). R is DANN's gradient reversal with the warm-started coefficient
    λ_max·(2/(1+exp(−γ_λ p)) − 1) (``lam_max``, ``gamma``); D a `DomainDiscriminator`
    (``hidden``, ``depth``, ``dropout``). Run it under the partial-set protocol
    (``--profile target_classes=K``). ``forward(f_s, f_t, y_s=)`` is the weighted adversarial term.
    """

    multi_step = True

    def __init__(self, feature_dim: int, num_classes: int, lam_max: float = 1.0, gamma: float = 10.0,
                 hidden: int = 256, depth: int = 2, dropout: float = 0.5, momentum: float = 0.99) -> None:
        super().__init__(feature_dim, num_classes)
        if not 0.0 <= momentum < 1.0:
            raise DalibError(f"pada: momentum of the class-weight average must be in [0, 1), got {momentum}")
        self.lam_max, self.gamma, self.momentum = lam_max, gamma, momentum
        self.grl = GradientReversal()
        self.discriminator = DomainDiscriminator(feature_dim, hidden, depth, dropout)
        self.register_buffer("target_mean", torch.full((num_classes,), 1.0 / num_classes))

    @property
    def class_weights(self) -> Tensor:
        """γ (C,) = ā / max_c ā_c."""
        return self.target_mean / self.target_mean.max()

    def update_class_weights(self, logits_t: Tensor) -> None:
        """ā ← m·ā + (1 − m)·mean_j softmax(logits_t)_j for target logits (n_t, C)."""
        with torch.no_grad():
            batch_mean = F.softmax(logits_t.float(), dim=1).mean(0)
            self.target_mean.mul_(self.momentum).add_((1.0 - self.momentum) * batch_mean)

    def forward(self, f_s: Tensor, f_t: Tensor, *, logits_s: Tensor | None = None,
                logits_t: Tensor | None = None, y_s: Tensor | None = None,
                w_s: Tensor | None = None, progress: float = 0.0) -> Tensor:
        if y_s is None:
            raise DalibError("pada: y_s is missing; the class-weighted adversarial loss needs the source labels")
        self.grl.coeff = warm_start(progress, self.lam_max, self.gamma)
        return domain_adversarial_loss(self.discriminator, self.grl(f_s), self.grl(f_t),
                                       w_s=self.class_weights[y_s])

    def update_steps(self, batch: StepBatch) -> Sequence[UpdateStep]:
        def step() -> tuple[Tensor, dict[str, Tensor]]:
            f_s, z_s, f_t, z_t = batch.forward()
            self.update_class_weights(z_t.detach())
            c = self.class_weights[batch.ys]
            loss, parts = batch.objective(f_s, z_s, f_t, z_t, c if batch.ws is None else c * batch.ws)
            adv = self(f_s, f_t, y_s=batch.ys, progress=batch.progress)
            return loss + batch.lam * adv, {**parts, "pada": adv.detach()}

        return [UpdateStep("weighted", step, ("features", "head", "term"))]
