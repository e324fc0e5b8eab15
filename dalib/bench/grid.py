"""Methods × tasks × seeds → runs, on one of three backends; a killed grid resumes.

Which runs are finished is decided by the results store ``OUT/results.sqlite`` (see
`dalib.bench.store`): a run counts once its record and epochs are committed there. Workers
never write: each returns its record to this (parent) process, which adds the run's
fingerprint (`dalib.bench.fingerprint`), stores it as soon as it arrives and then writes the
per-run JSON export ``OUT/runs/<key>.json``.

A stored record is reused only when its fingerprint equals the one this grid computes for
the run. Otherwise — or when the folder holds runs whose shared settings (dataset, versions,
device, profile) differ from this grid's, which one table would mix — the grid stops before
any run with one line naming the first difference (`dalib.bench.mixing.find_mixing`): use a
new output folder for a new setting.

Work is cut into units (`plan_units`): one run, or a batch of vectorised runs that train as one
model (`dalib.bench.vector_run`). Backends: ``"local"`` runs them serially in this process
(``workers=1``) or in ``workers`` spawned processes, longest unit first; ``"ray"`` submits one
Ray task per unit (``ray.init(num_cpus=workers)`` locally,
or ``ray.init(address=ray_address)`` for a cluster whose nodes have dalib, the data root and
the plugin files at the same paths). Every backend runs the same `execute_unit`, with torch
limited to ``RunOptions.threads`` threads, so a seed gives the same numbers on each.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from contextlib import closing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

from dalib.bench.fingerprint import dataset_identity, fingerprint, run_setting
from dalib.bench.mixing import RunEntry, find_mixing
from dalib.bench.atomic import write_json_atomic
from dalib.bench.spec import RunOptions, RunSpec
from dalib.bench.store import ResultsStore, store_path
from dalib.data.catalog import load_dataset
from dalib.data.tasks import Task, select_tasks, target_only_problem
from dalib.errors import DalibError
from dalib.methods import TARGET_ONLY
from dalib.progress import say

BACKENDS = ("local", "ray")
RAY_MISSING = "the ray backend needs the optional extra: pip install 'dalib[ray]'"

OnDone = Callable[[dict[str, Any], int, int], None]


@dataclass(frozen=True)
class GridSource:
    """Where a worker process finds the data of a grid."""

    dataset: str
    data_root: str | None
    plugins: tuple[str, ...] = ()


@lru_cache(maxsize=4)
def _tasks(source: GridSource) -> dict[str, Task]:
    root = Path(source.data_root) if source.data_root else None
    return {t.ascii_name: t for t in select_tasks(load_dataset(source.dataset, root), None)}


def record_path(out: Path, spec: RunSpec | str) -> Path:
    """The JSON export of a run (a spec or its key) under the output folder."""
    key = spec if isinstance(spec, str) else spec.key
    return Path(out) / "runs" / f"{key}.json"


def execute_spec(source: GridSource, spec: RunSpec, options: RunOptions) -> dict[str, Any]:
    """Run one spec and return its record."""
    return execute_unit(source, (spec,), options)[0]


Unit = tuple[RunSpec, ...]  # one run, or the runs of one vectorised batch


def execute_unit(source: GridSource, unit: Unit, options: RunOptions) -> list[dict[str, Any]]:
    """Run one unit (a single run, or a vectorised batch trained as one model) and return its
    records; the same function runs on every backend."""
    from dalib.plugins import load_plugins  # workers load the same plugins as the parent

    load_plugins(list(source.plugins))
    tasks = _tasks(source)
    if len(unit) == 1 and not unit[0].vectorized:
        from dalib.bench.run import execute  # the trainer, models and scikit-learn: imported by the first run

        return [execute(unit[0], tasks[unit[0].task], options)]
    from dalib.bench.vector_run import execute_group

    if options.announce:
        say(f"  training {len(unit)} runs of {unit[0].label} ({', '.join(sorted({s.task for s in unit}))}) "
             "as one vectorised model")
    return execute_group(list(unit), [tasks[s.task] for s in unit], options)


def _batch_key(spec: RunSpec) -> RunSpec:
    """What the runs of one vectorised batch share: everything but task and seed."""
    return replace(spec, task="", seed=0)


def _cost(unit: Unit) -> float:
    """Relative cost of a unit (runs × time per step of its method), to start the longest first."""
    from dalib.method_costs import RELATIVE_STEP_TIME

    parts = [] if unit[0].method in ("source_only", TARGET_ONLY) else unit[0].method.split("+")
    return len(unit) * (1.0 + sum(RELATIVE_STEP_TIME.get(p, 2.0) - 1.0 for p in parts))


def plan_units(specs: list[RunSpec], finished: set[str], max_batch: int) -> list[Unit]:
    """The units that run the unfinished ``specs``: vectorised specs in batches of at most
    ``max_batch`` runs sharing everything but task and seed, cut from the whole planned list (so
    a resumed grid trains each run in the batch it had), the others alone; longest first."""
    batches: dict[RunSpec, list[RunSpec]] = {}
    units: list[Unit] = []
    for spec in specs:
        if spec.vectorized:
            batches.setdefault(_batch_key(spec), []).append(spec)
        elif spec.key not in finished:
            units.append((spec,))
    for members in batches.values():
        for start in range(0, len(members), max_batch):
            todo = tuple(s for s in members[start:start + max_batch] if s.key not in finished)
            if todo:
                units.append(todo)
    return sorted(units, key=_cost, reverse=True)


def _exit_with_parent(parent: int) -> None:
    """In a worker process: end it within a second of the bench process's end (a kill -9 of the
    bench would otherwise leave each worker finishing its unit — minutes for a vectorised batch —
    beside the resumed bench)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def _serial(source: GridSource, units: list[Unit], options: RunOptions, **_: Any) -> Iterator[dict[str, Any]]:
    for unit in units:
        yield from execute_unit(source, unit, options)


