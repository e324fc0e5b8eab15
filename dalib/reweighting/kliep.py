"""KLIEP: Kullback-Leibler importance estimation (Sugiyama et al., NIPS 2007 / AISM 2008).

Model ``w(x) = sum_l alpha_l k(x, c_l)`` with Gaussian ``k(x, c) = exp(-||x - c||^2 / (2 sigma^2))``
and centres ``c_l`` = ``b`` (default up to 100) random target points.  Fit

    maximise   (1/n_t) sum_j log w(x_j^t)
    subject to (1/n_s) sum_i w(x_i^s) = 1,   alpha >= 0.

Solver (in place of the paper's projected gradient ascent): with ``phi_l = (1/n_s) sum_i
k(x_i^s, c_l)`` and ``gamma_l = phi_l alpha_l`` the constraint set becomes the probability simplex
and the objective is the log-likelihood of mixture weights with fixed components
``A_jl = k(x_j^t, c_l) / phi_l``.  Because that log-likelihood is log-homogeneous, its simplex
maximiser is the minimiser of ``-mean log(A gamma) + sum gamma`` over ``gamma >= 0`` (at its
minimiser ``sum gamma = 1``), a smooth bound-constrained problem solved with L-BFGS-B.  It reaches
the paper's optimum in tens to hundreds of cheap ``(n_t, b)`` mat-vecs instead of thousands of
projected-gradient steps.

Width selection: ``k``-fold likelihood cross-validation over the target points; for each width in
``median_sigma * width_factors`` the model is fitted on ``k-1`` folds (centres drawn from those
folds) and scored by the mean ``log w`` on the held-out fold; the best width is refitted on all
target points.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits

from dalib.errors import DalibError
from dalib.checks import as_matrix, as_pair
from dalib.reweighting.ess import check_ess
from dalib.reweighting.kmm import gaussian_kernel, median_heuristic_sigma

DEFAULT_WIDTH_FACTORS: tuple[float, ...] = (0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0)


def _fit_alpha(Phi_t: np.ndarray, phi_s: np.ndarray, tol: float, max_iter: int) -> np.ndarray:
    """Fit ``alpha`` ``(b,)`` with ``phi_s . alpha = 1`` (see module docstring).

    ``Phi_t``: ``(n_t, b)`` target-centre kernel, ``phi_s``: ``(b,)`` mean source-centre kernel.
    Minimises ``F(gamma) = -mean_j log (A gamma)_j + sum_l gamma_l`` over ``gamma >= 0`` with
    L-BFGS-B (projected-gradient tolerance ``tol``), then renormalises onto the simplex.
    """
    keep = phi_s > 1e-300
    if not keep.any():
        raise DalibError("KLIEP: no kernel centre has mass on the source; increase the kernel width")
    A = Phi_t[:, keep] / phi_s[keep]
    n, b = A.shape

    def value_grad(gamma: np.ndarray) -> tuple[float, np.ndarray]:
        Ag = np.maximum(A @ gamma, 1e-300)
        return -float(np.mean(np.log(Ag))) + float(gamma.sum()), 1.0 - (1.0 / Ag) @ A / n

    res = minimize(
        value_grad, np.full(b, 1.0 / b), jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * b,
        options={"maxiter": max_iter, "gtol": tol, "ftol": 1e-15, "maxcor": 30},
    )
    gamma = np.maximum(res.x, 0.0)
    if not gamma.sum() > 0:
        raise DalibError("KLIEP: the fitted model is identically zero; increase the kernel width")
    alpha = np.zeros(phi_s.size)
    alpha[keep] = gamma / gamma.sum() / phi_s[keep]
    return alpha


class KLIEP(BaseEstimator):
    """KLIEP importance weights; ``fit(X_s (n_s, d), X_t (n_t, d))`` sets ``weights_`` ``(n_s,)``.

    Parameters: ``n_centres`` (<= 100 by default) target points used as kernel centres,
    ``sigma`` a fixed width (skips CV), ``width_factors`` multiples of the median-heuristic width
    tried by CV, ``cv`` folds (>= 2), ``tol`` / ``max_iter`` for L-BFGS-B, ``random_state``, ``blas_threads``
    (default 1: the ``(n_t, b)`` products are small, and multi-threaded OpenBLAS on small products
    slows down many-fold under CPU contention; ``None`` leaves the library default).
    After fit: ``weights_`` (mean exactly 1 over the source), ``alpha_`` ``(b,)``, ``centres_``
    ``(b, d)``, ``sigma_``, ``cv_scores_`` ``{sigma: mean held-out log w}``, ``ess_``.
    """

    def __init__(
        self,
        n_centres: int = 100,
        sigma: float | None = None,
        width_factors: Sequence[float] = DEFAULT_WIDTH_FACTORS,
        cv: int = 5,
        tol: float = 1e-8,
        max_iter: int = 2000,
        random_state: int | None = 0,
        blas_threads: int | None = 1,
    ) -> None:
        self.n_centres, self.sigma, self.width_factors, self.cv = n_centres, sigma, width_factors, cv
        self.tol, self.max_iter, self.random_state, self.blas_threads = tol, max_iter, random_state, blas_threads

    def _fit_once(self, X_s: np.ndarray, X_t: np.ndarray, C: np.ndarray, sigma: float) -> np.ndarray:
        phi_s = gaussian_kernel(X_s, C, sigma).mean(axis=0)
        return _fit_alpha(gaussian_kernel(X_t, C, sigma), phi_s, self.tol, self.max_iter)

    def fit(self, X_s: np.ndarray, X_t: np.ndarray) -> "KLIEP":
        X_s, X_t = as_pair(X_s, X_t)
        with threadpool_limits(limits=self.blas_threads, user_api="blas"):
            self._fit(X_s, X_t)
        self.ess_ = check_ess(self.weights_, "KLIEP")
        return self

    def _fit(self, X_s: np.ndarray, X_t: np.ndarray) -> None:
        n_t = X_t.shape[0]
        if int(self.n_centres) < 1:
            raise DalibError(f"KLIEP got n_centres={self.n_centres}; use at least 1 centre")
        if self.sigma is not None and not self.sigma > 0:
            raise DalibError(f"KLIEP got sigma={self.sigma}; the kernel width must be > 0 (or None)")
        rng = np.random.default_rng(self.random_state)
        perm = rng.permutation(n_t)
        if self.sigma is not None:
            sigma, scores = float(self.sigma), {}
        else:
            if int(self.cv) < 2 or n_t < int(self.cv):
                raise DalibError(f"KLIEP got cv={self.cv} with n_t={n_t}; need 2 <= cv <= n_t (or pass sigma)")
            if any(not f > 0 for f in self.width_factors) or len(self.width_factors) == 0:
                raise DalibError("KLIEP width_factors must be a non-empty list of positive numbers")
            med = median_heuristic_sigma(X_s, X_t, 1000, self.random_state)
            folds = np.array_split(perm, int(self.cv))
            scores = {}
            for f in self.width_factors:
                s, total = med * float(f), 0.0
                for r in range(len(folds)):
                    train = np.concatenate([folds[q] for q in range(len(folds)) if q != r])
                    C = X_t[train[: self.n_centres]]  # train is a slice of a random permutation
                    alpha = self._fit_once(X_s, X_t[train], C, s)
                    w_out = gaussian_kernel(X_t[folds[r]], C, s) @ alpha
                    total += float(np.mean(np.log(np.maximum(w_out, 1e-300))))
                scores[s] = total / len(folds)
            sigma = max(scores, key=scores.__getitem__)
        self.centres_ = X_t[perm[: self.n_centres]]
        self.sigma_, self.cv_scores_ = sigma, scores
        self.alpha_ = self._fit_once(X_s, X_t, self.centres_, sigma)
        self.weights_ = gaussian_kernel(X_s, self.centres_, sigma) @ self.alpha_

    def density_ratio(self, X: np.ndarray) -> np.ndarray:
        """Estimated ``p_t(x) / p_s(x)`` at ``X`` ``(n, d)`` -> ``(n,)``."""
        if not hasattr(self, "alpha_"):
            raise DalibError("KLIEP.density_ratio called before fit; call fit(X_s, X_t) first")
        X = as_matrix(X, "X")
        if X.shape[1] != self.centres_.shape[1]:
            raise DalibError(f"X has {X.shape[1]} features but KLIEP was fitted on {self.centres_.shape[1]}")
        return gaussian_kernel(X, self.centres_, self.sigma_) @ self.alpha_
