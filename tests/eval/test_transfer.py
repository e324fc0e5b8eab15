"""Transfer gain, negative transfer flag, NTG and proxy A-distance."""

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression

from dalib.errors import DalibError
from dalib.eval.transfer import (
    is_negative_transfer,
    negative_transfer_gap,
    proxy_a_distance,
    transfer_gain,
)


def test_transfer_gain_hand_values():
    # gains [5, 2, 5]: mean 4, sample std sqrt((1 + 4 + 1) / 2) = sqrt(3)
    mean, std = transfer_gain([80.0, 82.0, 84.0], [75.0, 80.0, 79.0])
    assert mean == pytest.approx(4.0) and std == pytest.approx(np.sqrt(3.0))
    assert transfer_gain([70.0], [72.0]) == (pytest.approx(-2.0), None)  # kills std 0 for one seed


def test_transfer_gain_is_paired_by_seed():
    # same marginal values, different pairing -> same mean, different std
    _, paired = transfer_gain([1.0, 2.0], [1.0, 2.0])
    _, crossed = transfer_gain([1.0, 2.0], [2.0, 1.0])
    assert paired == 0.0 and crossed == pytest.approx(np.sqrt(2.0))


@pytest.mark.parametrize(
    "m, s", [([1.0, 2.0], [1.0]), ([], []), ([np.nan], [1.0]), ([1.0], [np.inf]), ([[1.0]], [[1.0]])]
)
def test_transfer_gain_bad_input(m, s):
    with pytest.raises(DalibError):
        transfer_gain(m, s)


@pytest.mark.parametrize(
    "mean, std, flagged",
    [(-3.0, 1.0, True), (-1.0, 2.0, False), (2.0, 1.0, False), (-1.0, 1.0, False),
     (-0.5, 0.0, True), (0.0, 0.0, False)],
)
def test_is_negative_transfer(mean, std, flagged):
    assert is_negative_transfer(mean, std) is flagged


@pytest.mark.parametrize("mean, std", [(-1.0, -0.5), (np.nan, 1.0), (-1.0, np.inf), ("x", 1.0)])
def test_is_negative_transfer_bad_input(mean, std):
    with pytest.raises(DalibError):
        is_negative_transfer(mean, std)


def test_negative_transfer_gap():
    assert negative_transfer_gap(0.70, 0.80) == pytest.approx(0.10)  # source hurt
    assert negative_transfer_gap(85.0, 80.0) == pytest.approx(-5.0)  # source helped
    with pytest.raises(DalibError):
        negative_transfer_gap(np.nan, 0.8)


def test_pad_same_distribution_near_zero():
    rng = np.random.default_rng(0)
    assert proxy_a_distance(rng.normal(size=(1000, 10)), rng.normal(size=(1000, 10))) < 0.3
    # unequal sizes: the balanced error keeps chance at 0.5
    assert abs(proxy_a_distance(rng.normal(size=(1500, 10)), rng.normal(size=(200, 10)))) < 0.3


