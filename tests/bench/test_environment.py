"""Each record stores the environment it was trained in; a table of several environments says so."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dalib.bench.environment import FIELDS, KERNEL_FLAGS, cpu_flags, environments, run_environment, same_environment
from dalib.bench.store import stored_records
from dalib.bench.tables import build_table, to_markdown
from dalib.cli import main


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    out = tmp_path_factory.mktemp("env") / "b"
    assert main(["bench", "--dataset", "rotated-digits", "--methods", "source_only,dann", "--seeds", "0",
                 "--tasks", "R02R30", "--epochs", "1", "--no-target-only", "--out", str(out)]) == 0
    return stored_records(out)


def test_every_record_stores_this_machine(records: list[dict]) -> None:
    """Kills: no environment stored, or another device's / capability's values."""
    assert len(records) == 2
    for rec in records:
        env = rec["environment"]
        assert tuple(env) == FIELDS
        assert env == run_environment("cpu")
        assert env["device"] == "cpu" and env["torch"] == torch.__version__
        assert env["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
        assert set(env["cpu_flags"].split()) <= set(KERNEL_FLAGS)


def test_a_table_of_two_environments_lists_both(records: list[dict]) -> None:
    """One environment: no note. Two: the note counts them and lists each.
    Kills: the note always or never shown, one environment left out."""
    alone = to_markdown(build_table(records, "last"))
    assert "environments" not in alone and f"Environment: {environments(records)[0]}." in alone
    other = {**records[1], "environment": {**records[1]["environment"], "cpu": "Other CPU"}}
    mixed = [records[0], other]
    text = to_markdown(build_table(mixed, "last"))
    assert "trained in 2 environments" in text
    for env in environments(mixed):
        assert f"- {env}" in text
    assert "Other CPU (" in text


def test_same_environment_compares_every_field() -> None:
    """Kills: a field left out of the comparison; a record of an older dalib (none stored) counts as the same."""
    here = run_environment("cpu")
    assert same_environment(dict(here), here) and same_environment(None, here)
    for name in FIELDS:
        assert not same_environment({**here, name: "else"}, here), name


def test_cpu_flags_are_read_from_cpuinfo(tmp_path, monkeypatch) -> None:
    """Only the kernel flags, in `KERNEL_FLAGS` order, and the model name, from one read of the file.
    Kills: every flag kept, the order of the file, another field taken for the model."""
    from dalib.bench import environment

    fake = tmp_path / "cpuinfo"
    fake.write_text("processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: sse amx_bf16 avx2 avx512f avx512_bf16 fma ht\n")
    monkeypatch.setattr(environment, "Path", lambda _: fake)
    environment._cpuinfo.cache_clear()
    try:
        assert cpu_flags() == "avx2 fma avx512f avx512_bf16 amx_bf16"
        assert environment.cpu_model() == "Test CPU"
    finally:
        environment._cpuinfo.cache_clear()