def _processes(source: GridSource, units: list[Unit], options: RunOptions, workers: int,
               **_: Any) -> Iterator[dict[str, Any]]:
    """Records of ``units`` from spawned worker processes, in order of completion.

    After a failed run, queued runs are cancelled, running ones are still collected, and
    then the first error is raised.
    """
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_exit_with_parent, initargs=(os.getpid(),))
    error: BaseException | None = None
    try:
        pending: set[Future[list[dict[str, Any]]]] = {pool.submit(execute_unit, source, u, options) for u in units}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                if fut.cancelled():
                    continue
                if fut.exception() is not None:
                    error = error or fut.exception()
                    for other in pending:
                        other.cancel()
                    continue
                yield from fut.result()
    finally:  # also on Ctrl-C or a failed store: drop the queued runs instead of waiting for them
        pool.shutdown(wait=True, cancel_futures=True)
    if error is not None:
        raise error


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise DalibError(RAY_MISSING) from None
    return ray


def _ray(source: GridSource, units: list[Unit], options: RunOptions, workers: int,
         ray_address: str | None = None) -> Iterator[dict[str, Any]]:
    """Records of ``units`` from Ray tasks, in order of completion (via ``ray.wait``).

    After a failed run the other tasks are cancelled (records that already arrived are still
    yielded), then the first error is raised. Shuts Ray down only if this call started it.
    """
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        if ray_address is None:
            ray.init(num_cpus=workers, include_dashboard=False)
        else:
            ray.init(address=ray_address)
    error: BaseException | None = None
    pending: list[Any] = []
    try:
        task = ray.remote(num_cpus=1)(execute_unit)
        pending = [task.remote(source, u, options) for u in units]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            try:
                records = ray.get(ready[0])
            except ray.exceptions.TaskCancelledError:
                continue
            except ray.exceptions.RayTaskError as err:
                cause = getattr(err, "cause", None)
                error = error or (DalibError(str(cause)) if isinstance(cause, DalibError) else err)
                for ref in pending:
                    ray.cancel(ref)
                continue
            yield from records
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()
    if error is not None:
        raise error


def _runner(backend: str, workers: int) -> Callable[..., Iterator[dict[str, Any]]]:
    """The generator of new records for a backend and worker count."""
    if backend == "ray":
        return _ray
    return _serial if workers <= 1 else _processes


