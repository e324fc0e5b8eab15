"""Subspace Alignment (SA).

Fernando, Habrard, Sebban & Tuytelaars, "Unsupervised Visual Domain Adaptation Using
Subspace Alignment", ICCV 2013, Algorithm 1.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from dalib.checks import as_pair
from dalib.shallow._kernels import DomainAdapter, Domain, FloatArray, pca_basis, resolve_k


class SubspaceAlignment(DomainAdapter):
    """Align the source PCA subspace onto the target PCA subspace.

    ``P_s`` and ``P_t`` (d × k) are the top-``k`` PCA bases of each domain. The alignment
    matrix ``M = P_sᵀ P_t`` minimises ``||P_s M - P_t||_F`` (paper eq. 3), giving::

        Z_s = X_s · P_s · M = X_s · P_s · P_sᵀ · P_t      ("target-aligned source")
        Z_t = X_t · P_t                                  ("projected target")

    Centring: with ``center=True`` (default) every domain is centred by its own mean, both
    to compute its PCA basis and before projecting (``transform`` reuses the mean fitted
    for that domain). With ``center=False`` the bases still come from centred PCA but the
    raw rows are projected, as in the paper's code, which expects per-domain z-scored input.

    Parameters
    ----------
    k:
        Subspace dimension; ``None`` means ``min(100, d, n_s, n_t)``. An explicit ``k``
        larger than that raises :class:`~dalib.errors.DalibError`.
    center:
        Subtract each domain's mean before projecting (see above).

    Attributes
    ----------
    P_s_, P_t_: (d, k) PCA bases. M_: (k, k) alignment matrix ``P_sᵀ P_t``.
    mean_s_, mean_t_: per-domain means (zeros when ``center=False``).
    """

    def __init__(self, k: int | None = None, center: bool = True) -> None:
        self.k = k
        self.center = center

    def fit(self, X_s: ArrayLike, X_t: ArrayLike, y_s: ArrayLike | None = None) -> "SubspaceAlignment":
        """Compute both PCA bases and ``M = P_sᵀ P_t``; ``y_s`` is ignored."""
        Xs, Xt = as_pair(X_s, X_t, min_samples=2)
        d = Xs.shape[1]
        limit = min(d, Xs.shape[0], Xt.shape[0])
        k = resolve_k(self.k, 100, limit, "feature dimension / sample count")
        self.P_s_ = pca_basis(Xs, k)
        self.P_t_ = pca_basis(Xt, k)
        self.M_ = self.P_s_.T @ self.P_t_
        self.mean_s_ = Xs.mean(axis=0) if self.center else np.zeros(d)
        self.mean_t_ = Xt.mean(axis=0) if self.center else np.zeros(d)
        self.k_ = k
        self.n_features_in_ = d
        return self

    def _transform(self, X: FloatArray, domain: Domain) -> FloatArray:
        if domain == "source":
            return (X - self.mean_s_) @ self.P_s_ @ self.M_
        return (X - self.mean_t_) @ self.P_t_
