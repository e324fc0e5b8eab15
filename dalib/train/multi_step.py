"""Run a multi-step term's update sequence (`dalib.update_steps`) with the trainer's optimizer."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from dalib.errors import DalibError
from dalib.train.objective import Term, describe_nonfinite, is_finite
from dalib.update_steps import PARAMETER_GROUPS, Forward, ObjectiveFn, StepBatch


def parameter_groups(model: nn.Module, objective: nn.Module, method: str) -> dict[str, list[nn.Parameter]]:
    """The named groups of `dalib.update_steps`: ``features`` (model parameters outside
    ``model.head``), ``head`` (``model.head``) and ``term`` (the objective's own parameters,
    not the model's ones a regulariser may hold)."""
    head = getattr(model, "head", None)
    if not isinstance(head, nn.Module):
        raise DalibError(f"method {method!r} updates the classifier head separately but {type(model).__name__} "
                         "has no .head module; use dalib.models.Classifier (backbone → bottleneck → head)")
    head_ids = {id(p) for p in head.parameters()}
    model_ids = {id(p) for p in model.parameters()}
    return {"features": [p for p in model.parameters() if id(p) not in head_ids],
            "head": list(head.parameters()),
            "term": [p for p in objective.parameters() if id(p) not in model_ids]}


class MultiStepRunner:
    """Runs one iteration of a multi-step term: for each `UpdateStep`, ``repeat`` times,
    zero the gradients, back-propagate the step's loss, drop the gradients of every parameter
    outside the step's groups, and step the optimizer (which skips parameters without a
    gradient, so they get no update, momentum or weight decay)."""

    def __init__(self, term: Term, model: nn.Module, objective: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.term, self.model, self.optimizer = term, model, optimizer
        self._groups = parameter_groups(model, objective, term.name)
        self._frozen: dict[frozenset[str], list[nn.Parameter]] = {}  # a step's groups → the others' parameters

    @classmethod
    def for_objective(cls, objective: nn.Module, model: nn.Module,
                      optimizer: torch.optim.Optimizer) -> "MultiStepRunner | None":
        """The runner of the objective's multi-step term, None when it has none; refuses two."""
        multi = getattr(objective, "multi_step_terms", [])
        if len(multi) > 1:
            raise DalibError(f"terms {[t.name for t in multi]} each run their own update sequence; "
                             "combine at most one multi-step method with single-step terms")
        return cls(multi[0], model, objective, optimizer) if multi else None

    def _outside(self, groups: tuple[str, ...]) -> list[nn.Parameter]:
        """The parameters of every group not in ``groups`` (computed once per combination)."""
        key = frozenset(groups)
        if key not in self._frozen:
            keep = {id(p) for g in key for p in self._groups[g]}
            every = {id(p): p for g in PARAMETER_GROUPS for p in self._groups[g]}
            self._frozen[key] = [p for i, p in every.items() if i not in keep]
        return self._frozen[key]

    def run(self, xs: Tensor, ys: Tensor, xt: Tensor, ws: Tensor | None, progress: float, step: int,
            forward: Forward, objective: ObjectiveFn) -> tuple[Tensor, dict[str, Any]]:
        """One iteration; returns the first step's loss and the parts of all steps (the last
        repetition's value where a step repeats), with ``lambda/<term>``."""
        lam = self.term.lam(progress)
        batch = StepBatch(self.model, xs, ys, xt, ws, progress, lam, forward, objective)
        parts: dict[str, Any] = {}
        first: Tensor | None = None
        for update in self.term.discrepancy.update_steps(batch):
            frozen = self._outside(update.updates)
            for _ in range(update.repeat):
                loss, step_parts = update.loss()
                if not is_finite(loss):
                    raise DalibError(describe_nonfinite(step, {**step_parts, f"{self.term.name}/{update.name}": loss}))
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                for p in frozen:
                    p.grad = None
                self.optimizer.step()
            parts.update(step_parts)
            first = loss if first is None else first
        if first is None:
            raise DalibError(f"term {self.term.name!r} returned no update steps; return at least one UpdateStep")
        parts[f"lambda/{self.term.name}"] = lam
        return first, parts

