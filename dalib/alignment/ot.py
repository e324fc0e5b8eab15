"""DeepJDOT: minibatch joint-distribution optimal transport (Damodaran et al., ECCV 2018).

Within a batch, the ground cost between source sample i and target sample j is

    C_ij = α·‖f_i^s − f_j^t‖² + β·CE(y_i^s, softmax(logits_j^t))
         = α·‖f_i^s − f_j^t‖² − β·log softmax(logits_j^t)[y_i^s],

the coupling γ* = argmin_{γ ∈ Π(a, b)} ⟨γ, C⟩ with uniform marginals a = 1/n_s, b = 1/n_t is
solved exactly by POT's network simplex (``ot.emd``) on the detached cost in float64, and the
loss ⟨γ*, C⟩ = Σ_ij γ*_ij C_ij is differentiated through C only (γ* is a constant), which is
the paper's alternating scheme: fix γ, take a gradient step on the networks. The paper's
source classification term is the trainer's task loss, so it is not repeated here. Defaults
α = 0.001 and β = 0.0001 (the paper's α and λ_t), term weight 1.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from dalib.alignment.base import Discrepancy, is_batched
from dalib.alignment.mmd import _sq_dists, check_features, require_input
from dalib.alignment.registry import register
from dalib.errors import DalibError


def _uniform_plan(cost: np.ndarray) -> np.ndarray:
    """``ot.emd`` with uniform marginals on one finite (n_s, n_t) float64 cost."""
    if not np.isfinite(cost).all():
        raise DalibError("deepjdot: the transport cost has NaN/inf entries; lower the learning rate "
                         "or check the features")
    import ot  # POT (and the scikit-learn it imports) only when an OT method runs

    n_s, n_t = cost.shape
    return ot.emd(np.full(n_s, 1.0 / n_s), np.full(n_t, 1.0 / n_t), np.ascontiguousarray(cost))


@torch.library.custom_op("dalib::uniform_ot_plan", mutates_args=())
def _plan_op(cost: Tensor) -> Tensor:
    """The exact plan of a float64 CPU cost (n_s, n_t); an op so that ``torch.func.vmap``
    (vectorised runs) can call POT once per run (`_plan_vmap`)."""
    return torch.from_numpy(_uniform_plan(cost.numpy()))


@_plan_op.register_fake
def _plan_fake(cost: Tensor) -> Tensor:
    return torch.empty_like(cost)


def _plan_vmap(info, in_dims: tuple[int], cost: Tensor) -> tuple[Tensor, int]:  # noqa: ANN001, ARG001
    """One plan per run: torch calls this rule only when ``cost`` is batched (its one input)."""
    return torch.stack([torch.from_numpy(_uniform_plan(c.numpy())) for c in cost.movedim(in_dims[0], 0)]), 0


_plan_op.register_vmap(_plan_vmap)


def deepjdot_coupling(cost: Tensor) -> Tensor:
    """Exact OT plan γ (n_s, n_t) for cost (n_s, n_t) with uniform marginals, via ``ot.emd``.

    Σ_j γ_ij = 1/n_s, Σ_i γ_ij = 1/n_t. Returned without gradient, in cost's dtype and device.
    """
    if cost.dim() != 2 or cost.shape[0] == 0 or cost.shape[1] == 0:
        raise DalibError(f"deepjdot: cost must be a non-empty (n_s, n_t) matrix, got shape "
                         f"{tuple(cost.shape)}")
    gamma = _plan_op(cost.detach().to("cpu", torch.float64))
    return gamma.to(dtype=cost.dtype, device=cost.device)


def deepjdot_cost(f_s: Tensor, f_t: Tensor, y_s: Tensor, logits_t: Tensor,
                  alpha: float = 0.001, beta: float = 0.0001) -> Tensor:
    """C (n_s, n_t): α·‖f_i^s − f_j^t‖² + β·(−log softmax(logits_t)[j, y_i^s]).

    f_s (n_s, d), f_t (n_t, d), y_s (n_s,) int64 in [0, C), logits_t (n_t, C). Differentiable.
    """
    feature_cost = _sq_dists(f_s, f_t)
    label_cost = -F.log_softmax(logits_t, dim=1)[:, y_s].T
    return alpha * feature_cost + beta * label_cost


@register("deepjdot", family="alignment", weight=1.0, alpha=0.001, beta=0.0001)
class DeepJDOT(Discrepancy):
    """DeepJDOT: Σ_ij γ*_ij C_ij, C_ij = α‖f_i^s − f_j^t‖² + β·CE(y_i^s, softmax(logits_j^t)).

    γ* = ot.emd(uniform, uniform, C.detach()) is held fixed; gradients flow through C into
    f_s (n_s, d), f_t (n_t, d) and logits_t (n_t, C). Needs y_s (n_s,) and logits_t; logits_s
    and w_s are ignored. Damodaran et al., ECCV 2018 (eq. 3–4), α = 0.001, β = 0.0001.
    """

    def __init__(self, feature_dim: int, num_classes: int, alpha: float = 0.001,
                 beta: float = 0.0001) -> None:
        super().__init__(feature_dim, num_classes)
        self.alpha, self.beta = alpha, beta

    def forward(self, f_s: Tensor, f_t: Tensor, *, logits_s: Tensor | None = None,
                logits_t: Tensor | None = None, y_s: Tensor | None = None,
                w_s: Tensor | None = None, progress: float = 0.0) -> Tensor:
        y_s = require_input(y_s, "y_s", "deepjdot")
        logits_t = require_input(logits_t, "logits_t", "deepjdot")
        check_features(f_s, f_t, "deepjdot")
        if logits_t.dim() != 2 or len(logits_t) != len(f_t):
            raise DalibError(f"deepjdot: logits_t has shape {tuple(logits_t.shape)}, expected "
                             f"({len(f_t)}, C); pass the classifier outputs of the target batch")
        if y_s.shape != (len(f_s),):
            raise DalibError(f"deepjdot: y_s has shape {tuple(y_s.shape)}, expected ({len(f_s)},); "
                             f"pass one integer label per source sample")
        if len(y_s) and not is_batched(y_s) and (int(y_s.min()) < 0 or int(y_s.max()) >= logits_t.shape[1]):
            raise DalibError(f"deepjdot: source labels must lie in [0, {logits_t.shape[1]}); check "
                             f"the label encoding")
        cost = deepjdot_cost(f_s, f_t, y_s.long(), logits_t, self.alpha, self.beta)
        return (deepjdot_coupling(cost) * cost).sum()
