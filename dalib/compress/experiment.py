"""`dalib compress RUN_DIR`: re-train stored runs, compress each, and measure what survives on the target.

For every chosen (task, seed), the method runs and the source-only run of the same task and seed
are re-executed from their records (seeded, one run at a time), and every variant of
`dalib.compress.variants` is built from each. Per method and variant the table gives the target
accuracy (all target samples, mean ± std over the chosen tasks × seeds), the gain over the
*equally compressed* source-only model (the adaptation gain that survives compression), the
size on disk and its ratio to the float model, and the CPU latency per batch of 256 target
samples (median of repeats, one process). The float row is the re-trained model; a run of a
vectorised batch re-trained alone matches its stored accuracy to float rounding, not bit for bit.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch

from dalib.bench.run import PreparedRun, prepare_run, spec_of
from dalib.bench.shallow_names import is_shallow
from dalib.bench.spec import RunOptions
from dalib.compress.measure import latency_ms, model_bytes
from dalib.compress.variants import Variant, build_variant
from dalib.data.tasks import Task
from dalib.errors import DalibError
from dalib.eval.metrics import predict
from dalib.methods import TARGET_ONLY
from dalib.train.trainer import Trainer

SOURCE_ONLY = "source_only"
LATENCY_BATCH = 256


@dataclass(frozen=True)
class Measurement:
    """One compressed model of one run: its target accuracy (%), bytes on disk and ms per batch."""

    task: str
    seed: int
    method: str
    variant: str
    target_acc: float
    size_bytes: int
    latency_ms: float


def choose_runs(records: list[dict[str, Any]], methods: list[str] | None, tasks: list[str] | None,
                seeds: list[int] | None) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """The deep runs to compress, grouped by (task, seed), source-only first in each group.

    Every group needs its source-only run (the equally compressed reference); shallow methods and
    the target-only line have no model to compress and are left out."""
    deep = [r for r in records if not is_shallow(r["method"]) and r["method"] != TARGET_ONLY]
    chosen = [r for r in deep if (methods is None or r["method"] in methods or r["method"] == SOURCE_ONLY)
              and (tasks is None or r["task"] in tasks) and (seeds is None or r["seed"] in seeds)]
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in sorted(chosen, key=lambda r: (r["task"], r["seed"], r["method"] != SOURCE_ONLY, r["method"])):
        groups.setdefault((r["task"], r["seed"]), []).append(r)
    for (task, seed), group in groups.items():
        if group[0]["method"] != SOURCE_ONLY:
            raise DalibError(f"{task} seed {seed} has no source_only run to compare with; run `dalib bench` with "
                             "source_only on the same tasks and seeds first")
    groups = {k: g for k, g in groups.items() if len(g) > 1}
    if not groups:
        found = sorted({r["method"] for r in deep} - {SOURCE_ONLY})
        raise DalibError(f"no method run beside a source_only run matches (methods in the folder: "
                         f"{', '.join(found) or 'none'}); check --methods, --tasks and --seeds")
    return groups


def retrain(record: dict[str, Any], task: Task) -> PreparedRun:
    """Re-execute a stored deep run alone on the CPU; its ``model`` and ``objective`` come back trained."""
    spec = replace(spec_of(record), vectorized=False)
    if spec.weights:
        raise DalibError(f"{record['key']} trains with instance weights ({spec.weights}); compress runs without them")
    run = prepare_run(spec, task, RunOptions())
    if not isinstance(run, PreparedRun):
        raise DalibError(f"{record['key']} is not a deep run; it has no model to compress")
    Trainer(run.model, run.objective, run.config, augment=run.augment).fit(
        run.source_train, run.source_val, run.target, target_heldout=torch.as_tensor(run.heldout))
    return run


def measure(run: PreparedRun, variant: Variant, recover_steps: int, distill_steps: int,
            repeats: int) -> Measurement:
    """Build ``variant`` of ``run`` and measure it (module docstring)."""
    model = build_variant(run, variant, recover_steps, distill_steps)
    acc = 100 * predict(model, run.target, device="cpu").accuracy
    x = run.target.tensors[0][:LATENCY_BATCH] if run.target.tensors is not None else next(iter(
        torch.utils.data.DataLoader(run.target.dataset, batch_size=LATENCY_BATCH)))[0]
    return Measurement(run.spec.task, run.spec.seed, run.spec.label, variant.name, acc, model_bytes(model),
                       latency_ms(model, x.float() if x.is_floating_point() else x, repeats))


def compress_runs(records: list[dict[str, Any]], tasks: dict[str, Task], variants: list[Variant], *,
                  methods: list[str] | None = None, task_names: list[str] | None = None,
                  seeds: list[int] | None = None, recover_steps: int = 100, distill_steps: int = 500,
                  repeats: int = 20, say: Callable[[str], None] = print) -> list[Measurement]:
    """Every variant of every chosen run (`choose_runs`), measured."""
    groups = choose_runs(records, methods, task_names, seeds)
    out: list[Measurement] = []
    for i, ((task, seed), group) in enumerate(groups.items(), 1):
        for record in group:
            say(f"[{i}/{len(groups)}] {record['task_name']} seed {seed}: re-training {record['method']}, then "
                f"{len(variants)} variants")
            run = retrain(record, tasks[task])
            out += [measure(run, v, recover_steps, distill_steps, repeats) for v in variants]
    return out


@dataclass(frozen=True)
class Row:
    """A table row: one method and variant over the chosen tasks × seeds."""

    method: str
    variant: str
    acc: float
    acc_std: float
    gain: float
    size_bytes: int
    size_ratio: float
    latency_ms: float


def table_rows(measurements: list[Measurement]) -> list[Row]:
    """Mean target accuracy, mean gain over source-only of the same variant, task and seed,
    median size and latency, per (method, variant) in the order first measured."""
    by_key = {(m.task, m.seed, m.method, m.variant): m for m in measurements}
    float_size = {(m.task, m.seed, m.method): m.size_bytes for m in measurements if m.variant == "float"}
    order = list(dict.fromkeys((m.method, m.variant) for m in measurements))
    rows = []
    for method, variant in order:
        ms = [m for m in measurements if (m.method, m.variant) == (method, variant)]
        accs = [m.target_acc for m in ms]
        gains = [m.target_acc - by_key[(m.task, m.seed, SOURCE_ONLY, variant)].target_acc for m in ms]
        ratios = [m.size_bytes / float_size[(m.task, m.seed, m.method)] for m in ms]
        rows.append(Row(method, variant, statistics.mean(accs), statistics.pstdev(accs), statistics.mean(gains),
                        int(statistics.median(m.size_bytes for m in ms)), statistics.mean(ratios),
                        statistics.median(m.latency_ms for m in ms)))
    return rows
