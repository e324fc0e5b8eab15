"""@register: the entry it stores and the names and classes it refuses."""

from __future__ import annotations

import pytest

from dalib.alignment.base import Discrepancy
from dalib.alignment.registry import REGISTRY, DiscrepancyEntry, register
from dalib.errors import DalibError


class _Probe(Discrepancy):
    """First docstring line.

    More text that is not the description.
    """


class _NoDoc(Discrepancy):
    pass


@pytest.fixture
def scratch_names():
    names = ["probe_entry", "probe_nodoc"]
    yield names
    for name in names:
        REGISTRY.pop(name, None)


# Kills: defaults of weight / schedule changed, keyword defaults dropped, the class or the
# description (first docstring line) or the family not stored, the decorator not returning the class.
def test_entry_holds_class_weight_schedule_defaults_and_description(scratch_names):
    assert register(scratch_names[0], weight=0.3, schedule="warm_start", family="partial", k=2)(_Probe) is _Probe
    assert REGISTRY[scratch_names[0]] == DiscrepancyEntry(
        name="probe_entry", cls=_Probe, weight=0.3, schedule="warm_start", family="partial",
        defaults={"k": 2}, description="First docstring line.")
    register(scratch_names[1])(_NoDoc)
    entry = REGISTRY[scratch_names[1]]
    assert (entry.weight, entry.schedule, entry.family, entry.defaults, entry.description) == (
        1.0, "constant", "alignment", {}, "")


# Kills: the '+' / 'source_only' check inverted or weakened (and→or), its message dropped, and the
# subclass check removed.
@pytest.mark.parametrize("name", ["dann+mcc", "source_only"])
def test_reserved_names_are_refused(name):
    with pytest.raises(DalibError, match=r"^discrepancy name '.*' is reserved or contains '\+'; pick another name$"):
        register(name)
    assert name not in REGISTRY


def test_non_discrepancy_classes_are_refused(scratch_names):
    expected = r"^@register\('probe_entry'\) must decorate a dalib\.alignment\.Discrepancy subclass$"
    with pytest.raises(DalibError, match=expected):
        register(scratch_names[0])(int)
    with pytest.raises(DalibError, match="must decorate"):
        register(scratch_names[0])(lambda: None)
    assert scratch_names[0] not in REGISTRY
    register("plain_name_ok")  # a plain name is accepted (the decorator is not applied)
    assert "plain_name_ok" not in REGISTRY
