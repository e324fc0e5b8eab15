"""`dalib bench --vectorize`: which runs batch, how batches are cut, and that records, the store
and resuming behave as for single runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from dalib.bench.config import BenchConfig
from dalib.bench.grid import plan_units
from dalib.bench.plan import plan_bench, run_bench
from dalib.bench.profiles import Profile
from dalib.bench.run import RunSpec
from dalib.bench.spec import vectorizable
from dalib.data.catalog import load_dataset
from dalib.data.tasks import select_tasks
from dalib.errors import DalibError

SMALL = dict(dataset="rotated-digits", methods="source_only,dann", seeds="0,1", tasks="R02R30,R302R0", epochs=2,
             target_only=False)


def _tables(records):
    return {r["key"]: [(e["target_acc"], e["source_val_acc"]) for e in r["epochs"]] for r in records}


@pytest.fixture(scope="module")
def serial_records(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    return run_bench(plan_bench(BenchConfig(**SMALL, out=str(out), vectorize="off")), log=None)


def test_vectorised_bench_gives_the_single_runs_numbers(tmp_path: Path, serial_records):
    """Same accuracies per epoch as single runs (2 epochs: no prediction moves at float
    rounding); every record says it was vectorised, names its batch and stores the execution in
    its fingerprint. Kills: a batch that trains the wrong run's data or seed, records assigned to
    the wrong key, and a vectorised run sharing a single run's fingerprint."""
    records = run_bench(plan_bench(BenchConfig(**SMALL, out=str(tmp_path / "v"))), log=None)
    assert _tables(records) == _tables(serial_records)
    by_key = {r["key"]: r for r in serial_records}
    for r in records:
        assert r["spec"]["vectorized"] and r["setting"]["execution"] == "vectorized"
        assert r["batch"] == [k for k in r["batch"] if k.split("/")[2] == r["method"]] and r["key"] in r["batch"]
        assert r["fingerprint"] != by_key[r["key"]]["fingerprint"]
        assert "execution" not in by_key[r["key"]]["setting"]


def test_a_folder_keeps_one_execution(tmp_path: Path):
    """Resuming a vectorised folder with --vectorize off mixes settings: refused in one line."""
    run_bench(plan_bench(BenchConfig(**{**SMALL, "methods": "source_only", "tasks": "R02R30", "epochs": 1},
                                     out=str(tmp_path))), log=None)
    with pytest.raises(DalibError, match=r'execution is "vectorized" in 2 stored run\(s\) but null in 2 new run'):
        run_bench(plan_bench(BenchConfig(**{**SMALL, "methods": "source_only", "tasks": "R02R30", "epochs": 1},
                                         out=str(tmp_path), vectorize="off")), log=None)


def test_resume_trains_a_broken_batch_again_and_keeps_finished_ones(tmp_path: Path):
    """A grid stopped after its first batch was stored resumes the others only; the finished
    records are byte-identical, and every run ends as in an uninterrupted grid. Kills: a batch
    whose records are stored before it ends, and finished runs trained again."""
    config = BenchConfig(**SMALL, out=str(tmp_path / "a"))
    seen: list[str] = []

    def stop_after_first_batch(record, done, total):
        seen.append(record["key"])
        if done == len(record["batch"]):
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        run_bench(plan_bench(config), stop_after_first_batch, log=None)
    first = run_bench(plan_bench(BenchConfig(**SMALL, out=str(tmp_path / "a"))), log=None)
    whole = run_bench(plan_bench(BenchConfig(**SMALL, out=str(tmp_path / "b"))), log=None)
    assert 0 < len(seen) < len(whole)
    assert _tables(first) == _tables(whole)
    assert [r["batch"] for r in first] == [r["batch"] for r in whole]


def _spec(method: str, task: str = "R02R30", seed: int = 0, **kw) -> RunSpec:
    return RunSpec("rotated-digits", task, method, seed, Profile(), vectorized=True, **kw)


def test_plan_units_cuts_batches_from_the_whole_plan_longest_first():
    """Batches of at most max_batch runs of one setting, cut in plan order from every planned
    run (a finished run leaves a hole, not a new cut), single runs alone, costliest first."""
    specs = [_spec("source_only", t, s) for t in ("A", "B", "C") for s in (0, 1)] + \
            [_spec("cdan", t, 0) for t in ("A", "B")] + [RunSpec("rotated-digits", "A", "dann", 0, Profile())]
    units = plan_units(specs, finished={specs[1].key}, max_batch=4)
    assert [tuple(s.key for s in u) for u in units] == [
        tuple(s.key for s in specs[6:8]),            # cdan × 2 (cost 2 × 5.0)
        (specs[0].key, specs[2].key, specs[3].key),  # source_only A0 (A1 finished) B0 B1
        (specs[8].key,),                              # dann alone (2.9)
        (specs[4].key, specs[5].key)]                 # source_only C0 C1 (2 × 1)


