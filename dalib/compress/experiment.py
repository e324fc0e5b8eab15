"""`dalib compress RUN_DIR`: re-train stored runs, compress each, and measure what survives on the target.

For every chosen (task, seed), the method runs and the source-only run of the same task and seed
are re-executed from their records (seeded, one run at a time), and every variant of
`dalib.compress.variants` is built from each. Per method and variant the table gives the target
accuracy (all target samples, mean ± std over the chosen tasks × seeds), the gain over the
*equally compressed* source-only model (the adaptation gain that survives compression), the
size on disk and its ratio to the float model, and the CPU latency per batch of 256 target
samples (median of repeats, one process). Runs are re-trained exactly as the bench trained them:
a run of a vectorised batch is re-trained with its whole batch (one re-training serves every
chosen run of it), so the float row reproduces the stored accuracy bit for bit, which is checked
(in the records' environment, `dalib.bench.environment`; elsewhere the error names both).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch

from dalib.bench.environment import describe_environment, run_environment, same_environment
from dalib.bench.run import PreparedRun, spec_of, train_single
from dalib.bench.shallow_names import is_shallow
from dalib.bench.spec import RunOptions
from dalib.compress.measure import latency_ms, model_bytes
from dalib.compress.variants import Variant, build_variant
from dalib.data.tasks import Task
from dalib.errors import DalibError
from dalib.eval.metrics import predict
from dalib.methods import TARGET_ONLY

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
        in_folder = (f"methods {', '.join(found) or 'none'}; tasks {', '.join(sorted({r['task'] for r in deep}))}; "
                     f"seeds {', '.join(str(s) for s in sorted({r['seed'] for r in deep}))}")
        raise DalibError(f"no method run beside a source_only run matches (the folder holds {in_folder}); "
                         "check --methods, --tasks and --seeds")
    return groups


def retrain(record: dict[str, Any], task: Task) -> tuple[PreparedRun, float]:
    """Re-execute a stored deep run trained alone, on the CPU: the run (its ``model`` and
    ``objective`` trained) and its last-epoch target accuracy (fraction)."""
    spec = replace(spec_of(record), device="cpu")
    if spec.weights:
        raise DalibError(f"{record['key']} trains with instance weights ({spec.weights}); compress runs without them")
    run, history, _ = train_single(spec, task, RunOptions())
    if not isinstance(run, PreparedRun) or history is None:
        raise DalibError(f"{record['key']} is not a deep run; it has no model to compress")
    return run, history.epochs[-1].target_acc


class Retrainer:
    """Re-trains stored runs as the bench trained them: alone, or with their whole vectorised batch
    (kept until its runs are taken, so a batch is re-trained once)."""

    def __init__(self, records: list[dict[str, Any]], tasks: dict[str, Task]) -> None:
        self.by_key = {r["key"]: r for r in records}
        self.tasks = tasks
        self.trained: dict[str, tuple[PreparedRun, float]] = {}

    def run(self, record: dict[str, Any]) -> PreparedRun:
        """The re-trained run of ``record``; raises unless its last epoch reproduces the stored target accuracy."""
        key = record["key"]
        if key not in self.trained:
            batch = record.get("batch") or [key]
            if len(batch) == 1 and not record["spec"].get("vectorized"):
                self.trained[key] = retrain(record, self.tasks[record["task"]])
            else:
                self._retrain_batch(key, batch)
        run, acc = self.trained.pop(key)
        stored = record["epochs"][-1]["target_acc"]
        if abs(acc - stored) > 1e-8:
            here = run_environment("cpu")
            cause = ("was it run with another dalib version?" if same_environment(record.get("environment"), here)
                     else f"it was trained on {describe_environment(record['environment'])} and this is "
                     f"{describe_environment(here)}, where float rounding differs: re-run the bench here")
            raise DalibError(f"re-training {key} gave target accuracy {100 * acc:.2f}%, not its stored "
                             f"{100 * stored:.2f}%; {cause}")
        return run

    def _retrain_batch(self, key: str, batch: list[str]) -> None:
        from dalib.bench.vector_run import train_group

        missing = [k for k in batch if k not in self.by_key]
        if missing:
            raise DalibError(f"{key} was trained in a vectorised batch with {missing[0]}, which is not in the folder; "
                             "its numbers cannot be re-trained exactly (re-run the bench with --vectorize off)")
        specs = [replace(spec_of(self.by_key[k]), device="cpu") for k in batch]
        prepared, records = train_group(specs, [self.tasks[self.by_key[k]["task"]] for k in batch], RunOptions())
        self.trained.update({p.spec.key: (p, r["epochs"][-1]["target_acc"]) for p, r in zip(prepared, records)})


def measure(run: PreparedRun, variant: Variant, recover_steps: int, distill_steps: int,
            repeats: int, **options: float) -> Measurement:
    """Build ``variant`` of ``run`` and measure it (module docstring)."""
    model = build_variant(run, variant, recover_steps, distill_steps, **options)
    acc = 100 * predict(model, run.target, device="cpu").accuracy
    x = run.target.tensors[0][:LATENCY_BATCH] if run.target.tensors is not None else next(iter(
        torch.utils.data.DataLoader(run.target.dataset, batch_size=LATENCY_BATCH)))[0]
    return Measurement(run.spec.task, run.spec.seed, run.spec.label, variant.name, acc, model_bytes(model),
                       latency_ms(model, x.float() if x.is_floating_point() else x, repeats))


def compress_runs(records: list[dict[str, Any]], tasks: dict[str, Task], variants: list[Variant], *,
                  methods: list[str] | None = None, task_names: list[str] | None = None,
                  seeds: list[int] | None = None, recover_steps: int = 100, distill_steps: int = 500,
                  repeats: int = 20, say: Callable[[str], None] = print, **options: float) -> list[Measurement]:
    """Every variant of every chosen run (`choose_runs`), measured; ``options`` go to `build_variant`
    (``recover_lr_mult``, ``temperature``, ``alpha``). Source-only has no term, so its `+ft+D`
    (the same model as `+ft`) is not built; its `+ft` is the reference of the methods' `+ft+D`."""
    groups = choose_runs(records, methods, task_names, seeds)
    chosen = {r["key"] for group in groups.values() for r in group}
    retrainer = Retrainer(records, tasks)
    out: list[Measurement] = []
    for i, ((task, seed), group) in enumerate(groups.items(), 1):
        for record in group:
            batch = [k for k in record.get("batch") or [] if k != record["key"]]
            fresh = record["key"] not in retrainer.trained and batch
            say(f"[{i}/{len(groups)}] {record['task_name']} seed {seed}: {record['method']}"
                + (f" (re-training its vectorised batch of {len(batch) + 1} runs)" if fresh else ""))
            run = retrainer.run(record)
            mine = [v for v in variants if not (record["method"] == SOURCE_ONLY and v.recover == "objective")]
            out += [measure(run, v, recover_steps, distill_steps, repeats, **options) for v in mine]
        retrainer.trained = {k: p for k, p in retrainer.trained.items() if k in chosen}  # drop unchosen batch-mates
    return out


