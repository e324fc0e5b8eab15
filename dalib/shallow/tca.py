"""Transfer Component Analysis (TCA, unsupervised).

Pan, Tsang, Kwok & Yang, "Domain Adaptation via Transfer Component Analysis",
IEEE Trans. Neural Networks 22(2), 2011, Sec. IV.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from dalib.errors import DalibError
from dalib.checks import as_pair
from dalib.shallow._kernels import (
    DomainAdapter,
    Domain,
    FloatArray,
    kernel as kernel_matrix,
    l2_normalize_rows,
    mmd_vectors,
    resolve_k,
    top_generalized_eigvecs,
)


class TCA(DomainAdapter):
    """Kernel embedding that shrinks the source/target MMD while keeping the data variance.

    Stack ``X = [X_s; X_t]`` (n = n_s + n_t rows) and build, as in the paper,

    * the kernel ``K = k(X, X)`` (linear ``X Xᵀ`` or RBF ``exp(-γ||x - x'||²)``),
    * the MMD matrix ``L = e eᵀ`` with ``e_i = 1/n_s`` on source rows and ``-1/n_t`` on
      target rows (so ``tr(K L)`` is the empirical MMD²),
    * the centring matrix ``H = I - (1/n) 1 1ᵀ``.

    The transfer components ``W`` (n × k) are the leading ``k`` eigenvectors of
    ``(K L K + μ I)⁻¹ K H K`` (paper eq. 8-9: minimise ``tr(Wᵀ K L K W) + μ tr(Wᵀ W)``
    subject to ``Wᵀ K H K W = I``). The embedding of the fitted rows is ``Z = K W``.

    Out-of-sample rows are embedded with the kernel against the *fitted stacked data*:
    ``transform(X) = k(X, [X_s; X_t]) · W`` (the same map for both domains, so
    ``domain`` is only checked). Transforming the fitted rows reproduces ``fit_transform``.
    Memory and time are O(n²) and O(n³): meant for a few thousand samples.

    Parameters
    ----------
    k: embedding dimension; ``None`` means ``min(30, n)``.
    mu: trade-off ``μ > 0`` (ridge on ``W``).
    kernel: ``"linear"`` or ``"rbf"``.
    gamma: RBF width; ``None`` means ``1 / (d · var(X))`` (scikit-learn's "scale").
    normalize: divide each input row by its L2 norm before building the kernel
        (the preprocessing of the JDA/TCA reference code; off by default).

    Attributes
    ----------
    W_: (n, k) transfer components. X_fit_: (n, d) stacked fitted data (normalised if asked).
    gamma_: RBF width used. n_source_: n_s.
    """

    def __init__(
        self,
        k: int | None = None,
        mu: float = 1.0,
        kernel: str = "linear",
        gamma: float | None = None,
        normalize: bool = False,
    ) -> None:
        self.k = k
        self.mu = mu
        self.kernel = kernel
        self.gamma = gamma
        self.normalize = normalize

    def fit(self, X_s: ArrayLike, X_t: ArrayLike, y_s: ArrayLike | None = None) -> "TCA":
        """Solve the TCA eigenproblem on the stacked data; ``y_s`` is ignored."""
        Xs, Xt = as_pair(X_s, X_t, min_samples=2)
        if self.kernel not in ("linear", "rbf"):
            raise DalibError(f"kernel={self.kernel!r} is not supported; use 'linear' or 'rbf'")
        if not np.isfinite(self.mu) or self.mu <= 0:
            raise DalibError(f"mu={self.mu!r} is invalid; pass a finite mu > 0")
        X = np.vstack([Xs, Xt])
        if self.normalize:
            X = l2_normalize_rows(X)
        n = X.shape[0]
        k = resolve_k(self.k, 30, n, "number of stacked samples")
        if self.gamma is None:
            var = X.var()
            self.gamma_ = 1.0 / (X.shape[1] * var) if var > 0 else 1.0
        elif self.gamma > 0:
            self.gamma_ = float(self.gamma)
        else:
            raise DalibError(f"gamma={self.gamma!r} is invalid; pass gamma > 0 or None")
        K = kernel_matrix(X, X, self.kernel, self.gamma_)
        Ke = K @ mmd_vectors(Xs.shape[0], Xt.shape[0])  # (n, 1): K L K = (K e)(K e)ᵀ
        K1 = K.sum(axis=1, keepdims=True)
        KHK = K @ K - (K1 @ K1.T) / n
        KLK = Ke @ Ke.T
        self.W_ = top_generalized_eigvecs(KHK, KLK + self.mu * np.eye(n), k)
        self.X_fit_ = X
        self.n_source_ = Xs.shape[0]
        self.k_ = k
        self.n_features_in_ = Xs.shape[1]
        return self

    def _transform(self, X: FloatArray, domain: Domain) -> FloatArray:
        if self.normalize:
            X = l2_normalize_rows(X)
        return kernel_matrix(X, self.X_fit_, self.kernel, self.gamma_) @ self.W_
