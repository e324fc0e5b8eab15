"""TrAdaBoost (Dai, Yang, Xue, Yu, ICML 2007): boosting for transfer with a few labelled targets.

Setting: labelled source ``(X_s, y_s)`` (``n`` rows, the "diff-distribution" data whose concept may
partly disagree with the target) and a few labelled target rows ``(X_t, y_t)`` (``m`` rows).
Binary labels only: with more than two classes :class:`DalibError` is raised (the paper's update
and its final vote are defined for two classes; wrap in one-vs-rest yourself if needed).

Algorithm (``N = n_estimators``, labels mapped to ``{0, 1}``, initial weights ``w_i = 1``):

    beta = 1 / (1 + sqrt(2 ln n / N))
    for t = 1..N:
        p = w / sum(w); h_t = base fitted on source+target with sample_weight p * (n + m)
        eps_t = sum_{i in target} w_i |h_t(x_i) - y_i| / sum_{i in target} w_i
        beta_t = eps_t / (1 - eps_t)
        w_i <- w_i * beta ** |h_t(x_i) - y_i|       (source: misfits lose weight)
        w_i <- w_i * beta_t ** -|h_t(x_i) - y_i|    (target: misfits gain weight)
    h_f(x) = 1  iff  prod_{t >= ceil(N/2)} beta_t ** -h_t(x) >= prod_{t >= ceil(N/2)} beta_t ** -1/2

The paper assumes ``eps_t < 1/2``; here ``eps_t`` is clipped to ``[1e-10, 1/2]`` so a round with
``eps_t >= 1/2`` gets ``beta_t = 1`` (no vote, no target update) and a perfect round gets a large but
finite vote.  Weights are renormalised every round (the updates are multiplicative, so this changes
nothing but the floating-point range).

Default base learner: logistic regression.  With a weak learner that barely reacts to the few
target points (e.g. a depth-3 tree, where ``m << n`` target rows carry ~``m/(n+m)`` of the mass),
round 2 repeats round 1, gets ``eps_2 = 1/2`` exactly and the target weights stop growing, so the
paper's scheme stalls; logistic regression responds to the reweighted target points and transfers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import has_fit_parameter
from threadpoolctl import threadpool_limits

from dalib.errors import DalibError
from dalib.checks import as_matrix, as_pair
from dalib.reweighting.ess import check_labels


class TrAdaBoost(ClassifierMixin, BaseEstimator):
    """Binary TrAdaBoost.  ``fit(X_s (n, d), y_s (n,), X_t (m, d), y_t (m,))``; ``predict(X)``.

    Parameters: ``base_estimator`` any sklearn classifier whose ``fit`` accepts ``sample_weight``
    (default ``LogisticRegression(max_iter=1000)``), ``n_estimators`` boosting rounds ``N``,
    ``blas_threads`` BLAS threads while fitting (default 1: the learners see small problems, and
    multi-threaded OpenBLAS slows down many-fold under CPU contention; ``None`` = library default).
    After fit: ``classes_`` (2,), ``estimators_`` (N fitted learners), ``betas_`` ``(N,)`` the
    ``beta_t``, ``errors_`` ``(N,)`` the target errors ``eps_t``, ``beta_`` the source factor,
    ``sample_weights_`` ``(n + m,)`` the final normalised weights (source first).
    """

    def __init__(self, base_estimator: Any = None, n_estimators: int = 20, blas_threads: int | None = 1) -> None:
        self.base_estimator, self.n_estimators, self.blas_threads = base_estimator, n_estimators, blas_threads

    def _new_learner(self) -> Any:
        if self.base_estimator is None:
            return LogisticRegression(max_iter=1000)
        if not has_fit_parameter(self.base_estimator, "sample_weight"):
            raise DalibError(
                f"{type(self.base_estimator).__name__}.fit has no sample_weight; pick a base estimator that takes one"
            )
        return clone(self.base_estimator)

    def fit(self, X_s: np.ndarray, y_s: np.ndarray, X_t: np.ndarray, y_t: np.ndarray) -> "TrAdaBoost":
        X_s, X_t = as_pair(X_s, X_t)
        y_s, y_t = check_labels(y_s, X_s.shape[0], "y_s"), check_labels(y_t, X_t.shape[0], "y_t")
        N = int(self.n_estimators)
        if N < 1:
            raise DalibError(f"TrAdaBoost got n_estimators={self.n_estimators}; use at least 1 round")
        self.classes_ = np.unique(np.concatenate([y_s, y_t]))
        if self.classes_.size != 2:
            raise DalibError(
                f"TrAdaBoost is binary-only but the labels have {self.classes_.size} classes; "
                "pass two classes (wrap it in one-vs-rest for more)"
            )
        n, m = X_s.shape[0], X_t.shape[0]
        X = np.vstack([X_s, X_t])
        y = np.searchsorted(self.classes_, np.concatenate([y_s, y_t]))
        with threadpool_limits(limits=self.blas_threads, user_api="blas"):
            self._boost(X, y, n, m, N)
        self.n_features_in_ = X.shape[1]
        return self

    def _boost(self, X: np.ndarray, y: np.ndarray, n: int, m: int, N: int) -> None:
        w = np.ones(n + m)
        self.beta_ = 1.0 / (1.0 + math.sqrt(2.0 * math.log(n) / N))
        self.estimators_, betas, errors = [], [], []
        for _ in range(N):
            p = w / w.sum()
            h = self._new_learner().fit(X, y, sample_weight=p * (n + m))
            miss = (np.asarray(h.predict(X)) != y).astype(np.float64)
            eps = float(np.clip(w[n:] @ miss[n:] / w[n:].sum(), 1e-10, 0.5))
            beta_t = eps / (1.0 - eps)
            w[:n] *= self.beta_ ** miss[:n]
            w[n:] *= beta_t ** -miss[n:]
            w /= w.sum()
            self.estimators_.append(h)
            betas.append(beta_t)
            errors.append(eps)
        self.betas_, self.errors_, self.sample_weights_ = np.array(betas), np.array(errors), w

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """``sum_{t >= ceil(N/2)} log(1/beta_t) (h_t(x) - 1/2)`` for ``X`` ``(k, d)`` -> ``(k,)``;
        positive means ``classes_[1]``.  Equal vote weights if every late round had ``beta_t = 1``."""
        if not hasattr(self, "estimators_"):
            raise DalibError("TrAdaBoost.predict called before fit; call fit(X_s, y_s, X_t, y_t) first")
        X = as_matrix(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise DalibError(f"X has {X.shape[1]} features but TrAdaBoost was fitted on {self.n_features_in_}")
        start = math.ceil(len(self.estimators_) / 2) - 1  # 1-based round ceil(N/2)
        votes = np.log(1.0 / self.betas_[start:])
        if not votes.sum() > 0:
            votes = np.ones_like(votes)
        H = np.stack([np.asarray(h.predict(X)) for h in self.estimators_[start:]], axis=1)
        return (H - 0.5) @ votes

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Weighted vote of the second half of the rounds, ``X`` ``(k, d)`` -> labels ``(k,)``."""
        positive = self.decision_function(X) >= 0
        return self.classes_[positive.astype(int)]
