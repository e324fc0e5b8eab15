"""`ResultsStore`: round trip, atomic puts, finished keys, and refusal of foreign files."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from dalib.bench.store import ResultsStore, store_path
from dalib.errors import DalibError


def _record(key: str, seed: int = 0, n_epochs: int = 2) -> dict[str, Any]:
    epochs = [{"epoch": e + 1, "step": 10 * (e + 1), "losses": {"cls": 0.5 / (e + 1)}, "source_val_acc": 0.8,
               "target_acc": 0.6 + 0.01 * e, "target_entropy": float("nan") if e else 0.3, "lr": 0.01,
               "scores": {"snd": 1.5, "iwv": 0.2}} for e in range(n_epochs)]
    return {"key": key, "dataset": "rotated-digits", "task": "R02R30", "task_name": "R0→R30", "method": "dann",
            "seed": seed, "hparams": [["dann", "weight", 0.3]], "seconds": 1.25, "extra": {"nested": [1, None]},
            "epochs": epochs}


def test_round_trip_and_keys(tmp_path: Path) -> None:
    path = store_path(tmp_path)
    with ResultsStore(path) as store:
        assert len(store) == 0 and store.finished_keys() == set() and not store.has("a/seed0")
        store.put(_record("b/seed1", 1))
        store.put(_record("a/seed0", 0, 3))
        assert len(store) == 2 and store.has("a/seed0") and not store.has("c/seed0")
        assert store.finished_keys() == {"a/seed0", "b/seed1"}
    with ResultsStore(path) as store:  # reopened: the same data
        got = store.records(["b/seed1", "a/seed0"])  # the given order
        assert [r["key"] for r in got] == ["b/seed1", "a/seed0"]
        assert [r["key"] for r in store.records()] == ["a/seed0", "b/seed1"]  # all, by key
        want = _record("a/seed0", 0, 3)
        assert json.dumps(got[1], sort_keys=True) == json.dumps(want, sort_keys=True)  # NaN survives too
        assert math.isnan(got[1]["epochs"][1]["target_entropy"])
        assert store.finished_at("a/seed0").endswith("+00:00")
        with pytest.raises(DalibError, match="1 run"):
            store.records(["a/seed0", "zzz"])
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT run_key, epoch, target_acc, scores FROM epochs ORDER BY run_key, epoch").fetchall()
    run = conn.execute("SELECT dataset, task, method, seed, hparams, seconds FROM runs WHERE key = 'b/seed1'").fetchone()
    conn.close()
    assert [(r[0], r[1]) for r in rows] == [("a/seed0", 1), ("a/seed0", 2), ("a/seed0", 3), ("b/seed1", 1), ("b/seed1", 2)]
    assert rows[1][2] == pytest.approx(0.61) and json.loads(rows[0][3]) == {"snd": 1.5, "iwv": 0.2}
    assert run == ("rotated-digits", "R02R30", "dann", 1, '[["dann", "weight", 0.3]]', 1.25)


def test_put_replaces_a_run_with_its_epochs(tmp_path: Path) -> None:
    with ResultsStore(store_path(tmp_path)) as store:
        store.put(_record("a/seed0", 0, 3))
        store.put(_record("a/seed0", 0, 1))
        assert len(store) == 1 and len(store.records(["a/seed0"])[0]["epochs"]) == 1
        assert store._conn.execute("SELECT count(*) FROM epochs").fetchone()[0] == 1


def test_put_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = store_path(tmp_path)
    with ResultsStore(path) as store:
        store.put(_record("kept/seed0"))

        def crash(*_: Any) -> None:
            raise RuntimeError("simulated crash after the runs insert")

        monkeypatch.setattr(store, "_insert_epochs", crash)
        with pytest.raises(RuntimeError, match="simulated"):
            store.put(_record("lost/seed0"))
        monkeypatch.undo()
        bad = _record("dup/seed0")
        bad["epochs"][1]["epoch"] = 1  # a repeated epoch fails the epochs insert for real
        with pytest.raises(sqlite3.IntegrityError):
            store.put(bad)
        assert store.finished_keys() == {"kept/seed0"} and not store.has("lost/seed0")
        store.put(_record("after/seed0"))  # the store still works after a rollback
    with ResultsStore(path) as store:
        assert store.finished_keys() == {"kept/seed0", "after/seed0"}
        n_epochs = store._conn.execute("SELECT count(*) FROM epochs").fetchone()[0]
        assert n_epochs == 4  # no orphan epochs of the failed puts


def test_bad_records_and_foreign_files_are_refused(tmp_path: Path) -> None:
    with ResultsStore(store_path(tmp_path)) as store:
        with pytest.raises(DalibError, match="'key'"):
            store.put({"epochs": []})
    with pytest.raises(DalibError, match="no results store"):
        ResultsStore(tmp_path / "missing" / "results.sqlite", create=False)
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(DalibError, match="not a dalib results store"):
        ResultsStore(other)
    future = store_path(tmp_path)
    conn = sqlite3.connect(future)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(DalibError, match="schema v99"):
        ResultsStore(future)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(DalibError, match="not a readable"):
        ResultsStore(garbage)
