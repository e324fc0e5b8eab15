"""The random-number state a checkpoint saves, so a resumed run draws what the uninterrupted one did."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def capture_rng(augment_rng: torch.Generator) -> dict[str, Any]:
    """The torch (CPU and CUDA), numpy and Python global RNG states and ``augment_rng``'s, as
    tensors and plain values (loadable with ``torch.load(weights_only=True)``)."""
    np_kind, np_keys, np_pos, np_has_gauss, np_cached = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": {"kind": np_kind, "keys": torch.from_numpy(np_keys.astype(np.int64)), "pos": int(np_pos),
                      "has_gauss": int(np_has_gauss), "cached": float(np_cached)},
            "python": {"version": py_version, "internal": list(py_internal), "gauss": py_gauss},
            "augment": augment_rng.get_state()}


def restore_rng(rng: dict[str, Any], augment_rng: torch.Generator) -> None:
    """Set every state `capture_rng` saved (CUDA only where available)."""
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    n = rng["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    py = rng["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
    augment_rng.set_state(rng["augment"])
