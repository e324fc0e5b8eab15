"""Training precision: ``fp32``, or ``bf16`` operands in the products of the linear layers.

``bf16`` runs every training forward pass inside `Bf16Products`: each ``nn.Linear`` (every call
of ``torch.nn.functional.linear``: backbone MLP, bottleneck, head, the discriminators of
adversarial terms, a transformer's projections) computes ``y = (x_bf16 · W_bf16ᵀ)_fp32 + b``:
operands rounded to bfloat16 (8 mantissa bits), the product accumulated in float32 and rounded
once to bfloat16, the bias added in float32. Its gradients run through the same bfloat16
products. Everything else stays float32: parameters, optimizer state, activations, BatchNorm,
every loss and discrepancy statistic (MMD kernels, covariances, class confusion), and all of
evaluation (accuracies, selection scores, PAD).

Unlike ``torch.autocast`` this catches the linear layers of a vectorised batch too (under
``torch.func.vmap`` a linear layer with a per-run weight escapes autocast). A batched and a
single product of the same bfloat16 operands give the same result, but the float32 rounding
differences between a vectorised run and its single run can flip an operand's bfloat16
rounding, so the two agree to ~1e-3 relative rather than ~1e-5 (`tests/train/test_precision.py`).

Whether it pays depends on the CPU. A bfloat16 product of the SURF shapes runs about 4× faster
than a float32 one on CPUs with AVX-512 BF16 or AMX, but every step casts the weights and inputs
again, at about the cost of the float32 product when each run's batch is 64 rows: a vectorised
batch of 18 SURF runs trained 1.27–1.44× faster on an AMD CPU, and not faster on an Intel Xeon
(a DANN batch: 67.6 s against 65.7 s; the casts took 4.7 s). A CPU without BF16 instructions
emulates the products, slower. A run's numbers change at bfloat16 rounding, so the precision is
part of its fingerprint.
"""

from __future__ import annotations

import contextlib
from typing import Any, ContextManager

import torch
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

from dalib.errors import DalibError

PRECISIONS = ("fp32", "bf16")


def check_precision(precision: str) -> str:
    """``precision`` if it is one of `PRECISIONS`, else a one-line `DalibError`."""
    if precision not in PRECISIONS:
        raise DalibError(f"precision {precision!r}: use 'fp32' (float32 everywhere) or 'bf16' (bfloat16 operands "
                         "in the linear layers' products, float32 elsewhere)")
    return precision


class Bf16Products(TorchFunctionMode):
    """While active, ``F.linear(x, W, b)`` is ``(x_bf16 @ W_bf16ᵀ).float() + b`` (see the module
    docstring); every other torch call runs unchanged."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func is not F.linear:
            return func(*args, **kwargs)
        x, weight, *rest = args
        bias = rest[0] if rest else kwargs.get("bias")
        low = torch.bfloat16
        out = torch.matmul(x.to(low), weight.to(low).T).float()
        return out if bias is None else out + bias


def training_precision(precision: str) -> ContextManager[object]:
    """The context a training step's forward pass runs in: `Bf16Products` for ``bf16``,
    nothing for ``fp32``."""
    return Bf16Products() if check_precision(precision) == "bf16" else contextlib.nullcontext()
