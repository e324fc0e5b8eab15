"""Distillation: the loss is T²·KL(teacher ‖ student) at temperature T, and a student learns the teacher."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dalib.compress.distill import distill, distillation_loss
from dalib.data.domain import tensor_domain
from dalib.errors import DalibError
from dalib.models import Classifier
from dalib.models.backbones import MLP


def hand_kd(student: np.ndarray, teacher: np.ndarray, t: float) -> float:
    total = 0.0
    for zs, zt in zip(student, teacher):
        ps = [math.exp(v / t) for v in zs]
        pt = [math.exp(v / t) for v in zt]
        ps = [p / sum(ps) for p in ps]
        pt = [p / sum(pt) for p in pt]
        total += sum(a * (math.log(a) - math.log(b)) for a, b in zip(pt, ps))
    return t * t * total / len(student)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0])
def test_loss_is_the_hand_computed_kl_at_temperature(temperature: float) -> None:
    # kills: a missing T², KL in the other direction (student ‖ teacher), logits not divided by T,
    # a sum instead of the batch mean
    g = torch.Generator().manual_seed(0)
    zs, zt = 3 * torch.randn(6, 4, generator=g, dtype=torch.float64), 3 * torch.randn(6, 4, generator=g, dtype=torch.float64)
    value = float(distillation_loss(zs, zt, temperature))
    assert value == pytest.approx(hand_kd(zs.numpy(), zt.numpy(), temperature), rel=1e-10)
    assert value != pytest.approx(hand_kd(zt.numpy(), zs.numpy(), temperature), rel=1e-3)
    assert float(distillation_loss(zt, zt, temperature)) == pytest.approx(0.0, abs=1e-12)


def test_bad_logits_and_temperature_are_named() -> None:
    with pytest.raises(DalibError, match="teacher's number of classes"):
        distillation_loss(torch.zeros(3, 4), torch.zeros(3, 5), 2.0)
    with pytest.raises(DalibError, match="temperature"):
        distillation_loss(torch.zeros(3, 4), torch.zeros(3, 4), 0.0)


def test_a_small_student_learns_the_teachers_target_predictions() -> None:
    torch.manual_seed(0)
    x = torch.randn(400, 20)
    y = (x[:, 0] > 0).long()
    source = tensor_domain("s", "S", ["a", "b"], x[:200].numpy(), y[:200].numpy())
    target = tensor_domain("t", "T", ["a", "b"], (x[200:] + 0.3).numpy(), y[200:].numpy())
    teacher = Classifier(MLP(20, (64,), dropout=0.0), 2, 32)
    teacher.head.weight.data.normal_()  # an arbitrary but fixed teacher
    student = distill(teacher, Classifier(MLP(20, (8,), dropout=0.0), 2, 4), source, target, steps=300, alpha=0.0)
    with torch.no_grad():
        agree = (student(x[200:] + 0.3)[1].argmax(1) == teacher.eval()(x[200:] + 0.3)[1].argmax(1)).float().mean()
    assert agree > 0.9
