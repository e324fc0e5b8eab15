"""KMM's settings seen from the fitted weights: the sum band, B, σ, κ and the diagnostics."""

import numpy as np
import pytest
from scipy.optimize import linprog

from dalib.reweighting import KLIEP, KMM, LowESSWarning, effective_sample_size, solve_box_sum_qp
from dalib.reweighting.kmm import frank_wolfe_gap, kkt_residual

pytestmark = pytest.mark.filterwarnings("ignore::dalib.reweighting.ess.LowESSWarning")
RNG = np.random.default_rng(0)
X_S = RNG.normal(size=(36, 2))
FAR = RNG.normal(size=(20, 2)) + 6.0  # κ ≈ 0: the weights shrink until Σw hits the band's floor


# Kills: the default band half-width ε = (√n − 1)/√n changed (floor n(1 − ε) = √n = 6 here), the
# floor max(n(1 − ε), 0) clamped at 1 instead of 0 (ε = 0.99 gives 0.36), the ceiling n(1 + ε)
# moved (ε = 0 pins Σw = n although the free optimum is 30.06 on the last data).
def test_sum_band():
    assert KMM(sigma=1.0).fit(X_S, FAR).weights_.sum() == pytest.approx(6.0, rel=1e-9)
    assert KMM(sigma=1.0, eps=0.99).fit(X_S, FAR).weights_.sum() == pytest.approx(0.36, rel=1e-9)
    rng = np.random.default_rng(0)
    X_s, X_t = 2.0 * rng.normal(size=(30, 1)), 0.7 * rng.normal(size=(40, 1))
    assert KMM(sigma=0.5, eps=5.0).fit(X_s, X_t).weights_.sum() > 30.05
    assert KMM(sigma=0.5, eps=0.0).fit(X_s, X_t).weights_.sum() == pytest.approx(30.0, rel=1e-9)


# Kills: B = 1 with ε = 0 (only w = 1 is feasible) refused, small kernel widths refused.
def test_tight_but_feasible_settings():
    np.testing.assert_allclose(KMM(B=1.0, eps=0.0, sigma=0.5).fit(X_S, FAR).weights_, 1.0)
    assert KMM(sigma=0.5).fit(X_S, FAR).sigma_ == 0.5


# Kills: κ_i = (n_s/n_t) Σ_j k(x_i, t_j) built from the wrong target chunks (more than 2048
# targets: rows skipped, counted twice, or only the last chunk), or scaled by n_t/n_s.  With B = 1
# and ε = 0 the weights are all 1, so the objective ½·1ᵀK1 − Σκ exposes κ directly.
def test_kappa_over_chunked_targets():
    rng = np.random.default_rng(1)
    X_s, X_t = rng.normal(size=(12, 2)), rng.normal(size=(2100, 2)) + 0.5
    est = KMM(B=1.0, eps=0.0, sigma=1.0).fit(X_s, X_t)
    K = np.exp(-((X_s[:, None, :] - X_s[None, :, :]) ** 2).sum(-1) / 2.0)
    kappa = np.exp(-((X_s[:, None, :] - X_t[None, :, :]) ** 2).sum(-1) / 2.0).sum(1) * 12 / 2100
    np.testing.assert_array_equal(est.weights_, 1.0)
    assert est.objective_ == pytest.approx(0.5 * K.sum() - kappa.sum(), rel=1e-12)


