"""CDAN / CDAN+E: multilinear maps, gradient reversal, entropy weights, input checks."""

from __future__ import annotations

import math

import pytest
import torch

from dalib.alignment.adversarial import domain_adversarial_loss
from dalib.alignment.cdan import CDAN, CDANE, MultilinearMap, entropy_weights
from dalib.errors import DalibError
from dalib.alignment.schedules import warm_start


def test_full_map_is_flattened_outer_product():
    m = MultilinearMap(3, 2)
    assert not m.randomized and m.out_dim == 6
    f, g = torch.randn(5, 3), torch.softmax(torch.randn(5, 2), 1)
    out = m(f, g)
    assert out.shape == (5, 6)
    assert torch.allclose(out[4].reshape(3, 2), torch.outer(f[4], g[4]))


def test_randomized_map_shape_formula_and_buffers_seeded():
    torch.manual_seed(0)
    m = MultilinearMap(1025, 4)  # 4100 > 4096
    assert m.randomized and m.out_dim == 1024
    assert {"r_f", "r_g"} <= set(m.state_dict()) and m.r_f.shape == (1025, 1024)
    assert m.r_g.shape == (4, 1024) and not any(True for _ in m.parameters())
    f, g = torch.randn(3, 1025), torch.softmax(torch.randn(3, 4), 1)
    out = m(f, g)
    assert out.shape == (3, 1024)
    assert torch.allclose(out, (f @ m.r_f) * (g @ m.r_g) / math.sqrt(1024), atol=1e-5)
    torch.manual_seed(0)
    assert torch.equal(MultilinearMap(1025, 4).r_f, m.r_f)


@pytest.mark.parametrize("cls", [CDAN, CDANE])
def test_gradient_into_features_is_reversed(cls):
    torch.manual_seed(1)
    d, c, n = 8, 3, 10
    loss_fn = cls(d, c, hidden=32).eval()  # eval: dropout off, so both passes agree exactly
    f_s, f_t = torch.randn(n, d, requires_grad=True), torch.randn(n, d, requires_grad=True)
    l_s, l_t = torch.randn(n, c, requires_grad=True), torch.randn(n, c, requires_grad=True)
    p = 0.3
    loss = loss_fn(f_s, f_t, logits_s=l_s, logits_t=l_t, progress=p)
    g_fs, g_ft, g_ls = torch.autograd.grad(loss, (f_s, f_t, l_s), allow_unused=True)
    assert g_ls is None  # softmax(logits) is detached
    # The same loss without reversal: gradient must be −λ(p) times it.
    g_s, g_t = l_s.detach().softmax(1), l_t.detach().softmax(1)
    w = (entropy_weights(g_s), entropy_weights(g_t)) if cls is CDANE else (None, None)
    disc, tmap = loss_fn.discriminator, loss_fn.map
    plain = domain_adversarial_loss(disc, tmap(f_s, g_s), tmap(f_t, g_t), *w)
    assert plain.item() == pytest.approx(loss.item(), rel=1e-6)
    p_fs, p_ft = torch.autograd.grad(plain, (f_s, f_t))
    lam = warm_start(p, 1.0, 10.0)
    assert torch.allclose(g_fs, -lam * p_fs, atol=1e-6) and torch.allclose(g_ft, -lam * p_ft, atol=1e-6)
    assert torch.isfinite(g_fs).all() and g_fs.abs().sum() > 0
    # The discriminator itself descends the loss (its gradient is not reversed).
    loss_fn.zero_grad()
    loss_fn(f_s, f_t, logits_s=l_s, logits_t=l_t, progress=p).backward()
    w0 = loss_fn.discriminator[0].weight.grad.clone()
    loss_fn.zero_grad()
    domain_adversarial_loss(disc, tmap(f_s, g_s), tmap(f_t, g_t), *w).backward()
    assert torch.allclose(w0, loss_fn.discriminator[0].weight.grad, atol=1e-6)


def test_entropy_weights_sum_to_batch_size_and_favour_confident_samples():
    probs = torch.tensor([[0.98, 0.01, 0.01], [1 / 3, 1 / 3, 1 / 3], [0.6, 0.3, 0.1]])
    w = entropy_weights(probs)
    assert w.sum().item() == pytest.approx(3.0) and w[0] > w[2] > w[1]


def test_randomized_cdan_trains_one_step_with_finite_gradients():
    torch.manual_seed(2)
    loss_fn = CDANE(2048, 4, hidden=16)
    assert loss_fn.map.randomized
    f_s, f_t = torch.randn(6, 2048, requires_grad=True), torch.randn(5, 2048, requires_grad=True)
    loss = loss_fn(f_s, f_t, logits_s=torch.randn(6, 4), logits_t=torch.randn(5, 4), progress=1.0)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(f_s.grad).all() and f_s.grad.abs().sum() > 0


def test_bad_inputs():
    loss_fn = CDAN(4, 3, hidden=8)
    f = torch.randn(5, 4)
    with pytest.raises(DalibError, match="logits_s"):
        loss_fn(f, f, logits_t=torch.randn(5, 3))
    with pytest.raises(DalibError, match="logits_t"):
        CDANE(4, 3, hidden=8)(f, f, logits_s=torch.randn(5, 3))
    with pytest.raises(DalibError, match="shape"):
        loss_fn(f, f, logits_s=torch.randn(5, 2), logits_t=torch.randn(5, 3))
    with pytest.raises(DalibError, match="dim"):
        loss_fn(f, torch.randn(5, 3), logits_s=torch.randn(5, 3), logits_t=torch.randn(5, 3))
