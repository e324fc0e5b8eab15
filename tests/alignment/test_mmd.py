"""MMD / MK-MMD / JMMD checks against brute-force numpy references."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from dalib.alignment.mmd import (DAN, JAN, GaussianKernels, jmmd2, mmd2_biased, mmd2_linear,
                                 mmd2_unbiased)
from dalib.errors import DalibError

MULTS = (0.25, 0.5, 1.0, 2.0, 4.0)


def np_kernel(a: np.ndarray, b: np.ndarray, sigma2: float, mults=MULTS) -> float:
    d2 = float(((a - b) ** 2).sum())
    return float(np.mean([np.exp(-d2 / (2.0 * s * sigma2)) for s in mults]))


def np_median_sigma2(x: np.ndarray, y: np.ndarray) -> float:
    z = np.concatenate([x, y])
    return float(np.median([((z[i] - z[j]) ** 2).sum()
                            for i, j in itertools.combinations(range(len(z)), 2)]))


def np_mmd2_unbiased(x, y, sigma2) -> float:
    n, m = len(x), len(y)
    sxx = sum(np_kernel(x[i], x[j], sigma2) for i in range(n) for j in range(n) if i != j)
    syy = sum(np_kernel(y[i], y[j], sigma2) for i in range(m) for j in range(m) if i != j)
    sxy = sum(np_kernel(x[i], y[j], sigma2) for i in range(n) for j in range(m))
    return sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2.0 * sxy / (n * m)


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
