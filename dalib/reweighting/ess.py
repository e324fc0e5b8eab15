"""Effective sample size, the low-ESS warning, and the input checks shared by the estimators.

For importance weights ``w`` (shape ``(n,)``, ``w_i >= 0``) the Kish effective sample size is

    ESS(w) = (sum_i w_i)^2 / sum_i w_i^2,

which equals ``n`` for uniform weights and ``1`` when a single weight carries all the mass.
Every estimator in :mod:`dalib.reweighting` stores ``ess_`` after ``fit`` and emits a
:class:`LowESSWarning` when ``ess_ < 0.1 * n_s`` (the weighted source then behaves like a
much smaller sample, so downstream estimates get noisy).
"""

from __future__ import annotations

import warnings

import numpy as np

from dalib.errors import DalibError

#: Fraction of ``n_s`` below which :func:`check_ess` warns.
LOW_ESS_FRACTION = 0.1


class LowESSWarning(UserWarning):
    """The importance weights have an effective sample size below 10% of ``n_s``."""


def effective_sample_size(w: np.ndarray) -> float:
    """Return ``(sum w)^2 / sum w^2`` for non-negative weights ``w`` of shape ``(n,)``.

    Raises :class:`DalibError` for empty, non-finite, negative or all-zero weights.
    """
    w = np.asarray(w, dtype=np.float64).ravel()
    if w.size == 0:
        raise DalibError("effective_sample_size got an empty weight vector; pass at least one weight")
    if not np.all(np.isfinite(w)):
        raise DalibError("effective_sample_size got NaN/inf weights; fix the weight estimator or its inputs")
    if np.any(w < 0):
        raise DalibError("effective_sample_size got negative weights; importance weights must be >= 0")
    sq = float(np.dot(w, w))
    if sq == 0.0:
        raise DalibError("effective_sample_size got all-zero weights; the weight estimator collapsed")
    return float(w.sum()) ** 2 / sq


def check_ess(w: np.ndarray, name: str, fraction: float = LOW_ESS_FRACTION) -> float:
    """Compute the ESS of ``w`` (shape ``(n,)``) and warn with :class:`LowESSWarning` if it is
    below ``fraction * n``. Returns the ESS."""
    ess = effective_sample_size(w)
    n = np.asarray(w).size
    if ess < fraction * n:
        warnings.warn(
            f"{name}: effective sample size {ess:.1f} is below {fraction:.0%} of n_s={n}; "
            "the weights are dominated by a few source points (try a wider kernel, "
            "stronger clipping, or check that the domains overlap)",
            LowESSWarning,
            stacklevel=3,
        )
    return ess


def check_labels(y: object, n: int, name: str) -> np.ndarray:
    """Return labels ``y`` as a 1-D array of length ``n`` (finite if numeric)."""
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise DalibError(f"{name} has shape {arr.shape} but the features have {n} rows; pass one label per row")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise DalibError(f"{name} contains NaN or inf; drop those rows first")
    return arr
