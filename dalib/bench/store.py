"""The results store of a bench folder: one SQLite file, ``DIR/results.sqlite``.

Tables:

* ``runs``: one row per finished run — ``key`` (primary key), ``dataset``, ``task``,
  ``method``, ``seed``, ``hparams`` (JSON), ``seconds``, ``finished_at`` (UTC, ISO 8601),
  ``record`` (the whole run record as JSON, returned unchanged by `ResultsStore.records`),
  and what decides whether the record may be reused or share a table: ``fingerprint``
  (sha256 of the run's setting, `dalib.bench.fingerprint`), ``setting`` (its components, JSON)
  and ``grid`` (the ``TERM.NAME`` axes the run was launched with as a grid, JSON).
* ``epochs``: one row per (run, epoch) — ``source_val_acc``, ``target_acc``,
  ``target_entropy`` and ``scores`` (JSON), for SQL queries across runs.

Durability and atomicity: `ResultsStore.put` writes a run and all its epochs in one
``BEGIN IMMEDIATE … COMMIT`` transaction, so a crash (even ``kill -9``) leaves either the
whole run or nothing. The file uses SQLite's write-ahead log (``journal_mode=WAL``) with
``synchronous=FULL``: readers (``dalib table``, a notebook) never block the writer, and a
committed run survives a crash or power loss. WAL needs a local file system (not NFS).

Only one process writes: the bench parent, which receives records from its workers. The
schema version is kept in ``PRAGMA user_version``; a v1 store (before fingerprints) gains the
three columns, empty for its old runs; a file from another version, or a SQLite file that is
not a dalib store, is refused with a one-line `DalibError`.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from dalib.errors import DalibError

SCHEMA_VERSION = 2
APPLICATION_ID = 0x44414C42  # "DALB": marks the SQLite file as a dalib results store
STORE_NAME = "results.sqlite"

_SCHEMA = """
CREATE TABLE runs (
    key TEXT PRIMARY KEY,
    dataset TEXT NOT NULL,
    task TEXT NOT NULL,
    method TEXT NOT NULL,
    seed INTEGER NOT NULL,
    hparams TEXT NOT NULL,
    seconds REAL,
    finished_at TEXT NOT NULL,
    record TEXT NOT NULL,
    fingerprint TEXT,
    setting TEXT,
    grid TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE epochs (
    run_key TEXT NOT NULL REFERENCES runs(key) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    source_val_acc REAL,
    target_acc REAL,
    target_entropy REAL,
    scores TEXT NOT NULL,
    PRIMARY KEY (run_key, epoch)
);
"""
_V1_TO_V2 = ("ALTER TABLE runs ADD COLUMN fingerprint TEXT", "ALTER TABLE runs ADD COLUMN setting TEXT",
             "ALTER TABLE runs ADD COLUMN grid TEXT NOT NULL DEFAULT '[]'")
_CHUNK = 500  # keys per ``IN (…)`` query, below SQLite's bound-parameter limit


def store_path(out: Path | str) -> Path:
    """The results store file of a bench output folder."""
    return Path(out) / STORE_NAME


class ResultsStore:
    """Finished runs of a bench folder, keyed by `RunSpec.key`.

    ``ResultsStore(path)`` opens (creating when ``create``) the SQLite file at ``path``;
    use it as a context manager or call `close`.
    """

    def __init__(self, path: Path | str, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise DalibError(f"no results store at {self.path}; run `dalib bench --out {self.path.parent}` first")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._open()
        except sqlite3.DatabaseError as err:
            if hasattr(self, "_conn"):
                self._conn.close()
            raise DalibError(f"{self.path} is not a readable dalib results store ({err}); "
                             "choose a new --out folder") from None

    def _open(self) -> None:
        """Create or check the schema, then switch to the write-ahead log."""
        conn = self._conn
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("BEGIN IMMEDIATE")  # one opener at a time creates the schema
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            n_tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            if n_tables == 0 and version == 0:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            elif app_id != APPLICATION_ID:
                raise DalibError(f"{self.path} is an SQLite file but not a dalib results store; "
                                 "choose a new --out folder")
            elif version == 1:
                for statement in _V1_TO_V2:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            elif version != SCHEMA_VERSION:
                raise DalibError(f"{self.path} uses results-store schema v{version} but this dalib "
                                 f"reads v{SCHEMA_VERSION}; choose a new --out folder")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            conn.close()
            raise
        conn.execute("PRAGMA journal_mode = WAL")  # only after the file is known to be ours
        conn.execute("PRAGMA synchronous = FULL")

    def close(self) -> None:
        """Close the connection (the last close checkpoints and removes the WAL file)."""
        self._conn.close()

    def __enter__(self) -> "ResultsStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM runs").fetchone()[0])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records())

    def has(self, key: str) -> bool:
        """Whether the run ``key`` is finished and stored."""
        return self._conn.execute("SELECT 1 FROM runs WHERE key = ?", (key,)).fetchone() is not None

    def finished_keys(self) -> set[str]:
        """Keys of every stored run."""
        return {row[0] for row in self._conn.execute("SELECT key FROM runs")}

    def finished_at(self, key: str) -> str:
        """When the run ``key`` was stored (UTC, ISO 8601)."""
        row = self._conn.execute("SELECT finished_at FROM runs WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise DalibError(f"no run {key!r} in {self.path}")
        return str(row[0])

    def settings(self) -> list[dict[str, Any]]:
        """Every stored run as ``key``, ``method``, ``hparams``, ``grid``, ``fingerprint`` and
        ``setting`` (None for runs stored before fingerprints), without loading the records."""
        rows = self._conn.execute("SELECT key, method, hparams, grid, fingerprint, setting FROM runs ORDER BY key")
        return [{"key": k, "method": m, "hparams": json.loads(h), "grid": json.loads(g), "fingerprint": f,
                 "setting": None if s is None else json.loads(s)} for k, m, h, g, f, s in rows]

    def put(self, record: dict[str, Any]) -> None:
        """Store a finished run and its epochs atomically, replacing an earlier run of the same key."""
        key = record.get("key")
        if not isinstance(key, str) or not key or not isinstance(record.get("epochs"), list):
            raise DalibError("a run record needs a non-empty 'key' and an 'epochs' list; got "
                             f"key={key!r}")
        text = json.dumps(record, ensure_ascii=False)
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._insert_run(record, text)
            self._insert_epochs(key, record["epochs"])
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def _insert_run(self, record: dict[str, Any], text: str) -> None:
        self._conn.execute("DELETE FROM runs WHERE key = ?", (record["key"],))  # cascades to epochs
        self._conn.execute(
            "INSERT INTO runs (key, dataset, task, method, seed, hparams, seconds, finished_at, record, "
            "fingerprint, setting, grid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record["key"], str(record.get("dataset", "")), str(record.get("task", "")),
             str(record.get("method", "")), int(record.get("seed", 0)),
             json.dumps(record.get("hparams", []), ensure_ascii=False), record.get("seconds"),
             datetime.now(timezone.utc).isoformat(timespec="microseconds"), text, record.get("fingerprint"),
             None if record.get("setting") is None else json.dumps(record["setting"], ensure_ascii=False),
             json.dumps(list(record.get("grid", [])))))

    def _insert_epochs(self, key: str, epochs: list[dict[str, Any]]) -> None:
        self._conn.executemany(
            "INSERT INTO epochs (run_key, epoch, source_val_acc, target_acc, target_entropy, scores) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(key, int(e["epoch"]), e.get("source_val_acc"), e.get("target_acc"), e.get("target_entropy"),
              json.dumps(e.get("scores", {}), ensure_ascii=False)) for e in epochs])

    def records(self, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Full run records: of ``keys`` in that order, or every run ordered by key."""
        if keys is None:
            return [json.loads(r[0]) for r in self._conn.execute("SELECT record FROM runs ORDER BY key")]
        wanted = list(keys)
        found: dict[str, str] = {}
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i:i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(self._conn.execute(f"SELECT key, record FROM runs WHERE key IN ({marks})", chunk))
        missing = [k for k in wanted if k not in found]
        if missing:
            raise DalibError(f"{len(missing)} run(s) not in {self.path}, e.g. {missing[0]!r}; run them first")
        return [json.loads(found[k]) for k in wanted]


def stored_records(folder: Path | str) -> list[dict[str, Any]]:
    """Every finished run record of the bench folder ``folder``; a folder without a store or
    without finished runs is refused with the command that fills it."""
    with ResultsStore(store_path(folder), create=False) as store:
        records = store.records()
    if not records:
        raise DalibError(f"no finished runs in {folder}; run `dalib bench --out {folder}` first")
    return records
