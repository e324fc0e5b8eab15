"""Hyper-parameter grids: every setting runs, and tables keep the one the protocol prefers."""

from __future__ import annotations

import pytest

from dalib.bench.tables import build_table, choose_hparams, to_markdown
from dalib.cli import grid_settings, main, parse_grid
from dalib.errors import DalibError


def _rec(hp, seed, val_accs, tgt_accs):
    epochs = [{"epoch": i + 1, "source_val_acc": v, "target_acc": t, "target_entropy": 1.0}
              for i, (v, t) in enumerate(zip(val_accs, tgt_accs))]
    return {"dataset": "toy", "task": "A2B", "task_name": "A→B", "method": "dann", "seed": seed,
            "hparams": [["dann", "weight", hp]], "epochs": epochs}


def test_setting_chosen_per_protocol_without_target_labels_unless_oracle():
    records = [_rec(0.1, s, [0.5, 0.9], [0.4, 0.3]) for s in (0, 1)]   # best on source-val
    records += [_rec(1.0, s, [0.6, 0.6], [0.8, 0.9]) for s in (0, 1)]  # best on the target
    kept, chosen = choose_hparams(records, "source-val")
    assert chosen == {"dann": {"A2B": "dann.weight=0.1"}} and len(kept) == 2
    table = build_table(records, "source-val")
    assert table.mean("dann", "A→B") == pytest.approx(30.0)
    assert "- dann, A→B: dann.weight=0.1" in to_markdown(table)
    assert choose_hparams(records, "oracle")[1] == {"dann": {"A2B": "dann.weight=1.0"}}


def test_parse_grid_and_settings():
    grid = parse_grid(["dann.weight=0.1,1", "lr=0.01,0.03"])
    assert grid == [("dann", "weight", [0.1, 1]), ("profile", "lr", [0.01, 0.03])]
    assert len(grid_settings(grid, ["dann", "profile"])) == 4
    assert grid_settings(grid, ["source_only", "profile"]) == [(("profile", "lr", 0.01),), (("profile", "lr", 0.03),)]
    with pytest.raises(DalibError, match="training setting"):
        parse_grid(["lrr=0.1"])


def test_grid_from_the_command_line(tmp_path):
    out = tmp_path / "g"
    assert main(["bench", "--methods", "dann", "--seeds", "0", "--tasks", "R02R30", "--epochs", "1",
                 "--grid", "dann.weight=0.1,1", "--no-target-only", "--out", str(out)]) == 0
    text = (out / "table.md").read_text()
    assert "Hyper-parameters chosen per task under `last`:" in text and "- dann, R0→R30: dann.weight=" in text