# Kills: the median width taken from another subset than the seeded 1000 of the pooled rows.
def test_median_width_uses_the_seeded_subsample():
    rng = np.random.default_rng(2)
    X_s, X_t = rng.normal(size=(600, 2)), rng.normal(size=(500, 2)) + 0.5
    est = KMM(random_state=5, max_iter=1).fit(X_s, X_t)
    Z = np.vstack([X_s, X_t])[np.random.default_rng(5).choice(1100, 1000, replace=False)]
    D = np.sqrt(((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1))[np.triu_indices(1000, 1)]
    assert est.sigma_ == pytest.approx(np.median(D), rel=1e-10)


# Kills: the box-violation diagnostic reading +min(w) instead of −min(w); the documented defaults.
def test_diagnostics_and_defaults():
    est = KMM(B=1.0, eps=0.0, sigma=3.0).fit(X_S, 0.5 * RNG.normal(size=(30, 2)))
    assert est.weights_.min() == 1.0 and est.constraint_violation_ == 0.0  # all weights at B = 1
    assert est.ess_ == pytest.approx(effective_sample_size(est.weights_))
    assert KMM().get_params() == {"B": 1000.0, "eps": None, "sigma": None, "tol": 1e-5, "max_iter": 10000,
                                  "random_state": 0, "blas_threads": 1}
    assert KLIEP().get_params() == {"n_centres": 100, "sigma": None,
                                    "width_factors": (0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0), "cv": 5,
                                    "tol": 1e-8, "max_iter": 2000, "random_state": 0, "blas_threads": 1}


# Kills: the low-ESS warnings losing the estimator's name; KLIEP's ess_ not set.
@pytest.mark.filterwarnings("default::dalib.reweighting.ess.LowESSWarning")
def test_low_ess_warnings_name_the_estimator():
    X_s = np.r_[0.1 * RNG.normal(size=(39, 1)), [[5.0]]]
    X_t = 5.0 + 0.1 * RNG.normal(size=(30, 1))
    with pytest.warns(LowESSWarning, match="^KMM: effective sample size"):
        KMM(sigma=0.5).fit(X_s, X_t)
    with pytest.warns(LowESSWarning, match="^KLIEP: effective sample size"):
        est = KLIEP(sigma=0.5).fit(X_s, X_t)
    assert est.ess_ == pytest.approx(effective_sample_size(est.weights_))


# Kills: the linear minimiser of the Frank-Wolfe gap filling coordinates with g ≥ 0 or putting
# more than B on one coordinate.  Reference: the same linear program solved by scipy's linprog.
@pytest.mark.parametrize("seed", range(4))
def test_frank_wolfe_gap_equals_linear_program(seed):
    rng = np.random.default_rng(seed)
    g, x = rng.normal(size=7) + 0.3, rng.uniform(0.0, 1.5, size=7)
    B, lo, hi = 1.5, 2.0, 6.0
    lp = linprog(g, A_ub=np.vstack([np.ones(7), -np.ones(7)]), b_ub=[hi, -lo], bounds=[(0.0, B)] * 7)
    assert frank_wolfe_gap(g, x, B, lo, hi) == pytest.approx(g @ x - lp.fun, rel=1e-9, abs=1e-12)


def small_qp(seed=0, n=15):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n))
    return A @ A.T / n + 0.1 * np.eye(n), rng.uniform(0.5, 2.0, size=n)


# Kills: the iteration counter or the every-10-iterations stopping test changed (a converged run
# stops at a multiple of 10; a capped run does exactly max_iter iterations), the reported
# objective and KKT residual not those of the returned x (λ, the scale), a Fortran-ordered K
# (no contiguous transpose to hand dsymv) mishandled.
def test_solver_bookkeeping():
    K, kappa = small_qp()
    res = solve_box_sum_qp(K, kappa, 3.0, 10.0, 20.0, max_iter=10007)
    assert res.converged and res.n_iter % 10 == 0 and 0 < res.n_iter < 10007
    assert res.objective == pytest.approx(0.5 * res.x @ K @ res.x - kappa @ res.x, rel=1e-12)
    assert res.kkt_residual == pytest.approx(kkt_residual(K, kappa, res.x, 3.0, 10.0, 20.0), rel=1e-12)
    capped = solve_box_sum_qp(K, kappa, 3.0, 10.0, 20.0, tol=1e-300, max_iter=7)
    assert capped.n_iter == 7 and not capped.converged
    assert capped.kkt_residual == pytest.approx(kkt_residual(K, kappa, capped.x, 3.0, 10.0, 20.0), rel=1e-12)
    small = solve_box_sum_qp(K, 0.1 * kappa, 3.0, 1.0, 2.0)  # max|κ| < 1: the residual is relative
    assert small.kkt_residual == pytest.approx(kkt_residual(K, 0.1 * kappa, small.x, 3.0, 1.0, 2.0), rel=1e-12)
    fortran = solve_box_sum_qp(np.asfortranarray(K), kappa, 3.0, 10.0, 20.0, max_iter=10007)
    np.testing.assert_allclose(fortran.x, res.x, atol=1e-12)
