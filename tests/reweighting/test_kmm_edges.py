"""KMM helpers on small cases worked out by hand: the projection's end points, the KKT residual's
scaling, and the solver's default tolerance."""

import numpy as np
import pytest
from scipy.optimize import minimize

from dalib.reweighting import solve_box_sum_qp
from dalib.reweighting.kmm import kkt_residual, project_box_sum


def projection_by_bisection(v, B, lo, hi):
    """Euclidean projection onto {0 ≤ z ≤ B, lo ≤ Σz ≤ hi}: clip(v − τ, 0, B), τ = 0 when that sum
    is inside the band, else the τ (found by bisection) that puts the sum on the nearer edge."""
    z = np.clip(v, 0.0, B)
    if lo <= z.sum() <= hi:
        return z
    target = hi if z.sum() > hi else lo
    a, b = v.min() - B - 1.0, v.max() + 1.0
    for _ in range(200):
        mid = 0.5 * (a + b)
        a, b = (mid, b) if np.clip(v - mid, 0.0, B).sum() > target else (a, mid)
    return np.clip(v - 0.5 * (a + b), 0.0, B)


# Kills: the first breakpoint returned when the target sum is reached between the first two
# breakpoints (k == 1 → b[0]), and the top of the band (Σz = n·B, every z at B) reached with the
# wrong breakpoint.
@pytest.mark.parametrize(("v", "B", "lo", "hi", "expected"), [
    ([3.0, 20.0], 1.0, 1.0, 1.0, [0.0, 1.0]),          # τ = 3 lies between breakpoints 2 and 3
    ([0.2, 0.1, -0.3], 2.0, 6.0, 6.0, [2.0, 2.0, 2.0]),  # only z = B reaches the sum n·B
    ([5.0, 1.0, 0.0], 10.0, 0.0, 2.0, [2.0, 0.0, 0.0]),
    ([0.0, 5.0, 6.0], 1.0, 3.0, 3.0, [1.0, 1.0, 1.0]),   # gaps > B: a wrong τ leaves no free z to fix
])
def test_projection_end_points(v, B, lo, hi, expected):
    v = np.array(v)
    z = project_box_sum(v, B, lo, hi)
    np.testing.assert_allclose(z, expected, atol=1e-12)
    np.testing.assert_allclose(z, projection_by_bisection(v, B, lo, hi), atol=1e-9)


# Kills: the empty band [0, 0] mishandled when rounding leaves the last cumulative sum just above
# 0 (about half of these draws reach that branch): every z must be 0.
def test_zero_sum_band_gives_zero():
    rng = np.random.default_rng(0)
    for _ in range(40):
        v = 3.0 * rng.normal(size=int(rng.integers(2, 9)))
        np.testing.assert_array_equal(project_box_sum(v, float(rng.uniform(0.1, 3.0)), 0.0, 0.0), 0.0)


def residual_by_hand(K, kappa, x, B, lo, hi):
    lam = max(np.abs(K).sum(axis=1).max(), 0.0) or 1.0  # the largest absolute row sum, 1 for K = 0
    p = projection_by_bisection(x - (K @ x - kappa) / lam, B, lo, hi)
    return lam * np.abs(x - p).max() / np.abs(kappa).max()


K2 = np.array([[2.0, -0.5], [-0.5, 1.0]])


# Kills: λ taken as 1 or as the sum of all |K_ij| (it cancels unless a bound is active, as for the
# first weight in the last case: x = 0.4 below B = 0.45, gradient −0.5), the box bound dropped from
# the projection, the relative scale floored at 1 instead of at 1e-300 (max|κ| = 0.3 here).
@pytest.mark.parametrize(("K", "kappa", "x"), [(K2, [0.3, -0.2], [0.4, 0.05]),
                                               (np.zeros((2, 2)), [0.3, -0.2], [0.4, 0.05]),
                                               (K2, [1.25, -0.11], [0.4, 0.1])])
def test_kkt_residual_formula(K, kappa, x):
    kappa, x = np.array(kappa), np.array(x)
    got = kkt_residual(K, kappa, x, 0.45, 0.2, 0.6)
    assert got == pytest.approx(residual_by_hand(K, kappa, x, 0.45, 0.2, 0.6), rel=1e-9)
    assert got > 0.09


# Kills: a default tolerance other than 1e-5 (the solver stopping after a few steps).
def test_solver_default_tolerance_reaches_the_optimum():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(15, 15))
    K = A @ A.T / 15 + 0.1 * np.eye(15)
    kappa = rng.uniform(0.5, 2.0, size=15)
    res = solve_box_sum_qp(K, kappa, 3.0, 10.0, 20.0)
    assert res.converged and res.kkt_residual <= 1e-5
    cons = [{"type": "ineq", "fun": lambda x: x.sum() - 10.0}, {"type": "ineq", "fun": lambda x: 20.0 - x.sum()}]
    ref = minimize(lambda x: 0.5 * x @ K @ x - kappa @ x, np.ones(15), jac=lambda x: K @ x - kappa,
                   method="SLSQP", bounds=[(0.0, 3.0)] * 15, constraints=cons,
                   options={"ftol": 1e-12, "maxiter": 1000})
    assert res.objective == pytest.approx(ref.fun, rel=1e-6)


# The metric I + c·11ᵀ (c > 0) with every z at B (the root of H lies left of the first
# breakpoint, k = 0: τ = c(n·B − Σv)), worked by hand: at z = B the gradient
# 2(z − v) + 2c(Σz − Σv) is negative in every coordinate, so every z stays at its bound.
# Kills: the c > 0 test written as c == 1 (the Euclidean branch, c ignored), τ = c / (n·B − Σv)
# (first case: z₀ = 1.55), τ = c(n·B + Σv) (both: z = 0), τ = c(n / B − Σv) (second case, B = 0.5:
# z₀ = 0).
@pytest.mark.parametrize(("v", "B", "expected"), [([1.5, 22.5], 2.0, [2.0, 2.0]), ([0.2, 2.8], 0.5, [0.5, 0.5])])
def test_metric_projection_with_every_weight_at_its_bound(v, B, expected):
    np.testing.assert_allclose(project_box_sum(np.array(v), B, 0.0, 100.0, c=1.0), expected, atol=1e-12)


# The same metric with the root between the first two breakpoints (k = 1): z₁ stays at B = 0.5 and
# z₀ = 0.2 − τ is free, so τ = c(Σz − Σv) = 0.1(0.2 − τ + 0.5 − 3) gives τ = −0.23 / 1.1.
# Kills: the corner formula used at k == 1 (τ = c(n·B − Σv) = −0.2: z₀ = 0.4 instead of 0.40909).
def test_metric_projection_with_one_free_weight():
    tau = -0.23 / 1.1
    z = project_box_sum(np.array([0.2, 2.8]), 0.5, 0.0, 100.0, c=0.1)
    np.testing.assert_allclose(z, [0.2 - tau, 0.5], atol=1e-12)
