"""Every registered method (and a '+' combination) trains end to end through the one trainer."""

from __future__ import annotations

import math

import pytest

from dalib.bench.profiles import profile_for
from dalib.bench.run import RunOptions, RunSpec, execute
from dalib.data.catalog import load_dataset
from dalib.data.tasks import select_tasks
from dalib.methods import available_methods


@pytest.fixture(scope="module")
def task():
    return select_tasks(load_dataset("rotated-digits"), ["R02R30"])[0]


@pytest.mark.parametrize("method", [*available_methods(), "dann+mcc", "dan+entropy"])
def test_method_trains_end_to_end(task, method):
    prof = profile_for("rotated-digits").with_overrides(epochs=2)
    rec = execute(RunSpec("rotated-digits", task.ascii_name, method, 0, prof), task, RunOptions())
    first, last = rec["epochs"][0], rec["epochs"][-1]
    assert math.isfinite(first["losses"]["task"])  # (ADDA's second stage has no source loss)
    for term in [] if method == "source_only" else method.split("+"):
        assert math.isfinite(last["losses"][term])
    assert last["source_val_acc"] > 0.3  # learning: well above chance (0.1) after two epochs
