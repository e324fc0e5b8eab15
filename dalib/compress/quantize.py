"""int8 quantisation with PyTorch's own tools (`torch.ao.quantization`), on a copy of the model.

* `quantize_dynamic_int8`: every ``nn.Linear`` becomes a dynamically quantised linear layer —
  weights stored as int8 with one scale per tensor, w ≈ s·(q − z); activations quantised per
  batch at run time. Everything else (BatchNorm, attention arithmetic) stays float.
* `quantize_static_int8`: post-training static quantisation of convolutional backbones (FX graph
  mode on the largest traceable parts, the ``x86`` backend's default qconfig): observers record
  activation ranges while calibration batches of *unlabelled target* inputs run through the
  model, then those parts run in int8 (the other Linear layers dynamically). A model without a
  traceable convolution gets a one-line error naming dynamic int8 as the alternative.

Both return a CPU model in eval mode; the float model is left as it was.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from dalib.errors import DalibError


def _float_copy(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).cpu().eval()


def quantize_dynamic_int8(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with int8 dynamically quantised ``nn.Linear`` layers."""
    from torch.ao.quantization import quantize_dynamic

    float_model = _float_copy(model)
    if not any(isinstance(m, nn.Linear) for m in float_model.modules()):
        raise DalibError(f"{type(model).__name__} has no Linear layer for dynamic int8 quantisation")
    with warnings.catch_warnings():  # torch.ao's own deprecation notices, one per layer
        warnings.simplefilter("ignore")
        return quantize_dynamic(float_model, {nn.Linear}, dtype=torch.qint8)


def _first_inputs(model: nn.Module, x: Tensor) -> dict[str, Tensor]:
    """Each submodule's input on its first call in ``model(x)``, where that input is one tensor."""
    seen: dict[str, Tensor] = {}
    handles = []
    for name, module in model.named_modules():
        def hook(_: nn.Module, args: tuple, name: str = name) -> None:
            if name not in seen and len(args) == 1 and isinstance(args[0], Tensor):
                seen[name] = args[0].detach()
        handles.append(module.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return seen


def _prepare_traceable(module: nn.Module, name: str, inputs: dict[str, Tensor], qconfig: Any,
                       prepared: list[str]) -> nn.Module:
    """``module`` prepared by FX graph mode when it traces, else its children, recursively;
    ``prepared`` collects the names of the prepared parts."""
    from torch.ao.quantization.quantize_fx import prepare_fx

    if name in inputs and any(isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)) for m in module.modules()):
        try:
            out = prepare_fx(module, qconfig, example_inputs=(inputs[name],))
            prepared.append(name)
            return out
        except Exception:  # control flow or an untraceable op: quantise its children instead
            pass
    for child_name, child in list(module.named_children()):
        full = f"{name}.{child_name}" if name else child_name
        setattr(module, child_name, _prepare_traceable(child, full, inputs, qconfig, prepared))
    return module


def _convert(module: nn.Module, name: str, prepared: set[str]) -> nn.Module:
    from torch.ao.quantization.quantize_fx import convert_fx

    if name in prepared:
        return convert_fx(module)
    for child_name, child in list(module.named_children()):
        setattr(module, child_name, _convert(child, f"{name}.{child_name}" if name else child_name, prepared))
    return module


def quantize_static_int8(model: nn.Module, calibration: Iterable[Tensor], backend: str = "x86") -> nn.Module:
    """A copy of ``model`` whose largest FX-traceable parts holding a conv or linear layer run in
    int8 (activation ranges calibrated on ``calibration``: input batches, e.g. unlabelled target
    samples; no labels), the ``nn.Linear`` layers left outside them dynamically quantised
    (`quantize_dynamic_int8`). The model needs at least one convolution.

    The whole model is tried first; a module whose forward the FX tracer cannot follow (shape
    checks, data-dependent branches) is replaced by its quantised children, so a ResNet's body or
    an EfficientNet's conv-BN blocks quantise while the Python around them stays float. Default
    static qconfig of ``backend`` (per-channel int8 weights, histogram observers)."""
    from torch.ao.quantization import get_default_qconfig_mapping

    if backend not in torch.backends.quantized.supported_engines:
        raise DalibError(f"quantisation backend {backend!r} is not in this torch build "
                         f"({', '.join(torch.backends.quantized.supported_engines)})")
    batches = [x.float() for x in calibration]
    if not batches:
        raise DalibError("static int8 quantisation needs calibration batches of target inputs; pass at least one")
    float_model = _float_copy(model)
    if not any(isinstance(m, (nn.Conv1d, nn.Conv2d)) for m in float_model.modules()):
        raise DalibError(f"{type(model).__name__} has no convolution to quantise statically; use int8 (dynamic, "
                         "Linear layers)")
    torch.backends.quantized.engine = backend
    with warnings.catch_warnings():  # torch.ao's deprecation notices
        warnings.simplefilter("ignore")
        inputs = _first_inputs(float_model, batches[0])
        prepared: list[str] = []
        float_model = _prepare_traceable(float_model, "", inputs, get_default_qconfig_mapping(backend), prepared)
        if not prepared:
            raise DalibError(f"no part of {type(model).__name__} holding a convolution traces with torch.fx; use int8 "
                             "(dynamic, Linear layers)")
        with torch.no_grad():
            for x in batches:
                float_model(x)
        float_model = _convert(float_model, "", set(prepared))
    if any(type(m) is nn.Linear for m in float_model.modules()):
        return quantize_dynamic_int8(float_model)
    return float_model
