"""Hyper-parameter grids: every point runs, and tables keep the one the protocol prefers per task."""

from __future__ import annotations

import pytest

from dalib.bench.config import BenchConfig
from dalib.bench.hparams import grid_settings
from dalib.bench.tables import build_table, choose_hparams, to_markdown
from dalib.cli import main


def _rec(hp, seed, val_accs, tgt_accs, grid=("dann.weight",)):
    epochs = [{"epoch": i + 1, "source_val_acc": v, "target_acc": t, "target_entropy": 1.0}
              for i, (v, t) in enumerate(zip(val_accs, tgt_accs))]
    return {"key": f"toy/A2B/dann,dann.weight={hp}/seed{seed}", "dataset": "toy", "task": "A2B", "task_name": "A→B",
            "method": "dann", "seed": seed, "hparams": [["dann", "weight", hp]], "grid": list(grid), "epochs": epochs}


def test_grid_point_chosen_per_protocol_without_target_labels_unless_oracle():
    records = [_rec(0.1, s, [0.5, 0.9], [0.4, 0.3]) for s in (0, 1)]   # best on source-val
    records += [_rec(1.0, s, [0.6, 0.6], [0.8, 0.9]) for s in (0, 1)]  # best on the target
    kept, chosen = choose_hparams(records, "source-val")
    assert chosen == {"dann (grid: dann.weight)": {"A2B": "dann.weight=0.1"}} and len(kept) == 2
    table = build_table(records, "source-val")
    assert table.methods == ["dann (grid: dann.weight)"]
    assert table.mean("dann (grid: dann.weight)", "A→B") == pytest.approx(30.0)
    assert "- dann (grid: dann.weight), A→B: dann.weight=0.1" in to_markdown(table)
    assert choose_hparams(records, "oracle")[1] == {"dann (grid: dann.weight)": {"A2B": "dann.weight=1.0"}}


def test_one_off_settings_are_rows_never_selected_over():
    # the same two settings run one-off (--hp) instead of as a grid: two labelled rows, no choice.
    # Kills the old behaviour where any two settings of a (method, task) were selected over.
    records = [_rec(0.1, s, [0.5, 0.9], [0.4, 0.3], grid=()) for s in (0, 1)]
    records += [_rec(1.0, s, [0.6, 0.6], [0.8, 0.9], grid=()) for s in (0, 1)]
    kept, chosen = choose_hparams(records, "source-val")
    assert chosen == {} and len(kept) == 4
    table = build_table(records, "last")
    assert table.methods == ["dann [dann.weight=0.1]", "dann [dann.weight=1.0]"]
    assert table.mean("dann [dann.weight=0.1]", "A→B") == pytest.approx(30.0)
    assert table.mean("dann [dann.weight=1.0]", "A→B") == pytest.approx(90.0)
    assert "chosen" not in to_markdown(table)


def test_grid_axes_are_typed_and_combined():
    config = BenchConfig(methods="dann", grid=["dann.weight=0.1,1", "lr=0.01,0.03"], epochs=1)
    assert config.grid == (("dann", "weight", (0.1, 1.0)), ("profile", "lr", (0.01, 0.03)))
    assert len(grid_settings(config.grid, ["dann", "profile"])) == 4
    assert grid_settings(config.grid, ["source_only", "profile"]) == [(("profile", "lr", 0.01),),
                                                                      (("profile", "lr", 0.03),)]


def test_grid_from_the_command_line(tmp_path):
    out = tmp_path / "g"
    assert main(["bench", "--methods", "dann", "--seeds", "0", "--tasks", "R02R30", "--epochs", "1",
                 "--grid", "dann.weight=0.1,1", "--no-target-only", "--out", str(out)]) == 0
    text = (out / "table.md").read_text()
    assert "| dann (grid: dann.weight) |" in text and "| source_only |" in text
    assert "Hyper-parameters chosen per task under `last`:" in text
    assert "- dann (grid: dann.weight), R0→R30: dann.weight=" in text
    assert sorted(p.parent.name for p in (out / "runs").rglob("seed0.json")) == [
        "dann,grid:dann.weight=0.1", "dann,grid:dann.weight=1.0", "source_only"]
