"""Name → discrepancy class, with its default weight λ and hyper-parameters.

A method on the command line is ``source_only`` or discrepancy names joined with ``+``
(``dann+mcc``); see `dalib.methods`. Adding a loss is one class plus one ``@register`` line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from dalib.alignment.base import Discrepancy
from dalib.errors import DalibError


@dataclass(frozen=True)
class DiscrepancyEntry:
    """A registered discrepancy: its class, default λ, λ schedule and hyper-parameters.

    ``schedule`` names a λ(p) schedule of `dalib.alignment.schedules` (``constant`` or
    ``warm_start``); the term's weight at progress p is ``schedule(p, weight)``.
    """

    name: str
    cls: type[Discrepancy]
    weight: float = 1.0
    schedule: str = "constant"
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""


REGISTRY: dict[str, DiscrepancyEntry] = {}


def register(
    name: str, *, weight: float = 1.0, schedule: str = "constant", **defaults: Any
) -> Callable[[type[Discrepancy]], type[Discrepancy]]:
    """Class decorator: make ``cls`` available as method ``name`` with default λ ``weight``."""
    if "+" in name or name == "source_only":
        raise DalibError(f"discrepancy name {name!r} is reserved or contains '+'; pick another name")

    def decorate(cls: type[Discrepancy]) -> type[Discrepancy]:
        if not (isinstance(cls, type) and issubclass(cls, Discrepancy)):
            raise DalibError(f"@register({name!r}) must decorate a dalib.alignment.Discrepancy subclass")
        doc = (cls.__doc__ or "").strip().splitlines()
        REGISTRY[name] = DiscrepancyEntry(
            name=name, cls=cls, weight=weight, schedule=schedule,
            defaults=dict(defaults), description=doc[0] if doc else "",
        )
        return cls

    return decorate
