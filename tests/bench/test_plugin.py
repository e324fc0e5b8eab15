"""The prototype-a-loss path: one file, `--plugin`, no change to dalib."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "my_loss.py"


def test_plugin_loss_is_benchmarked_from_the_command_line(tmp_path):
    out = tmp_path / "b"
    proc = subprocess.run(
        [sys.executable, "-m", "dalib.cli", "bench", "--plugin", str(EXAMPLE), "--methods", "my_loss,dann+my_loss",
         "--seeds", "0", "--tasks", "R02R30", "--epochs", "2", "--out", str(out), "--workers", "2"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| my_loss |" in (out / "table.md").read_text()
    rec = json.loads(next((out / "runs").rglob("my_loss/seed0.json")).read_text())
    assert rec["epochs"][-1]["losses"]["my_loss"] >= 0


def test_plugin_discrepancy_value():
    from dalib.plugins import load_plugins
    from dalib.alignment.registry import REGISTRY

    load_plugins([str(EXAMPLE)])
    loss = REGISTRY["my_loss"].cls(feature_dim=2, num_classes=2)
    f_s, f_t = torch.tensor([[0.0, 0.0], [2.0, 2.0]]), torch.tensor([[1.0, 4.0], [1.0, 4.0]])
    assert float(loss(f_s, f_t)) == 9.0  # means (1, 1) and (1, 4)
