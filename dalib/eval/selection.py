"""Model selection from stored per-epoch records (see ../shared/PROTOCOLS.md).

Only ``oracle`` reads target labels; tables built with it say so.
"""

from __future__ import annotations

from typing import Any, Callable

from dalib.errors import DalibError

Epoch = dict[str, Any]

# protocol → (function choosing an epoch index, one-line description)
PROTOCOLS: dict[str, tuple[Callable[[list[Epoch]], int], str]] = {
    "last": (lambda eps: len(eps) - 1, "last epoch (no target labels)"),
    "source-val": (lambda eps: max(range(len(eps)), key=lambda i: (eps[i]["source_val_acc"], i)),
                   "best source-val accuracy (no target labels)"),
    "entropy": (lambda eps: min(range(len(eps)), key=lambda i: (eps[i]["target_entropy"], -i)),
                "lowest mean target prediction entropy (no target labels)"),
    "oracle": (lambda eps: max(range(len(eps)), key=lambda i: (eps[i]["target_acc"], i)),
               "ORACLE: best target accuracy (uses target labels)"),
}


def check_protocol(name: str) -> None:
    """Raise a one-line error for an unknown protocol."""
    if name not in PROTOCOLS:
        raise DalibError(f"unknown selection protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")


def select_epoch(epochs: list[Epoch], protocol: str) -> Epoch:
    """The epoch record the protocol picks (ties go to the later epoch)."""
    check_protocol(protocol)
    if not epochs:
        raise DalibError("run has no epoch records; rerun it")
    return epochs[PROTOCOLS[protocol][0](epochs)]


def describe(protocol: str) -> str:
    """Human-readable description of a protocol, for table titles."""
    check_protocol(protocol)
    return PROTOCOLS[protocol][1]


def uses_target_labels(protocol: str) -> bool:
    """Whether the protocol needs target labels (only ``oracle``)."""
    return protocol == "oracle"
