"""CORrelation ALignment (CORAL).

Sun, Feng & Saenko, "Return of Frustratingly Easy Domain Adaptation", AAAI 2016, Algorithm 1.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from dalib.errors import DalibError
from dalib.checks import as_pair
from dalib.shallow._kernels import DomainAdapter, Domain, FloatArray, covariance_power


class CORAL(DomainAdapter):
    """Re-colour the source features so that their covariance matches the target's.

    With ``C_s = cov(X_s) + λI`` and ``C_t = cov(X_t) + λI`` (sample covariances, ``λ = reg``)::

        A    = C_s^{-1/2} · C_t^{1/2}          (symmetric matrix roots, `covariance_power`)
        X_s' = X_s · A                          (source: whitened, then re-coloured)
        X_t' = X_t                              (target: unchanged)

    Because covariance ignores translation, ``cov(X_s A) = Aᵀ cov(X_s) A``; with ``reg=0`` on
    full-rank data this is exactly ``cov(X_t)``. As in the paper, means are not aligned (the
    features are expected to be standardised per domain beforehand) and ``reg=1`` is the
    default regulariser ("λ = 1, the identity").

    Parameters
    ----------
    reg:
        Ridge ``λ >= 0`` added to both covariances. ``reg=0`` needs full-rank covariances.

    Attributes
    ----------
    A_: (d, d) source transformation matrix.
    n_features_in_: feature dimension seen in ``fit``.
    """

    def __init__(self, reg: float = 1.0) -> None:
        self.reg = reg

    def fit(self, X_s: ArrayLike, X_t: ArrayLike, y_s: ArrayLike | None = None) -> "CORAL":
        """Estimate ``A = C_s^{-1/2} C_t^{1/2}``; ``y_s`` is ignored."""
        Xs, Xt = as_pair(X_s, X_t, min_samples=2)
        if not np.isfinite(self.reg) or self.reg < 0:
            raise DalibError(f"reg={self.reg!r} is invalid; pass a finite reg >= 0")
        self.A_ = covariance_power(Xs, self.reg, -0.5, "source covariance") @ \
            covariance_power(Xt, self.reg, 0.5, "target covariance")
        self.n_features_in_ = Xs.shape[1]
        return self

    def _transform(self, X: FloatArray, domain: Domain) -> FloatArray:
        return X @ self.A_ if domain == "source" else X.copy()
