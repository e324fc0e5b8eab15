"""Multi-task heads: named outputs, weighted loss equal to the hand-computed sum, learning."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dalib.data.domain import tensor_domain
from dalib.errors import DalibError
from dalib.models.backbones import MLP
from dalib.models.multitask import MultiTaskNet
from dalib.train.multitask import MultiTaskLoss, fit_multitask
from dalib.train.trainer import TrainConfig, Trainer


def _net(seed: int = 0) -> MultiTaskNet:
    torch.manual_seed(seed)
    return MultiTaskNet(MLP(6, (16,), dropout=0.0), {"cls": 3, "parity": 2}, bottleneck_dim=8)


def test_outputs_are_named_with_the_right_shapes():
    f, logits = _net()(torch.randn(5, 6))
    assert f.shape == (5, 8)
    assert {k: tuple(v.shape) for k, v in logits.items()} == {"cls": (5, 3), "parity": (5, 2)}


def test_fixed_weighting_equals_the_hand_computed_sum():
    loss = MultiTaskLoss(["cls", "parity"], "fixed", {"cls": 0.3, "parity": 2.0})
    total, parts = loss({"cls": torch.tensor(1.5), "parity": torch.tensor(0.25)})
    assert float(total) == pytest.approx(0.3 * 1.5 + 2.0 * 0.25)
    assert parts["weight/cls"] == 0.3 and float(parts["parity"]) == 0.25


def test_uncertainty_weighting_equals_the_kendall_formula():
    loss = MultiTaskLoss(["cls", "parity"], "uncertainty")
    with torch.no_grad():
        loss.log_var.copy_(torch.tensor([0.5, -1.0]))
    total, parts = loss({"cls": torch.tensor(1.5), "parity": torch.tensor(0.25)})
    expected = math.exp(-0.5) * 1.5 + 0.25 + math.exp(1.0) * 0.25 - 0.5
    assert float(total.detach()) == pytest.approx(expected, rel=1e-6)
    assert parts["weight/parity"] == pytest.approx(math.e, rel=1e-6)
    total.backward()  # ∂L/∂s_k = −exp(−s_k)·ℓ_k + ½
    assert loss.log_var.grad.tolist() == pytest.approx([-math.exp(-0.5) * 1.5 + 0.5, -math.e * 0.25 + 0.5], rel=1e-5)


def test_bad_configurations_fail_with_one_line_errors():
    with pytest.raises(DalibError, match="unknown multi-task weighting"):
        MultiTaskLoss(["a"], "gradnorm")
    with pytest.raises(DalibError, match="unknown task"):
        MultiTaskLoss(["a"], "fixed", {"b": 1.0})
    with pytest.raises(DalibError, match="no task head"):
        _net().head("angle")


def _tasks(n: int = 240, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    parity = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 6)) * 0.5
    x[:, 0] += 3.0 * y
    x[:, 1] += 3.0 * parity
    cls = tensor_domain("cls", "C", ["a", "b", "c"], x, y)
    par = tensor_domain("par", "P", ["even", "odd"], x, parity)
    return {"cls": cls, "parity": par}


@pytest.mark.parametrize("weighting", ["fixed", "uncertainty"])
def test_trainer_learns_every_task_at_once(weighting):
    train, val = _tasks(seed=0), _tasks(seed=1)
    trainer = Trainer(_net(), MultiTaskLoss(["cls", "parity"], weighting), TrainConfig(epochs=6, batch_size=32, lr=0.1))
    hist = fit_multitask(trainer, train, val)
    last = hist.epochs[-1]
    assert last.val_acc["cls"] > 0.85 and last.val_acc["parity"] > 0.9
    if weighting == "uncertainty":  # the learned weights moved away from 1
        assert any(abs(w - 1.0) > 0.05 for w in last.weights.values())
    else:
        assert last.weights == {"cls": 1.0, "parity": 1.0}


def test_fit_multitask_rejects_mismatched_tasks():
    train = _tasks()
    trainer = Trainer(_net(), MultiTaskLoss(["cls", "parity"]), TrainConfig(epochs=1))
    with pytest.raises(DalibError, match="must match the heads"):
        fit_multitask(trainer, {"cls": train["cls"]}, train)
    swapped = {"cls": train["parity"], "parity": train["cls"]}
    with pytest.raises(DalibError, match="has 2 classes but its head has 3"):
        fit_multitask(trainer, swapped, swapped)
