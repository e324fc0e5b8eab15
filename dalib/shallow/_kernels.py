"""Shared helpers for the shallow adapters: input checks, the base class, kernels, MMD matrices.

Everything here is private to :mod:`dalib.shallow`; the public classes live in
``coral.py``, ``sa.py``, ``tca.py``, ``jda.py``, ``gfk.py`` and ``meda.py``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import linalg
from sklearn.base import BaseEstimator, TransformerMixin

from dalib.checks import as_matrix
from dalib.errors import DalibError

Domain = Literal["source", "target"]
FloatArray = NDArray[np.float64]


def check_labels(y_s: ArrayLike | None, n_s: int, required: bool, method: str,
                 call: str = "fit(X_s, X_t, y_s)") -> NDArray | None:
    """Check source labels: present when ``required`` (the message shows ``call``), 1-D, one per source row."""
    if y_s is None:
        if required:
            raise DalibError(f"{method} needs source labels; call {call} with y_s given")
        return None
    y = np.asarray(y_s).ravel()
    if y.shape[0] != n_s:
        raise DalibError(f"y_s has {y.shape[0]} labels but X_s has {n_s} rows; pass one label per source row")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise DalibError("y_s contains NaN or inf; drop unlabeled source rows before fitting")
    return y


def refuse_swapped_labels(y_s: ArrayLike, X_t: ArrayLike, method: str) -> None:
    """A classifier's ``fit(X_s, y_s, X_t)`` called in the adapters' order ``fit(X_s, X_t, y_s)``:
    one line naming the order, instead of a shape error about X_t."""
    if np.ndim(X_t) == 1 and np.ndim(y_s) == 2:
        raise DalibError(f"{method}.fit takes (X_s, y_s, X_t), but y_s has shape {np.shape(y_s)} and X_t "
                         f"{np.shape(X_t)}: were y_s and X_t swapped?")


def resolve_k(k: int | None, default: int, limit: int, what: str) -> int:
    """``None`` -> ``min(default, limit)``; an explicit ``k`` outside ``[1, limit]`` raises."""
    if k is None:
        return max(1, min(default, limit))
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise DalibError(f"k={k!r} is not a positive integer; pass k >= 1 or k=None")
    if k > limit:
        raise DalibError(f"k={k} is larger than the {what} ({limit}); pass k <= {limit} or k=None")
    return int(k)


def sym_power(C: FloatArray, power: float, name: str) -> FloatArray:
    """``C**power`` for a symmetric positive (semi)definite matrix via ``eigh``."""
    w, V = linalg.eigh(C, driver="evd")
    if power < 0 and w.min() <= 1e-12 * max(w.max(), 1e-300):
        raise DalibError(f"{name} is singular (rank-deficient data); use reg > 0 or more samples")
    w = np.clip(w, 0.0, None)
    return (V * w**power) @ V.T


def pca_basis(X: FloatArray, k: int) -> FloatArray:
    """Top-``k`` principal directions (d × k, orthonormal columns) of the centred rows of ``X`` (n, d).

    From the top ``k`` eigenpairs of the smaller of XᵀX (d × d) and XXᵀ (n × n) — scipy's
    ``eigh(subset_by_index=…)`` computes only those — instead of a full SVD: the same subspace,
    3.5× faster on a 958 × 800 SURF domain; a thin SVD when the k-th eigenvalue is ~0 (k above
    the rank), where XXᵀ's eigenvectors give no direction."""
    Xc = X - X.mean(axis=0)
    n, d = Xc.shape
    small = Xc @ Xc.T if n < d else Xc.T @ Xc
    w, U = linalg.eigh(small, subset_by_index=[len(small) - k, len(small) - 1])
    w, U = w[::-1], U[:, ::-1]
    if w[-1] <= 1e-10 * max(w[0], 1e-300):
        _, _, Vt = np.linalg.svd(Xc, full_matrices=False)
        return Vt[:k].T
    return Xc.T @ U / np.sqrt(w) if n < d else np.ascontiguousarray(U)


def covariance_power(X: FloatArray, reg: float, power: float, name: str) -> FloatArray:
    """``(cov(X) + reg·I)**power`` (d × d) for rows ``X`` (n, d), cov with n − 1.

    With n − 1 < d the covariance has rank ≤ n − 1: from the thin SVD of the centred rows,
    Xc = U·S·Vᵀ, (cov + reg·I)^p = V·diag((S²/(n−1) + reg)^p − reg^p)·Vᵀ + reg^p·I (O(n²d),
    where the d × d eigendecomposition of a rank-deficient matrix is O(d³) and slow on its
    clustered spectrum); otherwise the eigendecomposition by divide and conquer."""
    n, d = X.shape
    if n - 1 < d and reg > 0:
        Xc = X - X.mean(axis=0)
        _, S, Vt = np.linalg.svd(Xc, full_matrices=False)
        shift = (S ** 2 / (n - 1) + reg) ** power - reg ** power
        return (Vt.T * shift) @ Vt + reg ** power * np.eye(d)
    C = np.atleast_2d(np.cov(X, rowvar=False)) + reg * np.eye(d)
    return sym_power(C, power, name)


