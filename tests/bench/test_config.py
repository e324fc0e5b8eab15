"""`BenchConfig`: the command line and YAML files build one typed, validated configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dalib.bench.config import BenchConfig, merge_options
from dalib.cli import build_parser, main
from dalib.errors import DalibError
from dalib.finetune.command import check_experiment

EXPERIMENTS = sorted((Path(__file__).resolve().parents[2] / "experiments").glob("*.yaml"))
FINETUNE = [p for p in EXPERIMENTS if "kshot" in yaml.safe_load(p.read_text())]  # `dalib finetune` files


@pytest.mark.parametrize("path", [p for p in EXPERIMENTS if p not in FINETUNE], ids=lambda p: p.name)
def test_every_experiment_is_a_valid_bench_config(path):
    config = BenchConfig.from_yaml(path)
    assert config.dataset == yaml.safe_load(path.read_text())["dataset"] and config.seeds


@pytest.mark.parametrize("path", FINETUNE, ids=lambda p: p.name)
def test_every_finetune_experiment_passes_its_checks(path):
    check_experiment(yaml.safe_load(path.read_text()), str(path))


def test_text_forms_and_typed_values_give_one_config():
    typed = BenchConfig(methods=("dann",), seeds=(0, 1), hp=(("dann", "weight", 1), ("profile", "lr", 0.003)),
                        epochs=2)
    text = BenchConfig.from_mapping({"methods": "dann", "seeds": "0,1", "hp": ["dann.weight=1", "profile.lr=3e-3"],
                                     "epochs": "2"})
    assert typed == text
    assert text.hp == (("dann", "weight", 1.0), ("profile", "lr", 0.003))  # λ is a float: 1 and 1.0 are one key
    # a typed int λ becomes a float too (kills: coerce returning typed values unconverted)
    assert isinstance(text.hp[0][2], float) and isinstance(typed.hp[0][2], float) and text.epochs == 2
    assert text.run_methods == ["source_only", "dann", "target_only"]


def test_cli_flags_override_the_file_and_add_hp_items(tmp_path):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text("dataset: rotated-digits\nmethods: [dann]\nseeds: [0, 1]\nepochs: 3\n"
                   "hp: [dann.weight=0.5, dann.gamma=5]\n")
    args = build_parser().parse_args(["bench", "--config", str(cfg), "--seeds", "2", "--hp", "dann.weight=0.25"])
    config = BenchConfig.from_cli(args)
    assert config.seeds == (2,) and config.epochs == 3 and config.methods == ("dann",)
    assert config.hp == (("dann", "gamma", 5.0), ("dann", "weight", 0.25))
    assert merge_options({"plugin": ["a.py"]}, {"plugin": ["b.py"]}) == {"plugin": ["a.py", "b.py"]}


def test_config_runs_and_flags_override(tmp_path):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(f"dataset: rotated-digits\nmethods: [dann]\nseeds: [0]\ntasks: [R02R30]\nepochs: 1\n"
                   f"hp: dann.weight=0.5\nout: {tmp_path / 'a'}\n")
    assert main(["bench", "--config", str(cfg), "--out", str(tmp_path / "b"), "--no-target-only"]) == 0
    assert not (tmp_path / "a").exists() and (tmp_path / "b" / "table.md").is_file()
    assert "| dann [dann.weight=0.5] |" in (tmp_path / "b" / "table.md").read_text()


def test_bad_config_is_one_line(tmp_path, capsys):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("datset: x\n")
    assert main(["bench", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown bench option(s) ['datset']" in err
    with pytest.raises(DalibError, match="not found"):
        BenchConfig.from_yaml(tmp_path / "missing.yaml")


def test_backbone_lr_mult_applies_only_to_a_pretrained_backbone(tmp_path, monkeypatch):
    from dalib.bench import run
    from dalib.bench.profiles import profile_for
    from dalib.data.catalog import load_dataset
    from dalib.data.tasks import select_tasks

    images = profile_for("office-caltech10-images")
    assert images.backbone_lr_mult == 0.1 and images.applied_backbone_lr_mult == 1.0  # random init: no 0.1×
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"")
    assert images.with_overrides(weights=str(weights)).applied_backbone_lr_mult == 0.1
    assert profile_for("amazon-sentiment-tokens").applied_backbone_lr_mult == 0.1  # MiniLM starts pretrained
    seen = []  # the trainer gets the applied multiplier (kills: run.py passing backbone_lr_mult as is)
    monkeypatch.setattr(run, "backbone_lr_mults", lambda m: seen.append(m) or {})
    task = select_tasks(load_dataset("rotated-digits"), ["R02R30"])[0]
    prof = profile_for("rotated-digits").with_overrides(epochs=1, backbone_lr_mult=0.1, iters_per_epoch=1)
    run.execute(run.RunSpec("rotated-digits", "R02R30", "source_only", 0, prof), task, run.RunOptions())
    assert seen == [1.0]


def test_profile_section_sets_every_run_and_labels_no_row(tmp_path):
    """``profile:`` (YAML) / ``--profile`` set the bench's base profile: the runs train with it,
    the fingerprint holds it, and no row is labelled with it (unlike ``--hp profile.*``).
    Kills: the profile items ignored, the flag replacing the whole file mapping instead of one field."""
    cfg = tmp_path / "exp.yaml"
    cfg.write_text("dataset: rotated-digits\nmethods: [dann]\nprofile: {lr: 0.02, bottleneck_dim: 64}\n")
    args = build_parser().parse_args(["bench", "--config", str(cfg), "--profile", "lr=0.005",
                                      "--profile", "epochs=1"])
    config = BenchConfig.from_cli(args)
    assert config.profile == (("bottleneck_dim", 64), ("epochs", 1), ("lr", 0.005))
    base = config.base_profile
    assert (base.lr, base.bottleneck_dim, base.epochs) == (0.005, 64, 1) and config.hp == ()
    out = tmp_path / "b"
    assert main(["bench", "--config", str(cfg), "--profile", "epochs=1", "--seeds", "0", "--tasks", "R02R30",
                 "--no-target-only", "--out", str(out)]) == 0
    table = (out / "table.md").read_text()
    assert "| dann |" in table and "profile" not in table.split("\n\n")[1]
    record = next((out / "runs").rglob("*.json")).read_text()
    assert '"lr": 0.02' in record and '"bottleneck_dim": 64' in record
