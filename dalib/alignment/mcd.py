"""MCD: maximum classifier discrepancy (Saito, Watanabe, Ushiku & Harada, CVPR 2018)."""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn
from torch.nn import functional as F

from dalib.alignment.base import Discrepancy
from dalib.alignment.entropy import target_logits
from dalib.alignment.registry import register
from dalib.errors import DalibError
from dalib.update_steps import StepBatch, UpdateStep, weighted_cross_entropy


def classifier_discrepancy(logits_1: Tensor, logits_2: Tensor) -> Tensor:
    """d(p¹, p²) = (1/n)·Σ_j (1/C)·Σ_c |p¹_jc − p²_jc| with p = softmax(logits), logits (n, C)
    (Saito et al. 2018, eq. 1: the mean absolute difference of the two class-probability vectors)."""
    return (F.softmax(logits_1, dim=1) - F.softmax(logits_2, dim=1)).abs().mean()


@register("mcd", family="adversarial", weight=1.0, k=4)
class MCD(Discrepancy):
    """MCD: two heads disagree on the target, the encoder learns to make them agree (Saito et al., CVPR 2018).

    h₁ is the model's head, h₂ a second head of the same shape owned by this term;
    d = `classifier_discrepancy`(h₁(f_t), h₂(f_t)). Each iteration runs three steps:

    * A — min over F, h₁, h₂ of CE(h₁(f_s), y_s) + CE(h₂(f_s), y_s) (+ any single-step terms);
    * B — min over h₁, h₂ of CE(h₁(f_s), y_s) + CE(h₂(f_s), y_s) − λ·d, the encoder F fixed;
    * C — min over F of λ·d on a target-only forward, h₁ and h₂ fixed, repeated ``k`` times
      (the paper's n = 4).

    ``forward(f_s, f_t, logits_t=)`` returns d for target features f_t (n_t, d) and the model's
    target logits (n_t, C). λ defaults to 1 as in the paper.
    """

    multi_step = True

    def __init__(self, feature_dim: int, num_classes: int, k: int = 4) -> None:
        super().__init__(feature_dim, num_classes)
        if isinstance(k, bool) or int(k) != k or k < 1:
            raise DalibError(f"mcd: k (encoder steps per iteration) must be an integer ≥ 1, got {k}")
        self.k = int(k)
        self.head2 = nn.Linear(feature_dim, num_classes)

    def forward(self, f_s: Tensor, f_t: Tensor, *, logits_s: Tensor | None = None,
                logits_t: Tensor | None = None, y_s: Tensor | None = None,
                w_s: Tensor | None = None, progress: float = 0.0) -> Tensor:
        return classifier_discrepancy(target_logits(logits_t, self.num_classes, "mcd"), self.head2(f_t))

    def update_steps(self, batch: StepBatch) -> Sequence[UpdateStep]:
        def train_all() -> tuple[Tensor, dict[str, Tensor]]:
            f_s, z_s, f_t, z_t = batch.forward()
            loss, parts = batch.objective(f_s, z_s, f_t, z_t, batch.ws)
            ce2 = weighted_cross_entropy(self.head2(f_s), batch.ys, batch.ws)
            return loss + ce2, {**parts, "mcd/task_h2": ce2.detach()}

        def maximise() -> tuple[Tensor, dict[str, Tensor]]:
            f_s, z_s, f_t, z_t = batch.forward()
            ce = (weighted_cross_entropy(z_s, batch.ys, batch.ws)
                  + weighted_cross_entropy(self.head2(f_s), batch.ys, batch.ws))
            d = self(f_s, f_t, logits_t=z_t)
            return ce - batch.lam * d, {"mcd/step_b": d.detach()}

        def minimise() -> tuple[Tensor, dict[str, Tensor]]:
            f_t, z_t = batch.model(batch.xt)
            d = self(f_t[:0], f_t, logits_t=z_t)
            return batch.lam * d, {"mcd": d.detach()}

        return [UpdateStep("a", train_all, ("features", "head", "term")),
                UpdateStep("b", maximise, ("head", "term")),
                UpdateStep("c", minimise, ("features",), repeat=self.k)]