@dataclass(frozen=True)
class Row:
    """A table row: one method and variant over the chosen tasks × seeds."""

    method: str
    variant: str
    acc: float
    acc_std: float
    drop: float
    gain: float
    size_bytes: int
    size_ratio: float
    latency_ms: float


def table_rows(measurements: list[Measurement]) -> list[Row]:
    """Mean target accuracy (± std across tasks and seeds), mean change from the same run's float
    model, mean gain over source-only of the same variant (its `+ft` for `+ft+D`), task and seed,
    median size and latency, per (method, variant) in the order first measured."""
    by_key = {(m.task, m.seed, m.method, m.variant): m for m in measurements}
    floats = {(m.task, m.seed, m.method): m for m in measurements if m.variant == "float"}
    order = list(dict.fromkeys((m.method, m.variant) for m in measurements))
    rows = []
    for method, variant in order:
        ms = [m for m in measurements if (m.method, m.variant) == (method, variant)]
        accs = [m.target_acc for m in ms]
        reference = variant.replace("+ft+D", "+ft")
        gains = [m.target_acc - by_key[(m.task, m.seed, SOURCE_ONLY, reference)].target_acc for m in ms]
        drops = [m.target_acc - floats[(m.task, m.seed, m.method)].target_acc for m in ms]
        ratios = [m.size_bytes / floats[(m.task, m.seed, m.method)].size_bytes for m in ms]
        rows.append(Row(method, variant, statistics.mean(accs), statistics.pstdev(accs), statistics.mean(drops),
                        statistics.mean(gains),
                        int(statistics.median(m.size_bytes for m in ms)), statistics.mean(ratios),
                        statistics.median(m.latency_ms for m in ms)))
    return rows
