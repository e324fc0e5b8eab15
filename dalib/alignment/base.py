"""The one interface every alignment loss implements."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn


class Discrepancy(nn.Module):
    """A loss D(F_s, F_t) between source and target features, added to the task loss.

    The trainer minimises ``L = mean_i w_i·ℓ(h(x_i^s), y_i^s) + Σ_k λ_k(p)·D_k(F_s, F_t)``.
    A subclass is built as ``cls(feature_dim=d, num_classes=C, **hyper_parameters)`` and
    implements :meth:`forward`; it may own trainable parameters (a domain discriminator),
    which the trainer optimises together with the model.

    Shapes: ``f_s`` is (n_s, d), ``f_t`` is (n_t, d); ``logits_s`` (n_s, C) and
    ``logits_t`` (n_t, C) are the classifier outputs; ``y_s`` (n_s,) int64 source labels;
    ``w_s`` (n_s,) optional source instance weights; ``progress`` p ∈ [0, 1] is the fraction
    of training done. The return value is a scalar tensor.

    Class flags: ``uses_target = False`` marks a term that ignores the target batch (the
    trainer then does not forward it); ``needs_model = True`` makes `dalib.methods.build_terms`
    pass the model as ``model=`` (regularisers toward starting weights, ADDA's frozen source
    encoder); ``multi_step = True`` marks a term that is not added to L but declares its own
    update sequence over named parameter groups in ``update_steps(batch)`` (MCD, ADDA; see
    `dalib.update_steps`); ``vectorizable = False`` makes every run of the term train alone
    instead of in a vectorised batch (`dalib.train.vectorized`: needed when ``forward`` reads
    tensor values in Python — ``.item()``, ``if x > 0``, numpy — or draws random numbers itself).

    It satisfies `dalib.train.objective.TermLoss`, the interface the trainer owns.
    """

    uses_target: ClassVar[bool] = True
    needs_model: ClassVar[bool] = False
    multi_step: ClassVar[bool] = False
    vectorizable: ClassVar[bool] = True

    def __init__(self, feature_dim: int, num_classes: int) -> None:
        super().__init__()
        self.feature_dim = feature_dim
        self.num_classes = num_classes

    def forward(
        self,
        f_s: Tensor,
        f_t: Tensor,
        *,
        logits_s: Tensor | None = None,
        logits_t: Tensor | None = None,
        y_s: Tensor | None = None,
        w_s: Tensor | None = None,
        progress: float = 0.0,
    ) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement forward(f_s, f_t, ...)")

    def anchored_parameters(self) -> list[nn.Parameter]:
        """Model parameters this term regularises toward a reference point; the trainer
        exempts them from weight decay (empty for alignment losses)."""
        return []


def is_batched(x: Tensor) -> bool:
    """Whether ``x`` is one run's view of a tensor inside ``torch.func.vmap`` (vectorised runs):
    its values cannot be read, so a term skips checks of values there (the trainer's data was
    checked when its domains were built) and keeps its checks of shapes."""
    return bool(torch._C._functorch.is_batchedtensor(x))
