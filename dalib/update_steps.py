"""Multi-step methods: a term that declares its own per-iteration update sequence.

Most methods are one loss ``L = task + Σ_k λ_k(p)·D_k`` minimised by one optimizer step. Some are
not: MCD alternates three steps over different parameters, ADDA trains in two stages. Such a term
sets ``multi_step = True`` and implements ``update_steps(batch) -> Sequence[UpdateStep]``; each
iteration the trainer runs the steps in order, and for each step (``repeat`` times): computes its
loss, back-propagates, and lets the optimizer move **only the parameters of the named groups**
(the gradients of every other parameter are dropped, so they receive no update, momentum or weight
decay in that step). The groups are

* ``features``: every model parameter outside ``model.head`` (backbone and bottleneck: the
  encoder F);
* ``head``: the parameters of ``model.head``, the classifier h on the features;
* ``term``: the parameters of the objective's terms (this term's extra classifier or domain
  discriminator, and those of any single-step term combined with it by ``+``).

The single-step terms of a combined method (``mcd+entropy``) are not lost: ``batch.objective``
gives the usual objective over them, and a multi-step term adds it to the step that trains the
whole model. This module is neutral ground between ``alignment`` (the terms) and ``train`` (the
loop), so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import Tensor, nn
from torch.nn import functional as F

from dalib.errors import DalibError

#: The named parameter groups a step may update.
PARAMETER_GROUPS = ("features", "head", "term")

StepLoss = Callable[[], tuple[Tensor, dict[str, Tensor]]]
Forward = Callable[[], tuple[Tensor, Tensor, Tensor, Tensor]]
ObjectiveFn = Callable[[Tensor, Tensor, Tensor, Tensor, "Tensor | None"], tuple[Tensor, dict[str, Tensor | float]]]


def weighted_cross_entropy(logits: Tensor, y: Tensor, w: Tensor | None = None) -> Tensor:
    """The task loss mean_i w_i·CE(logits_i, y_i) (the plain mean when ``w`` is None); logits
    (n, C), y (n,) int64, w (n,). The objective's source loss, and a multi-step term's for
    another head."""
    if w is None:
        return F.cross_entropy(logits, y)
    return (w * F.cross_entropy(logits, y, reduction="none")).mean()


@dataclass(frozen=True)
class UpdateStep:
    """One optimizer step of a multi-step method.

    ``loss()`` returns ``(L, parts)``: the scalar to minimise and named values to log (prefix
    them with the term's name). ``updates`` names the parameter groups this step moves (a
    subset of `PARAMETER_GROUPS`); the step runs ``repeat`` times in a row, each with a fresh
    forward pass.
    """

    name: str
    loss: StepLoss
    updates: tuple[str, ...]
    repeat: int = 1

    def __post_init__(self) -> None:
        unknown = [g for g in self.updates if g not in PARAMETER_GROUPS]
        if unknown or not self.updates:
            raise DalibError(f"update step {self.name!r} names groups {list(self.updates)}; "
                             f"use a non-empty subset of {', '.join(PARAMETER_GROUPS)}")
        if self.repeat < 1:
            raise DalibError(f"update step {self.name!r} has repeat={self.repeat}; repeat at least once")


@dataclass(frozen=True)
class StepBatch:
    """What a multi-step term sees at one training iteration.

    ``model(x)`` returns ``(features (n, d), logits (n, C))``; ``xs`` (n_s, ...), ``ys`` (n_s,)
    and ``ws`` (n_s,) or None are the source batch, ``xt`` (n_t, ...) the unlabelled target batch,
    ``progress`` p ∈ [0, 1], ``lam`` this term's λ(p). ``forward()`` runs the model on the joint
    batch as a single-step method does and returns ``(f_s, logits_s, f_t, logits_t)``;
    ``objective(f_s, logits_s, f_t, logits_t, w_s)`` returns ``(L, parts)`` of the usual objective
    — `weighted_cross_entropy` of the model's head with source weights ``w_s`` (pass ``ws`` for
    the run's own; PADA passes them times its class weights) plus every single-step term.
    """

    model: nn.Module
    xs: Tensor
    ys: Tensor
    xt: Tensor
    ws: Tensor | None
    progress: float
    lam: float
    forward: Forward
    objective: ObjectiveFn
