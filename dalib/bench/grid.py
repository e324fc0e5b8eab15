"""Methods × tasks × seeds → runs; finished runs are skipped, so a killed grid resumes."""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from dalib.bench.run import RunOptions, RunSpec, execute, write_json_atomic
from dalib.data.catalog import load_dataset
from dalib.data.tasks import Task, select_tasks


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


def record_path(out: Path, spec: RunSpec) -> Path:
    """The JSON record file of a run under the output folder."""
    return out / "runs" / f"{spec.key}.json"


def _run_and_store(source: GridSource, spec: RunSpec, out: str, options: RunOptions) -> dict[str, Any]:
    from dalib.plugins import load_plugins  # workers load the same plugins as the parent

    load_plugins(list(source.plugins))
    record = execute(spec, _tasks(source)[spec.task], options)
    write_json_atomic(record_path(Path(out), spec), record)
    return record


def run_grid(source: GridSource, specs: list[RunSpec], out: Path, options: RunOptions,
             workers: int = 1, on_done: Callable[[dict[str, Any], int, int], None] | None = None) -> list[dict[str, Any]]:
    """Run every spec without a stored record; return all records (stored and new) in spec order."""
    todo = [s for s in specs if not record_path(out, s).is_file()]
    done = len(specs) - len(todo)
    if workers <= 1:
        for spec in todo:
            done += 1
            record = _run_and_store(source, spec, str(out), options)
            if on_done:
                on_done(record, done, len(specs))
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            futures = [pool.submit(_run_and_store, source, s, str(out), options) for s in todo]
            for fut in as_completed(futures):
                done += 1
                record = fut.result()
                if on_done:
                    on_done(record, done, len(specs))
    return [json.loads(record_path(out, s).read_text()) for s in specs]


def task_names(source: GridSource, wanted: list[str] | None) -> list[str]:
    """ASCII names of the chosen tasks (all ordered pairs when ``wanted`` is None)."""
    root = Path(source.data_root) if source.data_root else None
    return [t.ascii_name for t in select_tasks(load_dataset(source.dataset, root), wanted)]

