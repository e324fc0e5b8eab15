"""KLIEP and the domain-classifier ratio against the known Gaussian density ratio; the registry."""

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.ensemble import RandomForestClassifier
from sklearn.svm import LinearSVC

from dalib.errors import DalibError
from dalib.reweighting import KLIEP, KMM, WEIGHT_ESTIMATORS, DiscriminativeRatio, estimate_weights


def gaussian_shift(d, shift, n=1000, seed=0):
    """Source N(0, I), target N(mu, I) with mu = shift * e_1; true ratio exp(mu.x - |mu|^2 / 2)."""
    rng = np.random.default_rng(seed)
    mu = np.zeros(d)
    mu[0] = shift
    X_s, X_t = rng.normal(size=(n, d)), rng.normal(size=(n, d)) + mu
    return X_s, X_t, np.exp(X_s @ mu - 0.5 * mu @ mu)


CASES = {"1d": (1, 1.0, 0.9), "5d": (5, 0.75, 0.8)}  # (d, shift, min Spearman)


@pytest.fixture(scope="module")
def fitted():
    out = {}
    for key, (d, shift, _) in CASES.items():
        X_s, X_t, ratio = gaussian_shift(d, shift)
        out[key] = (X_s, X_t, ratio, {
            "kliep": KLIEP(random_state=0).fit(X_s, X_t),
            "discriminative": DiscriminativeRatio().fit(X_s, X_t),
            "kmm": KMM().fit(X_s, X_t),
        })
    return out


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", ["kliep", "discriminative"])
def test_rank_correlation_with_true_ratio(fitted, case, name):
    X_s, _, ratio, ests = fitted[case]
    w = ests[name].weights_
    rho = spearmanr(w, ratio)[0]
    assert rho > CASES[case][2], rho
    # sign: the top decile of source points by first coordinate (where the target is dense) gets
    # much larger weights than the bottom decile
    order = np.argsort(X_s[:, 0])
    assert w[order[-100:]].mean() > 3.0 * w[order[:100]].mean()


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", ["kliep", "discriminative", "kmm"])
def test_weighted_source_mean_moves_toward_target(fitted, case, name):
    X_s, X_t, _, ests = fitted[case]
    w = ests[name].weights_
    assert w.shape == (X_s.shape[0],) and np.all(w >= 0) and np.all(np.isfinite(w))
    before = np.linalg.norm(X_s.mean(0) - X_t.mean(0))
    after = np.linalg.norm(w @ X_s / w.sum() - X_t.mean(0))
    assert after < 0.5 * before, (before, after)


def test_kliep_normalisation_cv_and_seed(fitted):
    X_s, X_t, _, ests = fitted["5d"]
    est = ests["kliep"]
    assert est.weights_.mean() == pytest.approx(1.0, abs=1e-9)  # (1/n_s) sum w(x_s) = 1
    assert np.all(est.alpha_ >= 0) and est.centres_.shape == (100, 5)
    assert est.sigma_ == max(est.cv_scores_, key=est.cv_scores_.get)
    again = KLIEP(random_state=0).fit(X_s, X_t)
    np.testing.assert_allclose(again.weights_, est.weights_)
    np.testing.assert_allclose(est.density_ratio(X_s), est.weights_)
    fixed = KLIEP(sigma=est.sigma_, random_state=0).fit(X_s, X_t)
    np.testing.assert_allclose(fixed.weights_, est.weights_, rtol=1e-6)


def test_discriminative_clipping_and_cross_fit():
    X_s, X_t, ratio = gaussian_shift(1, 2.0, n=500)
    est = DiscriminativeRatio(clip_max=5.0).fit(X_s, X_t)
    assert est.weights_.max() <= 5.0 and est.n_clipped_ > 0
    once = DiscriminativeRatio(cross_fit=None).fit(X_s, X_t)
    assert spearmanr(once.weights_, ratio)[0] > 0.99
    forest = DiscriminativeRatio(RandomForestClassifier(n_estimators=50, min_samples_leaf=20, random_state=0))
    assert spearmanr(forest.fit(X_s, X_t).weights_, ratio)[0] > 0.8
    with pytest.raises(DalibError, match="predict_proba"):
        DiscriminativeRatio(LinearSVC()).fit(X_s, X_t)
    with pytest.raises(DalibError):
        DiscriminativeRatio(clip_min=3.0, clip_max=2.0).fit(X_s, X_t)
    with pytest.raises(DalibError):
        DiscriminativeRatio(cross_fit=1).fit(X_s, X_t)


def test_registry_and_estimate_weights():
    assert set(WEIGHT_ESTIMATORS) == {"kmm", "kliep", "discriminative"}
    X_s, X_t, _ = gaussian_shift(2, 0.5, n=200)
    for name in WEIGHT_ESTIMATORS:
        w = estimate_weights(name, X_s, X_t)
        assert w.shape == (200,) and np.all(np.isfinite(w))
    np.testing.assert_allclose(estimate_weights("kmm", X_s, X_t, B=2.0).max() <= 2.0, True)
    with pytest.raises(DalibError, match="unknown"):
        estimate_weights("nope", X_s, X_t)
    with pytest.raises(DalibError, match="bad options"):
        estimate_weights("kliep", X_s, X_t, bogus=1)


GOOD = np.random.default_rng(0).normal(size=(20, 3))
BAD_PAIRS = {
    "dim mismatch": (GOOD, GOOD[:, :2]),
    "nan": (np.where(np.eye(20, 3) > 0, np.nan, GOOD), GOOD),
    "inf": (GOOD, np.where(np.eye(20, 3) > 0, np.inf, GOOD)),
    "empty source": (np.empty((0, 3)), GOOD),
    "empty target": (GOOD, np.empty((0, 3))),
    "1-D input": (GOOD[:, 0], GOOD[:, 0]),
    "non-numeric": ([["a", "b", "c"]], GOOD),
}


@pytest.mark.parametrize("name", sorted(WEIGHT_ESTIMATORS))
@pytest.mark.parametrize("bad", sorted(BAD_PAIRS))
def test_bad_inputs_raise_dalib_error(name, bad):
    X_s, X_t = BAD_PAIRS[bad]
    with pytest.raises(DalibError) as info:
        WEIGHT_ESTIMATORS[name]().fit(X_s, X_t)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("kw", [{"B": 0.0}, {"B": -1.0}, {"eps": -0.1}, {"sigma": 0.0}, {"B": 0.5, "eps": 0.0}])
def test_kmm_bad_parameters(kw):
    with pytest.raises(DalibError):
        KMM(**kw).fit(GOOD, GOOD)


@pytest.mark.parametrize("kw", [{"n_centres": 0}, {"sigma": -1.0}, {"cv": 1}, {"width_factors": [1.0, -2.0]}])
def test_kliep_bad_parameters(kw):
    with pytest.raises(DalibError):
        KLIEP(**kw).fit(GOOD, GOOD)
