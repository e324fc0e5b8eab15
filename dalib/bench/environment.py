"""The machine and libraries a run was trained with, stored in its record as ``environment``.

A seeded run reproduces its numbers bit for bit in the same environment (re-running the SURF
table's source-only and target-only rows on one machine gave all 720 stored epochs identical).
On another CPU type the BLAS kernels sum products in another order, so numbers differ at float
rounding and the differences grow over training: the 396-run SURF table of the README, trained
on another machine, and its re-run on an Intel Xeon (AVX512) had 80 of 120 cell means equal at
one decimal, none apart by more than 0.7 points or by more than its seeds' std. The environment
is therefore recorded, not fingerprinted: a folder may hold runs of several machines (a resumed
bench), and its tables say so.
"""

from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: Record fields that make up an environment, in the order they are described.
FIELDS = ("cpu", "cpu_capability", "cpu_flags", "device", "torch", "numpy")
#: CPU flags that choose float kernels: fused multiply-add widths and the bfloat16 instructions
#: (``--profile precision=bf16`` runs natively with ``avx512_bf16`` or ``amx_bf16``, emulated without).
KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16")


@lru_cache(maxsize=1)
def _cpuinfo() -> dict[str, str]:
    """The fields of the first processor in ``/proc/cpuinfo`` (empty where it is missing), read once."""
    fields: dict[str, str] = {}
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if ":" in line:
                name, value = line.split(":", 1)
                fields.setdefault(name.strip(), value.strip())
    return fields


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; elsewhere `platform.processor`, else the machine type)."""
    return _cpuinfo().get("model name") or platform.processor() or platform.machine() or "unknown"


def cpu_flags() -> str:
    """The `KERNEL_FLAGS` the CPU has, space-separated in that order ("" where ``/proc/cpuinfo``
    is missing)."""
    have = set(_cpuinfo().get("flags", "").split())
    return " ".join(f for f in KERNEL_FLAGS if f in have)


def run_environment(device: str) -> dict[str, str]:
    """`FIELDS` of a run trained on ``device``: the CPU model, the vector instructions torch's
    kernels use (``AVX512``, ``AVX2``, …), the CPU's `KERNEL_FLAGS`, the device (``cpu``, or the
    GPU's name for ``cuda…``) and the library versions."""
    gpu = device.startswith("cuda") and torch.cuda.is_available()
    return {"cpu": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu_flags": cpu_flags(),
            "device": torch.cuda.get_device_name(torch.device(device)) if gpu else device,
            "torch": torch.__version__, "numpy": np.__version__}


def describe_environment(env: dict[str, Any]) -> str:
    """One line: ``Intel(R) Xeon(R) Processor (AVX512; avx2 fma avx512f avx512_bf16 amx_bf16), cpu,
    torch 2.14.1, numpy 2.4.6``."""
    return (f"{env.get('cpu', '?')} ({env.get('cpu_capability', '?')}; {env.get('cpu_flags', '?')}), "
            f"{env.get('device', '?')}, "
            f"torch {env.get('torch', '?')}, numpy {env.get('numpy', '?')}")


def environments(records: list[dict[str, Any]]) -> list[str]:
    """The distinct environments (`describe_environment`) of the records that store one, sorted."""
    return sorted({describe_environment(r["environment"]) for r in records if r.get("environment")})


def same_environment(stored: dict[str, Any] | None, here: dict[str, Any]) -> bool:
    """Whether a record's environment equals ``here`` (True when the record stores none: older dalib)."""
    return not stored or all(stored.get(k) == here.get(k) for k in FIELDS)