def l2_normalize_rows(X: FloatArray) -> FloatArray:
    """Divide every row by its Euclidean norm (zero rows are left at zero)."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def kernel(X: FloatArray, Y: FloatArray, kind: str, gamma: float) -> FloatArray:
    """Linear ``X Yᵀ`` or RBF ``exp(-gamma ||x - y||²)`` kernel matrix."""
    if kind == "linear":
        return X @ Y.T
    if kind == "rbf":
        sq = (X**2).sum(1)[:, None] + (Y**2).sum(1)[None, :] - 2.0 * X @ Y.T
        return np.exp(-gamma * np.clip(sq, 0.0, None))
    raise DalibError(f"unknown kernel {kind!r}; use 'linear' or 'rbf'")


def mmd_vectors(
    n_s: int, n_t: int, y_s: NDArray | None = None, y_t: NDArray | None = None,
    keep_source_only: bool = False,
) -> FloatArray:
    """Columns ``e_c`` whose outer products sum to the (J)MMD matrix ``M = Σ_c e_c e_cᵀ``.

    Column 0 is the marginal term (``1/n_s`` on source rows, ``-1/n_t`` on target rows;
    Pan et al. 2011, Long et al. 2013 eq. 3). With labels, one column per class present
    in both domains holds ``1/n_s^c`` on source rows of class c and ``-1/n_t^c`` on target
    rows pseudo-labelled c (Long et al. 2013 eq. 5). ``keep_source_only`` also keeps a column
    for each source class no target row is labelled with, holding its source part only (MEDA's
    code does so).
    """
    cols = [np.concatenate([np.full(n_s, 1.0 / n_s), np.full(n_t, -1.0 / n_t)])]
    if y_s is not None and y_t is not None:
        for c in np.unique(y_s):
            src, tgt = (y_s == c).astype(np.float64), (y_t == c).astype(np.float64)
            if src.any() and (tgt.any() or keep_source_only):
                cols.append(np.concatenate([src / src.sum(), -tgt / max(tgt.sum(), 1.0)]))
    return np.stack(cols, axis=1)


def top_generalized_eigvecs(A: FloatArray, B: FloatArray, k: int) -> FloatArray:
    """Eigenvectors of ``B⁻¹A`` for the ``k`` largest eigenvalues (``A`` symmetric, ``B`` SPD).

    Maximising ``tr(Wᵀ A W)`` subject to ``Wᵀ B W = I`` is equivalent to the papers'
    "minimise ``tr(Wᵀ B W)`` s.t. ``Wᵀ A W = I``" and is numerically safer because ``B``
    (MMD term + ridge) is positive definite while ``A`` (scatter) may be singular.
    The columns come back ``B``-normalised (``Wᵀ B W = I``), i.e. close to unit norm when
    the ridge dominates ``B``; they are *not* rescaled to ``Wᵀ A W = I``.
    """
    n = A.shape[0]
    A = (A + A.T) / 2.0
    B = (B + B.T) / 2.0
    w, V = linalg.eigh(A, B, subset_by_index=[n - k, n - 1])
    return V[:, np.argsort(w)[::-1]]


class DomainAdapter(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Base class: ``fit(X_s, X_t, y_s=None)``, ``transform(X, domain)``, ``fit_transform``.

    Subclasses implement ``fit`` and ``_transform(X, domain)``; ``fit`` must set
    ``n_features_in_``.
    """

    def fit(self, X_s: ArrayLike, X_t: ArrayLike, y_s: ArrayLike | None = None) -> "DomainAdapter":
        raise NotImplementedError

    def _transform(self, X: FloatArray, domain: Domain) -> FloatArray:
        raise NotImplementedError

    def transform(self, X: ArrayLike, domain: Domain = "target") -> FloatArray:
        """Map rows of ``X`` that come from ``domain`` ("source" or "target") into the shared space."""
        if not hasattr(self, "n_features_in_"):
            raise DalibError(f"{type(self).__name__} is not fitted; call fit(X_s, X_t) before transform")
        if domain not in ("source", "target"):
            raise DalibError(f"domain={domain!r} is not valid; pass domain='source' or domain='target'")
        arr = as_matrix(X, "X")
        if arr.shape[1] != self.n_features_in_:
            raise DalibError(
                f"X has {arr.shape[1]} features but the adapter was fitted on {self.n_features_in_}; "
                "pass data in the fitted feature space"
            )
        return self._transform(arr, domain)

    def fit_transform(  # type: ignore[override]
        self, X_s: ArrayLike, X_t: ArrayLike, y_s: ArrayLike | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Fit on both domains and return ``(Z_s, Z_t)``."""
        self.fit(X_s, X_t, y_s)
        return self.transform(X_s, "source"), self.transform(X_t, "target")
