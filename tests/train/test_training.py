"""The one trainer: reproducibility, DANN vs source-only, checkpoints, the objective."""

from __future__ import annotations

import statistics

import pytest
import torch

from dalib.bench.profiles import profile_for
from dalib.bench.run import RunOptions, RunSpec, execute
from dalib.data.catalog import load_dataset
from dalib.data.tasks import select_tasks
from dalib.eval.metrics import predict
from dalib.methods import build_terms, resolve_method
from dalib.models import Classifier, build_backbone
from dalib.train.objective import Objective
from dalib.train.trainer import TrainConfig, Trainer


@pytest.fixture(scope="module")
def digits_task():
    return select_tasks(load_dataset("rotated-digits"), ["R02R30"])[0]


def _run(task, method, seed, epochs=None):
    prof = profile_for("rotated-digits").with_overrides(epochs=epochs)
    return execute(RunSpec("rotated-digits", task.ascii_name, method, seed, prof), task, RunOptions())


def test_seeded_run_reproduces_its_accuracy(digits_task):
    a = _run(digits_task, "dann", seed=7, epochs=5)
    b = _run(digits_task, "dann", seed=7, epochs=5)
    c = _run(digits_task, "dann", seed=8, epochs=5)
    assert [e["target_acc"] for e in a["epochs"]] == [e["target_acc"] for e in b["epochs"]]
    assert a["epochs"][-1]["losses"] == b["epochs"][-1]["losses"]
    assert a["epochs"][-1]["losses"] != c["epochs"][-1]["losses"]


def test_dann_beats_source_only_on_rotated_digits(digits_task):
    so = [_run(digits_task, "source_only", s)["epochs"][-1]["target_acc"] for s in range(3)]
    dann = [_run(digits_task, "dann", s)["epochs"][-1]["target_acc"] for s in range(3)]
    # R0→R30 with the default profile: source-only ≈ 0.45, DANN ≈ 0.60 (last epoch)
    assert statistics.fmean(dann) > statistics.fmean(so) + 0.05


def test_record_holds_what_selection_needs(digits_task):
    rec = _run(digits_task, "source_only", seed=0, epochs=3)
    assert len(rec["epochs"]) == 3
    for e in rec["epochs"]:
        assert 0 <= e["source_val_acc"] <= 1 and 0 <= e["target_acc"] <= 1
        assert 0 <= e["target_entropy"] <= torch.log(torch.tensor(10.0)).item() + 1e-6
        assert "task" in e["losses"]
    assert rec["n_source_train"] + rec["n_source_val"] == 454 and rec["n_target"] == 451


def _model(seed=0):
    torch.manual_seed(seed)
    return Classifier(build_backbone("mlp", 5, hidden=(16,)), 3, bottleneck_dim=8)


def test_checkpoint_round_trip_reproduces_logits(make_domain, tmp_path):
    src, tgt = make_domain("src"), make_domain("tgt", shift=1.0, seed=1)
    model = _model()
    terms = build_terms(resolve_method("dann"), 8, 3)
    trainer = Trainer(model, Objective(terms), TrainConfig(epochs=2, batch_size=16))
    trainer.fit(src, src, tgt)
    trainer.save_checkpoint(tmp_path / "ckpt.pt")
    fresh = Trainer(_model(seed=1), Objective(build_terms(resolve_method("dann"), 8, 3)), TrainConfig(epochs=2))
    fresh.load_checkpoint(tmp_path / "ckpt.pt")
    assert fresh.epoch == 2
    assert torch.equal(predict(model, tgt).logits, predict(fresh.model, tgt).logits)


def test_objective_is_weighted_task_loss_plus_lambda_times_terms():
    torch.manual_seed(0)
    terms = build_terms(resolve_method("dann"), 4, 3, {"dann": {"weight": 0.5}})
    obj = Objective(terms).eval()
    f_s, f_t = torch.randn(6, 4), torch.randn(6, 4)
    z_s, z_t = torch.randn(6, 3), torch.randn(6, 3)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    w = torch.tensor([1.0, 2.0, 0.0, 1.0, 0.5, 1.5])
    total, parts = obj(f_s, z_s, y, f_t, z_t, 0.3, w)
    ce = torch.nn.functional.cross_entropy(z_s, y, reduction="none")
    torch.testing.assert_close(parts["task"], (w * ce).mean())
    torch.testing.assert_close(total, parts["task"] + 0.5 * parts["dann"])
    assert parts["lambda/dann"] == 0.5
