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


def test_methods_lists_constructor_only_keywords_and_escapes_the_docstring(tmp_path, capsys):
    # a plugin whose exponent is only a constructor keyword, with a '|' in its first docstring line
    plugin = tmp_path / "mean_p.py"
    plugin.write_text(
        "from dalib.alignment import Discrepancy, register\n\n"
        "@register('mean_p_probe', weight=0.5, scale=2.0)\n"
        "class MeanP(Discrepancy):\n"
        "    '''D = scale·|mean f_s − mean f_t|^p'''\n"
        "    def __init__(self, feature_dim, num_classes, scale=2.0, p=3.0):\n"
        "        super().__init__(feature_dim, num_classes)\n"
        "        self.scale, self.p = scale, p\n\n"
        "    def forward(self, f_s, f_t, **_):\n"
        "        return self.scale * (f_s.mean(0) - f_t.mean(0)).abs().pow(self.p).sum()\n")
    from dalib.cli import main

    assert main(["methods", "--plugin", str(plugin)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| mean_p_probe |"))
    assert row.endswith("| 0.5 | constant | scale=2.0, p=3.0 | D = scale·\\|mean f_s − mean f_t\\|^p |")
    assert row.count(" | ") == 6  # seven cells: the docstring's bars do not split the row
