"""Manifold Embedded Distribution Alignment (MEDA).

Wang, Feng, Chen, Yu, Huang & Yu, "Visual Domain Adaptation with Manifold Embedded
Distribution Alignment", ACM Multimedia 2018 (manifold feature learning, dynamic distribution
alignment, structural risk minimisation in an RKHS; Algorithm 1). The defaults and the choices the
paper leaves open follow the authors' released MATLAB code (jindongwang/transferlearning,
``code/traditional/MEDA``), which produced the published numbers; each is named where it is used.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import LinearSVC

from dalib.checks import as_matrix, as_pair
from dalib.errors import DalibError
from dalib.shallow._kernels import (FloatArray, check_labels, kernel, l2_normalize_rows, mmd_vectors,
                                    refuse_swapped_labels, resolve_k)
from dalib.shallow.gfk import GFK

# The authors' code sets μ to 0 below this value (and to 1 above 1).
_MU_FLOOR = 1e-3


def training_a_distance(X_a: FloatArray, X_b: FloatArray) -> float:
    """A-distance ``2 (1 − 2ε)`` of two samples, ``ε`` the *training* error of a linear SVM
    (scikit-learn ``LinearSVC(C=1)``, squared hinge, ``random_state=0``) that separates them.

    This is the estimate MEDA's code uses for the adaptive factor (no held-out split, so it works
    for the few samples of one class); `dalib.eval.transfer.proxy_a_distance` is the held-out
    variant used for reporting. The authors' MATLAB code trains ``fitclinear``'s hinge-loss SVM,
    their Python port this ``LinearSVC``; with it the published Office-Caltech10 SURF row is
    reproduced to within 0.15 points per task (``benchmarks/published_shallow_surf.py``).
    """
    X = np.vstack([X_a, X_b])
    y = np.r_[np.zeros(len(X_a), dtype=int), np.ones(len(X_b), dtype=int)]
    clf = LinearSVC(C=1.0, random_state=0, max_iter=10000).fit(X, y)
    error = float(np.mean(clf.predict(X) != y))
    return 2.0 * (1.0 - 2.0 * error)


def adaptive_factor(d_marginal: float, d_conditional: list[float]) -> float:
    """MEDA's adaptive factor from the marginal A-distance ``d_M`` and the per-class ones ``d_c``::

        μ̂ = d̄_c / (d̄_c + d_M) = 1 − d_M / (d_M + d̄_c),   d̄_c = mean_c d_c,

    then clipped as in the authors' code: ``μ̂ > 1`` → 1, ``μ̂ < 10⁻³`` → 0. The paper writes
    ``Σ_c d_c`` where the released code (which produced the published numbers) averages; this
    follows the code. ``d_M = d̄_c = 0`` (no measurable shift) gives ``μ̂ = 0.5``.
    """
    d_c = float(np.mean(d_conditional)) if d_conditional else 0.0
    total = d_c + d_marginal
    mu = 0.5 if total == 0 else d_c / total
    if mu > 1.0:
        return 1.0
    return 0.0 if mu < _MU_FLOOR else mu


def mmd_factors(y_s: NDArray, pseudo_t: NDArray, n_classes: int, mu: float) -> tuple[FloatArray, FloatArray]:
    """``(U, V)``, each (n_s + n_t, C + 1), with ``U Vᵀ = M / ‖M‖_F`` for MEDA's MMD matrix
    ``M = (1 − μ) M₀ + μ Σ_c M_c`` (the low-rank form keeps ``M K`` at O(n² C)).

    ``y_s`` (n_s,) and ``pseudo_t`` (n_t,) hold class indices in ``[0, n_classes)``. ``M₀ = C e₀e₀ᵀ``
    with ``e₀ = [1/n_s; −1/n_t]`` (the factor C, the number of classes, is the authors' code's) and
    ``M_c = e_c e_cᵀ`` with ``e_c = 1/n_s^c`` on source rows of class c and ``−1/n_t^c`` on target
    rows pseudo-labelled c; a class no target row is assigned to keeps its source part (as in the
    authors' code), which pulls that class's source mean towards zero.
    """
    V = mmd_vectors(len(y_s), len(pseudo_t), y_s, pseudo_t, keep_source_only=True)
    weights = [(1.0 - mu) * n_classes] + [mu] * (V.shape[1] - 1)
    WG = np.asarray(weights)[:, None] * (V.T @ V)  # ‖V W Vᵀ‖²_F = tr((W VᵀV)²)
    norm = float(np.sqrt(max(np.sum(WG * WG.T), 0.0)))  # > 0: e₀ ≠ 0, and every class has source rows
    return V * (np.asarray(weights) / norm), V


def cosine_knn_laplacian(Z: FloatArray, n_neighbors: int) -> sparse.csr_matrix:
    """Normalised graph Laplacian ``L = I − D^{-1/2} W D^{-1/2}`` of the cosine p-NN graph.

    ``Z`` (n, m) has unit-norm rows. Each row is joined to itself and its ``p`` most cosine-similar
    rows with weight ``W_ij = cos(z_i, z_j)``; ``W ← max(W, Wᵀ)`` (an edge when either is among
    the other's neighbours); ``D = diag(Σ_j W_ij)``. A row whose degree is not positive (negative
    cosines to its nearest rows, e.g. few rows and a large ``p``, or a zero row) has no D^{-1/2}:
    one-line error instead of NaN coefficients.
    """
    n = Z.shape[0]
    S = Z @ Z.T
    nbrs = np.argpartition(-S, n_neighbors, axis=1)[:, : n_neighbors + 1]
    rows = np.repeat(np.arange(n), n_neighbors + 1)
    W = sparse.csr_matrix((S[rows, nbrs.ravel()], (rows, nbrs.ravel())), shape=(n, n))
    W = W.maximum(W.T)
    degree = np.asarray(W.sum(axis=1)).ravel()
    if not np.all(degree > 0):
        raise DalibError(f"MEDA: {int(np.sum(~(degree > 0)))} of {n} rows have a degree <= 0 in the cosine "
                         f"{n_neighbors}-NN graph (the cosines to themselves and their nearest rows sum to <= 0), so "
                         f"its Laplacian is undefined; pass a smaller n_neighbors, or manifold_weight=0 to drop the manifold term")
    d_inv_sqrt = 1.0 / np.sqrt(degree)
    return (sparse.identity(n, format="csr") - sparse.diags(d_inv_sqrt) @ W @ sparse.diags(d_inv_sqrt)).tocsr()


def fixed_system(K: FloatArray, source_mask: NDArray, L: sparse.spmatrix | None, manifold_weight: float,
                 reg: float) -> FloatArray:
    """The part of MEDA's system that no round changes: ``(A + ρL) K + ηI`` (n, n)."""
    system = source_mask[:, None] * K + reg * np.eye(K.shape[0])
    if L is not None and manifold_weight > 0:
        system += manifold_weight * (L @ K)
    return system


def solve_coefficients(fixed: FloatArray, K: FloatArray, mmd: tuple[FloatArray, FloatArray], mmd_weight: float,
                       source_mask: NDArray, Y: FloatArray) -> FloatArray:
    """ARRLS/MEDA closed form ``β = ((A + λM + ρL) K + ηI)⁻¹ A Y`` (n, C).

    ``fixed = (A + ρL) K + ηI`` (:func:`fixed_system`), ``mmd = (U, V)`` with ``M = U Vᵀ``
    (:func:`mmd_factors`), ``Y`` (n, C) one-hot on source rows, ``A = diag(source_mask)``.
    β minimises ``‖A^{1/2}(Y − Kβ)‖²_F + η tr(βᵀKβ) + tr(βᵀ K (λM + ρL) K β)``: squared loss on
    the source rows, RKHS norm, MMD and Laplacian terms of ``f = Kβ`` (setting the gradient
    ``2K[((A + λM + ρL)K + ηI)β − AY]`` to zero gives the formula).
    """
    U, V = mmd
    system = fixed + mmd_weight * (U @ (V.T @ K))
    return np.linalg.solve(system, source_mask[:, None] * Y)


class MEDA(ClassifierMixin, BaseEstimator):
    """Transductive classifier: GFK manifold features + distribution-aligned kernel least squares.

    1. **Manifold features**: ``z = GFK_k(x)`` (:class:`~dalib.shallow.gfk.GFK`,
       ``‖z − z'‖² = (x − x')ᵀ G (x − x')``), then every row divided by its L2 norm.
    2. **Structural risk minimisation**: ``f(z) = Σ_i β_i k(z_i, z)`` over
       all ``n = n_s + n_t`` rows, ``β = ((A + λM + ρL) K + ηI)⁻¹ A Y`` (see
       :func:`solve_coefficients`), with the RBF kernel ``k(z, z') = exp(−γ ‖z − z'‖²)``
       (γ = ½: the code's bandwidth σ = 1 for unit-norm rows), ``M`` the dynamic MMD matrix
       (:func:`mmd_factors`) and ``L`` the cosine p-NN graph Laplacian (:func:`cosine_knn_laplacian`).
    3. **Dynamic distribution alignment**: before each of the ``T`` rounds the
       adaptive factor μ is estimated from A-distances of the GFK features (marginal: all source
       vs all target rows; conditional: source class c vs target rows pseudo-labelled c, classes
       without target rows skipped; :func:`adaptive_factor`); the target pseudo-labels start
       from 1-NN on ``z`` and are replaced by ``argmax_c f_c`` after every round.

    Defaults are the paper's and the authors' Office-Caltech10 demo: d = 20, λ = 10, ρ = 1,
    η = 0.1, p = 10, T = 10, RBF kernel.

    ``fit(X_s, y_s, X_t)`` learns β; ``labels_`` are the target predictions of the last round.
    ``predict(X)`` evaluates the learned kernel expansion ``argmax_c Σ_i β_ic k(z_i, z(x))`` at the
    rows of ``X``: on the fitted ``X_t`` this is ``labels_``; on other rows (e.g. held-out source
    or new target rows) it is the inductive use of the same f, which MEDA's objective does not
    adapt to (its MMD and Laplacian terms saw only the fitted rows).

    Parameters
    ----------
    k: GFK subspace dimension d; ``None`` means ``min(20, D, n_s, n_t)``.
    mmd_weight: λ ≥ 0. manifold_weight: ρ ≥ 0 (0 drops the Laplacian). reg: η > 0 (RKHS norm).
    n_neighbors: p ≥ 1, neighbours in the Laplacian graph. n_iter: T ≥ 1 rounds.
    kernel: ``"rbf"`` or ``"linear"``. gamma: RBF ``γ > 0``.
    mu: ``None`` estimates μ every round (the paper); a number in [0, 1] fixes it.

    Attributes
    ----------
    gfk_: the fitted GFK. classes_: (C,) source classes. beta_: (n, C). Z_: (n, 2k) unit-norm
    manifold features of the fitted rows. labels_: (n_t,) target predictions. mu_history_: the
    μ of every round.
    """

    def __init__(self, k: int | None = None, mmd_weight: float = 10.0, manifold_weight: float = 1.0,
                 reg: float = 0.1, n_neighbors: int = 10, n_iter: int = 10, kernel: str = "rbf",
                 gamma: float = 0.5, mu: float | None = None) -> None:
        self.k = k
        self.mmd_weight = mmd_weight
        self.manifold_weight = manifold_weight
        self.reg = reg
        self.n_neighbors = n_neighbors
        self.n_iter = n_iter
        self.kernel = kernel
        self.gamma = gamma
        self.mu = mu

    def _check_params(self, n: int) -> None:
        for name, positive in (("mmd_weight", False), ("manifold_weight", False), ("reg", True), ("gamma", True)):
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value)
                    or value < 0 or (positive and value == 0)):
                raise DalibError(f"{name}={value!r} is invalid; pass a finite {name} {'>' if positive else '>='} 0")
        if isinstance(self.n_iter, bool) or not isinstance(self.n_iter, (int, np.integer)) or self.n_iter < 1:
            raise DalibError(f"n_iter={self.n_iter!r} is invalid; pass an integer n_iter >= 1")
        p = self.n_neighbors
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or not 1 <= p < n:
            raise DalibError(f"n_neighbors={p!r} is invalid; pass an integer 1 <= n_neighbors < {n} (the samples)")
        if self.kernel not in ("rbf", "linear"):
            raise DalibError(f"unknown kernel {self.kernel!r}; use 'linear' or 'rbf'")
        if self.mu is not None and (isinstance(self.mu, bool) or not isinstance(self.mu, (int, float))
                                    or not 0.0 <= self.mu <= 1.0):
            raise DalibError(f"mu={self.mu!r} is invalid; pass a number in [0, 1], or None to estimate it")

    def _estimate_mu(self, F_s: FloatArray, y: NDArray, F_t: FloatArray, pseudo: NDArray) -> float:
        if self.mu is not None:
            return float(self.mu)
        d_c = [training_a_distance(F_s[y == c], F_t[pseudo == c])
               for c in range(len(self.classes_)) if np.any(pseudo == c)]
        return adaptive_factor(training_a_distance(F_s, F_t), d_c)

    def fit(self, X_s: ArrayLike, y_s: ArrayLike, X_t: ArrayLike) -> "MEDA":
        """Run the ``n_iter`` rounds on source rows ``X_s`` (labels ``y_s``) and target rows ``X_t``."""
        refuse_swapped_labels(y_s, X_t, "MEDA")
        Xs, Xt = as_pair(X_s, X_t, min_samples=2)
        labels = check_labels(y_s, Xs.shape[0], required=True, method="MEDA", call="fit(X_s, y_s, X_t)")
        assert labels is not None
        n_s, n = Xs.shape[0], Xs.shape[0] + Xt.shape[0]
        self._check_params(n)
        self.classes_, y = np.unique(labels, return_inverse=True)
        k = resolve_k(self.k, 20, min(Xs.shape[1], n_s, Xt.shape[0]), "feature dimension / sample count")
        self.gfk_ = GFK(k=k).fit(Xs, Xt)
        F_s, F_t = self.gfk_.transform(Xs, "source"), self.gfk_.transform(Xt, "target")
        Z = l2_normalize_rows(np.vstack([F_s, F_t]))
        L = cosine_knn_laplacian(Z, int(self.n_neighbors)) if self.manifold_weight > 0 else None
        pseudo = KNeighborsClassifier(n_neighbors=1).fit(Z[:n_s], y).predict(Z[n_s:])
        K = kernel(Z, Z, self.kernel, self.gamma)
        source_mask = np.r_[np.ones(n_s), np.zeros(n - n_s)]
        fixed = fixed_system(K, source_mask, L, self.manifold_weight, self.reg)
        Y = np.zeros((n, len(self.classes_)))
        Y[np.arange(n_s), y] = 1.0
        self.mu_history_: list[float] = []
        for _ in range(int(self.n_iter)):
            mu = self._estimate_mu(F_s, y, F_t, pseudo)
            mmd = mmd_factors(y, pseudo, len(self.classes_), mu)
            beta = solve_coefficients(fixed, K, mmd, self.mmd_weight, source_mask, Y)
            pseudo = np.argmax(K[n_s:] @ beta, axis=1)
            self.mu_history_.append(mu)
        self.beta_, self.Z_ = beta, Z
        self.labels_ = self.classes_[pseudo]
        self.n_features_in_ = Xs.shape[1]
        return self

    def decision_function(self, X: ArrayLike) -> FloatArray:
        """``f(x) = Σ_i β_i k(z_i, z(x))`` for the rows of ``X``, shape (n, C)."""
        if not hasattr(self, "beta_"):
            raise DalibError("MEDA is not fitted; call fit(X_s, y_s, X_t) before predict")
        arr = as_matrix(X, "X")
        if arr.shape[1] != self.n_features_in_:
            raise DalibError(f"X has {arr.shape[1]} features but MEDA was fitted on {self.n_features_in_}; "
                             "pass data in the fitted feature space")
        z = l2_normalize_rows(self.gfk_.transform(arr, "target"))
        return kernel(z, self.Z_, self.kernel, self.gamma) @ self.beta_

    def predict(self, X: ArrayLike) -> NDArray:
        """Class of ``argmax_c f_c(x)`` for the rows of ``X`` (on the fitted ``X_t``: ``labels_``)."""
        scores = self.decision_function(X)
        return self.classes_[np.argmax(scores, axis=1)]
