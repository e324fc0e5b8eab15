"""Speed of the importance-weight estimators (a script, not a test).

    python benchmarks/reweighting_speed.py [--sizes 500,1000,2000,4000,8000] [--d 20] [--qp-size 500]

Data: source N(0, I_d), target N(0.5 e_1, I_d), n_s = n_t = n.  Prints

1. fit time (seconds, best of ``--repeats``) vs n for KMM, KLIEP and the domain classifier;
2. KMM at n_s = n_t = 2000: time, FISTA iterations, relative KKT residual, constraint violation
   (box exactly, sum band relative to n_s), certified Frank-Wolfe bound on ``f - f*``, and the
   objective against a long (tol 1e-8) run of the same solver;
3. KMM vs a dense general-purpose QP (scipy SLSQP, bounds + the two band constraints) on the same
   kernel matrices at ``--qp-size``: both times, their ratio, and the objectives.

All solves run with one BLAS thread (KMM's default); see the KMM docstring for why.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from dalib.reweighting import KLIEP, KMM, DiscriminativeRatio, LowESSWarning
from dalib.reweighting.kmm import gaussian_kernel, kkt_residual, median_heuristic_sigma, solve_box_sum_qp

ESTIMATORS = {"kmm": KMM, "kliep": KLIEP, "discriminative": DiscriminativeRatio}


def data(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X_s, X_t = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    X_t[:, 0] += 0.5
    return X_s, X_t


def best_time(make, X_s: np.ndarray, X_t: np.ndarray, repeats: int):
    best, est = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        est = make().fit(X_s, X_t)
        best = min(best, time.perf_counter() - t0)
    return best, est


def fit_table(sizes: list[int], d: int, repeats: int) -> None:
    print(f"## fit time [s] vs n (n_s = n_t = n, d = {d}, best of {repeats})")
    print(f"{'n':>6} " + " ".join(f"{k:>15}" for k in ESTIMATORS) + "   KMM iters / KKT / ESS")
    for n in sizes:
        X_s, X_t = data(n, d)
        row, kmm = [], None
        for name, cls in ESTIMATORS.items():
            t, est = best_time(cls, X_s, X_t, repeats)
            row.append(t)
            kmm = est if name == "kmm" else kmm
        print(f"{n:>6} " + " ".join(f"{t:>15.3f}" for t in row)
              + f"   {kmm.n_iter_} / {kmm.kkt_residual_:.1e} / {kmm.ess_:.0f}", flush=True)


def kmm_at(n: int, d: int, repeats: int) -> None:
    X_s, X_t = data(n, d, seed=1)
    t, est = best_time(KMM, X_s, X_t, max(repeats, 3))
    w, eps = est.weights_, (np.sqrt(n) - 1) / np.sqrt(n)
    print(f"\n## KMM at n_s = n_t = {n}, d = {d}")
    print(f"time {t:.3f} s (best of {max(repeats, 3)}), iterations {est.n_iter_}, converged {est.converged_}")
    print(f"relative KKT residual {est.kkt_residual_:.2e} (tol {est.tol:g}); Frank-Wolfe bound on f - f*: "
          f"{est.gap_bound_:.3g} (relative to |f| {est.gap_bound_ / abs(est.objective_):.1e})")
    print(f"box: min {w.min():.3g} >= 0, max {w.max():.4g} <= B = {est.B:g}; "
          f"|sum - n_s| = {abs(w.sum() - n):.3f} <= n_s eps = {n * eps:.3f}")
    print(f"constraint violation {est.constraint_violation_:.2e}; ESS {est.ess_:.0f}")
    K = gaussian_kernel(X_s, X_s, est.sigma_)
    np.fill_diagonal(K, 1.0)
    kappa = gaussian_kernel(X_s, X_t, est.sigma_).sum(axis=1)
    with threadpool_limits(limits=1, user_api="blas"):
        ref = solve_box_sum_qp(K, kappa, est.B, n * (1 - eps), n * (1 + eps), tol=1e-8, max_iter=20000)
    print(f"objective {est.objective_:.10g} vs long run (tol 1e-8, {ref.n_iter} iterations) {ref.objective:.10g}: "
          f"relative difference {(est.objective_ - ref.objective) / abs(ref.objective):.1e}")


def versus_qp(n: int, d: int) -> None:
    X_s, X_t = data(n, d, seed=2)
    sigma = median_heuristic_sigma(X_s, X_t)
    t0 = time.perf_counter()
    est = KMM(sigma=sigma).fit(X_s, X_t)
    t_kmm = time.perf_counter() - t0
    K = gaussian_kernel(X_s, X_s, sigma)
    np.fill_diagonal(K, 1.0)
    kappa = gaussian_kernel(X_s, X_t, sigma).sum(axis=1)
    eps = (np.sqrt(n) - 1) / np.sqrt(n)
    lo, hi, B = n * (1 - eps), n * (1 + eps), 1000.0
    cons = [{"type": "ineq", "fun": lambda x: x.sum() - lo, "jac": lambda x: np.ones(n)},
            {"type": "ineq", "fun": lambda x: hi - x.sum(), "jac": lambda x: -np.ones(n)}]
    t0 = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        res = minimize(lambda x: (0.5 * x @ K @ x - kappa @ x, K @ x - kappa), np.ones(n), jac=True,
                       method="SLSQP", bounds=[(0.0, B)] * n, constraints=cons,
                       options={"maxiter": 5000, "ftol": 1e-10})
    t_qp = time.perf_counter() - t0
    x = np.clip(res.x, 0.0, B)
    f_qp = 0.5 * x @ K @ x - kappa @ x
    print(f"\n## KMM vs dense general-purpose QP (SLSQP) at n_s = n_t = {n}, d = {d}")
    print(f"KMM   : {t_kmm:8.3f} s (incl. kernels), objective {est.objective_:.10g}, KKT {est.kkt_residual_:.1e}")
    print(f"SLSQP : {t_qp:8.3f} s (solve only),    objective {f_qp:.10g}, KKT "
          f"{kkt_residual(K, kappa, x, B, lo, hi):.1e}, status {res.status} ({res.nit} iterations)")
    print(f"time ratio KMM / SLSQP = {t_kmm / t_qp:.4f} ({t_qp / t_kmm:.0f}x faster); "
          f"relative objective difference {(est.objective_ - f_qp) / abs(f_qp):+.1e}")
    long = solve_box_sum_qp(K, kappa, B, lo, hi, tol=1e-8, max_iter=50000)
    print(f"long KMM run (tol 1e-8): objective {long.objective:.10g} after {long.n_iter} iterations")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="500,1000,2000,4000,8000", help="comma-separated n values")
    p.add_argument("--d", type=int, default=20)
    p.add_argument("--qp-size", type=int, default=500, help="n for the SLSQP comparison (0 skips it)")
    p.add_argument("--kmm-size", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=1)
    a = p.parse_args()
    warnings.simplefilter("ignore", LowESSWarning)
    fit_table([int(s) for s in a.sizes.split(",") if s], a.d, a.repeats)
    kmm_at(a.kmm_size, a.d, a.repeats)
    if a.qp_size > 0:
        versus_qp(a.qp_size, a.d)


if __name__ == "__main__":
    main()
