"""Constructor defaults and the settings each loss passes on (sizes, schedules, temperatures)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dalib.alignment.adversarial import DANN, DomainDiscriminator, GradientReversal, grad_reverse
from dalib.alignment.cdan import CDAN, CDANE, MultilinearMap
from dalib.alignment.coral import DeepCORAL
from dalib.alignment.entropy import MCC, EntropyMinimization, mcc_loss
from dalib.alignment.mmd import DAN, JAN
from dalib.alignment.ot import DeepJDOT, deepjdot_coupling
from dalib.alignment.schedules import constant, lambda_schedule, warm_start
from dalib.errors import DalibError


# Kills: a BatchNorm, ReLU or Dropout layer dropped, hidden 256 → 257, dropout 0.5 changed.
def test_domain_discriminator_layers():
    disc = DomainDiscriminator(7)
    kinds = [type(m).__name__ for m in disc]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 2 + ["Linear"]
    assert (disc[0].in_features, disc[0].out_features, disc[4].in_features, disc[8].out_features) == (7, 256, 256, 1)
    assert disc[1].num_features == disc[5].num_features == 256 and disc[3].p == disc[7].p == 0.5
    assert DomainDiscriminator(7, hidden=12, dropout=0.1)[4].out_features == 12


# Kills: the default reversal coefficient 1 → 2.
def test_gradient_reversal_default_coefficient_is_one():
    x = torch.ones(3, requires_grad=True)
    grad_reverse(x).sum().backward()
    assert x.grad.tolist() == [-1.0, -1.0, -1.0]
    assert GradientReversal().coeff == 1.0


# Kills: DANN/CDAN ignoring ``hidden``, ``gamma`` or ``lam_max``, the default progress 0 → 1
# (λ(0) = 0: no reversed gradient at the start), feature_dim / num_classes not stored.
@pytest.mark.parametrize("cls", [DANN, CDAN, CDANE])
def test_adversarial_settings_are_used(cls):
    assert cls(6, 3).discriminator[0].out_features == 256
    loss_fn = cls(6, 3, lam_max=0.5, gamma=3.0, hidden=16)
    assert loss_fn.discriminator[0].out_features == 16
    assert (loss_fn.feature_dim, loss_fn.num_classes) == (6, 3)
    f = torch.randn(4, 6)
    logits = {} if cls is DANN else {"logits_s": torch.randn(4, 3), "logits_t": torch.randn(4, 3)}
    loss_fn(f, f, progress=0.2, **logits)
    assert loss_fn.grl.coeff == pytest.approx(warm_start(0.2, 0.5, 3.0))
    loss_fn(f, f, **logits)
    assert loss_fn.grl.coeff == 0.0


# Kills: the full/randomized switch at d·C = 4096 moved (> → ≥, 4096 → 4097), ``max_full_dim``
# or ``random_dim`` not passed on, the random map's buffers not cast to the input dtype.
def test_multilinear_map_switch_and_sizes():
    assert not CDAN(1024, 4).map.randomized and CDAN(1024, 4).map.out_dim == 4096
    assert CDAN(1025, 4).map.randomized and CDAN(1025, 4).map.out_dim == 1024
    small = CDAN(8, 3, max_full_dim=23, random_dim=16, hidden=4)
    assert small.map.randomized and small.map.out_dim == 16 and small.discriminator[0].in_features == 16
    assert not CDAN(8, 3, max_full_dim=24).map.randomized
    assert MultilinearMap(4097, 1).randomized and MultilinearMap(4096, 1).out_dim == 4096
    assert CDAN(4097, 1, hidden=4).map.randomized
    m = MultilinearMap(8, 3, max_full_dim=10, random_dim=5)
    f, g = torch.randn(2, 8, dtype=torch.float64), torch.rand(2, 3, dtype=torch.float64)
    out = m(f, g)
    assert out.dtype == torch.float64
    ref = (f @ m.r_f.double()) * (g @ m.r_g.double()) / math.sqrt(5)
    torch.testing.assert_close(out, ref)


# Kills: MCC's default temperature 2.5 → 3.5, the temperature not passed to mcc_loss, the
# temperature check weakened (≤ 0 → < 0) or tightened (≤ 1).
def test_mcc_temperature():
    logits = torch.randn(7, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    f = torch.zeros(7, 2)
    assert MCC(2, 4)(f, f, logits_t=logits).item() == pytest.approx(mcc_loss(logits, 2.5).item(), rel=1e-12)
    assert mcc_loss(logits).item() == pytest.approx(mcc_loss(logits, 2.5).item(), rel=1e-12)
    assert MCC(2, 4, temperature=0.5)(f, f, logits_t=logits).item() == pytest.approx(
        mcc_loss(logits, 0.5).item(), rel=1e-12)
    assert mcc_loss(logits, 0.5).item() != pytest.approx(mcc_loss(logits, 2.5).item(), rel=1e-3)
    with pytest.raises(DalibError, match=r"^mcc: temperature must be positive, got 0$"):
        MCC(2, 4, temperature=0)


# Kills: the empty-batch check (len == 0 → len == 1) of entropy / MCC.
@pytest.mark.parametrize("cls", [EntropyMinimization, MCC])
def test_one_target_row_is_enough_and_none_is_refused(cls):
    f = torch.zeros(1, 2)
    assert torch.isfinite(cls(2, 3)(f, f, logits_t=torch.randn(1, 3)))
    with pytest.raises(DalibError):
        cls(2, 3)(f, f, logits_t=torch.zeros(0, 3))


# Kills: feature_dim / num_classes not handed to the base class.
@pytest.mark.parametrize("cls", [DAN, JAN, MCC, DeepJDOT, DeepCORAL, EntropyMinimization])
def test_sizes_are_stored(cls):
    loss_fn = cls(5, 3)
    assert isinstance(loss_fn, nn.Module) and (loss_fn.feature_dim, loss_fn.num_classes) == (5, 3)


# Kills: JAN's default softmax bandwidth 0.845 changed, or its single kernel replaced.
def test_jan_default_softmax_kernel():
    jan = JAN(4, 3)
    assert jan.softmax_kernel.sigma2 == 0.845 and jan.softmax_kernel.multipliers == (1.0,)
    assert JAN(4, 3, softmax_sigma2=None).softmax_kernel.sigma2 is None
    assert JAN(4, 3, softmax_sigma2=None).softmax_kernel.multipliers == (0.25, 0.5, 1.0, 2.0, 4.0)


# Kills: the label-range check off by one (≥ C → > C).
def test_deepjdot_label_equal_to_class_count_is_refused():
    f = torch.randn(3, 2)
    with pytest.raises(DalibError, match=r"^deepjdot: source labels must lie in \[0, 4\); check the label encoding$"):
        DeepJDOT(2, 4)(f, f, y_s=torch.tensor([0, 1, 4]), logits_t=torch.randn(3, 4))


# Kills: a single-row or single-column cost refused (== 0 → == 1, shape[1] tested twice), the
# plan returned in float64 for a float32 cost.
@pytest.mark.parametrize("shape", [(1, 3), (3, 1), (2, 2)])
def test_coupling_of_thin_costs_and_its_dtype(shape):
    cost = torch.rand(*shape)
    plan = deepjdot_coupling(cost)
    assert plan.dtype == torch.float32 and plan.shape == shape
    torch.testing.assert_close(plan.sum(1), torch.full((shape[0],), 1.0 / shape[0]))
    torch.testing.assert_close(plan.sum(0), torch.full((shape[1],), 1.0 / shape[1]))


# Kills: the constant schedule's default λ_max 1 → 2, lookups returning the wrong schedule.
def test_schedules_by_name():
    assert constant(0.3) == 1.0 and constant(0.7, 2.5) == 2.5
    assert lambda_schedule("constant") is constant and lambda_schedule("warm_start") is warm_start
