"""A bench killed with SIGKILL resumes from its results store without redoing finished runs."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from dalib.bench.store import store_path


def _finished(path: Path) -> dict[str, tuple[str, str]]:
    """key → (record JSON, finished_at) of the committed runs; {} while the store is not ready."""
    if not path.is_file():
        return {}
    try:
        conn = sqlite3.connect(path, timeout=5.0)
        try:
            return {k: (r, t) for k, r, t in conn.execute("SELECT key, record, finished_at FROM runs")}
        finally:
            conn.close()
    except sqlite3.OperationalError:  # the schema is being created
        return {}


def test_kill_9_then_resume(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    cmd = [sys.executable, "-m", "dalib.cli", "bench", "--methods", "dann", "--seeds", "0,1,2",
           "--tasks", "R02R30,R302R0", "--epochs", "3", "--out", str(out)]
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    db = store_path(out)
    deadline = time.monotonic() + 240
    try:
        while len(_finished(db)) < 2:
            assert proc.poll() is None, f"bench exited early: {proc.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "no two runs finished in time"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    before = _finished(db)  # read after the kill: everything committed before it
    assert len(before) >= 2
    conn = sqlite3.connect(db)
    n_epochs = conn.execute("SELECT count(*) FROM epochs").fetchone()[0]
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert n_epochs == 3 * len(before)  # no run without its epochs, no orphan epochs

    done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    total = int(re.search(r"= (\d+) runs", done.stdout).group(1))
    assert total >= 12 and total % 6 == 0  # 2 tasks × 3 seeds × (dann, source_only, and target_only if on)
    assert len(before) < total, "the bench finished before it was killed; nothing was resumed"
    assert f"resuming: {len(before)} of {total} runs already finished" in done.stdout
    assert f"[{len(before) + 1}/{total}]" in done.stdout and f"[{len(before)}/{total}]" not in done.stdout
    after = _finished(db)
    assert len(after) == total
    for key, (record, finished_at) in before.items():  # not redone: byte-identical record and time
        assert after[key] == (record, finished_at), key
    assert len(list((out / "runs").rglob("*.json"))) == total


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_end_with_a_killed_bench(tmp_path: Path) -> None:
    """kill -9 of a `--workers 2` bench ends its worker processes within seconds, instead of
    each finishing its unit beside a resumed bench. Kills: a pool without the parent watch."""
    if not Path("/proc/self/stat").is_file():
        import pytest

        pytest.skip("needs /proc to find the worker processes")
    out = tmp_path / "bench"
    cmd = [sys.executable, "-m", "dalib.cli", "bench", "--methods", "dann", "--seeds", "0,1,2",
           "--tasks", "R02R30,R302R0", "--epochs", "30", "--workers", "2", "--vectorize", "off", "--out", str(out)]
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(cmd, cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while len(_children(proc.pid)) < 2:
            assert proc.poll() is None, f"bench exited early: {proc.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "no worker processes started in time"
            time.sleep(0.1)
        time.sleep(3.0)  # the workers are training
        workers = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [w for w in workers if _alive(w)], "worker processes outlived the killed bench"
