"""Gradient reversal, the DANN warm start and the DANN loss."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from dalib.alignment.adversarial import DANN, GradientReversal, grad_reverse
from dalib.alignment.schedules import warm_start
from dalib.train.schedules import inverse_decay


@pytest.mark.parametrize("coeff", [0.0, 0.3, 1.0, 2.5])
def test_grl_is_identity_forward_and_flips_and_scales_gradient(coeff):
    x = torch.randn(4, 3, requires_grad=True)
    w = torch.randn(4, 3)
    y = GradientReversal(coeff)(x)
    assert torch.equal(y, x)
    (y * w).sum().backward()
    torch.testing.assert_close(x.grad, -coeff * w)


def test_grl_gradient_opposes_plain_gradient():
    x = torch.randn(5, requires_grad=True)
    (x ** 2).sum().backward()
    plain = x.grad.clone()
    x.grad = None
    (grad_reverse(x, 1.0) ** 2).sum().backward()
    torch.testing.assert_close(x.grad, -plain)


def test_warm_start_values():
    assert warm_start(0.0) == 0.0
    assert warm_start(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)  # 0.98661
    assert warm_start(0.5) == pytest.approx(0.986614, abs=1e-6)
    assert warm_start(1.0) == pytest.approx(0.999909, abs=1e-6)
    assert warm_start(1.0, lam_max=0.3) == pytest.approx(0.3 * 0.999909, abs=1e-6)


def test_inverse_lr_decay():
    assert inverse_decay(0.0) == 1.0
    assert inverse_decay(1.0) == pytest.approx(11 ** -0.75)


def test_dann_loss_equals_bce_of_its_discriminator_and_reverses_feature_gradient():
    torch.manual_seed(0)
    dann = DANN(feature_dim=6, num_classes=3).eval()
    f_s = torch.randn(8, 6, requires_grad=True)
    f_t = torch.randn(8, 6, requires_grad=True)
    loss = dann(f_s, f_t, progress=0.5)
    d = dann.discriminator(torch.cat([f_s, f_t])).squeeze(1)
    expected = 0.5 * (F.binary_cross_entropy_with_logits(d[:8], torch.ones(8))
                      + F.binary_cross_entropy_with_logits(d[8:], torch.zeros(8)))
    torch.testing.assert_close(loss, expected)
    (g_rev,) = torch.autograd.grad(loss, f_s)
    (g_plain,) = torch.autograd.grad(expected, f_s)
    torch.testing.assert_close(g_rev, -warm_start(0.5) * g_plain)
    assert dann.grl.coeff == pytest.approx(warm_start(0.5))
