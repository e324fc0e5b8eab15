"""int8 quantisation with PyTorch's own tools (`torch.ao.quantization`), on a copy of the model.

* `quantize_dynamic_int8`: every ``nn.Linear`` becomes a dynamically quantised linear layer —
  weights stored as int8 with one scale per tensor, w ≈ s·(q − z); activations quantised per
  batch at run time. Everything else (BatchNorm, attention arithmetic) stays float.
* `quantize_static_int8`: post-training static quantisation of convolutional backbones (eager
  mode, the ``x86`` backend's default qconfig): observers record activation ranges while
  calibration batches of *unlabelled target* inputs run through the model, then its conv stacks
  and their activations run in int8 (the Linear layers dynamically). A model without a plain
  conv stack gets a one-line error naming dynamic int8 as the alternative.

Both return a CPU model in eval mode; the float model is left as it was.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable

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


_STATIC_OK = (nn.Conv1d, nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.MaxPool2d, nn.AvgPool2d,
              nn.AdaptiveAvgPool2d, nn.Identity, nn.Dropout)


def conv_stacks(model: nn.Module) -> list[str]:
    """Names of the outermost ``nn.Sequential`` blocks made only of convs, BatchNorm2d, ReLU and pooling
    (with at least one conv): the parts `quantize_static_int8` runs in int8."""
    names: list[str] = []
    for name, m in model.named_modules():
        if (isinstance(m, nn.Sequential) and len(m) and all(isinstance(c, _STATIC_OK) for c in m)
                and any(isinstance(c, (nn.Conv1d, nn.Conv2d)) for c in m)
                and not any(name.startswith(f"{n}.") for n in names)):
            names.append(name)
    return names


def quantize_static_int8(model: nn.Module, calibration: Iterable[Tensor], backend: str = "x86") -> nn.Module:
    """A copy of ``model`` whose conv stacks (`conv_stacks`) run in int8 with activation ranges
    calibrated on ``calibration`` (input batches, e.g. unlabelled target samples; no labels), and
    whose ``nn.Linear`` layers are dynamically quantised (`quantize_dynamic_int8`).

    Each stack is wrapped in quantise → int8 ops → dequantise (`torch.ao.quantization.QuantWrapper`,
    the default static qconfig of ``backend``: per-channel int8 weights, histogram observers)."""
    from torch.ao.quantization import QuantWrapper, convert, get_default_qconfig, prepare

    if backend not in torch.backends.quantized.supported_engines:
        raise DalibError(f"quantisation backend {backend!r} is not in this torch build "
                         f"({', '.join(torch.backends.quantized.supported_engines)})")
    batches = list(calibration)
    if not batches:
        raise DalibError("static int8 quantisation needs calibration batches of target inputs; pass at least one")
    float_model = _float_copy(model)
    stacks = conv_stacks(float_model)
    if not stacks:
        raise DalibError(f"{type(model).__name__} has no conv stack (nn.Sequential of convs, BatchNorm2d, ReLU and "
                         "pooling) to quantise statically; use int8 (dynamic, Linear layers)")
    torch.backends.quantized.engine = backend
    with warnings.catch_warnings():  # torch.ao's deprecation notices
        warnings.simplefilter("ignore")
        for name in stacks:
            parent_name, _, child = name.rpartition(".")
            parent = float_model.get_submodule(parent_name) if parent_name else float_model
            wrapped = QuantWrapper(getattr(parent, child))
            wrapped.qconfig = get_default_qconfig(backend)
            setattr(parent, child, wrapped)
        prepare(float_model, inplace=True)
        with torch.no_grad():
            for x in batches:
                float_model(x.float())
        convert(float_model, inplace=True)
    return quantize_dynamic_int8(float_model)
