"""The domain-classifier ratio with unequal sample sizes, against the closed-form Gaussian ratio.

Source N(0, 1), target N(mu, 1): p_t(x) / p_s(x) = exp(mu·x − mu²/2).  Logistic regression on the
pooled sample fits log-odds log(n_t/n_s) + mu·x − mu²/2, so the prior factor n_s/n_t is what turns
its odds into the density ratio.  With n_s = 4·n_t a wrong prior is off by a factor 4 or 16.
"""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from dalib.reweighting import DiscriminativeRatio

MU = 1.0


def unequal_gaussians(n_s=2000, n_t=500, seed=0):
    rng = np.random.default_rng(seed)
    X_s, X_t = rng.normal(size=(n_s, 1)), rng.normal(size=(n_t, 1)) + MU
    return X_s, X_t


def true_ratio(X):
    return np.exp(MU * X[:, 0] - 0.5 * MU**2)


# Kills: prior factor inverted (n_t/n_s, weights ×1/16), dropped (×1/4) or squared (×4); odds
# p/(1−p) replaced by p (weights stay below n_s/n_t·1 and lose the exponential shape).
@pytest.mark.parametrize("cross_fit", [None, 5])
def test_weights_match_closed_form_ratio_when_sizes_differ(cross_fit):
    X_s, X_t = unequal_gaussians()
    est = DiscriminativeRatio(cross_fit=cross_fit, clip_max=None).fit(X_s, X_t)
    assert est.prior_ratio_ == 4.0
    log_err = np.log(est.weights_) - np.log(true_ratio(X_s))
    # the median log-error is the prior's own scale; sampling error of the fit is ~0.1
    assert abs(np.median(log_err)) < 0.15, np.median(log_err)
    assert np.percentile(np.abs(log_err), 90) < 0.4
    # E_s[w] = ∫ p_t = 1 for the true ratio
    assert est.weights_.mean() == pytest.approx(1.0, abs=0.1)


# Kills: density_ratio for new points without the prior factor, or with the target column
# mixed up with the source column (ratio inverted: exp(−mu·x + ...)).
def test_density_ratio_on_new_points_matches_closed_form():
    X_s, X_t = unequal_gaussians(seed=1)
    est = DiscriminativeRatio().fit(X_s, X_t)
    grid = np.linspace(-1.0, 2.0, 7)[:, None]
    np.testing.assert_allclose(est.density_ratio(grid), true_ratio(grid), rtol=0.2)


# Kills: clip bounds ignored or swapped; clip_max=None treated as 0.
def test_clip_bounds_are_applied_in_ratio_units():
    X_s, X_t = unequal_gaussians(seed=2)
    free = DiscriminativeRatio(cross_fit=None, clip_max=None).fit(X_s, X_t)
    clipped = DiscriminativeRatio(cross_fit=None, clip_min=0.5, clip_max=2.0).fit(X_s, X_t)
    np.testing.assert_allclose(clipped.weights_, np.clip(free.weights_, 0.5, 2.0))
    assert clipped.n_clipped_ == int(np.sum(free.weights_ >= 2.0)) > 0
    assert free.n_clipped_ == 0


# Kills: the folds not stratified, not shuffled with ``random_state`` or not ``cross_fit`` many,
# a source point weighted by a classifier that saw it.  Reference: the out-of-fold weights
# computed by hand with the same split.
def test_cross_fitted_weights_equal_out_of_fold_by_hand():
    X_s, X_t = unequal_gaussians(n_s=60, n_t=30, seed=3)
    est = DiscriminativeRatio(cross_fit=3, random_state=7, clip_max=None).fit(X_s, X_t)
    X, y = np.vstack([X_s, X_t]), np.r_[np.zeros(60, dtype=int), np.ones(30, dtype=int)]
    ref = np.empty(60)
    for train, test in StratifiedKFold(3, shuffle=True, random_state=7).split(X, y):
        clf = LogisticRegression(C=1.0, max_iter=1000).fit(X[train], y[train])
        src = test[test < 60]
        p = clf.predict_proba(X[src])[:, 1]
        ref[src] = p / (1.0 - p) * 2.0
    np.testing.assert_allclose(est.weights_, ref, rtol=1e-10)


# Kills: p(t|x) not kept inside [1e-12, 1 − 1e-12] (a classifier certain of a point would give an
# infinite or a zero weight).
def test_certain_classifier_gives_finite_positive_weights():
    X_s, X_t = np.array([[-50.0], [-1.0], [0.5]]), np.array([[1.0], [2.0], [60.0]])
    est = DiscriminativeRatio(cross_fit=None, clip_max=None).fit(X_s, X_t)
    far = est.density_ratio(np.array([[-1e3], [1e3]]))
    np.testing.assert_allclose(far, [1e-12, 1e12], rtol=1e-4)  # 1 − (1 − 1e-12) rounds by 2e-5
