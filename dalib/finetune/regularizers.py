"""Regularisers of fine-tuning, registered as terms: ``l2sp`` and ``bss``.

Both plug into the objective like an alignment loss, L = L_task + λ·Ω, but neither looks at
the target batch (``uses_target = False``), so a fine-tuning run forwards source data only.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dalib.alignment.base import Discrepancy
from dalib.alignment.registry import register
from dalib.errors import DalibError


@register("l2sp", family="regulariser", weight=0.01, part="backbone")
class L2SP(Discrepancy):
    """L2-SP (Li et al. 2018): Ω(w) = ½·‖w_S − w_S⁰‖²₂, the distance to the starting point.

    w_S are the parameters of ``model.<part>`` (default: the backbone, i.e. the pretrained
    part; ``part=""`` anchors the whole model) and w_S⁰ their values when the term is built.
    λ (the term weight, default 0.01) is the paper's α. The trainer exempts w_S from weight
    decay, which would pull them toward 0 instead; new layers (bottleneck, head) keep the
    ordinary weight decay, the paper's β/2·‖w_new‖² term. Ω = 0 before the first step.
    """

    uses_target = False
    needs_model = True

    def __init__(self, feature_dim: int, num_classes: int, model: nn.Module, part: str = "backbone") -> None:
        super().__init__(feature_dim, num_classes)
        try:
            anchored = model.get_submodule(part)
        except AttributeError:
            raise DalibError(f"L2-SP: model has no part {part!r}; use part='' to anchor the whole model") from None
        self._params = list(anchored.parameters())  # a plain list: not registered, not optimised twice
        if not self._params:
            raise DalibError(f"L2-SP: model part {part!r} has no parameters to anchor")
        for i, p in enumerate(self._params):
            self.register_buffer(f"start_{i}", p.detach().clone())

    def anchored_parameters(self) -> list[nn.Parameter]:
        return self._params

    def forward(self, f_s: Tensor, f_t: Tensor, **_: object) -> Tensor:
        starts = [getattr(self, f"start_{i}") for i in range(len(self._params))]
        return 0.5 * sum(((p - s) ** 2).sum() for p, s in zip(self._params, starts))


@register("bss", family="regulariser", weight=0.001, k=1)
class BSS(Discrepancy):
    """Batch Spectral Shrinkage (Chen et al. 2019): Ω(F_s) = Σ_{i=1..k} σ²_{−i}(F_s).

    σ_1 ≥ … ≥ σ_m are the singular values of the source feature batch F_s (b, d), m =
    min(b, d); the k smallest are shrunk, suppressing the feature directions that transfer
    badly. λ (default 0.001) is the paper's η.
    """

    uses_target = False

    def __init__(self, feature_dim: int, num_classes: int, k: int = 1) -> None:
        super().__init__(feature_dim, num_classes)
        if k < 1:
            raise DalibError(f"BSS needs k ≥ 1 smallest singular values, got k={k}")
        self.k = int(k)

    def forward(self, f_s: Tensor, f_t: Tensor, **_: object) -> Tensor:
        sigma = torch.linalg.svdvals(f_s)  # descending
        return (sigma[-self.k:] ** 2).sum()
