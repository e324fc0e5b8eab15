"""k-shot splits, the strategies end to end, and the resumable `dalib finetune` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dalib.cli import main
from dalib.data.catalog import load_dataset
from dalib.errors import DalibError
from dalib.finetune.fewshot import FewShotConfig, kshot_split, pool_domains, run_kshot
from dalib.finetune.strategies import STRATEGIES
from dalib.models import build_backbone
from dalib.models.vision import load_weights, save_weights


@pytest.fixture(scope="module")
def digits():
    return load_dataset("rotated-digits")


def test_kshot_split_takes_k_per_class_and_tests_on_the_rest(digits):
    dom = digits[0]
    train, test = kshot_split(dom, 3, seed=0)
    assert np.bincount(dom.labels[train].numpy()).tolist() == [3] * 10
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(dom)
    again, _ = kshot_split(dom, 3, seed=0)
    other, _ = kshot_split(dom, 3, seed=1)
    assert np.array_equal(train, again) and not np.array_equal(train, other)
    with pytest.raises(DalibError, match="k=500 shots"):
        kshot_split(dom, 500, seed=0)


def test_pool_domains_concatenates_in_order(digits):
    pooled = pool_domains(digits[:2])
    assert len(pooled) == len(digits[0]) + len(digits[1]) and pooled.name == "rot0+rot30"
    assert torch.equal(pooled.tensors[0][: len(digits[0])], digits[0].tensors[0])


def test_pretrained_strategy_without_weights_is_refused(digits):
    with pytest.raises(DalibError, match="give a weights file"):
        run_kshot(STRATEGIES["full"], "lenet", None, digits[3], 0, FewShotConfig())


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_strategy_trains_and_feature_extraction_keeps_the_weights(tmp_path, digits, name):
    torch.manual_seed(0)
    start = build_backbone("lenet", 64)
    save_weights(start, tmp_path / "w.pt")
    cfg = FewShotConfig(k=5, epochs=2, iters_per_epoch=5, batch_size=25, augment="")
    rec = run_kshot(STRATEGIES[name], "lenet", tmp_path / "w.pt", digits[3], 0, cfg)
    assert rec["n_train"] == 50 and rec["n_test"] == len(digits[3]) - 50
    assert 0.1 < rec["test_acc"] <= 1.0 and len(rec["epochs"]) == 2
    reloaded = build_backbone("lenet", 64)
    load_weights(reloaded, tmp_path / "w.pt")
    assert all(torch.equal(a, b) for a, b in zip(start.state_dict().values(), reloaded.state_dict().values()))


def test_finetune_command_runs_and_resumes(tmp_path, capsys):
    config = tmp_path / "exp.yaml"
    config.write_text(
        "dataset: rotated-digits\nbackbone: lenet\n"
        "pretrain: {domains: [rot0, rot30], epochs: 2, iters_per_epoch: 10, lr: 0.05, augment: ''}\n"
        "kshot: {domain: rot90, k: 5, seeds: [0], strategies: [scratch, feature_extraction, l2sp], "
        "epochs: 2, iters_per_epoch: 5, augment: ''}\n"
        "adaptation: {task: R02R90, methods: [source_only, dann], profile: {epochs: 1, iters_per_epoch: 5}}\n"
        "multitask: {dataset: rotated-digits, backbone: lenet, settings: [single, uncertainty], epochs: 1}\n")
    out = tmp_path / "out"
    assert main(["finetune", str(config), "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    for row in ("| scratch |", "| feature_extraction |", "| l2sp |", "| source_only |", "| dann |",
                "| single |", "| uncertainty |"):
        assert row in report
    assert (out / "pretrained-lenet.pt").is_file()
    stored = json.loads((out / "kshot" / "l2sp-seed0.json").read_text())
    assert stored["epochs"][-1]["losses"]["l2sp"] > 0
    capsys.readouterr()
    assert main(["finetune", str(config), "--out", str(out)]) == 0
    assert capsys.readouterr().out.count("done before") == 1 + 3 + 2 + 2
    assert (out / "report.md").read_text().split("Wall time")[0] == report.split("Wall time")[0]
    # run identity: a changed k-shot setting never reuses the stored k-shot runs (kills: reuse by
    # file name alone); the unchanged stages still resume
    config.write_text(config.read_text().replace("epochs: 2, iters_per_epoch: 5", "epochs: 3, iters_per_epoch: 5"))
    capsys.readouterr()
    assert main(["finetune", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "was made with another setting (stage 'kshot'" in err


def test_finetune_command_reports_bad_configs(tmp_path, capsys):
    config = tmp_path / "exp.yaml"
    config.write_text("dataset: rotated-digits\nbackbone: lenet\n")
    assert main(["finetune", str(config), "--out", str(tmp_path)]) == 2
    assert "lacks 'kshot'" in capsys.readouterr().err
    assert main(["finetune", str(tmp_path / "none.yaml")]) == 2
    assert "experiment file not found" in capsys.readouterr().err


def test_finetune_command_starts_from_given_weights(tmp_path, capsys):
    torch.manual_seed(0)
    save_weights(build_backbone("lenet", 64), tmp_path / "start.pt")
    config = tmp_path / "exp.yaml"
    config.write_text("dataset: rotated-digits\nbackbone: lenet\n"
                      "kshot: {domain: rot90, k: 5, seeds: [0], strategies: [full], epochs: 1, iters_per_epoch: 3, "
                      "augment: ''}\n")
    out = tmp_path / "out"
    assert main(["finetune", str(config), "--out", str(out), "--weights", str(tmp_path / "start.pt")]) == 0
    assert f"Starting weights: {tmp_path / 'start.pt'} (given, no pre-training)" in (out / "report.md").read_text()
    assert not (out / "pretrain.json").exists()
    assert json.loads((out / "kshot" / "full-seed0.json").read_text())["weights"] == str(tmp_path / "start.pt")
    assert main(["finetune", str(config), "--out", str(out), "--weights", str(tmp_path / "none.pt")]) == 2
    assert "weights file not found" in capsys.readouterr().err


def test_stage_sections_set_the_learning_rate_decay():
    """Kills a stage's lr_alpha / lr_beta accepted by the config check but never reaching the trainer."""
    from dalib.finetune.experiment import _train_config

    config = _train_config({"lr": 0.02, "lr_alpha": 4.0, "lr_beta": 0.5}, seed=1)
    assert (config.lr_alpha, config.lr_beta, config.lr, config.seed) == (4.0, 0.5, 0.02, 1)
