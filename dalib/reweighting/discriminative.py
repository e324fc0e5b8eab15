"""Density ratio from a probabilistic domain classifier (Bickel et al. 2007; Qin 1998).

Train a classifier to tell target (label 1) from source (label 0) on the pooled sample.  By Bayes'
rule ``p_t(x) / p_s(x) = [p(t|x) / p(s|x)] * [P(s) / P(t)]`` and with the empirical priors
``P(s)/P(t) = n_s / n_t``:

    w(x) = p(t|x) / p(s|x) * n_s / n_t,     clipped to [clip_min, clip_max].

Defaults: :class:`sklearn.linear_model.LogisticRegression` (``C=1``, ``max_iter=1000``; its log-odds
are linear, so it recovers ratios of equal-covariance Gaussians exactly), ``clip_min=0``,
``clip_max=20`` (in units of the mean source weight, which is ``E_s[w] = 1`` for the true ratio),
and ``cross_fit=5``: each source weight comes from a classifier that did not see that point
(stratified 5-fold out-of-fold ``predict_proba``), which keeps flexible classifiers (trees, k-NN)
from memorising the source and driving its weights to 0.  ``cross_fit=None`` fits once on all
data and uses in-sample probabilities.  ``density_ratio(X)`` for new points always uses a classifier
refitted on all data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from dalib.errors import DalibError
from dalib.checks import as_matrix, as_pair
from dalib.reweighting.ess import check_ess


class DiscriminativeRatio(BaseEstimator):
    """Domain-classifier importance weights; ``fit(X_s (n_s, d), X_t (n_t, d))`` sets ``weights_``
    ``(n_s,)``.

    Parameters: ``classifier`` any sklearn classifier with ``predict_proba`` (default logistic
    regression), ``clip_min`` / ``clip_max`` bounds on the weights (``0 <= clip_min < clip_max``,
    ``clip_max=None`` disables the upper clip), ``cross_fit`` folds for out-of-fold source
    probabilities (``None`` or an int >= 2), ``random_state`` for the fold split, ``blas_threads``
    BLAS threads while fitting (default 1: multi-threaded OpenBLAS on these small problems slows
    down many-fold under CPU contention; ``None`` = library default).
    After fit: ``weights_``, ``classifier_`` (fitted on all data), ``n_clipped_`` (source weights
    hit by the upper clip), ``ess_``.
    """

    def __init__(
        self,
        classifier: Any = None,
        clip_min: float = 0.0,
        clip_max: float | None = 20.0,
        cross_fit: int | None = 5,
        random_state: int | None = 0,
        blas_threads: int | None = 1,
    ) -> None:
        self.classifier, self.clip_min, self.clip_max = classifier, clip_min, clip_max
        self.cross_fit, self.random_state, self.blas_threads = cross_fit, random_state, blas_threads

    def _new_classifier(self) -> Any:
        if self.classifier is None:
            return LogisticRegression(C=1.0, max_iter=1000)
        if not hasattr(self.classifier, "predict_proba"):
            raise DalibError(
                f"{type(self.classifier).__name__} has no predict_proba; pass a probabilistic classifier"
            )
        return clone(self.classifier)

    def _ratio(self, clf: Any, X: np.ndarray) -> np.ndarray:
        proba = clf.predict_proba(X)
        col = int(np.flatnonzero(np.asarray(clf.classes_) == 1)[0])
        p_t = np.clip(proba[:, col], 1e-12, 1.0 - 1e-12)
        w = p_t / (1.0 - p_t) * self.prior_ratio_
        return np.clip(w, self.clip_min, np.inf if self.clip_max is None else self.clip_max)

    def fit(self, X_s: np.ndarray, X_t: np.ndarray) -> "DiscriminativeRatio":
        X_s, X_t = as_pair(X_s, X_t)
        if self.cross_fit is not None and not 2 <= int(self.cross_fit) <= min(X_s.shape[0], X_t.shape[0]):
            raise DalibError(f"cross_fit={self.cross_fit} needs 2 <= cross_fit <= min(n_s, n_t); use None to disable")
        if not self.clip_min >= 0 or (self.clip_max is not None and not self.clip_max > self.clip_min):
            raise DalibError(
                f"clip range [{self.clip_min}, {self.clip_max}] is invalid; need 0 <= clip_min < clip_max"
            )
        with threadpool_limits(limits=self.blas_threads, user_api="blas"):
            w = self._fit(X_s, X_t)
        self.n_clipped_ = 0 if self.clip_max is None else int(np.sum(w >= self.clip_max))
        self.weights_ = w
        self.ess_ = check_ess(w, "DiscriminativeRatio")
        return self

    def _fit(self, X_s: np.ndarray, X_t: np.ndarray) -> np.ndarray:
        n_s, n_t = X_s.shape[0], X_t.shape[0]
        X = np.vstack([X_s, X_t])
        y = np.concatenate([np.zeros(n_s, dtype=int), np.ones(n_t, dtype=int)])
        self.prior_ratio_ = n_s / n_t
        self.classifier_ = self._new_classifier().fit(X, y)
        if self.cross_fit is None:
            w = self._ratio(self.classifier_, X_s)
        else:
            w = np.empty(n_s)
            folds = StratifiedKFold(n_splits=int(self.cross_fit), shuffle=True, random_state=self.random_state)
            for train, test in folds.split(X, y):
                clf = self._new_classifier().fit(X[train], y[train])
                src = test[test < n_s]
                if src.size:
                    w[src] = self._ratio(clf, X[src])
        return w

    def density_ratio(self, X: np.ndarray) -> np.ndarray:
        """Estimated, clipped ``p_t(x) / p_s(x)`` at ``X`` ``(n, d)`` -> ``(n,)``."""
        if not hasattr(self, "classifier_"):
            raise DalibError("DiscriminativeRatio.density_ratio called before fit; call fit(X_s, X_t) first")
        X = as_matrix(X, "X")
        d = getattr(self.classifier_, "n_features_in_", X.shape[1])
        if X.shape[1] != d:
            raise DalibError(f"X has {X.shape[1]} features but the domain classifier was fitted on {d}")
        return self._ratio(self.classifier_, X)
