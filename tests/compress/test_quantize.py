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
from dalib.models.efficientnet import EfficientNetLite


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


@pytest.mark.parametrize("backbone", ["lenet", "efficientnet_lite0"])
def test_static_int8_of_conv_backbones_calibrated_on_target_batches(backbone: str) -> None:
    # LeNet's and EfficientNet-Lite's forwards hold shape checks and branches FX cannot trace: their
    # traceable parts (conv stacks, conv-BN blocks, heads) are quantised instead
    torch.manual_seed(0)
    net, shape = (LeNet(64), (1, 8, 8)) if backbone == "lenet" else (EfficientNetLite(backbone), (3, 32, 32))
    model = Classifier(net, 10, 32).eval()
    calibration = [torch.rand(16, *shape) for _ in range(3)]  # unlabelled inputs only
    q = quantize_static_int8(model, calibration)
    x = torch.rand(8, *shape)
    with torch.no_grad():
        z, zq = model(x)[1], q(x)[1]
    # measured: max |Δlogit| / max |logit| 0.025 (LeNet), 0.007 (Lite0) on random weights
    assert (zq - z).abs().max() < 0.1 * z.abs().max()
    assert model_bytes(q) < 0.35 * model_bytes(model)
    convs = [m for m in q.modules() if "quantized" in type(m).__module__ and "Conv" in type(m).__name__]
    assert len(convs) >= 2 and not any(type(m) is nn.Conv2d for m in q.modules())  # every conv runs in int8


def test_quantisation_inputs_are_checked() -> None:
    with pytest.raises(DalibError, match="no Linear layer"):
        quantize_dynamic_int8(nn.Sequential(nn.ReLU()))
    with pytest.raises(DalibError, match="calibration batches"):
        quantize_static_int8(Classifier(LeNet(64), 10, 32), [])
    with pytest.raises(DalibError, match="no convolution"):
        quantize_static_int8(Classifier(MLP(8, (4,)), 2, 3), [torch.zeros(2, 8)])