def test_pad_is_measured_on_the_held_out_half():
    """One distribution, d = 300 > 2 * 100 training points: a linear classifier separates the
    training halves perfectly (error 0, which would read PAD = 2), yet on held-out points it is at
    chance and the true PAD is 0. Kills measuring the error on the training split."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(200, 300)), rng.normal(size=(200, 300))
    X, y = np.vstack([a[:100], b[:100]]), np.r_[np.zeros(100), np.ones(100)]
    assert (LogisticRegression(C=1.0, max_iter=1000).fit(X, y).predict(X) == y).all()  # the trap
    assert abs(proxy_a_distance(a, b)) < 0.5


def test_pad_separated_domains_near_two():
    rng = np.random.default_rng(0)
    assert proxy_a_distance(rng.normal(size=(500, 10)), rng.normal(size=(500, 10)) + 3.0) > 1.8


def test_pad_subsamples_and_is_seeded():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2500, 8)), rng.normal(size=(2300, 8)) + 0.3
    p0 = proxy_a_distance(a, b, random_state=0)
    assert p0 == proxy_a_distance(a, b, random_state=0)
    assert 0.3 < p0 < 1.8  # partly overlapping domains land in between


@pytest.mark.parametrize(
    "a, b",
    [(np.zeros((10, 3)), np.zeros((10, 2))), (np.zeros((1, 3)), np.zeros((10, 3))),
     (np.full((10, 3), np.nan), np.zeros((10, 3))), (np.empty((0, 3)), np.zeros((10, 3))),
     (np.zeros(10), np.zeros(10))],
)
def test_pad_bad_input(a, b):
    with pytest.raises(DalibError):
        proxy_a_distance(a, b)


def _gaussian_pad(delta: float) -> float:
    """Closed form for N(0, 1) vs N(delta, 1): the balanced Bayes error of the threshold delta/2
    is Phi(-delta/2), so PAD = 2 (1 - 2 Phi(-delta/2))."""
    return 2.0 * (1.0 - 2.0 * norm.cdf(-delta / 2.0))


# Kills: PAD scaled by another factor than 2 (or 1 - eps in place of 1 - 2 eps), and the
# balanced class weights dropped (with 2000 vs 200 points an unweighted classifier moves its
# threshold from 0.5 to ~2.8 and PAD falls to ~0.07).
def test_pad_matches_the_gaussian_closed_form():
    rng = np.random.default_rng(0)
    expected = _gaussian_pad(1.0)  # 0.766
    equal = proxy_a_distance(rng.normal(size=(2000, 1)), rng.normal(size=(2000, 1)) + 1.0)
    assert equal == pytest.approx(expected, abs=0.1)
    unequal = proxy_a_distance(rng.normal(size=(2000, 1)), rng.normal(size=(200, 1)) + 1.0)
    assert unequal == pytest.approx(expected, abs=0.25)


def _brute_force_pad(Xs: np.ndarray, Xt: np.ndarray, seed: int) -> float:
    """The documented protocol from numpy and scikit-learn primitives: seeded permutation of each
    domain (source first), the first half held out, numpy standardisation with the training
    halves' mean and std, C = 1 logistic regression with balanced *sample* weights, balanced
    held-out error."""
    rng = np.random.default_rng(seed)
    parts = []
    for X in (Xs, Xt):
        idx = rng.permutation(len(X))[:2000]
        parts.append((X[idx[len(idx) // 2:]], X[idx[:len(idx) // 2]]))
    (s_tr, s_te), (t_tr, t_te) = parts
    X_tr = np.vstack([s_tr, t_tr])
    mu, sd = X_tr.mean(0), X_tr.std(0)
    y = np.r_[np.zeros(len(s_tr)), np.ones(len(t_tr))]
    sw = np.where(y == 0, len(y) / (2 * len(s_tr)), len(y) / (2 * len(t_tr)))
    clf = LogisticRegression(C=1.0, max_iter=5000, tol=1e-10).fit((X_tr - mu) / sd, y, sample_weight=sw)
    eps = 0.5 * (np.mean(clf.predict((s_te - mu) / sd) != 0) + np.mean(clf.predict((t_te - mu) / sd) != 1))
    return 2.0 * (1.0 - 2.0 * eps)


# Kills: another split than 50/50 (e.g. a third held out), another C, the default seed other
# than 0, an unseeded subsample. Small n and d = 20 make every one of those change the value.
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pad_matches_brute_force(seed):
    rng = np.random.default_rng(10 + seed)
    Xs, Xt = rng.normal(size=(61, 20)), rng.normal(size=(47, 20)) + 0.35
    assert proxy_a_distance(Xs, Xt, random_state=seed) == pytest.approx(_brute_force_pad(Xs, Xt, seed), abs=1e-12)
    if seed == 0:
        assert proxy_a_distance(Xs, Xt) == pytest.approx(_brute_force_pad(Xs, Xt, 0), abs=1e-12)
