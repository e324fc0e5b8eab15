"""ReweightedClassifier: importance-weighted training under covariate shift."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from dalib.errors import DalibError
from dalib.reweighting import KLIEP, LowESSWarning, ReweightedClassifier


def toy(seed, n=400):
    """Curved boundary x2 > x1^2 / 2 - 1/2; the target sits on one side of the parabola, so a linear
    model fitted on the whole source is wrong there (a misspecified model under covariate shift)."""
    rng = np.random.default_rng(seed)
    X_s = rng.normal(size=(n, 2))
    X_t = rng.normal(size=(n, 2)) * 0.6 + np.array([1.5, 0.8])
    rule = lambda X: (X[:, 1] > 0.5 * X[:, 0] ** 2 - 0.5).astype(int)  # noqa: E731
    return X_s, rule(X_s), X_t, rule(X_t)


@pytest.mark.parametrize("weighting", ["kmm", "kliep", "discriminative"])
def test_weighting_improves_target_accuracy(weighting):
    plain, weighted = [], []
    for seed in range(3):
        X_s, y_s, X_t, y_t = toy(seed)
        plain.append(LogisticRegression(max_iter=1000).fit(X_s, y_s).score(X_t, y_t))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LowESSWarning)
            model = ReweightedClassifier(weighting).fit(X_s, y_s, X_t)
        weighted.append(model.score(X_t, y_t))
        assert model.weights_.shape == (400,) and model.predict(X_t).shape == (400,)
    assert np.mean(weighted) > np.mean(plain) + 0.15, (plain, weighted)


@pytest.mark.filterwarnings("ignore::dalib.reweighting.ess.LowESSWarning")
def test_instance_weighting_and_base_estimator():
    X_s, y_s, X_t, y_t = toy(0)
    model = ReweightedClassifier(KLIEP(n_centres=50), LogisticRegression(C=10.0, max_iter=1000)).fit(X_s, y_s, X_t)
    assert isinstance(model.weighting_, KLIEP) and model.weighting_.centres_.shape == (50, 2)
    np.testing.assert_allclose(model.weights_, model.weighting_.weights_)
    assert model.estimator_.C == 10.0 and model.ess_ == model.weighting_.ess_
    assert list(model.classes_) == [0, 1]


def test_bad_inputs():
    X_s, y_s, X_t, _ = toy(0, n=60)
    with pytest.raises(DalibError, match="unknown weighting"):
        ReweightedClassifier("nope").fit(X_s, y_s, X_t)
    with pytest.raises(DalibError, match="sample_weight"):
        ReweightedClassifier("discriminative", KNeighborsClassifier()).fit(X_s, y_s, X_t)
    with pytest.raises(DalibError):
        ReweightedClassifier("discriminative").fit(X_s, y_s[:-2], X_t)
    with pytest.raises(DalibError):
        ReweightedClassifier("discriminative").fit(X_s, y_s, X_t[:, :1])
    with pytest.raises(DalibError, match="before fit"):
        ReweightedClassifier().predict(X_t)
