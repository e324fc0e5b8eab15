"""The README's "Your own data" commands, run on a tiny image folder built here."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
from PIL import Image

from dalib.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"
FAST = ["--epochs", "1", "--hp", "profile.iters_per_epoch=2"]  # added to `bench`: seconds, not minutes


def readme_commands() -> list[list[str]]:
    """The ``dalib`` command lines of the first bash block under "## Your own data", as argv lists."""
    text = README.read_text()
    block = re.compile(r"```bash\n(.*?)```", re.DOTALL).search(text, text.index("## Your own data\n")).group(1)
    lines = [shlex.split(line, comments=True) for line in block.splitlines()]
    return [argv[1:] for argv in lines if argv and argv[0].endswith("dalib")]


def make_photos(root: Path) -> None:
    """amazon: 6 + 6 images, webcam: 4 + 4 (too few for the target-only reference on A→W)."""
    rng = np.random.default_rng(0)
    for domain, n in (("amazon", 6), ("webcam", 4)):
        for c, cls in enumerate(("bike", "mug")):
            (root / domain / cls).mkdir(parents=True)
            for i in range(n):
                pixels = (rng.random((20, 24, 3)) * 60 + 150 * c).astype(np.uint8)
                Image.fromarray(pixels).save(root / domain / cls / f"{i}.png")


def test_readme_own_data_example_runs(tmp_path, monkeypatch, capsys):
    commands = readme_commands()
    assert [argv[:2] for argv in commands] == [["data", "check"], ["bench", "--dataset"], ["table", "runs/mine"]]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DALIB_CACHE", str(tmp_path / "cache"))
    make_photos(tmp_path / "my_photos")

    assert main(commands[0]) == 0
    checked = capsys.readouterr().out
    assert "| amazon | A | 12 | 6 6 |" in checked and "| webcam | W | 8 | 4 4 |" in checked
    assert "note: target 'webcam' (8 samples) is too small to split 50/50" in checked

    assert main(commands[1] + FAST) == 0
    ran = capsys.readouterr().out
    assert "note: target-only reference skipped for A2W seed 0: target 'webcam' (8 samples)" in ran
    records = [json.loads(p.read_text()) for p in (tmp_path / "runs/mine/runs/my_photos").rglob("*.json")]
    runs = sorted((r["task"], r["method"]) for r in records)  # the target-only reference on W2A only:
    assert runs == [("A2W", "dann"), ("A2W", "source_only"), ("W2A", "dann"), ("W2A", "source_only"),
                    ("W2A", "target_only")]

    assert main(commands[2]) == 0
    assert (tmp_path / "runs/mine/table-source-val.md").is_file()
