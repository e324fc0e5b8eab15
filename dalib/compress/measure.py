"""What a compressed model costs: bytes on disk and CPU latency per batch.

Size: ``torch.save`` of the state dict into memory, with every float tensor of ≥ 2 dimensions that
is mostly zeros (a pruned weight) stored as CSR — values in its dtype, int32 column indices and
row pointers, rows = the first dimension — when that is smaller than the dense tensor. Quantised
models save their packed int8 weights as `torch.ao` stores them.

Latency: the median over ``repeats`` timed calls of ``model(x)`` on one fixed batch, in eval
mode without gradients, after ``warmup`` untimed calls, in this process and thread setting.
"""

from __future__ import annotations

import io
import statistics
import time
import warnings

import torch
from torch import Tensor, nn


def _csr(t: Tensor) -> dict[str, Tensor]:
    rows = t.detach().reshape(t.shape[0], -1)
    with warnings.catch_warnings():  # "sparse CSR support is in beta": only its storage is used here
        warnings.simplefilter("ignore")
        sparse = rows.to_sparse_csr()
    return {"shape": torch.tensor(t.shape), "values": sparse.values(),
            "col": sparse.col_indices().to(torch.int32), "crow": sparse.crow_indices().to(torch.int32)}


def _csr_bytes(t: Tensor) -> int:
    nnz = int((t != 0).sum())
    return nnz * (t.element_size() + 4) + (t.shape[0] + 1) * 4


def compact_state(model: nn.Module) -> dict[str, object]:
    """The state dict with mostly-zero float matrices replaced by their CSR parts (module docstring)."""
    out: dict[str, object] = {}
    for name, value in model.state_dict().items():
        if (isinstance(value, Tensor) and value.is_floating_point() and value.dim() >= 2
                and _csr_bytes(value) < value.numel() * value.element_size()):
            out[name] = _csr(value)
        else:
            out[name] = value
    return out


def model_bytes(model: nn.Module) -> int:
    """Bytes of ``torch.save(compact_state(model))``: the model's size on disk."""
    buffer = io.BytesIO()
    torch.save(compact_state(model), buffer)
    return buffer.getbuffer().nbytes


@torch.no_grad()
def latency_ms(model: nn.Module, x: Tensor, repeats: int = 20, warmup: int = 3) -> float:
    """Median milliseconds of one ``model(x)`` call (module docstring)."""
    was_training = model.training
    model.eval()
    try:
        for _ in range(warmup):
            model(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
    return 1e3 * statistics.median(times)
