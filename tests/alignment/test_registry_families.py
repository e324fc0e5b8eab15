"""`dalib methods` lists every method with its family and measured cost."""

from __future__ import annotations

import pytest

from dalib.alignment import Discrepancy, register
from dalib.alignment.registry import FAMILIES
from dalib.errors import DalibError
from dalib.method_costs import RELATIVE_STEP_TIME
from dalib.methods import REGISTRY

EXPECTED_FAMILIES = {
    "adversarial": {"dann", "cdan", "cdan_e", "mdd", "mcd", "adda"},
    "alignment": {"dan", "jan", "deep_coral", "deepjdot"},
    "self-training": {"entropy", "mcc", "bnm", "pseudo_label", "fixmatch"},
    "regulariser": {"l2sp", "bss", "bsp", "afn"},
    "partial": {"pada"},
}


def test_every_built_in_method_has_its_family():
    """Kills a method registered without its family (it would fall back to "alignment")."""
    got: dict[str, set[str]] = {f: set() for f in FAMILIES}
    for name, entry in REGISTRY.items():
        got[entry.family].add(name)
    assert got == EXPECTED_FAMILIES


def test_every_built_in_method_has_a_measured_cost():
    """A new method needs `python benchmarks/method_cost.py --write` before it lands."""
    assert set(RELATIVE_STEP_TIME) == set(REGISTRY)
    assert all(cost > 0.5 for cost in RELATIVE_STEP_TIME.values())
    assert RELATIVE_STEP_TIME["mcd"] > RELATIVE_STEP_TIME["entropy"]  # 6 passes per step against 1


def test_an_unknown_family_is_refused():
    with pytest.raises(DalibError, match=r"^@register\('x', family='selftraining'\): unknown family; use one of "
                                         r"alignment, adversarial, self-training, regulariser, partial$"):
        register("x", family="selftraining")(Discrepancy)
