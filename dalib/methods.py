"""Methods by name: ``source_only``, a registered discrepancy (``dann``), or a ``+`` combination.

``target_only`` is the reference line of ../shared/PROTOCOLS.md: trained on a labelled half of
the target, evaluated on the other half; it needs target labels and is never a method.

A method's objective is ``L = mean_i w_i·ℓ(h(x_i^s), y_i^s) + Σ_k λ_k(p)·D_k(F_s, F_t)`` with one
term per discrepancy name; λ_k and hyper-parameters come from the registry and can be overridden.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

from torch import nn

import dalib.alignment  # noqa: F401  (imports every built-in discrepancy so it registers)
import dalib.finetune.regularizers  # noqa: F401  (registers l2sp and bss)
from dalib.alignment.registry import REGISTRY, DiscrepancyEntry
from dalib.alignment.schedules import lambda_schedule
from dalib.errors import DalibError
from dalib.train.objective import Term

SOURCE_ONLY = "source_only"
TARGET_ONLY = "target_only"  # reference line trained on labelled target data, never a method


@dataclass(frozen=True)
class Method:
    """A named method: the registry entries of its alignment terms (none for source-only)."""

    name: str
    entries: tuple[DiscrepancyEntry, ...]


def available_methods() -> list[str]:
    """``source_only`` and every registered discrepancy name."""
    return [SOURCE_ONLY, *sorted(REGISTRY)]


def resolve_method(name: str) -> Method:
    """Parse ``source_only`` or ``a+b+...`` into registry entries."""
    name = name.strip()
    if name in (SOURCE_ONLY, TARGET_ONLY):
        return Method(name, ())
    parts = [p.strip() for p in name.split("+")]
    unknown = [p for p in parts if p not in REGISTRY]
    if unknown or len(set(parts)) != len(parts):
        problem = f"unknown {unknown}" if unknown else "a repeated part"
        close = [m for u in unknown for m in get_close_matches(u.lower(), available_methods(), n=1, cutoff=0.6)]
        hint = f"did you mean {' / '.join(close)}? " if close else ""
        raise DalibError(
            f"method {name!r} has {problem}; {hint}available: {', '.join(available_methods())} "
            "(combine with '+'; shallow_* methods: `dalib methods`; load your own with --plugin FILE)"
        )
    return Method(name, tuple(REGISTRY[p] for p in parts))


def build_terms(method: Method, feature_dim: int, num_classes: int,
                overrides: dict[str, dict[str, Any]] | None = None,
                model: nn.Module | None = None) -> list[Term]:
    """Instantiate the method's discrepancies for features of size ``feature_dim``.

    ``overrides`` maps a term name to changed hyper-parameters; the key ``weight`` sets λ.
    Terms flagged ``needs_model`` (L2-SP, ADDA) also receive ``model``.
    """
    overrides = dict(overrides or {})
    terms = []
    for entry in method.entries:
        params = {**entry.defaults, **overrides.pop(entry.name, {})}
        weight = float(params.pop("weight", entry.weight))
        if entry.cls.needs_model:
            if model is None:
                raise DalibError(f"term {entry.name!r} needs the model (its weights or a copy); pass model= to build_terms")
            params["model"] = model
        try:
            module = entry.cls(feature_dim=feature_dim, num_classes=num_classes, **params)
        except TypeError as err:
            raise DalibError(f"bad hyper-parameters for {entry.name!r}: {err}") from None
        terms.append(Term(entry.name, module, weight, lambda_schedule(entry.schedule)))
    if overrides:
        raise DalibError(f"hyper-parameters given for {sorted(overrides)} but method {method.name!r} has no such term")
    return terms
