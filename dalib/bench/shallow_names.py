"""Names of the shallow methods, ``shallow_<adapter|weighting>_<classifier>``, ``shallow_tfidf_lr``
and ``shallow_meda`` (a transductive classifier), without importing scikit-learn (so
``dalib methods`` and option checks stay fast); `dalib.bench.shallow_run` runs them.
A test keeps these names equal to the keys of `dalib.shallow.SHALLOW_METHODS` and
`dalib.reweighting.WEIGHT_ESTIMATORS`."""

from __future__ import annotations

from dalib.errors import DalibError

PREFIX = "shallow_"
ADAPTERS = ("coral", "sa", "tca", "jda", "gfk", "none")
WEIGHTINGS = ("kmm", "kliep", "discriminative")
CLASSIFIER_NAMES = {"1nn": "1nn", "svm": "linear_svm", "lr": "logistic_regression"}
TFIDF = f"{PREFIX}tfidf_lr"
MEDA = f"{PREFIX}meda"


def is_shallow(method: str) -> bool:
    """Whether ``method`` names a shallow run."""
    return method.startswith(PREFIX)


def shallow_methods() -> list[str]:
    """Every shallow method name: feature adapters × classifiers, weightings × weighted classifiers."""
    return ([f"{PREFIX}{a}_{c}" for a in ADAPTERS for c in CLASSIFIER_NAMES]
            + [f"{PREFIX}{w}_{c}" for w in WEIGHTINGS for c in ("lr", "svm")] + [TFIDF, MEDA])


def parse_shallow(method: str) -> tuple[str, str]:
    """``shallow_<adapter>_<classifier>`` → (adapter name, classifier name); ``shallow_meda`` → ("meda", "meda")."""
    if method not in shallow_methods():
        raise DalibError(f"unknown shallow method {method!r}; choose from {', '.join(shallow_methods())}")
    if method == MEDA:
        return "meda", "meda"
    adapter, _, clf = method[len(PREFIX):].rpartition("_")
    return adapter, CLASSIFIER_NAMES[clf]
