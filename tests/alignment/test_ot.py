"""DeepJDOT: exact coupling vs ot.emd, loss = Σ γ⊙C, gradients, input checks."""

from __future__ import annotations

import numpy as np
import ot
import pytest
import torch

from dalib.alignment.ot import DeepJDOT, deepjdot_cost, deepjdot_coupling
from dalib.errors import DalibError


def _batch(n_s=7, n_t=5, d=4, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n_s, d, dtype=torch.float64, generator=g).requires_grad_(),
            torch.randn(n_t, d, dtype=torch.float64, generator=g).requires_grad_(),
            torch.randint(0, c, (n_s,), generator=g),
            torch.randn(n_t, c, dtype=torch.float64, generator=g).requires_grad_())


def test_cost_matches_numpy_definition():
    f_s, f_t, y_s, l_t = _batch()
    a, b = f_s.detach().numpy(), f_t.detach().numpy()
    logp = torch.log_softmax(l_t, 1).detach().numpy()
    ref = np.array([[1e-3 * ((a[i] - b[j]) ** 2).sum() - 1e-4 * logp[j, y_s[i]]
                     for j in range(len(b))] for i in range(len(a))])
    assert np.allclose(deepjdot_cost(f_s, f_t, y_s, l_t).detach().numpy(), ref, rtol=1e-10, atol=1e-14)


def test_coupling_equals_ot_emd_and_loss_is_sum_gamma_cost():
    f_s, f_t, y_s, l_t = _batch()
    cost = deepjdot_cost(f_s, f_t, y_s, l_t, alpha=1.0, beta=1.0)
    gamma = deepjdot_coupling(cost)
    c = cost.detach().numpy()
    ref = ot.emd(np.full(7, 1 / 7), np.full(5, 1 / 5), c)
    assert np.allclose(gamma.numpy(), ref, atol=1e-12)
    assert np.allclose(gamma.sum(1).numpy(), 1 / 7) and np.allclose(gamma.sum(0).numpy(), 1 / 5)
    loss = DeepJDOT(4, 3, alpha=1.0, beta=1.0)(f_s, f_t, logits_t=l_t, y_s=y_s)
    assert loss.item() == pytest.approx(float((ref * c).sum()), rel=1e-10)
    assert loss.item() == pytest.approx(ot.emd2(np.full(7, 1 / 7), np.full(5, 1 / 5), c), rel=1e-8)


def test_gradients_flow_through_cost_only():
    f_s, f_t, y_s, l_t = _batch(seed=1)
    loss = DeepJDOT(4, 3)(f_s, f_t, logits_t=l_t, y_s=y_s)
    loss.backward()
    for p in (f_s, f_t, l_t):
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    # With γ fixed, ∂L/∂f_s,i = 2α Σ_j γ_ij (f_s,i − f_t,j).
    cost = deepjdot_cost(f_s, f_t, y_s, l_t)
    gamma = deepjdot_coupling(cost)
    expected = 2e-3 * (gamma.sum(1, keepdim=True) * f_s - gamma @ f_t)
    assert torch.allclose(f_s.grad, expected.detach(), atol=1e-12)


def test_bad_inputs():
    f_s, f_t, y_s, l_t = _batch()
    with pytest.raises(DalibError, match="y_s"):
        DeepJDOT(4, 3)(f_s, f_t, logits_t=l_t)
    with pytest.raises(DalibError, match="logits_t"):
        DeepJDOT(4, 3)(f_s, f_t, y_s=y_s)
    with pytest.raises(DalibError, match="dim"):
        DeepJDOT(4, 3)(f_s, f_t[:, :3], y_s=y_s, logits_t=l_t)
    with pytest.raises(DalibError, match="labels"):
        DeepJDOT(4, 3)(f_s, f_t, y_s=y_s + 5, logits_t=l_t)


@pytest.mark.parametrize("run_dim", [0, 1])
def test_vmapped_coupling_is_each_runs_own_ot_emd_plan(run_dim):
    # kills: the run dimension not moved to the front (plans of slices across runs), the plans
    # returned along another dimension, one run's plan repeated for every run
    costs = torch.rand(3, 6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    plans = torch.func.vmap(deepjdot_coupling, in_dims=run_dim)(costs.movedim(0, run_dim))
    assert plans.shape == (3, 6, 4)
    for cost, plan in zip(costs, plans):
        ref = ot.emd(np.full(6, 1 / 6), np.full(4, 1 / 4), cost.numpy())
        assert np.allclose(plan.numpy(), ref, atol=1e-12)
    assert not torch.allclose(plans[0], plans[1])


def test_vmapped_loss_is_each_runs_own_loss():
    # kills: the label-range check run on batched labels under vmap (it cannot read them), and
    # the vmapped loss mixing runs
    runs = [_batch(seed=s) for s in (3, 4)]
    f_s, f_t, y_s, l_t = (torch.stack([r[i].detach() for r in runs]) for i in range(4))
    loss = DeepJDOT(4, 3, alpha=1.0, beta=1.0)
    got = torch.func.vmap(lambda a, b, y, z: loss(a, b, logits_t=z, y_s=y))(f_s, f_t, y_s, l_t)
    want = [loss(*r[:2], logits_t=r[3], y_s=r[2]) for r in runs]
    torch.testing.assert_close(got, torch.stack(want).detach(), rtol=1e-12, atol=0)
