"""One training iteration's loss: the model on the joint batch, then the objective.

Shared by the single-run `dalib.train.trainer.Trainer` and the many-run
`dalib.train.vectorized.VectorizedTrainer` (which calls it per run under ``torch.func.vmap``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class TrainingStep(nn.Module):
    """``forward(xs, ys, xt, progress, ws)`` → ``(L, parts)`` of the objective on one batch.

    ``model(x)`` returns ``(features, logits)``; xs (n_s, ...) with labels ys (n_s,), xt (n_t, ...)
    the unlabelled target batch, ws (n_s,) instance weights or None. When some term reads the
    target, source and target go through the model as one batch (so BatchNorm sees both);
    otherwise the target plays no part.
    """

    def __init__(self, model: nn.Module, objective: nn.Module) -> None:
        super().__init__()
        self.model, self.objective = model, objective
        self.uses_target = any(t.discrepancy.uses_target for t in getattr(objective, "terms", []))

    def features(self, xs: Tensor, xt: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(f_s, logits_s, f_t, logits_t) from one pass over the joint batch."""
        if self.uses_target:
            f, logits = self.model(torch.cat([xs, xt]))
            n = len(xs)
            return f[:n], logits[:n], f[n:], logits[n:]
        # no term looks at the target: it plays no part (nor in BatchNorm statistics)
        f_s, z_s = self.model(xs)
        return f_s, z_s, f_s[:0], z_s[:0]

    def forward(self, xs: Tensor, ys: Tensor, xt: Tensor, progress: float,
                ws: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor | float]]:
        f_s, z_s, f_t, z_t = self.features(xs, xt)
        return self.objective(f_s, z_s, ys, f_t, z_t, progress, ws)

