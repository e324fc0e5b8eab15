"""The same seeds give the same numbers serially, in local worker processes and on Ray."""

from __future__ import annotations

import builtins
import time
from pathlib import Path
from typing import Any

import pytest

from dalib.bench.grid import GridSource, run_grid
from dalib.bench.profiles import profile_for
from dalib.bench.run import RunOptions, RunSpec
from dalib.bench.store import ResultsStore, store_path
from dalib.errors import DalibError

SOURCE = GridSource("rotated-digits", None)
PROFILE = profile_for("rotated-digits").with_overrides(epochs=2)
SPECS = [RunSpec("rotated-digits", "R02R30", "dann", 0, PROFILE), RunSpec("rotated-digits", "R02R30", "source_only", 1, PROFILE)]


def _accs(records: list[dict[str, Any]]) -> dict[str, list[float]]:
    return {r["key"]: [e["target_acc"] for e in r["epochs"]] for r in records}


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[float]]:
    out = tmp_path_factory.mktemp("serial")
    seen: list[tuple[str, int, int]] = []
    records = run_grid(SOURCE, SPECS, out, RunOptions(), 1, lambda r, d, t: seen.append((r["key"], d, t)))
    assert [k for k, _, _ in seen] == [s.key for s in SPECS] and [(d, t) for _, d, t in seen] == [(1, 2), (2, 2)]
    assert [r["key"] for r in records] == [s.key for s in SPECS] and len(records[0]["epochs"]) == 2
    return _accs(records)


def test_local_processes_match_serial(tmp_path: Path, serial: dict[str, list[float]]) -> None:
    records = run_grid(SOURCE, SPECS, tmp_path, RunOptions(), 2)
    assert _accs(records) == serial
    with ResultsStore(store_path(tmp_path)) as store:
        assert store.finished_keys() == set(serial)
    assert all((tmp_path / "runs" / f"{k}.json").is_file() for k in serial)


def test_resume_skips_stored_runs(tmp_path: Path, serial: dict[str, list[float]]) -> None:
    run_grid(SOURCE, SPECS[:1], tmp_path, RunOptions(), 1, log=None)
    lines: list[str] = []
    seen: list[str] = []
    records = run_grid(SOURCE, SPECS, tmp_path, RunOptions(), 1, lambda r, d, t: seen.append(r["key"]), log=lines.append)
    assert lines == [f"resuming: 1 of 2 runs already finished in {store_path(tmp_path)}; running 1"]
    assert seen == [SPECS[1].key] and _accs(records) == serial


def test_ray_matches_serial(tmp_path: Path, serial: dict[str, list[float]]) -> None:
    ray = pytest.importorskip("ray")
    start = time.perf_counter()
    try:
        records = run_grid(SOURCE, SPECS, tmp_path, RunOptions(), 2, backend="ray", log=None)
    finally:
        if ray.is_initialized():
            ray.shutdown()
    print(f"ray backend: {time.perf_counter() - start:.1f}s for {len(SPECS)} runs, ray.init included")
    assert not ray.is_initialized()  # run_grid shuts down the Ray it started
    assert _accs(records) == serial


def test_bad_backend_and_missing_ray(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DalibError, match="unknown backend 'dask'"):
        run_grid(SOURCE, SPECS, tmp_path, RunOptions(), 1, backend="dask")
    real_import = builtins.__import__

    def no_ray(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(DalibError) as err:
        run_grid(SOURCE, SPECS, tmp_path, RunOptions(), 1, backend="ray")
    assert str(err.value) == "the ray backend needs the optional extra: pip install 'dalib[ray]'"
    assert not store_path(tmp_path).exists()  # failed before creating anything