@pytest.mark.parametrize("method, kw, reason", [
    ("shallow_coral_1nn", {}, "a shallow method"),
    ("dann", {"weights": "kmm"}, "instance weights"),
    ("mcd", {}, "mcd runs its own update steps"),
    ("l2sp", {}, "l2sp holds the model"),
    ("fixmatch", {}, "fixmatch runs its own update steps"),
])
def test_runs_that_train_alone_say_why(method, kw, reason):
    task = select_tasks(load_dataset("rotated-digits"), ["R02R30"])[0]
    assert vectorizable(RunSpec("rotated-digits", "R02R30", method, 0, Profile(), **kw), task) == reason
    assert vectorizable(RunSpec("rotated-digits", "R02R30", "dann+mcc", 0, Profile()), task) is None
    assert vectorizable(RunSpec("rotated-digits", "R02R30", "dann", 0, Profile(backbone="resnet18", trunk="top:1")), task) == "trunk top:1"


@pytest.mark.parametrize("value, message", [("sometimes", "expected auto, off, or the most runs"), (0, "expected auto")])
def test_vectorize_option_is_checked(value, message):
    with pytest.raises(DalibError, match=message):
        BenchConfig(vectorize=value)
    assert BenchConfig(vectorize="4").max_batch == 4 and BenchConfig(vectorize="off").max_batch == 0
    assert BenchConfig().max_batch == 18


def test_input_pad_is_computed_once_per_inputs(monkeypatch):
    """Every method of a task and seed has the same inputs: their PAD is fitted once, and other
    inputs get their own. Kills: a cache keyed by shape (or by nothing)."""
    import numpy as np

    from dalib.bench import run

    calls = []
    monkeypatch.setattr(run, "proxy_a_distance", lambda a, b: calls.append(1) or float(a.sum() - b.sum()))
    run._INPUT_PAD.clear()
    a, b = np.ones((5, 2)), np.zeros((4, 2))
    assert run.input_pad(a, b) == run.input_pad(a.copy(), b.copy()) == 10.0 and len(calls) == 1
    assert run.input_pad(a, b + 1) == 2.0 and len(calls) == 2


PYTHON_VALUE_LOSS = '''
import torch
from dalib.alignment import Discrepancy, register


@register("{name}", weight=1.0)
class PythonValueLoss(Discrepancy):
    """A loss that reads a tensor value in Python: vmap cannot batch it."""
    vectorizable = {flag}

    def forward(self, f_s, f_t, **_):
        scale = 2.0 if float(f_s.mean().detach()) > 0 else 1.0
        return scale * (f_s.mean(0) - f_t.mean(0)).pow(2).sum()
'''


def test_a_loss_vmap_cannot_batch_fails_in_one_line_naming_the_fix(tmp_path: Path):
    """Before any run (planning runs one forward pass of each plugin term under vmap), with the
    cause and the fixes. Kills: the raw functorch traceback reaching the user, the check after
    the other methods' batches ran, or the run silently trained on."""
    plugin = tmp_path / "value_loss.py"
    plugin.write_text(PYTHON_VALUE_LOSS.format(name="value_loss_vmapped", flag=True))
    config = BenchConfig(**{**SMALL, "methods": "source_only,value_loss_vmapped", "seeds": "0"},
                         plugin=[str(plugin)], out=str(tmp_path / "out"))
    with pytest.raises(DalibError, match=r"value_loss_vmapped cannot train vectorised under torch.func.vmap \(vmap: .*"
                                         r"\.item\(\) on a Tensor\): a loss that reads tensor values in Python "
                                         r"\(float\(x\), x.item\(\), if x > 0, numpy\) cannot; keep them tensors "
                                         r"\(x.detach\(\) for a constant factor\), set `vectorizable = False`"):
        plan_bench(config)
    assert not (tmp_path / "out").exists()


def test_a_loss_marked_vectorizable_false_trains_alone(tmp_path: Path):
    plugin = tmp_path / "value_loss.py"
    plugin.write_text(PYTHON_VALUE_LOSS.format(name="value_loss_alone", flag=False))
    config = BenchConfig(**{**SMALL, "methods": "value_loss_alone", "seeds": "0", "epochs": 1},
                         plugin=[str(plugin)], out=str(tmp_path / "out"))
    records = {r["method"]: r for r in run_bench(plan_bench(config), log=None)}
    assert not records["value_loss_alone"]["spec"]["vectorized"] and records["source_only"]["spec"]["vectorized"]
