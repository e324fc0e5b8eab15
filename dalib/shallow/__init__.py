"""Shallow (feature-transform) domain adaptation with a scikit-learn-style interface.

Every adapter follows ``fit(X_s, X_t, y_s=None)`` → ``transform(X, domain="source"|"target")``,
and ``fit_transform(X_s, X_t, y_s=None) -> (Z_s, Z_t)``:

* :class:`CORAL` — Sun, Feng & Saenko, AAAI 2016 (covariance re-colouring of the source).
* :class:`SubspaceAlignment` — Fernando et al., ICCV 2013 (PCA subspace alignment).
* :class:`TCA` — Pan et al., IEEE TNN 2011 (transfer component analysis, kernel MMD).
* :class:`JDA` — Long et al., ICCV 2013 (joint marginal + conditional MMD, pseudo-labels).
* :class:`GFK` — Gong et al., CVPR 2012 (geodesic flow kernel between the PCA subspaces,
  ``G = ∫₀¹ Φ(t)Φ(t)ᵀ dt`` in closed form from the principal angles).
* :class:`IdentityAdapter` — no adaptation (baseline).

:class:`MEDA` (Wang et al., ACM MM 2018) is a transductive classifier, not an adapter:
``fit(X_s, y_s, X_t)`` → ``predict(X)``; GFK features, then kernel least squares with an
adaptively weighted marginal + conditional MMD term and a graph-Laplacian term.

:class:`ShallowDAClassifier` chains an adapter with a classifier, and
:data:`SHALLOW_METHODS` maps method names to adapter factories (for the CLI).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import LinearSVC

from dalib.errors import DalibError
from dalib.checks import as_pair
from dalib.shallow._kernels import DomainAdapter, Domain, FloatArray, check_labels, refuse_swapped_labels
from dalib.shallow.coral import CORAL
from dalib.shallow.gfk import GFK
from dalib.shallow.jda import JDA
from dalib.shallow.meda import MEDA
from dalib.shallow.sa import SubspaceAlignment
from dalib.shallow.tca import TCA

__all__ = [
    "CORAL",
    "GFK",
    "JDA",
    "MEDA",
    "SHALLOW_METHODS",
    "DomainAdapter",
    "IdentityAdapter",
    "ShallowDAClassifier",
    "SubspaceAlignment",
    "TCA",
    "make_classifier",
]


class IdentityAdapter(DomainAdapter):
    """No adaptation: both domains are returned unchanged (the "source only" baseline)."""

    def fit(self, X_s: ArrayLike, X_t: ArrayLike, y_s: ArrayLike | None = None) -> "IdentityAdapter":
        """Check the inputs and remember the feature dimension."""
        Xs, _ = as_pair(X_s, X_t, min_samples=1)
        self.n_features_in_ = Xs.shape[1]
        return self

    def _transform(self, X: FloatArray, domain: Domain) -> FloatArray:
        return X.copy()


SHALLOW_METHODS: dict[str, Callable[..., DomainAdapter]] = {
    "coral": CORAL,
    "sa": SubspaceAlignment,
    "tca": TCA,
    "jda": JDA,
    "gfk": GFK,
    "none": IdentityAdapter,
}

CLASSIFIERS = ("1nn", "linear_svm")


def make_classifier(name: str) -> BaseEstimator:
    """``"1nn"`` → ``KNeighborsClassifier(1)``; ``"linear_svm"`` → ``LinearSVC`` with a fixed
    ``random_state``: liblinear's dual coordinate descent visits samples in a random order, and
    on ill-conditioned inputs (e.g. TCA features) an unseeded order changed accuracy by up to 6
    points between two runs of the same seed."""
    if name == "1nn":
        return KNeighborsClassifier(n_neighbors=1)
    if name == "linear_svm":
        return LinearSVC(C=1.0, dual=True, max_iter=20000, random_state=0)
    raise DalibError(f"unknown classifier {name!r}; use one of {', '.join(CLASSIFIERS)} or an estimator")


class ShallowDAClassifier(ClassifierMixin, BaseEstimator):
    """Adapt the features, train on the adapted source, predict on the (adapted) target.

    ``fit(X_s, y_s, X_t)`` runs ``adapter.fit_transform(X_s, X_t, y_s)`` and fits the
    classifier on the adapted source; ``predict(X)`` maps ``X`` with
    ``adapter.transform(X, domain="target")`` and predicts.

    Parameters
    ----------
    adapter: a :class:`DomainAdapter` instance or a key of :data:`SHALLOW_METHODS`.
    classifier: ``"1nn"`` (default, ``KNeighborsClassifier(1)``), ``"linear_svm"``
        (``LinearSVC``) or any scikit-learn classifier (it is cloned).

    Attributes
    ----------
    adapter_, classifier_: the fitted clones. classes_: source classes.
    """

    def __init__(self, adapter: DomainAdapter | str = "none", classifier: str | BaseEstimator = "1nn") -> None:
        self.adapter = adapter
        self.classifier = classifier

    def fit(self, X_s: ArrayLike, y_s: ArrayLike, X_t: ArrayLike) -> "ShallowDAClassifier":
        """Fit the adapter on both domains and the classifier on the adapted source."""
        refuse_swapped_labels(y_s, X_t, "ShallowDAClassifier")
        Xs, Xt = as_pair(X_s, X_t, min_samples=1)
        y = check_labels(y_s, Xs.shape[0], required=True, method="ShallowDAClassifier", call="fit(X_s, y_s, X_t)")
        if isinstance(self.adapter, str):
            if self.adapter not in SHALLOW_METHODS:
                raise DalibError(f"unknown adapter {self.adapter!r}; use one of {', '.join(SHALLOW_METHODS)}")
            self.adapter_ = SHALLOW_METHODS[self.adapter]()
        else:
            self.adapter_ = clone(self.adapter)
        if isinstance(self.classifier, str):
            self.classifier_ = make_classifier(self.classifier)
        else:
            self.classifier_ = clone(self.classifier)
        Z_s, _ = self.adapter_.fit_transform(Xs, Xt, y)
        self.classifier_.fit(Z_s, y)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X_t: ArrayLike) -> NDArray:
        """Predict labels for target rows ``X_t``."""
        if not hasattr(self, "adapter_"):
            raise DalibError("ShallowDAClassifier is not fitted; call fit(X_s, y_s, X_t) before predict")
        return self.classifier_.predict(self.adapter_.transform(X_t, domain="target"))
