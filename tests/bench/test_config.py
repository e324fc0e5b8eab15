"""`dalib bench --config FILE`: YAML experiment files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dalib.cli import build_parser, load_config, main
from dalib.errors import DalibError
from dalib.finetune.strategies import STRATEGIES

EXPERIMENTS = sorted((Path(__file__).resolve().parents[2] / "experiments").glob("*.yaml"))
FINETUNE = [p for p in EXPERIMENTS if "kshot" in yaml.safe_load(p.read_text())]  # `dalib finetune` files


@pytest.mark.parametrize("path", [p for p in EXPERIMENTS if p not in FINETUNE], ids=lambda p: p.name)
def test_every_experiment_parses_into_known_bench_options(path):
    config = load_config(str(path))
    known = {a.dest for a in build_parser().bench_parser._actions}
    assert set(config) <= known and config["dataset"]


@pytest.mark.parametrize("path", FINETUNE, ids=lambda p: p.name)
def test_every_finetune_experiment_names_known_strategies(path):
    cfg = yaml.safe_load(path.read_text())
    assert {"dataset", "backbone", "pretrain", "kshot"} <= set(cfg)
    assert set(cfg["kshot"]["strategies"]) <= set(STRATEGIES)


def test_config_runs_and_flags_override(tmp_path):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(f"dataset: rotated-digits\nmethods: [dann]\nseeds: [0]\ntasks: [R02R30]\nepochs: 1\n"
                   f"hp: dann.weight=0.5\nout: {tmp_path / 'a'}\n")
    assert main(["bench", "--config", str(cfg), "--out", str(tmp_path / "b"), "--no-target-only"]) == 0
    assert not (tmp_path / "a").exists() and (tmp_path / "b" / "table.md").is_file()
    assert "| dann |" in (tmp_path / "b" / "table.md").read_text()


def test_bad_config_is_one_line(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("datset: x\n")
    assert main(["bench", "--config", str(cfg)]) == 2
    with pytest.raises(DalibError, match="not found"):
        load_config(str(tmp_path / "missing.yaml"))
