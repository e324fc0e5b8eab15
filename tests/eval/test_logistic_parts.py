"""The batched logistic solver's parts, each against a dense or autograd computation of its formula.

The solver's optimum is unique, so a wrong objective value, direction or preconditioner can still
converge to it (the optimum tests of test_logistic.py cannot see such a mutant); these tests pin
each part to its definition in `dalib.eval.logistic`'s module docstring.
"""

import numpy as np
import pytest
import torch

from dalib.eval.logistic import (LogisticProblems, _bound_inverse, _hessian_inverse, _objective, _two_loop,
                                 standardised)


def _problems(seed=0, R=2, n=40, d=4):
    """R runs, J = 3 problems each (every third row held out), with padding rows in run 1, a
    constant feature in run 0, C per problem, and rows scaled and shifted per feature."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(R, n, d, generator=g, dtype=torch.float64) * torch.tensor([0.5, 3.0, 1.0, 8.0]) + 2.0
    X[0, :, 2] = 1.5  # constant: its std is 1, as StandardScaler's
    y = (torch.rand(R, n, generator=g) > 0.4).double()
    rows = torch.ones(R, n, dtype=torch.bool)
    rows[1, -7:] = False  # padding rows of a shorter run
    mask = torch.stack([(torch.arange(n) % 3 != k) for k in range(3)], 0)[None].double().repeat(R, 1, 1)
    mask = mask * rows[:, None, :]
    mean, std, basis, spectrum = standardised(X, mask, rows)
    C = torch.tensor([[0.1, 1.0, 10.0], [0.5, 2.0, 0.05]], dtype=torch.float64)
    return LogisticProblems(X, y, mask, mean, std, basis, spectrum, C), rows


def _direct_objective(p: LogisticProblems, theta: torch.Tensor, r: int, j: int) -> torch.Tensor:
    """(1/n)·Σ_{rows of problem j} [log(1 + e^z) − y·z] + ‖w‖²/(2·C·n), z = x̃·w + b, x̃ standardised
    with the problem's own rows (population std), computed on the selected rows only."""
    d = p.X.shape[2]
    sel = p.mask[r, j] > 0
    x, y = p.X[r][sel], p.y[r][sel]
    mu, sd = x.mean(0), x.std(0, unbiased=False)
    sd = torch.where(sd < 1e-12, torch.ones_like(sd), sd)
    z = ((x - mu) / sd) @ theta[:d] + theta[d]
    n = sel.sum()
    return (torch.logaddexp(torch.zeros_like(z), z) - y * z).sum() / n + theta[:d].pow(2).sum() / (2 * p.C[r, j] * n)


def test_standardised_gives_each_problems_moments_and_the_rows_correlation():
    """mean and population std of each problem's rows (std 1 for the constant feature); basis ·
    diag(spectrum) · basisᵀ is the correlation matrix of each run's real rows. Kills: moments
    about the wrong anchor, a sample std, the covariance scaled by n instead of 1/n, the
    correlation divided by the scales' ratio, and a spectrum clamped at 1 instead of 0."""
    p, rows = _problems()
    for r in range(2):
        real = p.X[r][rows[r]].numpy()
        with np.errstate(invalid="ignore"):  # the constant feature: no correlation, its row and column are 0
            corr = np.nan_to_num(np.corrcoef(real, rowvar=False))
        rebuilt = (p.basis[r] * p.spectrum[r]) @ p.basis[r].T
        np.testing.assert_allclose(rebuilt.numpy(), corr, atol=1e-10)
        for j in range(3):
            sel = (p.mask[r, j] > 0).numpy()
            np.testing.assert_allclose(p.mean[r, j].numpy(), p.X[r].numpy()[sel].mean(0), rtol=1e-12)
            sd = p.X[r].numpy()[sel].std(0)
            np.testing.assert_allclose(p.std[r, j].numpy(), np.where(sd < 1e-12, 1.0, sd), rtol=1e-10)
    assert p.std[0, :, 2].eq(1.0).all() and (p.spectrum >= 0).all() and p.spectrum.min() < 1e-9


