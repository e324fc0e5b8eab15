"""Gradient reversal and DANN (Ganin & Lempitsky 2015; Ganin et al., JMLR 2016)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dalib.alignment.base import Discrepancy
from dalib.alignment.registry import register
from dalib.alignment.schedules import warm_start
from dalib.errors import DalibError


class _ReverseGrad(torch.autograd.Function):
    generate_vmap_rule = True  # usable under torch.func.vmap (vectorised runs)

    @staticmethod
    def forward(x: Tensor, coeff: float) -> Tensor:  # type: ignore[override]
        return x.view_as(x)

    @staticmethod
    def setup_context(ctx, inputs: tuple[Tensor, float], output: Tensor) -> None:  # type: ignore[override]
        ctx.coeff = inputs[1]

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        return -ctx.coeff * grad, None


def grad_reverse(x: Tensor, coeff: float = 1.0) -> Tensor:
    """Identity in the forward pass; multiplies the gradient by −coeff in the backward pass."""
    return _ReverseGrad.apply(x, coeff)


class GradientReversal(nn.Module):
    """R_λ(x) = x forward, ∂R_λ/∂x = −λ·I backward. ``coeff`` can be changed between steps."""

    def __init__(self, coeff: float = 1.0) -> None:
        super().__init__()
        self.coeff = coeff

    def forward(self, x: Tensor) -> Tensor:
        return grad_reverse(x, self.coeff)


class DomainDiscriminator(nn.Sequential):
    """MLP in_dim → hidden → … → 1 logit (1 = source): ``depth`` hidden blocks, each
    Linear → BatchNorm1d → ReLU → Dropout(``dropout``), then a Linear layer to one logit.

    Defaults: two hidden layers and dropout 0.5, as the DANN paper's domain classifier
    x → 1024 → 1024 → 1 (Ganin et al., JMLR 2016, Office experiments), at width 256;
    ``depth=0`` is a linear discriminator. Input (n, in_dim) → logits (n, 1).
    """

    def __init__(self, in_dim: int, hidden: int = 256, depth: int = 2, dropout: float = 0.5) -> None:
        if isinstance(hidden, bool) or int(hidden) != hidden or hidden < 1:
            raise DalibError(f"domain discriminator: hidden must be an integer ≥ 1 (the layer width), got {hidden}")
        if isinstance(depth, bool) or int(depth) != depth or depth < 0:
            raise DalibError(f"domain discriminator: depth must be an integer ≥ 0 (hidden layers), got {depth}")
        if not 0.0 <= dropout < 1.0:
            raise DalibError(f"domain discriminator: dropout must be a number in [0, 1), got {dropout}")
        hidden, depth = int(hidden), int(depth)
        layers: list[nn.Module] = []
        width = in_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        super().__init__(*layers, nn.Linear(width, 1))


def domain_adversarial_loss(
    discriminator: nn.Module, z_s: Tensor, z_t: Tensor,
    w_s: Tensor | None = None, w_t: Tensor | None = None,
) -> Tensor:
    """Binary cross-entropy of a domain discriminator, source labelled 1 and target 0.

    ``z_s`` (n_s, k) and ``z_t`` (n_t, k) are already gradient-reversed inputs; optional
    per-sample weights ``w_s`` (n_s,), ``w_t`` (n_t,). Returns
    ``½·[mean_i w_i·BCE(D(z_i^s), 1) + mean_j w_j·BCE(D(z_j^t), 0)]``.
    """
    logits = discriminator(torch.cat([z_s, z_t])).squeeze(1)
    d_s, d_t = logits[: len(z_s)], logits[len(z_s):]
    loss_s = F.binary_cross_entropy_with_logits(d_s, torch.ones_like(d_s), weight=w_s)
    loss_t = F.binary_cross_entropy_with_logits(d_t, torch.zeros_like(d_t), weight=w_t)
    return 0.5 * (loss_s + loss_t)


@register("dann", family="adversarial", weight=1.0, lam_max=1.0, gamma=10.0, hidden=256, depth=2, dropout=0.5)
class DANN(Discrepancy):
    """DANN: domain classifier on gradient-reversed features, GRL coefficient warm-started.

    D(F_s, F_t) = ½·[mean_i BCE(D(R_λ(f_i^s)), 1) + mean_j BCE(D(R_λ(f_j^t)), 0)], where
    R_λ is the gradient reversal layer with λ(p) = λ_max·(2/(1+exp(−γp)) − 1). The
    discriminator descends this loss at full rate; the feature extractor ascends it, scaled
    by λ(p) (Ganin et al., JMLR 2016, eq. 13–14). Default term weight 1. ``hidden``,
    ``depth`` and ``dropout`` shape the `DomainDiscriminator`.
    """

    def __init__(self, feature_dim: int, num_classes: int, lam_max: float = 1.0,
                 gamma: float = 10.0, hidden: int = 256, depth: int = 2, dropout: float = 0.5) -> None:
        super().__init__(feature_dim, num_classes)
        self.lam_max, self.gamma = lam_max, gamma
        self.grl = GradientReversal()
        self.discriminator = DomainDiscriminator(feature_dim, hidden, depth, dropout)

    def forward(self, f_s: Tensor, f_t: Tensor, *, logits_s: Tensor | None = None,
                logits_t: Tensor | None = None, y_s: Tensor | None = None,
                w_s: Tensor | None = None, progress: float = 0.0) -> Tensor:
        self.grl.coeff = warm_start(progress, self.lam_max, self.gamma)
        return domain_adversarial_loss(self.discriminator, self.grl(f_s), self.grl(f_t))
