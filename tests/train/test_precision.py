"""bf16 training precision: bfloat16 operands in the linear layers' products, float32 elsewhere."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from dalib.alignment.mmd import make_kernel, mmd2_unbiased
from dalib.bench.fingerprint import run_setting
from dalib.bench.hp_check import check_profile
from dalib.bench.profiles import profile_for
from dalib.bench.spec import RunSpec
from dalib.errors import DalibError
from dalib.train import precision as precision_module
from dalib.train.precision import training_precision
from dalib.train.trainer import Trainer, TrainConfig
from dalib.train.vectorized import VectorizedTrainer
from tests.train.test_vectorized import TASKS, _prepared, _vector_run


def test_linear_layer_is_the_rounded_product_plus_a_float32_bias():
    """y = (x_bf16 · W_bf16ᵀ) in float32 + b. Kills: no rounding (plain float32), the bias added
    in bfloat16, a bfloat16 result handed on."""
    torch.manual_seed(0)
    layer, x = nn.Linear(64, 32), torch.randn(16, 64)
    with training_precision("bf16"):
        got = layer(x)
    want = (x.bfloat16() @ layer.weight.bfloat16().T).float() + layer.bias
    assert got.dtype == torch.float32
    assert torch.equal(got, want)
    assert not torch.allclose(got, F.linear(x, layer.weight, layer.bias), rtol=1e-4, atol=1e-5)
    with training_precision("fp32"):
        assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))


def test_statistics_are_not_rounded():
    """MMD of offset features (10 + 0.1·N(0, 1), where ‖a‖² + ‖b‖² − 2a·b rounded to bfloat16 is
    off by percent) is the same inside bf16 training as outside. Kills: every matrix product
    rounded (e.g. torch.autocast), not only the layers'."""
    g = torch.Generator().manual_seed(0)
    x, y = 10 + 0.1 * torch.randn(48, 32, generator=g), 10.05 + 0.1 * torch.randn(48, 32, generator=g)
    kernel = make_kernel("gaussian", "dan")
    with training_precision("bf16"):
        got = mmd2_unbiased(x, y, kernel)
    assert torch.equal(got, mmd2_unbiased(x, y, kernel))


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
@pytest.mark.parametrize("vectorised", [False, True])
def test_every_training_product_and_no_evaluation_product_is_rounded(precision, vectorised, monkeypatch):
    """DANN (backbone, head, discriminator) on rotated digits: in bf16 training every linear
    layer called in training mode goes through the bfloat16 product, none in evaluation; in fp32
    none. Kills: the precision ignored by the single or the vectorised trainer, evaluation in
    bfloat16."""
    rounded, training_calls = [], []
    original = precision_module.Bf16Products.__torch_function__

    def counting(self, func, types, args=(), kwargs=None):
        if func is F.linear:
            rounded.append(1)
        return original(self, func, types, args, kwargs)

    monkeypatch.setattr(precision_module.Bf16Products, "__torch_function__", counting)
    handle = nn.modules.module.register_module_forward_pre_hook(
        lambda m, args: training_calls.append(1) if isinstance(m, nn.Linear) and m.training else None)
    try:
        runs = [_prepared("dann", t, 0) for t in TASKS[:2]]
        for p in runs:
            p.config = dataclasses.replace(p.config, precision=precision)
        if vectorised:
            VectorizedTrainer([_vector_run(p) for p in runs]).fit()
        else:
            p = runs[0]
            Trainer(p.model, p.objective, p.config).fit(p.source_train, p.source_val, p.target)
    finally:
        handle.remove()
    assert len(training_calls) > 0
    assert len(rounded) == (len(training_calls) if precision == "bf16" else 0)


def test_bf16_run_stays_close_to_float32_and_vectorised_to_single():
    """Over 2 epochs × 8 steps of DANN on rotated digits the per-epoch losses of bf16 training
    differ from fp32 (measured ~2e-4 relative) but agree to 1e-2; the vectorised bf16 run agrees
    with its single bf16 run to 2e-3 (measured ≤ 6e-4: a float32 rounding difference can flip an
    operand's bfloat16 rounding, so the 1e-5 of fp32 batches does not hold)."""
    def alone(precision):
        p = _prepared("dann", TASKS[0], 0)
        p.config = dataclasses.replace(p.config, precision=precision)
        return Trainer(p.model, p.objective, p.config, augment=p.augment).fit(p.source_train, p.source_val,
                                                                              p.target).epochs
    fp32, bf16 = alone("fp32"), alone("bf16")
    runs = [_prepared("dann", t, 0) for t in TASKS]
    for p in runs:
        p.config = dataclasses.replace(p.config, precision="bf16")
    vec = VectorizedTrainer([_vector_run(p) for p in runs]).fit()[0].epochs
    for a, b, v in zip(fp32, bf16, vec):
        assert a.losses != b.losses
        assert b.losses == pytest.approx(a.losses, rel=1e-2)
        assert v.losses == pytest.approx(b.losses, rel=2e-3)


def test_precision_is_checked_and_fingerprinted():
    """A wrong value is refused in one line; bf16 changes a run's fingerprint while fp32 (the
    default) leaves the fingerprints of folders written before the field unchanged."""
    with pytest.raises(DalibError, match=r"--profile precision=fp16: expected fp32 or bf16"):
        check_profile(["precision=fp16"])
    with pytest.raises(DalibError, match="precision 'half': use 'fp32'"):
        TrainConfig(precision="half")
    profile = profile_for("rotated-digits")
    fp32 = run_setting(RunSpec("rotated-digits", "R02R30", "dann", 0, profile), {})
    bf16 = run_setting(RunSpec("rotated-digits", "R02R30", "dann", 0, profile.with_overrides(precision="bf16")), {})
    assert "precision" not in fp32["profile"]
    assert bf16["profile"] == {**fp32["profile"], "precision": "bf16"}
