"""Importance-weighted training of any sklearn classifier on a shifted source domain.

``ReweightedClassifier.fit(X_s, y_s, X_t)`` estimates weights ``w`` (shape ``(n_s,)``, approximately
``p_t(x) / p_s(x)`` at the source points) with KMM, KLIEP or a domain classifier, then minimises the
importance-weighted empirical risk ``sum_i w_i loss(f(x_i^s), y_i^s)`` by calling
``base_estimator.fit(X_s, y_s, sample_weight=w)``.  Under covariate shift (``p_t(y|x) = p_s(y|x)``)
that risk is an unbiased estimate of the target risk (up to the weight-estimation error).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import has_fit_parameter

from dalib.errors import DalibError
from dalib.reweighting.discriminative import DiscriminativeRatio
from dalib.checks import as_matrix, as_pair
from dalib.reweighting.ess import check_labels
from dalib.reweighting.kliep import KLIEP
from dalib.reweighting.kmm import KMM

_BY_NAME: dict[str, type] = {"kmm": KMM, "kliep": KLIEP, "discriminative": DiscriminativeRatio}


def make_weighting(weighting: Any) -> Any:
    """A fresh weight estimator from a name (``"kmm"``, ``"kliep"``, ``"discriminative"``) or a
    clone of an estimator instance that has ``fit(X_s, X_t)`` and sets ``weights_``."""
    if isinstance(weighting, str):
        if weighting not in _BY_NAME:
            raise DalibError(f"unknown weighting {weighting!r}; use one of {sorted(_BY_NAME)} or an estimator instance")
        return _BY_NAME[weighting]()
    if not hasattr(weighting, "fit"):
        raise DalibError(f"weighting {weighting!r} has no fit(X_s, X_t); pass a name or a weight estimator")
    return clone(weighting) if isinstance(weighting, BaseEstimator) else weighting


class ReweightedClassifier(ClassifierMixin, BaseEstimator):
    """Fit ``base_estimator`` on the source with importance weights toward the target.

    Parameters: ``weighting`` a name or weight-estimator instance (default ``"kmm"``),
    ``base_estimator`` an sklearn classifier whose ``fit`` takes ``sample_weight`` (default
    ``LogisticRegression(max_iter=1000)``).  ``fit(X_s (n_s, d), y_s (n_s,), X_t (n_t, d))``;
    after fit: ``weights_`` ``(n_s,)``, ``weighting_`` (fitted), ``estimator_``, ``classes_``, ``ess_``.
    ``predict(X (k, d)) -> (k,)``; ``score(X, y)`` is the accuracy (from ``ClassifierMixin``).
    """

    def __init__(self, weighting: Any = "kmm", base_estimator: Any = None) -> None:
        self.weighting, self.base_estimator = weighting, base_estimator

    def fit(self, X_s: np.ndarray, y_s: np.ndarray, X_t: np.ndarray) -> "ReweightedClassifier":
        X_s, X_t = as_pair(X_s, X_t)
        y_s = check_labels(y_s, X_s.shape[0], "y_s")
        base = LogisticRegression(max_iter=1000) if self.base_estimator is None else self.base_estimator
        if not has_fit_parameter(base, "sample_weight"):
            raise DalibError(f"{type(base).__name__}.fit has no sample_weight; pick a base estimator that takes one")
        self.weighting_ = make_weighting(self.weighting).fit(X_s, X_t)
        w = np.asarray(self.weighting_.weights_, dtype=np.float64)
        if w.shape != (X_s.shape[0],):
            raise DalibError(f"weighting produced weights of shape {w.shape}, expected ({X_s.shape[0]},)")
        self.weights_ = w
        self.ess_ = getattr(self.weighting_, "ess_", None)
        self.estimator_ = clone(base).fit(X_s, y_s, sample_weight=w)
        self.classes_ = self.estimator_.classes_
        self.n_features_in_ = X_s.shape[1]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Labels ``(k,)`` for ``X`` ``(k, d)`` from the weighted base estimator."""
        if not hasattr(self, "estimator_"):
            raise DalibError("ReweightedClassifier.predict called before fit; call fit(X_s, y_s, X_t) first")
        X = as_matrix(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise DalibError(f"X has {X.shape[1]} features but the model was fitted on {self.n_features_in_}")
        return self.estimator_.predict(X)
