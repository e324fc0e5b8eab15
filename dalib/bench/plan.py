"""A validated `BenchConfig` → the runs it means → their records.

`plan_bench` resolves the data and the task names and lists every run (methods × weight
estimators × grid points × tasks × seeds); `run_bench` runs the plan with `run_grid`
(resuming finished runs, refusing records of another setting). Library use::

    config = BenchConfig(methods="dann", seeds="0,1", epochs=2, out="runs/x")
    records = run_bench(plan_bench(config))
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from dalib.bench.config import BenchConfig
from dalib.bench.grid import GridSource, OnDone, run_grid
from dalib.bench.hparams import grid_settings, hp_targets
from dalib.bench.spec import RunOptions, RunSpec
from dalib.errors import DalibError


@dataclass(frozen=True)
class BenchPlan:
    """The runs of a config, with where their data comes from."""

    config: BenchConfig
    source: GridSource
    tasks: list[str]
    specs: list[RunSpec]


def plan_runs(config: BenchConfig, tasks: list[str]) -> list[RunSpec]:
    """One `RunSpec` per method × weighting × grid point × task × seed.

    A run gets the ``--hp`` items and grid axes whose TERM applies to it (its terms,
    ``profile``, ``weights`` when weighted, ``shallow`` for shallow methods).
    """
    specs = []
    for method in config.run_methods:
        for w in config.weightings(method):
            targets = hp_targets(method, w)
            fixed = [h for h in config.hp if h[0] in targets]
            for combo in grid_settings(config.grid, targets):
                hparams = tuple(sorted(fixed + list(combo)))
                axes = tuple(sorted(f"{t}.{n}" for t, n, _ in combo))
                specs += [RunSpec(config.dataset, task, method, seed, config.base_profile, hparams, config.device, w,
                                  config.reweight_every if w else 0, axes)
                          for task in tasks for seed in config.seeds]
    return specs


def plan_bench(config: BenchConfig) -> BenchPlan:
    """Find the data (one-line error when missing) and the tasks, and list the runs."""
    from dalib.data.catalog import get_spec, load_dataset
    from dalib.data.root import find_data_root
    from dalib.data.tasks import select_tasks

    root = None if get_spec(config.dataset).kind == "embedded" else find_data_root(config.data_root)
    source = GridSource(config.dataset, str(root) if root else None,
                        tuple(str(Path(p).resolve()) for p in config.plugin))
    domains = load_dataset(source.dataset, root)
    try:
        chosen = select_tasks(domains, list(config.tasks) or None)
    except DalibError as err:
        raise DalibError(f"--tasks {','.join(config.tasks)}: {err}") from None
    specs = plan_runs(config, [t.ascii_name for t in chosen])
    if config.max_batch and not (config.tensorboard or config.progress):  # per-run logs need single runs
        from dalib.bench.spec import vectorizable

        by_name = {t.ascii_name: t for t in chosen}
        specs = [replace(s, vectorized=True) if vectorizable(s, by_name[s.task]) is None else s for s in specs]
        _check_plugin_terms_vectorize(specs, by_name)
    _check_target_classes(specs, chosen[0])
    return BenchPlan(config, source, [t.ascii_name for t in chosen], specs)


def _check_plugin_terms_vectorize(specs: list[RunSpec], tasks: dict[str, Any]) -> None:
    """One forward pass under vmap of the first vectorised run of each method with a term from a
    plugin (the built-in terms are tested): a loss vmap cannot batch fails before any run."""
    from dalib.bench.fingerprint import plugin_file
    from dalib.methods import resolve_method

    checked = set()
    for spec in specs:
        if spec.vectorized and spec.method not in checked and any(plugin_file(e.cls) for e in
                                                                  resolve_method(spec.method).entries):
            from dalib.bench.vector_run import check_vectorizes

            checked.add(spec.method)
            check_vectorizes(spec, tasks[spec.task])


def _check_target_classes(specs: list[RunSpec], task: Any) -> None:
    """Refuse a partial-set ``target_classes`` the dataset cannot take before any run starts."""
    from dalib.data.tasks import partial_target

    for k in {s.profile.with_overrides(**s.overrides().get("profile", {})).target_classes for s in specs}:
        partial_target(task, k)


def run_bench(plan: BenchPlan, on_done: OnDone | None = None,
              log: Callable[[str], None] | None = print) -> list[dict[str, Any]]:
    """Run (or resume) every run of the plan into ``config.out``; return the records in plan order."""
    config = plan.config
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    options = RunOptions(log_root=str(out / "tensorboard") if config.tensorboard else None,
                         progress_bar=config.progress, threads=config.threads)
    return run_grid(plan.source, plan.specs, out, options, config.workers, on_done,
                    backend=config.backend, ray_address=config.ray_address, log=log, max_batch=max(config.max_batch, 1))
