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
FIELDS = ("cpu", "cpu_capability", "device", "torch", "numpy")


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; elsewhere `platform.processor`, else the machine type)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def run_environment(device: str) -> dict[str, str]:
    """``{"cpu", "cpu_capability", "device", "torch", "numpy"}`` of a run trained on ``device``:
    the CPU model, the vector instructions torch's kernels use (``AVX512``, ``AVX2``, …), the
    device (``cpu``, or the GPU's name for ``cuda…``) and the library versions."""
    gpu = device.startswith("cuda") and torch.cuda.is_available()
    return {"cpu": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "device": torch.cuda.get_device_name(torch.device(device)) if gpu else device,
            "torch": torch.__version__, "numpy": np.__version__}


def describe_environment(env: dict[str, Any]) -> str:
    """One line: ``Intel(R) Xeon(R) Processor (AVX512), cpu, torch 2.14.1, numpy 2.3.1``."""
    return (f"{env.get('cpu', '?')} ({env.get('cpu_capability', '?')}), {env.get('device', '?')}, "
            f"torch {env.get('torch', '?')}, numpy {env.get('numpy', '?')}")


def environments(records: list[dict[str, Any]]) -> list[str]:
    """The distinct environments (`describe_environment`) of the records that store one, sorted."""
    return sorted({describe_environment(r["environment"]) for r in records if r.get("environment")})


def same_environment(stored: dict[str, Any] | None, here: dict[str, Any]) -> bool:
    """Whether a record's environment equals ``here`` (True when the record stores none: older dalib)."""
    return not stored or all(stored.get(k) == here.get(k) for k in FIELDS)
