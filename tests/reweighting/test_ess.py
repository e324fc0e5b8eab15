"""Effective sample size: formula, warning, bad input."""

import warnings

import numpy as np
import pytest

from dalib.errors import DalibError
from dalib.reweighting import DiscriminativeRatio, KMM, LowESSWarning, effective_sample_size
from dalib.reweighting.ess import check_ess


@pytest.mark.parametrize(
    "w, expected",
    [
        ([1.0, 1.0, 1.0, 1.0], 4.0),
        ([1.0, 0.0, 0.0, 0.0], 1.0),
        ([1.0, 2.0, 3.0], 36.0 / 14.0),
        ([2.0, 2.0], 2.0),
        ([3.0, 1.0], 16.0 / 10.0),
    ],
)
def test_ess_hand_values(w, expected):
    assert effective_sample_size(np.array(w)) == pytest.approx(expected, rel=1e-12)


def test_ess_scale_invariant_and_bounded():
    w = np.random.default_rng(0).exponential(size=50)
    assert effective_sample_size(7.0 * w) == pytest.approx(effective_sample_size(w))
    assert 1.0 <= effective_sample_size(w) <= 50.0


@pytest.mark.parametrize("w", [[], [np.nan, 1.0], [np.inf, 1.0], [-1.0, 2.0], [0.0, 0.0]])
def test_ess_bad_input(w):
    with pytest.raises(DalibError):
        effective_sample_size(np.array(w))


def test_check_ess_warns_below_ten_percent():
    w = np.ones(100)
    w[0] = 1000.0  # ESS = 1099^2 / (10^6 + 99) ~ 1.2 < 10
    with pytest.warns(LowESSWarning, match="effective sample size"):
        assert check_ess(w, "test") == pytest.approx(1099.0**2 / (1e6 + 99.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", LowESSWarning)
        check_ess(np.ones(100), "test")  # ESS = n: no warning
        check_ess(np.r_[np.ones(10), np.zeros(90)], "test")  # ESS = 10 = 10% exactly: no warning


def test_estimators_store_ess_and_warn_on_disjoint_domains():
    rng = np.random.default_rng(0)
    X_s = rng.normal(size=(300, 1))
    with pytest.warns(LowESSWarning):
        est = DiscriminativeRatio().fit(X_s, rng.normal(size=(300, 1)) + 4.0)
    assert est.ess_ == pytest.approx(effective_sample_size(est.weights_))
    assert est.ess_ < 30
    with pytest.warns(LowESSWarning):
        KMM().fit(X_s, rng.normal(size=(300, 1)) + 4.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LowESSWarning)
        mild = KMM().fit(X_s, rng.normal(size=(300, 1)) + 0.3)
    assert mild.ess_ == pytest.approx(effective_sample_size(mild.weights_))
