"""Bench runs trained as one vectorised model: a batch of them → their records.

Runs of one dataset, method, hyper-parameters and profile that differ only in task and seed
(and that `dalib.bench.spec.vectorizable` admits) have models of the same shape; `execute_group` builds each exactly as its single run would
(`dalib.bench.run.prepare_run`: seed, splits, model, terms) and trains them together with
`dalib.train.vectorized.VectorizedTrainer`. A run's record is the one its single run writes,
plus ``batch`` (the keys trained together, in order: re-running that batch reproduces every
number exactly) and ``spec.vectorized``; its ``seconds`` are the batch's wall time ÷ R.
"""

from __future__ import annotations

from typing import Any

import torch
from threadpoolctl import threadpool_limits

from dalib.bench.run import PreparedRun, RunOptions, RunSpec, finish_run, prepare_run
from dalib.data.tasks import Task
from dalib.errors import DalibError
from dalib.train.trainer import steps_per_epoch
from dalib.train.vectorized import VectorizedTrainer, VectorRun


def check_vectorizes(spec: RunSpec, task: Task) -> None:
    """Raise the one-line error of a term that cannot train vectorised, from one forward pass of
    ``spec`` alone — before any run of a bench whose plugin terms would otherwise fail at the
    first step of their first batch."""
    run = prepare_run(spec, task, RunOptions(announce=False))
    assert isinstance(run, PreparedRun)
    VectorizedTrainer([VectorRun(run.spec.key, run.model, run.objective, run.config, run.source_train,
                                 run.source_val, run.target, run.dropout_state, augment=run.augment)]).check()


def train_in_batch(specs: list[RunSpec], tasks: list[Task], key: str) -> tuple[Any, dict[str, Any], Task]:
    """Re-execute a stored vectorised batch (its records' ``batch``, in order): the trained model,
    fresh record and task (views, with a cached trunk) of the run ``key`` — the same numbers bit
    for bit, where that run alone would differ by float rounding."""
    holder: dict[str, Any] = {"key": key}
    records = execute_group(specs, tasks, RunOptions(), holder)
    return holder["model"], next(r for r in records if r["key"] == key), holder["task"]


def _shape_key(run: PreparedRun) -> tuple[int, int, int]:
    """(steps per epoch, source batch, target batch): runs of one batch need the same."""
    cfg = run.config
    iters = cfg.iters_per_epoch or steps_per_epoch(len(run.source_train), cfg.batch_size)
    return iters, min(cfg.batch_size, len(run.source_train)), min(cfg.batch_size, len(run.target))


def execute_group(specs: list[RunSpec], tasks: list[Task], options: RunOptions,
                  keep_model: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Train ``specs`` (vectorizable, one method and setting) with ``tasks[i]`` the data of
    ``specs[i]``, as one model per group of equal batch shapes; their records, in order.
    ``keep_model`` receives the trained model and task of the run whose key it holds under
    ``"key"`` (default: the first), as `dalib.bench.run.execute` does."""
    prepared, records = train_group(specs, tasks, options)
    if keep_model is not None:
        kept = next(p for p in prepared if p.spec.key == keep_model.get("key", specs[0].key))
        keep_model["model"], keep_model["task"] = kept.model, kept.task
    return records


def train_group(specs: list[RunSpec], tasks: list[Task],
                options: RunOptions) -> tuple[list[PreparedRun], list[dict[str, Any]]]:
    """`execute_group`'s work: the prepared runs, their models and objectives trained (each run's
    own modules hold its trained values), and their records, in the order of ``specs``."""
    torch.set_num_threads(options.threads)
    with threadpool_limits(limits=options.threads):
        prepared = [prepare_run(s, t, options) for s, t in zip(specs, tasks)]
        if not all(isinstance(p, PreparedRun) for p in prepared):
            raise DalibError("a vectorised batch holds a shallow run; shallow methods run one at a time")
        runs_of: list[PreparedRun] = prepared  # type: ignore[assignment]
        groups: dict[tuple[int, int, int], list[int]] = {}
        for i, run in enumerate(runs_of):
            groups.setdefault(_shape_key(run), []).append(i)
        records: list[dict[str, Any] | None] = [None] * len(runs_of)
        for members in groups.values():
            runs = [runs_of[i] for i in members]
            trainer = VectorizedTrainer([VectorRun(r.spec.key, r.model, r.objective, r.config, r.source_train,
                                                   r.source_val, r.target, r.dropout_state,
                                                   torch.as_tensor(r.heldout), r.augment) for r in runs])
            batch = [r.spec.key for r in runs]
            for i, run, history in zip(members, runs, trainer.fit()):
                records[i] = {**finish_run(run, history), "batch": batch}
    return runs_of, records  # type: ignore[return-value]
