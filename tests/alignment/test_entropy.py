"""Entropy minimisation and MCC."""

from __future__ import annotations

import math

import pytest
import torch

from dalib.alignment.entropy import MCC, EntropyMinimization, mcc_loss
from dalib.errors import DalibError

F_S, F_T = torch.randn(4, 3), torch.randn(6, 3)


def test_entropy_of_uniform_is_log_c_and_of_one_hot_is_zero():
    ent = EntropyMinimization(3, 5)
    assert ent(F_S, F_T, logits_t=torch.zeros(6, 5)).item() == pytest.approx(math.log(5), rel=1e-6)
    one_hot = 50.0 * torch.eye(5)[torch.tensor([0, 1, 2, 3, 4, 0])]
    assert ent(F_S, F_T, logits_t=one_hot).item() < 1e-6


def test_mcc_zero_for_confident_distinct_classes_and_larger_when_confused():
    mcc = MCC(3, 4)
    confident = 100.0 * torch.eye(4)[torch.tensor([0, 1, 2, 3, 0, 1])]
    assert mcc(F_S, F_T, logits_t=confident).item() < 1e-6
    uniform = mcc(F_S, F_T, logits_t=torch.zeros(6, 4)).item()
    assert uniform == pytest.approx(3 / 4, rel=1e-6)  # every normalised column is 1/C
    mixed = mcc(F_S, F_T, logits_t=torch.randn(6, 4, generator=torch.Generator().manual_seed(0)))
    assert 1e-3 < mixed.item() < uniform


def test_mcc_matches_explicit_formula():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(9, 3, dtype=torch.float64, generator=g)
    t = 2.5
    y = torch.softmax(logits / t, 1)
    h = -(y * y.log()).sum(1)
    w = 1 + torch.exp(-h)
    w = 9 * w / w.sum()
    c = sum(w[i] * torch.outer(y[i], y[i]) for i in range(9))
    c = torch.stack([c[:, j] / c[:, j].sum() for j in range(3)], 1)
    ref = (c.sum() - c.trace()) / 3
    assert mcc_loss(logits, t).item() == pytest.approx(ref.item(), rel=1e-10)


def test_gradients_finite_and_bad_inputs():
    logits = torch.randn(6, 4, requires_grad=True)
    ent = EntropyMinimization(3, 4)(F_S, F_T, logits_t=logits)
    (ent + MCC(3, 4)(F_S, F_T, logits_t=logits)).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    with pytest.raises(DalibError, match="logits_t"):
        MCC(3, 4)(F_S, F_T)
    with pytest.raises(DalibError, match="logits_t"):
        EntropyMinimization(3, 4)(F_S, F_T, logits_t=torch.randn(6, 3))
