"""Unsupervised selection scores: IWV, DEV and SND (weights: test_validation_weights.py)."""

import numpy as np
import pytest

from dalib.errors import DalibError
from dalib.eval.scores import dev_risk, iwv_risk, snd_score

LOSS = np.array([1.0, 2.0, 3.0, 4.0])
W = np.array([0.5, 1.0, 2.0, 1.5])


def test_iwv_hand_value():
    # w*l = [0.5, 2, 6, 6] -> mean 3.625
    assert iwv_risk(LOSS, W) == pytest.approx(3.625, abs=1e-12)
    assert iwv_risk([2.0, 4.0], [1.0, 1.0]) == pytest.approx(3.0, abs=1e-12)


def test_dev_hand_value():
    # L = [0.5, 2, 6, 6], mean 3.625; mean(w) = 1.25; Cov(L, w) = 5.125/3; Var(w) = 1.25/3
    # eta = -4.1; risk = 3.625 + eta * 1.25 - eta = 2.6
    assert dev_risk(LOSS, W) == pytest.approx(2.6, abs=1e-12)


def test_dev_matches_formula_with_numpy_cov():
    rng = np.random.default_rng(1)
    loss, w = rng.exponential(size=30), rng.gamma(2.0, 0.5, size=30)
    L = w * loss
    eta = -np.cov(L, w)[0, 1] / np.var(w, ddof=1)
    assert dev_risk(loss, w) == pytest.approx(L.mean() + eta * w.mean() - eta, rel=1e-12)


def test_dev_constant_weights_reduce_to_mean():
    assert dev_risk(LOSS, np.full(4, 1.7)) == pytest.approx(1.7 * LOSS.mean(), rel=1e-12)
    assert dev_risk(LOSS, np.full(4, 1.7)) == pytest.approx(iwv_risk(LOSS, np.full(4, 1.7)), rel=1e-12)
    assert dev_risk([3.0], [2.0]) == pytest.approx(6.0)  # n_v = 1: Var(w) undefined -> eta = 0


def test_dev_equals_iwv_for_mean_one_weights():
    w = W / W.mean()
    assert dev_risk(LOSS, w) == pytest.approx(iwv_risk(LOSS, w), rel=1e-12)


def test_dev_control_variate_reduces_variance():
    """Weights with E[w] = 1 correlated with L = w*l: DEV has far lower variance, same mean."""
    rng = np.random.default_rng(0)
    iwv, dev = [], []
    for _ in range(400):
        w = rng.gamma(2.0, 0.5, size=80)  # E[w] = 1
        loss = 1.0 + 0.3 * rng.normal(size=80) ** 2  # E[l] = 1.3, independent of w
        iwv.append(iwv_risk(loss, w))
        dev.append(dev_risk(loss, w))
    assert np.var(dev) < 0.5 * np.var(iwv)  # ~0.2-0.26 across seeds
    assert np.mean(dev) == pytest.approx(1.3, abs=0.02)
    assert np.mean(iwv) == pytest.approx(1.3, abs=0.03)


@pytest.mark.parametrize("fn", [iwv_risk, dev_risk])
@pytest.mark.parametrize(
    "loss, w",
    [([1.0, 2.0], [1.0]), ([], []), ([np.nan, 1.0], [1.0, 1.0]), ([1.0, 1.0], [np.inf, 1.0]),
     ([1.0, 2.0], [-1.0, 1.0]), ([[1.0, 2.0]], [[1.0, 1.0]]), (["a", "b"], [1.0, 1.0])],
)
def test_risk_bad_input(fn, loss, w):
    with pytest.raises(DalibError):
        fn(loss, w)


def _snd_reference(P: np.ndarray, tau: float) -> float:
    """Direct double loop over the definition."""
    F = P / np.linalg.norm(P, axis=1, keepdims=True)
    n = len(P)
    ent = []
    for i in range(n):
        s = [float(F[i] @ F[j]) / tau for j in range(n) if j != i]
        e = [np.exp(v - max(s)) for v in s]
        q = [v / sum(e) for v in e]
        ent.append(-sum(v * np.log(v) for v in q if v > 0))
    return float(np.mean(ent))


@pytest.mark.parametrize("tau", [0.05, 0.5])
@pytest.mark.parametrize("chunk_rows", [None, 1, 3])
def test_snd_matches_double_loop(tau, chunk_rows):
    P = np.random.default_rng(2).dirichlet(np.full(4, 0.7), size=9)
    assert snd_score(P, tau, chunk_rows=chunk_rows) == pytest.approx(_snd_reference(P, tau), rel=1e-10)


def test_snd_identical_rows_is_log_n_minus_one():
    assert snd_score(np.tile([0.2, 0.3, 0.5], (11, 1))) == pytest.approx(np.log(10), rel=1e-12)
    assert snd_score(np.tile([0.0, 1.0], (2, 1))) == pytest.approx(0.0, abs=1e-12)  # one neighbour


def test_snd_one_hot_clusters_and_cluster_size():
    """K one-hot clusters of m points: each row spreads over its m-1 cluster mates -> log(m-1).
    Larger clusters are denser neighbourhoods, hence a higher (better) score."""
    three = np.eye(3)[np.arange(60) % 3]
    six = np.eye(6)[np.arange(60) % 6]
    assert snd_score(three) == pytest.approx(np.log(19), abs=1e-6)
    assert snd_score(six) == pytest.approx(np.log(9), abs=1e-6)
    assert snd_score(three) > snd_score(six)


def test_snd_higher_for_tighter_clusters():
    """Same class structure; scattering points within their clusters lowers SND (higher = better)."""
    rng = np.random.default_rng(0)
    z = 6.0 * np.eye(10)[np.arange(100) % 10]
    soft = lambda a: np.exp(a) / np.exp(a).sum(1, keepdims=True)  # noqa: E731
    tight = snd_score(soft(z))
    scattered = snd_score(soft(z + 3.0 * rng.normal(size=z.shape)))
    assert tight > scattered + 0.1


def test_snd_collapse_blind_spot():
    """Near-uniform (collapsed) predictions score above well-separated one-hot clusters: SND's
    known failure mode, documented in the docstring; the maximum is log(n - 1)."""
    rng = np.random.default_rng(0)
    z = 0.05 * rng.normal(size=(100, 10))
    collapsed = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    clusters = np.eye(10)[np.arange(100) % 10]
    assert snd_score(clusters) < snd_score(collapsed) <= np.log(99) + 1e-12


@pytest.mark.parametrize(
    "P, tau",
    [(np.array([[0.5, 0.5]]), 0.05), (np.array([[2.0, -1.0], [0.0, 1.0]]), 0.05),
     (np.array([[0.5, np.nan], [0.5, 0.5]]), 0.05), (np.ones((3, 2)) / 2, 0.0),
     (np.ones((3, 2)) / 2, np.nan), (np.array([0.5, 0.5]), 0.05), (np.empty((0, 3)), 0.05)],
)
def test_snd_bad_input(P, tau):
    with pytest.raises(DalibError):
        snd_score(P, tau)

