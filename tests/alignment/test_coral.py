"""Deep CORAL against a numpy formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dalib.alignment.coral import DeepCORAL
from dalib.errors import DalibError


def test_deep_coral_matches_numpy_cov():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 6)), rng.normal(size=(13, 6)) @ rng.normal(size=(6, 6))
    d = x.shape[1]
    ref = ((np.cov(x, rowvar=False) - np.cov(y, rowvar=False)) ** 2).sum() / (4 * d * d)
    got = DeepCORAL(6, 3)(torch.from_numpy(x), torch.from_numpy(y)).item()
    assert got == pytest.approx(ref, rel=1e-10)


def test_deep_coral_zero_for_same_batch_and_gradients_finite():
    f_s = torch.randn(16, 5, requires_grad=True)
    f_t = (2 * torch.randn(16, 5)).requires_grad_()
    loss_fn = DeepCORAL(5, 2)
    assert loss_fn(f_s, f_s).item() == 0.0
    loss_fn(f_s, f_t).backward()
    for p in (f_s, f_t):
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_deep_coral_bad_inputs():
    with pytest.raises(DalibError, match="dim"):
        DeepCORAL(4, 2)(torch.randn(5, 4), torch.randn(5, 3))
    with pytest.raises(DalibError, match="at least 2"):
        DeepCORAL(4, 2)(torch.randn(1, 4), torch.randn(5, 4))
