"""Cross-fitted density ratio for IWV / DEV: true ratio 1, brute force per fold, Gaussian closed form."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from dalib.errors import DalibError
from dalib.eval.validation_weights import C_GRID, WEIGHT_CLIP_MAX, validation_weights, validation_weights_batch


@pytest.mark.parametrize("n_t", [60, 300, 2000])
def test_same_distribution_gives_mean_weight_one(n_t):
    """Source = target in distribution (true w = 1), n_v = 60, d = 128.
    Kills: in-sample probabilities of one classifier fitted on all points (mean 0.07 / 0.44 / 0.86
    for n_t = 60 / 300 / 2000), cross-fitting with a fixed C = 1 (mean 5 to 12), and picking the
    C with the highest instead of the lowest held-out log-loss."""
    for seed in range(3):
        rng = np.random.default_rng(seed)
        w = validation_weights(rng.normal(size=(60, 128)), rng.normal(size=(n_t, 128)))
        assert w.shape == (60,)
        assert w.mean() == pytest.approx(1.0, abs=0.15)


def _brute_force_weights(xv: np.ndarray, xt: np.ndarray, folds: int = 5) -> tuple[np.ndarray, float]:
    """Point by point: scikit-learn's classifier (lbfgs run to a 1e-12 gradient, the exact
    optimum) of the fold that left the point out, a hand-written standardisation and sigmoid,
    C by out-of-fold log-loss, prior from the fitting folds."""
    X = np.vstack([xv, xt])
    y = np.r_[np.zeros(len(xv), dtype=int), np.ones(len(xt), dtype=int)]
    fold_of = np.empty(len(X), dtype=int)
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=0).split(X, y))
    for k, (_, held) in enumerate(splits):
        fold_of[held] = k
    probs, priors = {}, {}
    for C in C_GRID:
        for k in range(folds):
            fit = fold_of != k
            mu, sd = X[fit].mean(0), X[fit].std(0)
            clf = LogisticRegression(C=C, tol=1e-12, max_iter=100000).fit((X[fit] - mu) / sd, y[fit])
            for i in np.flatnonzero(~fit):
                z = float(((X[i] - mu) / sd) @ clf.coef_[0] + clf.intercept_[0])
                probs[C, i] = min(max(1.0 / (1.0 + np.exp(-z)), 1e-12), 1.0 - 1e-12)
            priors[k] = np.sum(y[fit] == 0) / np.sum(y[fit] == 1)
    loss = {C: -np.mean([np.log(probs[C, i]) if y[i] else np.log(1.0 - probs[C, i]) for i in range(len(X))])
            for C in C_GRID}
    best = min(C_GRID, key=lambda C: (loss[C], C))
    w = [min(probs[best, i] / (1.0 - probs[best, i]) * priors[fold_of[i]], WEIGHT_CLIP_MAX) for i in range(len(xv))]
    return np.array(w), best


def test_matches_brute_force_per_fold():
    """Kills: weighting a point with a classifier that saw it, standardising on all pooled points,
    the prior n_v/n_t of the whole sample instead of the fitting folds' (47/83 is not divisible
    into 5 equal folds), dropping the prior, and choosing C by anything but held-out log-loss."""
    rng = np.random.default_rng(3)
    xv, xt = rng.normal(size=(47, 3)), rng.normal(size=(83, 3)) + [0.6, 0.0, -0.3]
    expected, best = _brute_force_weights(xv, xt)
    assert C_GRID[0] < best  # a real choice of C: the data hold signal
    # the batched solver stops at a 1e-8 gradient: within 1e-6 of the exact optimum (scikit-learn's
    # default tol=1e-4 is 4e-4 away here)
    np.testing.assert_allclose(validation_weights(xv, xt), expected, rtol=1e-6)


def test_recovers_gaussian_density_ratio():
    """N(0, 1) source-val, N(1, 1) target: true w(x) = exp(x - 1/2), with E_s[w] = 1.
    n_t = 4 n_v, so a missing prior correction multiplies every weight by 4; an inverted ratio
    p_s/p_t correlates negatively."""
    rng = np.random.default_rng(0)
    xv, xt = rng.normal(0.0, 1.0, (400, 1)), rng.normal(1.0, 1.0, (1600, 1))
    w = validation_weights(xv, xt)
    true = np.exp(xv[:, 0] - 0.5)
    assert np.corrcoef(w, true)[0, 1] > 0.98
    assert np.median(np.abs(w - true) / true) < 0.1
    assert w.mean() == pytest.approx(1.0, abs=0.1)
    assert 0.0 <= w.min() and w.max() <= WEIGHT_CLIP_MAX


@pytest.mark.parametrize(
    "xv, xt",
    [(np.zeros((5, 3)), np.zeros((5, 2))), (np.full((5, 2), np.nan), np.zeros((5, 2))),
     (np.empty((0, 2)), np.zeros((5, 2))), (np.zeros(5), np.zeros(5)), (np.zeros((1, 2)), np.zeros((5, 2)))],
)
def test_bad_input(xv, xt):
    with pytest.raises(DalibError):
        validation_weights(xv, xt)


def test_batch_equals_each_pair_alone_in_the_callers_order():
    """Pairs of different lengths, feature sizes and fold counts (n_v = 3 → K = 3) solved together
    give each pair's own weights, in the order given. Kills: results returned in the sorted
    (by length) order, padding rows entering a pair's fit, pairs of another K or d grouped."""
    rng = np.random.default_rng(5)
    pairs = [(rng.normal(size=(n_v, d)), rng.normal(size=(n_t, d)) + 0.5)
             for n_v, n_t, d in ((40, 200, 4), (12, 60, 4), (3, 50, 4), (40, 90, 6), (25, 300, 4), (30, 80, 4),
                                 (3, 70, 4))]  # two K = 3 pairs: the first group has two members
    batch = validation_weights_batch(pairs)
    for (xv, xt), w in zip(pairs, batch):
        assert w.shape == (len(xv),)
        np.testing.assert_allclose(w, validation_weights(xv, xt), rtol=1e-6, atol=1e-9)


def test_the_fold_seed_reaches_the_folds():
    """``random_state`` shuffles the folds: another seed gives other weights, the same seed the
    same ones on the single and the batched path. Kills: the seed dropped on either path."""
    rng = np.random.default_rng(8)
    xv, xt = rng.normal(size=(30, 3)), rng.normal(size=(60, 3)) + 0.7
    seeded = validation_weights(xv, xt, random_state=7)
    np.testing.assert_array_equal(seeded, validation_weights_batch([(xv, xt)], random_state=7)[0])
    assert not np.allclose(seeded, validation_weights(xv, xt))
