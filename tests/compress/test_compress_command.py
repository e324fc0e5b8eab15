"""`dalib compress` end to end on a small bench folder, and recovery fine-tuning without target labels."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from dalib.bench.store import ResultsStore, store_path, stored_records
from dalib.cli import main
from dalib.compress.experiment import Retrainer
from dalib.compress.prune import weight_sparsity
from dalib.compress.variants import Variant, build_variant
from dalib.data.catalog import load_dataset
from dalib.data.domain import Domain
from dalib.data.tasks import select_tasks
from dalib.errors import DalibError
from dalib.eval.metrics import predict

TASK = "R02R30"


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compress") / "b"
    assert main(["bench", "--dataset", "rotated-digits", "--methods", "dann", "--seeds", "0,1", "--tasks", TASK,
                 "--epochs", "3", "--no-target-only", "--out", str(out)]) == 0
    return out


def test_compress_writes_the_table_csv_and_plot(bench: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # seed 0 of each method's vectorised batch of 2 runs: the batch is re-trained, seed 0 reproduced exactly
    assert main(["compress", str(bench), "--seeds", "0", "--prune", "0.8", "--recover", "20", "--quantize", "int8",
                 "--distill", "32x16", "--distill-steps", "50", "--repeats", "3"]) == 0
    text = (bench / "compress.md").read_text()
    assert text in capsys.readouterr().out
    for variant in ("float", "prune-global-0.8", "prune-global-0.8+ft", "prune-global-0.8+ft+D", "int8", "distill-32x16"):
        assert f"| dann | {variant} |" in text
        assert (f"| source_only | {variant} |" in text) == (variant != "prune-global-0.8+ft+D")  # no term to keep
    rows = list(csv.DictReader((bench / "compress.csv").open()))
    assert len(rows) == 5 + 6
    acc = {(r["method"], r["variant"]): float(r["target_acc"]) for r in rows}
    size = {(r["method"], r["variant"]): int(r["size_bytes"]) for r in rows}
    gain_ft_d = acc[("dann", "prune-global-0.8+ft+D")] - acc[("source_only", "prune-global-0.8+ft")]
    assert f"| dann | prune-global-0.8+ft+D | {acc[('dann', 'prune-global-0.8+ft+D')]:.1f} ± 0.0 |" in text
    assert f"| {gain_ft_d:+.1f} |" in text
    assert size[("dann", "int8")] < 0.4 * size[("dann", "float")]
    assert size[("dann", "prune-global-0.8")] < 0.5 * size[("dann", "float")]  # CSR storage
    with ResultsStore(store_path(bench), create=False) as store:
        stored = {r["method"]: r["epochs"][-1]["target_acc"] for r in store.records() if r["seed"] == 0}
        assert all(len(r["batch"]) == 2 for r in store.records())
    assert acc[("dann", "float")] == pytest.approx(100 * stored["dann"], abs=1e-9)  # the re-trained run is the run
    assert acc[("source_only", "float")] == pytest.approx(100 * stored["source_only"], abs=1e-9)
    assert (bench / "compress_accuracy_vs_size.png").stat().st_size > 1000


def test_recovery_reads_no_target_label(bench: Path) -> None:
    with ResultsStore(store_path(bench), create=False) as store:
        records = store.records()
    record = next(r for r in records if r["method"] == "dann" and r["seed"] == 0)
    task = select_tasks(load_dataset("rotated-digits"), [TASK])[0]
    run = Retrainer(records, {TASK: task}).run(record)
    x, y = run.target.tensors
    scrambled = Domain(run.target.name, run.target.short, run.target.class_names,
                       TensorDataset(x, (y + 1) % run.model.num_classes), (y + 1) % run.model.num_classes)
    variant = Variant("prune", 0.8, "global", "objective")
    honest = build_variant(run, variant, recover_steps=15)
    blind = build_variant(replace(run, target=scrambled), variant, recover_steps=15)
    for (name, a), (_, b) in zip(honest.state_dict().items(), blind.state_dict().items()):
        assert torch.equal(a, b), name
    assert weight_sparsity(honest) >= 0.8 - 1e-3
    assert not torch.equal(honest.head.weight, build_variant(run, Variant("prune", 0.8, "global")).head.weight)


def test_a_single_run_is_re_trained_exactly_and_a_changed_record_is_refused(tmp_path: Path) -> None:
    """A run trained alone (--vectorize off) is re-trained alone and checked on its *last* epoch.
    Kills: checking another epoch's accuracy, or no check at all."""
    out = tmp_path / "single"
    assert main(["bench", "--dataset", "rotated-digits", "--methods", "dann", "--seeds", "0", "--tasks", TASK,
                 "--epochs", "3", "--no-target-only", "--vectorize", "off", "--out", str(out)]) == 0
    records = stored_records(out)
    record = next(r for r in records if r["method"] == "dann")
    assert not record["spec"]["vectorized"] and "batch" not in record
    accs = [e["target_acc"] for e in record["epochs"]]
    assert len(set(accs)) == len(accs)  # every epoch differs, so only the last one's accuracy passes the check
    task = select_tasks(load_dataset("rotated-digits"), [TASK])[0]
    run = Retrainer(records, {TASK: task}).run(record)
    assert predict(run.model, run.target).accuracy == pytest.approx(accs[-1], abs=1e-12)
    changed = {**record, "epochs": [*record["epochs"][:-1], {**record["epochs"][-1], "target_acc": accs[-1] + 0.01}]}
    with pytest.raises(DalibError, match="not its stored.*another dalib version"):
        Retrainer(records, {TASK: task}).run(changed)
    # stored by another machine: the message names both environments instead of blaming the version
    elsewhere = {**changed, "environment": {**record["environment"], "cpu": "Other CPU", "cpu_capability": "AVX2"}}
    with pytest.raises(DalibError, match=r"trained on Other CPU \(AVX2; .*\).* and this is .*re-run the bench here"):
        Retrainer(records, {TASK: task}).run(elsewhere)


def test_bad_options_are_named(bench: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args, message in [(["--prune", "1.5"], "fraction in [0, 1)"), (["--quantize", "int4"], "unknown --quantize"),
                          (["--distill", "big"], "unknown student"), (["--methods", "mcc"], "no method run"),
                          (["--tasks", "R02R15"], f"tasks {TASK}; seeds 0, 1")]:
        assert main(["compress", str(bench), *args]) == 2
        assert message in capsys.readouterr().err