def _drop_unsplittable_references(source: GridSource, specs: list[RunSpec],
                                  log: Callable[[str], None] | None) -> list[RunSpec]:
    """``specs`` without the target-only runs whose target is too small to split (see
    `target_only_problem`); each one dropped is logged as a note instead of failing the grid."""
    kept = []
    for spec in specs:
        if spec.method == TARGET_ONLY:
            target = _tasks(source)[spec.task].target
            problem = target_only_problem(target.labels.numpy(), spec.seed)
            if problem:
                if log is not None:
                    log(f"note: target-only reference skipped for {spec.task} seed {spec.seed}: "
                        f"target {target.name!r} {problem}")
                continue
        kept.append(spec)
    return kept


def run_grid(source: GridSource, specs: list[RunSpec], out: Path, options: RunOptions,
             workers: int = 1, on_done: OnDone | None = None, *, backend: str = "local",
             ray_address: str | None = None, log: Callable[[str], None] | None = say,
             max_batch: int = 18) -> list[dict[str, Any]]:
    """Run every spec not yet in ``OUT/results.sqlite``; return all records (stored and new) in spec order.

    ``on_done(record, done, total)`` is called after each new run is stored; ``log`` gets
    one line saying how many runs were already finished when some were, and one note per
    target-only reference skipped because its target is too small to split (None: silent).
    Specs with ``vectorized`` set train in batches of at most ``max_batch`` runs as one model
    (`plan_units`); a batch's records are stored as it finishes.
    """
    if backend not in BACKENDS:
        raise DalibError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if workers < 1:
        raise DalibError(f"--workers must be at least 1, got {workers}")
    if backend == "ray":
        _import_ray()  # fail before opening anything when the extra is missing
    out = Path(out)
    specs = _drop_unsplittable_references(source, specs, log)
    keys = [s.key for s in specs]
    specs = list({s.key: s for s in specs}.values())  # a run listed twice runs once
    dataset = dataset_identity(source.dataset)
    settings = {s.key: run_setting(s, dataset) for s in specs}
    identity = {k: {"fingerprint": fingerprint(v), "setting": v} for k, v in settings.items()}
    grids = {s.key: list(s.grid_axes) for s in specs}
    with ResultsStore(store_path(out)) as store:
        _refuse_other_settings(out, store, specs, identity)
        finished = store.finished_keys()
        todo = [s for s in specs if s.key not in finished]
        done = len(specs) - len(todo)
        if done and log is not None:
            log(f"resuming: {done} of {len(specs)} runs already finished in {store.path}; running {len(todo)}")
        for spec in specs:  # re-export runs whose JSON was lost (e.g. a crash right after a commit)
            if spec.key in finished and not record_path(out, spec).is_file():
                write_json_atomic(record_path(out, spec), store.records([spec.key])[0])
        if todo:
            runner = _runner(backend, workers)
            units = plan_units(specs, finished, max_batch)
            options = replace(options, announce=log is not None)
            with closing(runner(source, units, options, workers=workers, ray_address=ray_address)) as new_records:
                for record in new_records:
                    record = {**record, "grid": grids[record["key"]], **identity[record["key"]]}
                    store.put(record)
                    write_json_atomic(record_path(out, record["key"]), record)
                    done += 1
                    if on_done:
                        on_done(record, done, len(specs))
        return store.records(keys)


def _refuse_other_settings(out: Path, store: ResultsStore, specs: list[RunSpec],
                           identity: dict[str, dict[str, Any]]) -> None:
    """Stop, naming the difference, when reusing or adding to the folder's runs would mix settings."""
    stored = {e["key"]: RunEntry.of_record(e, "stored") for e in store.settings()}
    legacy = [s.key for s in specs if s.key in stored and stored[s.key].fingerprint is None]
    if legacy:
        raise DalibError(f"{out} holds {len(legacy)} run(s) of this bench stored without a fingerprint by an older "
                         f"dalib (e.g. {legacy[0]}); their setting is unknown: use a new --out")
    new = [RunEntry(s.key, s.label, s.hparams, s.grid_axes, identity[s.key]["fingerprint"],
                    identity[s.key]["setting"], "new") for s in specs]
    same = {e.key for e in new if e.key in stored and stored[e.key].fingerprint == e.fingerprint}
    problem = find_mixing(list(stored.values()) + [e for e in new if e.key not in same])
    if problem:
        raise DalibError(f"{out} holds runs made with another setting — {problem}; use a new --out "
                         "(or delete the folder) so that no record or table mixes settings")

