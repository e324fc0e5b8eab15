"""MMD / MK-MMD / JMMD, JAN's forward, the median-heuristic edge cases and the kernel checks,
each against a brute-force numpy / plain-Python computation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from dalib.alignment.mmd import (DAN, JAN, GaussianKernels, check_features, jmmd2, mmd2_biased, mmd2_linear,
                                 mmd2_unbiased)
from dalib.errors import DalibError

MULTS = (0.25, 0.5, 1.0, 2.0, 4.0)


def np_kernel(a, b, sigma2: float, mults=MULTS) -> float:
    """The multi-kernel k(a, b) = mean_s exp(−‖a − b‖² / (2·s·σ²)) over the multipliers s."""
    d2 = float(((np.asarray(a) - np.asarray(b)) ** 2).sum())
    return float(np.mean([np.exp(-d2 / (2.0 * s * sigma2)) for s in mults]))


def np_median_sigma2(*parts: np.ndarray) -> float:
    """Median of the pairwise squared distances of the pooled sample."""
    z = np.concatenate(parts)
    return float(np.median([((z[i] - z[j]) ** 2).sum()
                            for i, j in itertools.combinations(range(len(z)), 2)]))


def v_statistic(xs, ys, k):
    """Biased MMD²: (1/n²)Σ k(x,x') + (1/m²)Σ k(y,y') − (2/nm)Σ k(x,y), diagonals included."""
    n, m = len(xs), len(ys)
    return (sum(k(a, b) for a in xs for b in xs) / n**2 + sum(k(a, b) for a in ys for b in ys) / m**2
            - 2.0 * sum(k(a, b) for a in xs for b in ys) / (n * m))


def u_statistic(xs, ys, k):
    """Unbiased MMD²: the same sums without the diagonals, over n(n−1) and m(m−1)."""
    n, m = len(xs), len(ys)
    return (sum(k(xs[i], xs[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
            + sum(k(ys[i], ys[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
            - 2.0 * sum(k(a, b) for a in xs for b in ys) / (n * m))


def np_mmd2_unbiased(x, y, sigma2) -> float:
    return u_statistic(list(x), list(y), lambda a, b: np_kernel(a, b, sigma2))


def test_unbiased_matches_numpy_double_loop_median_heuristic():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(17, 4)), rng.normal(0.3, 1.2, size=(23, 4))
    ref = np_mmd2_unbiased(x, y, np_median_sigma2(x, y))
    got = mmd2_unbiased(torch.from_numpy(x), torch.from_numpy(y)).item()
    assert abs(got - ref) / abs(ref) < 1e-5


def test_unbiased_matches_numpy_fixed_bandwidth():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 3)), rng.normal(1.0, 1.0, size=(9, 3))
    got = mmd2_unbiased(torch.from_numpy(x), torch.from_numpy(y), GaussianKernels(sigma2=2.5)).item()
    assert abs(got - np_mmd2_unbiased(x, y, 2.5)) / abs(got) < 1e-5


def test_biased_is_zero_for_identical_batches_unbiased_is_not():
    x = torch.randn(30, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    assert abs(mmd2_biased(x, x.clone()).item()) < 1e-12
    # U-statistic of x against itself = −(2/n²)·Σ_i k(x_i, x_i) + O(1/n) terms: not 0, but small.
    u = mmd2_unbiased(x, x.clone()).item()
    assert u != 0.0 and abs(u) < 0.1


def test_unbiased_near_zero_same_distribution_and_monotone_in_shift():
    g = torch.Generator().manual_seed(3)
    n, d = 100, 5
    x = torch.randn(n, d, dtype=torch.float64, generator=g)
    y = torch.randn(n, d, dtype=torch.float64, generator=g)
    values = [mmd2_unbiased(x, y + shift).item() for shift in (0.0, 0.5, 1.0, 2.0)]
    assert abs(values[0]) < 1e-2
    assert all(a < b for a, b in zip(values, values[1:])), values


def exact_mmd2_gaussians(d: int, mu: float, sigma2: float, mults=MULTS) -> float:
    """Population MMD² between N(0, I_d) and N(mu·1, I_d) for the multi-kernel.

    For k_s(a, b) = exp(−‖a−b‖²/(2s)) and W = X − X' ~ N(m, 2I): E k_s = (s/(s+2))^{d/2}·
    exp(−‖m‖²/(2(s+2))), so MMD² = 2(s/(s+2))^{d/2}·(1 − exp(−d·mu²/(2(s+2)))),
    averaged over s.
    """
    return float(np.mean([2 * (s * sigma2 / (s * sigma2 + 2)) ** (d / 2)
                          * (1 - np.exp(-d * mu ** 2 / (2 * (s * sigma2 + 2)))) for s in mults]))


def test_linear_estimator_mean_matches_quadratic_and_closed_form():
    # Fixed bandwidth, so both estimators are exactly unbiased for the closed-form MMD².
    # Over 200 independent draws (n = 64 per domain) each mean must lie within 4 standard
    # errors of the truth, and the two means within 4 combined standard errors of each other.
    d, mu, sigma2 = 3, 0.7, 3.0
    kern, g = GaussianKernels(sigma2=sigma2), torch.Generator().manual_seed(4)
    lin, quad = [], []
    for _ in range(200):
        x = torch.randn(64, d, dtype=torch.float64, generator=g)
        y = torch.randn(64, d, dtype=torch.float64, generator=g) + mu
        lin.append(mmd2_linear(x, y, kern).item())
        quad.append(mmd2_unbiased(x, y, kern).item())
    lin_a, quad_a = np.array(lin), np.array(quad)
    se_l, se_q = lin_a.std(ddof=1) / np.sqrt(200), quad_a.std(ddof=1) / np.sqrt(200)
    exact = exact_mmd2_gaussians(d, mu, sigma2)
    assert exact > 0.05  # a real shift, not a test of 0 ≈ 0
    assert abs(lin_a.mean() - exact) < 4 * se_l
    assert abs(quad_a.mean() - exact) < 4 * se_q
    assert abs(lin_a.mean() - quad_a.mean()) < 4 * np.hypot(se_l, se_q)
    assert se_l > se_q  # the linear estimator pays for its speed with variance


def test_linear_matches_numpy_pairs_and_uses_first_min_rows():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(11, 2)), rng.normal(size=(8, 2))
    kern = GaussianKernels(sigma2=1.7)
    ref = np.mean([np_kernel(x[2 * i], x[2 * i + 1], 1.7) + np_kernel(y[2 * i], y[2 * i + 1], 1.7)
                   - np_kernel(x[2 * i], y[2 * i + 1], 1.7) - np_kernel(x[2 * i + 1], y[2 * i], 1.7)
                   for i in range(4)])
    got = mmd2_linear(torch.from_numpy(x), torch.from_numpy(y), kern).item()
    assert got == pytest.approx(ref, rel=1e-10)


def test_jmmd_is_mmd_of_product_kernel():
    rng = np.random.default_rng(6)
    xf, yf = rng.normal(size=(7, 3)), rng.normal(size=(6, 3))
    xg, yg = rng.random(size=(7, 4)), rng.random(size=(6, 4))
    kf, kg = GaussianKernels(sigma2=1.3), GaussianKernels((1.0,), sigma2=0.845)

    def k(a, b):
        return np_kernel(a[0], b[0], 1.3) * np_kernel(a[1], b[1], 0.845, (1.0,))

    xs, ys = list(zip(xf, xg)), list(zip(yf, yg))
    n, m = len(xs), len(ys)
    ref = (sum(k(xs[i], xs[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
           + sum(k(ys[i], ys[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
           - 2 * sum(k(a, b) for a in xs for b in ys) / (n * m))
    t = torch.from_numpy
    got = jmmd2([t(xf), t(xg)], [t(yf), t(yg)], [kf, kg]).item()
    assert got == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize("estimator", ["unbiased", "linear"])
def test_dan_and_jan_backpropagate_finite_gradients(estimator):
    g = torch.Generator().manual_seed(7)
    f_s = torch.randn(16, 8, generator=g, requires_grad=True)
    f_t = (torch.randn(16, 8, generator=g) + 1).requires_grad_()
    l_s = torch.randn(16, 3, generator=g, requires_grad=True)
    l_t = torch.randn(16, 3, generator=g, requires_grad=True)
    loss = DAN(8, 3, estimator=estimator)(f_s, f_t) + JAN(8, 3, estimator=estimator)(
        f_s, f_t, logits_s=l_s, logits_t=l_t)
    loss.backward()
    for p in (f_s, f_t, l_s, l_t):
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_bad_inputs_raise_dalib_error():
    with pytest.raises(DalibError, match="dim"):
        DAN(4, 2)(torch.randn(5, 4), torch.randn(5, 3))
    with pytest.raises(DalibError, match="logits_t"):
        JAN(4, 2)(torch.randn(5, 4), torch.randn(5, 4), logits_s=torch.randn(5, 2))
    with pytest.raises(DalibError, match="estimator"):
        DAN(4, 2, estimator="quadratic")
    with pytest.raises(DalibError, match="at least 2"):
        mmd2_unbiased(torch.randn(1, 4), torch.randn(5, 4))


# Kills: the biased estimator without n_s (every block the whole matrix: always 0), diagonals
# dropped, 1/(n(n−1)) normalisers, DAN ignoring its ``estimator``.
def test_biased_estimator_and_dan_biased_match_v_statistic():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.normal(0.5, 1.0, size=(5, 3))
    s2 = np_median_sigma2(x, y)
    ref = v_statistic(list(x), list(y), lambda a, b: np_kernel(a, b, s2))
    t = torch.from_numpy
    assert mmd2_biased(t(x), t(y)).item() == pytest.approx(ref, rel=1e-10)
    assert DAN(3, 2, estimator="biased")(t(x), t(y)).item() == pytest.approx(ref, rel=1e-10)
    assert DAN(3, 2, estimator="biased", multipliers=(1.0,))(t(x), t(y)).item() == pytest.approx(
        v_statistic(list(x), list(y), lambda a, b: np_kernel(a, b, s2, (1.0,))), rel=1e-10)


def jan_reference(f_s, f_t, l_s, l_t, estimator, softmax_sigma2=0.845):
    """k((f, g), (f', g')) = k_f(f, f')·exp(−‖g − g'‖²/(2·0.845)), g = softmax(logits)."""
    g_s, g_t = (np.exp(v) / np.exp(v).sum(1, keepdims=True) for v in (l_s, l_t))
    s2 = np_median_sigma2(f_s, f_t)
    if softmax_sigma2 is None:
        s2g, mults_g = np_median_sigma2(g_s, g_t), MULTS
    else:
        s2g, mults_g = softmax_sigma2, (1.0,)

    def k(a, b):
        return np_kernel(a[0], b[0], s2) * np_kernel(a[1], b[1], s2g, mults_g)

    stat = u_statistic if estimator == "unbiased" else v_statistic
    return stat(list(zip(f_s, g_s)), list(zip(f_t, g_t)), k)


# Kills: JAN with the softmax kernel's σ² replaced (default 0.845, 1.845, the median), the
# multi-kernel on the softmax layer, the kernels' product replaced by a quotient, logits instead
# of softmax, the estimator argument dropped.
@pytest.mark.parametrize(("estimator", "softmax_sigma2"), [("unbiased", 0.845), ("biased", 0.845),
                                                           ("unbiased", None)])
def test_jan_forward_matches_product_kernel(estimator, softmax_sigma2):
    rng = np.random.default_rng(1)
    f_s, f_t = rng.normal(size=(6, 3)), rng.normal(0.4, 1.0, size=(5, 3))
    l_s, l_t = 2 * rng.normal(size=(6, 4)), 2 * rng.normal(size=(5, 4))
    t = torch.from_numpy
    jan = (JAN(3, 4, estimator=estimator) if softmax_sigma2 == 0.845
           else JAN(3, 4, estimator=estimator, softmax_sigma2=softmax_sigma2))
    got = jan(t(f_s), t(f_t), logits_s=t(l_s), logits_t=t(l_t)).item()
    assert got == pytest.approx(jan_reference(f_s, f_t, l_s, l_t, estimator, softmax_sigma2), rel=1e-10)


# Kills: the linear estimator's target pairs sliced with the wrong stop, a quotient of the layer
# kernels, the pairs of a second layer ignored.
def test_linear_joint_estimator_with_more_target_rows():
    rng = np.random.default_rng(2)
    xf, yf = rng.normal(size=(6, 2)), rng.normal(size=(13, 2))
    xg, yg = rng.random(size=(6, 3)), rng.random(size=(13, 3))
    kf, kg = GaussianKernels(sigma2=1.1), GaussianKernels((1.0,), sigma2=0.7)

    def k(a, b):
        return np_kernel(a[0], b[0], 1.1) * np_kernel(a[1], b[1], 0.7, (1.0,))

    xs, ys = list(zip(xf, xg)), list(zip(yf, yg))
    ref = np.mean([k(xs[2 * i], xs[2 * i + 1]) + k(ys[2 * i], ys[2 * i + 1])
                   - k(xs[2 * i], ys[2 * i + 1]) - k(xs[2 * i + 1], ys[2 * i]) for i in range(3)])
    t = torch.from_numpy
    got = jmmd2([t(xf), t(xg)], [t(yf), t(yg)], [kf, kg], "linear").item()
    assert got == pytest.approx(ref, rel=1e-10)
    one = mmd2_linear(t(xf), t(yf), kf).item()
    assert one == pytest.approx(np.mean([
        np_kernel(xf[2 * i], xf[2 * i + 1], 1.1) + np_kernel(yf[2 * i], yf[2 * i + 1], 1.1)
        - np_kernel(xf[2 * i], yf[2 * i + 1], 1.1) - np_kernel(xf[2 * i + 1], yf[2 * i], 1.1) for i in range(3)]),
        rel=1e-10)


# Kills: the median fallback tests (> 0 → ≥ 0 gives σ² = 0 and a NaN kernel; > 1 replaces small
# medians by the mean), and the even-count median taken as the lower middle value.
def test_median_heuristic_fallbacks():
    kern = GaussianKernels()
    same = torch.zeros(4, 2, dtype=torch.float64)
    assert kern.base_sigma2(same).item() == 1.0  # every distance 0
    mostly_same = torch.tensor([[0.0, 0.0]] * 4 + [[3.0, 0.0]], dtype=torch.float64)
    # 10 pairs: 6 at distance 0, 4 at 9 → median 0, mean 3.6
    assert kern.base_sigma2(mostly_same).item() == pytest.approx(3.6)
    small = 0.1 * torch.tensor([[0.0], [1.0], [3.0]], dtype=torch.float64)  # D = .01, .09, .04
    assert kern.base_sigma2(small).item() == pytest.approx(0.04)
    four = torch.tensor([[0.0], [1.0], [3.0], [7.0]], dtype=torch.float64)  # 6 pairs, middle 9, 16
    assert kern.base_sigma2(four).item() == pytest.approx(12.5)
    assert torch.isfinite(kern.gram(same)).all()
    one = kern.base_sigma2(torch.zeros(1, 2, dtype=torch.float64))  # no pair at all
    assert one.item() == 1.0 and one.dtype == torch.float64 and one.shape == ()


# Kills: weakened checks (or→and, < → ≤, ≤ 0 → < 0) on kernels and features.
@pytest.mark.parametrize("bad", [dict(multipliers=()), dict(multipliers=(1.0, 0.0)),
                                 dict(multipliers=(-1.0,)), dict(sigma2=0.0), dict(sigma2=-2.0)])
def test_kernel_parameters_are_checked(bad):
    with pytest.raises(DalibError, match=r"^kernel (multipliers must be a non-empty list of positive "
                                         r"numbers, got \[.*\]|bandwidth sigma2 must be positive or "
                                         r"None, got -?\d)"):
        GaussianKernels(**bad)


def test_check_features_bounds():
    two, one = torch.zeros(2, 3), torch.zeros(1, 3)
    check_features(one, one, "m")  # default min_samples = 1
    check_features(two, two, "m", min_samples=2)
    for f_s, f_t in [(one, two), (two, one)]:
        with pytest.raises(DalibError, match=r"^m: needs at least 2 samples per domain, got \d source "
                                             r"and \d target; increase the batch size$"):
            check_features(f_s, f_t, "m", min_samples=2)
    for f_s, f_t in [(torch.zeros(2), two), (two, torch.zeros(2, 3, 1))]:
        with pytest.raises(DalibError, match=r"^m: features must be 2-D \(n, d\), got shapes \(.*\) and "
                                             r"\(.*\); flatten the feature extractor output$"):
            check_features(f_s, f_t, "m")
    assert mmd2_biased(one.double(), one.double() + 1).item() > 0  # biased MMD takes 1 row


# Kills: the bandwidth s·σ₀² written σ₀²/s (the default multipliers 2^-2..2^2 are closed under
# s → 1/s, so only an asymmetric set tells them apart), and a σ₀² passed to gram ignored.
def test_asymmetric_multipliers_and_explicit_bandwidth():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(6, 2))
    kern = GaussianKernels((1.0, 3.0))
    got = kern.gram(torch.from_numpy(z), torch.tensor(0.7, dtype=torch.float64)).numpy()
    ref = np.array([[np_kernel(a, b, 0.7, (1.0, 3.0)) for b in z] for a in z])
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    auto = kern.gram(torch.from_numpy(z)).numpy()
    s2 = np_median_sigma2(z)
    np.testing.assert_allclose(auto, [[np_kernel(a, b, s2, (1.0, 3.0)) for b in z] for a in z], rtol=1e-12)
