"""int8 quantisation: outputs stay close to the float model on fixed inputs and the saved model shrinks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dalib.compress.measure import latency_ms, model_bytes
from dalib.compress.quantize import quantize_dynamic_int8, quantize_static_int8
from dalib.errors import DalibError
from dalib.models import Classifier
from dalib.models.backbones import MLP, LeNet


def test_dynamic_int8_of_an_mlp_classifier() -> None:
    torch.manual_seed(0)
    model = Classifier(MLP(800, (256,), dropout=0.0), 10, 128).eval()
    x = torch.randn(64, 800)
    q = quantize_dynamic_int8(model)
    with torch.no_grad():
        (f, z), (fq, zq) = model(x), q(x)
    # measured here: max |Δlogit| ≈ 0.01 for logits of spread ≈ 1; 8-bit weights give ~1% relative error
    assert (zq - z).abs().max() < 0.05 * z.abs().max()
    assert (zq.argmax(1) == z.argmax(1)).float().mean() >= 0.95
    assert model_bytes(q) < 0.35 * model_bytes(model)  # ~4× smaller weights, float BN and biases
    assert sum(type(m).__module__.startswith("torch.ao.nn.quantized.dynamic") for m in q.modules()) == 3
    assert isinstance(model.head, nn.Linear)  # the float model is untouched
    assert latency_ms(q, x, repeats=3, warmup=1) > 0


def test_static_int8_of_a_conv_model_calibrated_on_target_batches() -> None:
    torch.manual_seed(0)
    model = Classifier(LeNet(64), 10, 32).eval()
    calibration = [torch.rand(32, 1, 8, 8) for _ in range(4)]  # unlabelled inputs only
    q = quantize_static_int8(model, calibration)
    x = torch.rand(16, 1, 8, 8)
    with torch.no_grad():
        z, zq = model(x)[1], q(x)[1]
    assert (zq - z).abs().max() < 0.1 * z.abs().max() + 1e-3
    assert model_bytes(q) < 0.5 * model_bytes(model)
    kinds = {type(m).__module__.rsplit(".", 1)[0] for m in q.modules()}
    assert "torch.ao.nn.quantized.modules" in kinds and "torch.ao.nn.quantized.dynamic.modules" in kinds


def test_quantisation_inputs_are_checked() -> None:
    with pytest.raises(DalibError, match="no Linear layer"):
        quantize_dynamic_int8(nn.Sequential(nn.ReLU()))
    with pytest.raises(DalibError, match="calibration batches"):
        quantize_static_int8(Classifier(LeNet(64), 10, 32), [])
