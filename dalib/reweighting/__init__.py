"""Importance weighting for covariate shift: weights ``w_i ~ p_t(x_i) / p_s(x_i)`` on source points.

Estimators (each ``fit(X_s (n_s, d), X_t (n_t, d)) -> self`` setting ``weights_`` ``(n_s,)`` and
``ess_``): :class:`KMM` (kernel mean matching), :class:`KLIEP`, :class:`DiscriminativeRatio`
(domain classifier).  Also :class:`TrAdaBoost` (labelled source + a few labelled targets),
:class:`ReweightedClassifier` (weights + any sklearn classifier) and
:func:`effective_sample_size` / :class:`LowESSWarning`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dalib.errors import DalibError
from dalib.reweighting.discriminative import DiscriminativeRatio
from dalib.reweighting.ess import LowESSWarning, effective_sample_size
from dalib.reweighting.kliep import KLIEP
from dalib.reweighting.kmm import KMM, solve_box_sum_qp
from dalib.reweighting.tradaboost import TrAdaBoost
from dalib.reweighting.weighted import ReweightedClassifier

#: Name -> weight-estimator class, for the CLI and :func:`estimate_weights`.
WEIGHT_ESTIMATORS: dict[str, type] = {"kmm": KMM, "kliep": KLIEP, "discriminative": DiscriminativeRatio}


def estimate_weights(name: str, X_s: np.ndarray, X_t: np.ndarray, **kw: Any) -> np.ndarray:
    """Fit ``WEIGHT_ESTIMATORS[name](**kw)`` on ``X_s`` ``(n_s, d)``, ``X_t`` ``(n_t, d)`` and return
    its ``weights_`` ``(n_s,)``."""
    if name not in WEIGHT_ESTIMATORS:
        raise DalibError(f"unknown weight estimator {name!r}; use one of {sorted(WEIGHT_ESTIMATORS)}")
    try:
        est = WEIGHT_ESTIMATORS[name](**kw)
    except TypeError as exc:
        cls = WEIGHT_ESTIMATORS[name].__name__
        raise DalibError(f"bad options for {name!r}: {exc}; see help(dalib.reweighting.{cls})") from None
    return est.fit(X_s, X_t).weights_


__all__ = [
    "DiscriminativeRatio", "KLIEP", "KMM", "LowESSWarning", "ReweightedClassifier", "TrAdaBoost",
    "WEIGHT_ESTIMATORS", "effective_sample_size", "estimate_weights", "solve_box_sum_qp",
]
