"""λ(p) schedules of alignment terms, functions of training progress p ∈ [0, 1].

They live beside the losses because a loss may need one itself (DANN's gradient-reversal
coefficient follows `warm_start`); `dalib.methods` looks a term's schedule up by name.
"""

from __future__ import annotations

import math
from typing import Callable

from dalib.errors import DalibError


def constant(p: float, lam_max: float = 1.0) -> float:
    """λ(p) = λ_max for every p."""
    return lam_max


def warm_start(p: float, lam_max: float = 1.0, gamma: float = 10.0) -> float:
    """DANN's warm start (Ganin et al. 2016): λ(p) = λ_max·(2 / (1 + exp(−γ·p)) − 1).

    λ(0) = 0, λ(0.5) ≈ 0.987·λ_max for γ = 10, λ(1) ≈ λ_max.
    """
    return lam_max * (2.0 / (1.0 + math.exp(-gamma * p)) - 1.0)


LAMBDA_SCHEDULES: dict[str, Callable[[float, float], float]] = {
    "constant": constant,
    "warm_start": warm_start,
}


def lambda_schedule(name: str) -> Callable[[float, float], float]:
    """Look up a λ(p) schedule by name."""
    try:
        return LAMBDA_SCHEDULES[name]
    except KeyError:
        raise DalibError(
            f"unknown λ schedule {name!r}; choose one of {', '.join(sorted(LAMBDA_SCHEDULES))}"
        ) from None
