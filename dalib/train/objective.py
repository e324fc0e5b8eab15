"""The training objective L = mean_i w_i·ℓ(h(x_i^s), y_i^s) + Σ_k λ_k(p)·D_k(F_s, F_t)."""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from dalib.errors import DalibError
from dalib.update_steps import weighted_cross_entropy


@runtime_checkable
class TermLoss(Protocol):
    """What the objective and the trainer need of a term's loss D(F_s, F_t) (an ``nn.Module``).

    Called as ``D(f_s, f_t, logits_s=, logits_t=, y_s=, w_s=, progress=)`` with f_s (n_s, d),
    f_t (n_t, d), logits (n, C), y_s (n_s,) int64, w_s (n_s,) or None, p ∈ [0, 1]; returns a
    scalar tensor. ``uses_target`` False lets the trainer skip the target batch;
    ``anchored_parameters()`` lists model parameters exempt from weight decay. A term with
    ``multi_step = True`` is not summed into L: it declares its own update sequence
    (`dalib.update_steps`) and the trainer runs it.
    `dalib.alignment.Discrepancy` is the base class every built-in loss uses.
    """

    uses_target: bool

    def __call__(self, f_s: Tensor, f_t: Tensor, *, logits_s: Tensor | None = None,
                 logits_t: Tensor | None = None, y_s: Tensor | None = None,
                 w_s: Tensor | None = None, progress: float = 0.0) -> Tensor: ...

    def anchored_parameters(self) -> list[nn.Parameter]: ...


class Term(nn.Module):
    """One alignment term λ(p)·D(F_s, F_t): a loss D (a `TermLoss`) with weight ``weight`` and schedule."""

    def __init__(self, name: str, discrepancy: nn.Module, weight: float,
                 schedule: Callable[[float, float], float]) -> None:
        if not (isinstance(discrepancy, nn.Module) and isinstance(discrepancy, TermLoss)):
            raise DalibError(f"term {name!r}: {type(discrepancy).__name__} is not a loss module with uses_target "
                             "and anchored_parameters(); subclass dalib.alignment.Discrepancy")
        super().__init__()
        self.name, self.discrepancy, self.weight, self.schedule = name, discrepancy, weight, schedule

    def lam(self, progress: float) -> float:
        """λ(p) = schedule(p, weight)."""
        return self.schedule(progress, self.weight)


class Objective(nn.Module):
    """Weighted source cross-entropy plus the alignment terms.

    ``forward`` takes source features/logits f_s (n_s, d), logits_s (n_s, C), labels y_s
    (n_s,), optional weights w_s (n_s,), target f_t (n_t, d), logits_t (n_t, C), and the
    progress p; returns ``(L, parts)`` with ``parts[name]`` the unweighted value of each term
    (``task`` for the cross-entropy) and ``parts["lambda/<name>"]`` each λ(p). Multi-step terms
    (``multi_step = True``) are left out of L; `multi_step_terms` lists them for the trainer.
    """

    def __init__(self, terms: list[Term]) -> None:
        super().__init__()
        self.terms = nn.ModuleList(terms)

    @property
    def multi_step_terms(self) -> list[Term]:
        """The terms that run their own update sequence instead of adding λ·D to L."""
        return [t for t in self.terms if getattr(t.discrepancy, "multi_step", False)]

    def forward(self, f_s: Tensor, logits_s: Tensor, y_s: Tensor, f_t: Tensor, logits_t: Tensor,
                progress: float, w_s: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor | float]]:
        task = weighted_cross_entropy(logits_s, y_s, w_s)
        total = task
        parts: dict[str, Tensor | float] = {"task": task}
        for term in self.terms:
            if getattr(term.discrepancy, "multi_step", False):
                continue
            lam = term.lam(progress)
            value = term.discrepancy(f_s, f_t, logits_s=logits_s, logits_t=logits_t,
                                     y_s=y_s, w_s=w_s, progress=progress)
            total = total + lam * value
            parts[term.name] = value
            parts[f"lambda/{term.name}"] = lam
        return total, parts


def describe_nonfinite(step: int, parts: dict[str, Tensor | float]) -> str:
    """One line naming the step and every loss term's value."""
    values = ", ".join(f"{k}={float(v.detach() if isinstance(v, Tensor) else v):.4g}"
                       for k, v in parts.items() if not k.startswith("lambda/"))
    return (f"loss is NaN/inf at step {step} ({values}); lower the learning rate or λ, "
            "or check the inputs for NaN")


def is_finite(x: Tensor) -> bool:
    """Whether a scalar tensor is finite."""
    return bool(torch.isfinite(x))
