"""Learning-rate schedules, functions of training progress p ∈ [0, 1].

(The λ(p) schedules of alignment terms live beside the losses, in `dalib.alignment.schedules`.)
"""

from __future__ import annotations


def inverse_decay(p: float, alpha: float = 10.0, beta: float = 0.75) -> float:
    """DANN's learning-rate factor: lr(p) = lr_0 · (1 + α·p)^(−β)."""
    return (1.0 + alpha * p) ** (-beta)
