"""Input checks shared by the numpy estimators: one-line `DalibError`s naming problem and fix."""

from __future__ import annotations

import numpy as np

from dalib.errors import DalibError


def as_vector(x: object, name: str) -> np.ndarray:
    """``x`` as a finite, non-empty 1-D float64 array of shape (n,)."""
    try:
        v = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DalibError(f"{name} is not numeric ({exc}); pass a float array of shape (n,)") from None
    if v.ndim != 1 or v.size == 0:
        raise DalibError(f"{name} has shape {v.shape}, expected a non-empty (n,); flatten it with .ravel()")
    if not np.all(np.isfinite(v)):
        raise DalibError(f"{name} contains NaN or inf; check the values that produced it")
    return v


def as_matrix(X: object, name: str, min_samples: int = 1) -> np.ndarray:
    """``X`` as a finite float64 array of shape (n, d) with n ≥ ``min_samples`` and d ≥ 1."""
    try:
        A = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DalibError(f"{name} is not numeric ({exc}); pass a float array of shape (n, d)") from None
    if A.ndim != 2:
        raise DalibError(f"{name} has shape {A.shape}, expected (n, d); use X.reshape(-1, 1) for a single feature")
    if A.shape[1] == 0 or A.shape[0] < max(min_samples, 1):
        raise DalibError(f"{name} has shape {A.shape} but needs at least {max(min_samples, 1)} sample(s) "
                         "and one feature; pass more rows")
    if not np.all(np.isfinite(A)):
        raise DalibError(f"{name} contains NaN or inf; impute or drop those rows first")
    return A


def as_pair(X_s: object, X_t: object, names: tuple[str, str] = ("X_s", "X_t"),
            min_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A source/target pair as finite (n, d) float64 arrays with the same d."""
    A, B = as_matrix(X_s, names[0], min_samples), as_matrix(X_t, names[1], min_samples)
    if A.shape[1] != B.shape[1]:
        raise DalibError(f"{names[0]} has {A.shape[1]} features but {names[1]} has {B.shape[1]}; "
                         "source and target must share one feature space")
    return A, B