def test_objective_and_gradient_equal_the_direct_formula():
    """At a random θ, every problem's objective equals the direct formula on its own rows, and the
    gradient equals autograd of it. Kills: masked rows divided instead of multiplied (inf
    objective, same gradient), a penalty without 1/(C·n), and a wrong gradient term."""
    p, _ = _problems()
    theta = torch.randn(2, 3, p.X.shape[2] + 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    loss, grad = _objective(p, theta)
    for r in range(2):
        for j in range(3):
            t = theta[r, j].clone().requires_grad_(True)
            direct = _direct_objective(p, t, r, j)
            (g,) = torch.autograd.grad(direct, t)
            assert float(loss[r, j]) == pytest.approx(float(direct.detach()), rel=1e-12)
            np.testing.assert_allclose(grad[r, j].numpy(), g.numpy(), rtol=1e-9, atol=1e-12)


def test_bound_inverse_solves_boehnings_bound():
    """q ↦ B⁻¹q for B = [[corr/4 + I/(C·n), 0], [0, 1/4]] built densely. Kills: the curvature
    multiplied instead of inverted, λ·4 or λ/5, a wrong ridge, and 5q on the intercept."""
    p, _ = _problems()
    d = p.X.shape[2]
    q = torch.randn(2, 3, d + 1, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    got = _bound_inverse(p)(q)
    for r in range(2):
        corr = (p.basis[r] * p.spectrum[r]) @ p.basis[r].T
        for j in range(3):
            B = torch.zeros(d + 1, d + 1, dtype=torch.float64)
            B[:d, :d] = corr / 4 + torch.eye(d, dtype=torch.float64) / (p.C[r, j] * p.counts[r, j])
            B[d, d] = 0.25
            np.testing.assert_allclose(got[r, j].numpy(), torch.linalg.solve(B, q[r, j]).numpy(), rtol=1e-9)


def test_hessian_inverse_solves_the_objectives_hessian():
    """q ↦ H⁻¹q against the autograd Hessian of the direct objective (to 1e-4: the data part is
    float32, it only preconditions). Kills: a wrong ridge (2/(C·n), or 1 on the intercept) and
    a Hessian of other rows or weights."""
    p, _ = _problems()
    d = p.X.shape[2]
    theta = 0.3 * torch.randn(2, 3, d + 1, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    q = torch.randn(2, 3, d + 1, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    got = _hessian_inverse(p, theta)(q)
    for r in range(2):
        for j in range(3):
            H = torch.autograd.functional.hessian(lambda t: _direct_objective(p, t, r, j), theta[r, j])
            want = torch.linalg.solve(H, q[r, j])
            np.testing.assert_allclose(got[r, j].numpy(), want.numpy(), rtol=1e-4, atol=1e-6 * float(want.abs().max()))


def test_two_loop_is_minus_the_bfgs_inverse_hessian_times_the_gradient():
    """The direction from 3 stored pairs on H₀ = B⁻¹ equals −H·g with H from the dense BFGS
    recursion H ← (I − ρ·s·yᵀ)·H·(I − ρ·y·sᵀ) + ρ·s·sᵀ, oldest pair first; a zero pair (ρ = 0)
    leaves H unchanged. Kills: either loop's sign flipped, and the pairs applied in reverse."""
    p, _ = _problems()
    d1 = p.X.shape[2] + 1
    gen = torch.Generator().manual_seed(5)
    initial = _bound_inverse(p)
    S = [torch.randn(2, 3, d1, generator=gen, dtype=torch.float64) for _ in range(3)]
    Y = [s + 0.3 * torch.randn(2, 3, d1, generator=gen, dtype=torch.float64) for s in S]  # sᵀy > 0
    S[1][0, 0], Y[1][0, 0] = 0.0, 0.0  # a pair that was not kept, for one problem
    rho = [torch.where((s * y).sum(2) > 0, 1.0 / (s * y).sum(2).clamp_min(1e-300), torch.zeros(2, 3,
           dtype=torch.float64)) for s, y in zip(S, Y)]
    rho[1][0, 0] = 0.0
    g = torch.randn(2, 3, d1, generator=gen, dtype=torch.float64)
    got = _two_loop(g, S, Y, rho, initial)
    eye = torch.eye(d1, dtype=torch.float64)
    for r in range(2):
        for j in range(3):
            H = torch.stack([initial(e[None, None].expand(2, 3, d1).contiguous())[r, j] for e in eye], 1)
            for s, y, rh in zip(S, Y, rho):
                s, y, rh = s[r, j], y[r, j], rh[r, j]
                H = (eye - rh * torch.outer(s, y)) @ H @ (eye - rh * torch.outer(y, s)) + rh * torch.outer(s, s)
            np.testing.assert_allclose(got[r, j].numpy(), (-H @ g[r, j]).numpy(), rtol=1e-9, atol=1e-12)
