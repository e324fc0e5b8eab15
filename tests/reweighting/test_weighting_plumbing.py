"""How ReweightedClassifier, TrAdaBoost and DiscriminativeRatio pass estimators and weights around."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from dalib.errors import DalibError
from dalib.reweighting import KMM, DiscriminativeRatio, LowESSWarning, ReweightedClassifier, TrAdaBoost

RNG = np.random.default_rng(0)
X_S, X_T = RNG.normal(size=(40, 2)), RNG.normal(size=(30, 2)) + 0.5
Y_S = (X_S[:, 0] > 0).astype(int)


class FixedWeights:
    """A duck-typed weighting (not an sklearn estimator): fit sets the given weights."""

    def __init__(self, weights):
        self.weights = weights

    def fit(self, X_s, X_t):
        self.weights_ = self.weights
        return self


# Kills: a name default other than "kmm", an estimator instance fitted in place instead of
# cloned, a duck-typed weighting cloned (sklearn cannot clone it), weights not passed to the
# base estimator, ``ess_`` missing when the weighting has none.
def test_weighting_instances_names_and_duck_types():
    assert ReweightedClassifier().weighting == "kmm"
    assert isinstance(ReweightedClassifier().fit(X_S, Y_S, X_T).weighting_, KMM)
    proto = DiscriminativeRatio(cross_fit=None)
    model = ReweightedClassifier(proto).fit(X_S, Y_S, X_T)
    assert model.weighting_ is not proto and not hasattr(proto, "weights_")
    w = np.linspace(0.1, 2.0, 40)
    duck = FixedWeights(w)
    model = ReweightedClassifier(duck).fit(X_S, Y_S, X_T)
    assert model.weighting_ is duck and model.ess_ is None
    ref = LogisticRegression(max_iter=1000).fit(X_S, Y_S, sample_weight=w)
    np.testing.assert_allclose(model.estimator_.coef_, ref.coef_)
    assert model.weights_.dtype == np.float64
    with pytest.raises(DalibError, match=r"^weighting produced weights of shape \(39,\), expected \(40,\)$"):
        ReweightedClassifier(FixedWeights(w[:-1])).fit(X_S, Y_S, X_T)


# Kills: the default number of rounds (20) changed, a single round refused (N < 1 → N ≤ 1).
def test_tradaboost_rounds():
    assert TrAdaBoost().n_estimators == 20
    one = TrAdaBoost(n_estimators=1).fit(X_S, Y_S, X_T, (X_T[:, 0] > 0.5).astype(int))
    assert len(one.estimators_) == 1
    np.testing.assert_array_equal(one.predict(X_T), one.estimators_[0].predict(X_T))


class NoFeatureCount(ClassifierMixin, BaseEstimator):
    """A probabilistic classifier that does not record n_features_in_."""

    def fit(self, X, y):
        self.inner_ = LogisticRegression().fit(X, y)
        self.classes_ = self.inner_.classes_
        return self

    def predict_proba(self, X):
        return self.inner_.predict_proba(X)


# Kills: the feature count taken from nowhere (None) when the classifier has no n_features_in_,
# or the classifier's own count ignored.
def test_density_ratio_feature_check_without_and_with_n_features_in():
    est = DiscriminativeRatio(NoFeatureCount(), cross_fit=None).fit(X_S, X_T)
    assert est.density_ratio(X_S[:3]).shape == (3,)
    with pytest.raises(ValueError):  # the wrapped model itself refuses; no DalibError to give
        est.density_ratio(np.ones((2, 3)))
    with pytest.raises(DalibError, match="^X has 3 features but the domain classifier was fitted on 2$"):
        DiscriminativeRatio(cross_fit=None).fit(X_S, X_T).density_ratio(np.ones((2, 3)))


# Kills: the documented default learners changed (LogisticRegression with C = 1 and max_iter =
# 1000 for the domain classifier, max_iter = 1000 for TrAdaBoost's rounds).
def test_default_learners():
    clf = DiscriminativeRatio(cross_fit=None).fit(X_S, X_T).classifier_
    assert isinstance(clf, LogisticRegression) and (clf.C, clf.max_iter) == (1.0, 1000)
    rounds = TrAdaBoost(n_estimators=2).fit(X_S, Y_S, X_T, (X_T[:, 0] > 0.5).astype(int)).estimators_
    assert all(isinstance(h, LogisticRegression) and h.max_iter == 1000 for h in rounds)


# Kills: DiscriminativeRatio's documented defaults changed; the cross-fit range 2 ≤ K ≤ min(n_s, n_t)
# narrowed at either end; an empty clip range [c, c] accepted.
def test_discriminative_defaults_and_ranges():
    assert DiscriminativeRatio().get_params() == {"classifier": None, "clip_min": 0.0, "clip_max": 20.0,
                                                  "cross_fit": 5, "random_state": 0, "blas_threads": 1}
    X_s, X_t = X_S[:6], X_T[:6]
    assert DiscriminativeRatio(cross_fit=2).fit(X_s, X_t).weights_.shape == (6,)
    assert DiscriminativeRatio(cross_fit=6).fit(X_s, X_t).weights_.shape == (6,)
    with pytest.raises(DalibError, match=r"^clip range \[2.0, 2.0\] is invalid"):
        DiscriminativeRatio(clip_min=2.0, clip_max=2.0).fit(X_s, X_t)


# Kills: the weighted base estimator's documented default (max_iter = 1000) changed, integer
# weights from a duck-typed weighting passed on without conversion to float.
def test_reweighted_defaults_and_weight_dtype():
    model = ReweightedClassifier(FixedWeights(list(range(1, 41)))).fit(X_S, Y_S, X_T)
    assert model.estimator_.max_iter == 1000 and model.weights_.dtype == np.float64


# Kills: the low-ESS warning losing the estimator's name.
def test_low_ess_warning_names_the_estimator():
    X_s = np.r_[0.1 * RNG.normal(size=(39, 1)), [[5.0]]]  # one source point near the target
    X_t = 5.0 + 0.1 * RNG.normal(size=(30, 1))
    with pytest.warns(LowESSWarning, match="^DiscriminativeRatio: effective sample size"):
        DiscriminativeRatio(cross_fit=None).fit(X_s, X_t)
