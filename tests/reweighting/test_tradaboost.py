"""TrAdaBoost on a source whose concept partly disagrees with the target's."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from dalib.errors import DalibError
from dalib.reweighting import TrAdaBoost


def target_rule(X):
    return (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)


def toy(seed, n=400, m=20, n_test=2000):
    """Source labels follow the target rule where x2 > 0 and a different rule (x1 > 1) where x2 < 0;
    ``m`` labelled target points; a large target test set."""
    rng = np.random.default_rng(seed)
    X_s = rng.normal(size=(n, 2))
    y_s = target_rule(X_s)
    bad = X_s[:, 1] < 0
    y_s[bad] = (X_s[bad, 0] > 1.0).astype(int)
    X_t, X_test = rng.normal(size=(m, 2)), rng.normal(size=(n_test, 2))
    return X_s, y_s, X_t, target_rule(X_t), X_test, target_rule(X_test)


def test_beats_pooled_base_estimator():
    pooled, boosted = [], []
    for seed in range(5):
        X_s, y_s, X_t, y_t, X_test, y_test = toy(seed)
        base = LogisticRegression(max_iter=1000)
        pooled.append(clone(base).fit(np.vstack([X_s, X_t]), np.r_[y_s, y_t]).score(X_test, y_test))
        model = TrAdaBoost(base_estimator=base, n_estimators=20).fit(X_s, y_s, X_t, y_t)
        boosted.append(model.score(X_test, y_test))
        assert len(model.estimators_) == 20 and model.betas_.shape == (20,)
        assert np.all((model.errors_ > 0) & (model.errors_ <= 0.5))
    assert np.mean(boosted) > np.mean(pooled) + 0.03, (pooled, boosted)


def test_source_weight_factor_and_downweighting():
    X_s, y_s, X_t, y_t, _, _ = toy(0)
    model = TrAdaBoost(n_estimators=20).fit(X_s, y_s, X_t, y_t)
    assert model.beta_ == pytest.approx(1.0 / (1.0 + np.sqrt(2.0 * np.log(400) / 20)))
    w = model.sample_weights_[:400]
    conflict = y_s != target_rule(X_s)  # source points whose label contradicts the target concept
    assert w[conflict].mean() < 0.2 * w[~conflict].mean()


def test_labels_round_trip_and_decision_function():
    X_s, y_s, X_t, y_t, X_test, y_test = toy(1)
    names = np.array(["neg", "pos"])
    model = TrAdaBoost(n_estimators=6).fit(X_s, names[y_s], X_t, names[y_t])
    pred = model.predict(X_test)
    assert set(pred) <= {"neg", "pos"}
    np.testing.assert_array_equal(pred == "pos", model.decision_function(X_test) >= 0)
    assert model.score(X_test, names[y_test]) > 0.7


def test_bad_inputs():
    X_s, y_s, X_t, y_t, _, _ = toy(2)
    with pytest.raises(DalibError, match="binary"):
        TrAdaBoost().fit(X_s, np.arange(400) % 3, X_t, y_t)
    with pytest.raises(DalibError, match="binary"):
        TrAdaBoost().fit(X_s, np.zeros(400), X_t, np.zeros(20))
    with pytest.raises(DalibError):
        TrAdaBoost().fit(X_s, y_s[:-1], X_t, y_t)
    with pytest.raises(DalibError):
        TrAdaBoost().fit(X_s, y_s, X_t[:, :1], y_t)
    with pytest.raises(DalibError, match="sample_weight"):
        TrAdaBoost(base_estimator=KNeighborsClassifier()).fit(X_s, y_s, X_t, y_t)
    with pytest.raises(DalibError):
        TrAdaBoost(n_estimators=0).fit(X_s, y_s, X_t, y_t)
    with pytest.raises(DalibError, match="before fit"):
        TrAdaBoost().predict(X_t)
    model = TrAdaBoost(n_estimators=2).fit(X_s, y_s, X_t, y_t)
    with pytest.raises(DalibError):
        model.predict(np.ones((3, 5)))
