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
    ``warm_start``); the term's weight at progress p is ``schedule(p, weight)``. ``family`` is
    one of `FAMILIES`, the kind of method `dalib methods` lists it under.
    """

    name: str
    cls: type[Discrepancy]
    weight: float = 1.0
    schedule: str = "constant"
    family: str = "alignment"
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""


REGISTRY: dict[str, DiscrepancyEntry] = {}

#: The kinds of method: statistics matched between domains, a learned adversary, training on
#: the model's own target predictions, a penalty on the model itself, partial-set adaptation.
FAMILIES = ("alignment", "adversarial", "self-training", "regulariser", "partial")


def register(
    name: str, *, weight: float = 1.0, schedule: str = "constant", family: str = "alignment", **defaults: Any
) -> Callable[[type[Discrepancy]], type[Discrepancy]]:
    """Class decorator: make ``cls`` available as method ``name`` with default λ ``weight``."""
    if "+" in name or name == "source_only":
        raise DalibError(f"discrepancy name {name!r} is reserved or contains '+'; pick another name")
    if family not in FAMILIES:
        raise DalibError(f"@register({name!r}, family={family!r}): unknown family; use one of {', '.join(FAMILIES)}")

    def decorate(cls: type[Discrepancy]) -> type[Discrepancy]:
        if not (isinstance(cls, type) and issubclass(cls, Discrepancy)):
            raise DalibError(f"@register({name!r}) must decorate a dalib.alignment.Discrepancy subclass")
        doc = (cls.__doc__ or "").strip().splitlines()
        REGISTRY[name] = DiscrepancyEntry(
            name=name, cls=cls, weight=weight, schedule=schedule, family=family,
            defaults=dict(defaults), description=doc[0] if doc else "",
        )
        return cls

    return decorate
