"""Every built-in method's numbers are unchanged: short seeded runs against stored records.

A change to the trainer (a new update mechanism, a refactor) or to a shared helper must not move
any existing method. `method_records.json` holds the per-epoch numbers of one short run per
method (rotated digits R0→R30, seed 0, the dataset's profile cut to 2 epochs × 8 steps), written
by ``python tests/train/test_method_records.py --write`` from the code of the commit that added
it: regenerate it only for a change meant to alter numbers, and say so in the commit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from dalib.bench.profiles import profile_for
from dalib.bench.run import RunOptions, RunSpec, execute
from dalib.data.catalog import load_dataset
from dalib.data.tasks import select_tasks

RECORDS = Path(__file__).with_name("method_records.json")
METHODS = ("source_only", "dann", "dan", "jan", "deep_coral", "cdan", "cdan_e", "deepjdot", "mcc", "entropy",
           "dann+mcc", "l2sp", "bss", "bnm", "bsp", "afn", "pseudo_label", "mdd", "mcd", "adda", "fixmatch", "pada",
           "mcd+entropy")


def run_method(method: str) -> list[dict]:
    """Per-epoch losses, accuracies and selection scores of one short run."""
    task = select_tasks(load_dataset("rotated-digits"), ["R02R30"])[0]
    profile = profile_for("rotated-digits").with_overrides(epochs=2, iters_per_epoch=8)
    record = execute(RunSpec("rotated-digits", "R02R30", method, 0, profile), task, RunOptions())
    return [{k: e[k] for k in ("losses", "source_val_acc", "target_acc", "target_entropy", "scores")}
            for e in record["epochs"]]


def test_every_method_has_a_stored_record():
    assert sorted(json.loads(RECORDS.read_text())) == sorted(METHODS)


# Kills: any change in a method's loss, its default λ or schedule, the trainer's step order, the
# data stream or the selection scores (losses and scores to 1e-5 relative: float32 training on
# one thread is deterministic here; accuracies exactly).
@pytest.mark.parametrize("method", METHODS)
def test_method_reproduces_its_stored_record(method):
    fresh, stored = run_method(method), json.loads(RECORDS.read_text())[method]
    assert len(fresh) == len(stored)
    for got, want in zip(fresh, stored):
        assert got["source_val_acc"] == want["source_val_acc"] and got["target_acc"] == want["target_acc"]
        assert got["losses"] == pytest.approx(want["losses"], rel=1e-5)
        assert got["scores"] == pytest.approx(want["scores"], rel=1e-5)
        assert got["target_entropy"] == pytest.approx(want["target_entropy"], rel=1e-5)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    RECORDS.write_text(json.dumps({name: run_method(name) for name in METHODS}, indent=1) + "\n")
    print(f"wrote {RECORDS}")
