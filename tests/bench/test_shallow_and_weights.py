"""Shallow methods and instance weights run through the same `dalib bench` harness."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dalib.bench.profiles import profile_for
from dalib.bench.run import RunOptions, RunSpec, execute
from dalib.bench.shallow_names import parse_shallow
from dalib.cli import main
from dalib.data.catalog import load_dataset
from dalib.data.tasks import select_tasks
from dalib.errors import DalibError
from dalib.shallow import ShallowDAClassifier


@pytest.fixture(scope="module")
def task():
    return select_tasks(load_dataset("rotated-digits"), ["R02R30"])[0]


def test_shallow_run_equals_direct_sklearn_fit(task):
    rec = execute(RunSpec("rotated-digits", "R02R30", "shallow_coral_1nn", 0, profile_for("rotated-digits")),
                  task, RunOptions())
    from dalib.data.tasks import split_source

    train, _ = split_source(task.source, 0)
    xs, ys = (t.double().numpy() for t in train.tensors)
    xt, yt = (t.double().numpy() for t in task.target.tensors)
    direct = np.mean(ShallowDAClassifier("coral", "1nn").fit(xs, ys, xt).predict(xt) == yt)
    assert rec["epochs"][0]["target_acc"] == pytest.approx(direct)


def test_unknown_shallow_name_lists_choices():
    with pytest.raises(DalibError, match="shallow_tca_1nn"):
        parse_shallow("shallow_pca_1nn")


def test_weighted_runs_are_extra_rows_with_ess(tmp_path, capsys):
    out = tmp_path / "w"
    assert main(["bench", "--methods", "source_only", "--weights", "discriminative", "--seeds", "0",
                 "--tasks", "R02R30", "--epochs", "2", "--out", str(out)]) == 0
    table = (out / "table.md").read_text()
    assert "| source_only |" in table and "| source_only+w:discriminative |" in table
    rec = json.loads(next((out / "runs").rglob("source_only+w:discriminative/seed0.json")).read_text())
    assert 0 < rec["ess_fraction"] <= 1


def test_reweigher_is_called_every_k_epochs_on_learned_features(task):
    from dalib.data.tasks import split_source
    from dalib.models import Classifier, build_backbone
    from dalib.train.objective import Objective
    from dalib.train.trainer import TrainConfig, Trainer

    calls = []

    def reweigher(f_s, f_t):
        calls.append((f_s.shape, f_t.shape))
        return np.ones(len(f_s))

    train, val = split_source(task.source, 0)
    torch.manual_seed(0)
    model = Classifier(build_backbone("mlp", 64, hidden=(32,)), 10, 16)
    Trainer(model, Objective([]), TrainConfig(epochs=5, batch_size=32)).fit(
        train, val, task.target, torch.ones(len(train)), reweigher, reweight_every=2)
    assert calls == [((len(train), 16), (len(task.target), 16))] * 2  # before epochs 3 and 5


def test_bad_weights_are_rejected(task, make_domain):
    from dalib.models import Classifier, build_backbone
    from dalib.train.objective import Objective
    from dalib.train.trainer import TrainConfig, Trainer

    src = make_domain("s")
    trainer = Trainer(Classifier(build_backbone("mlp", 5, hidden=(8,)), 3, 4), Objective([]), TrainConfig(epochs=1))
    with pytest.raises(DalibError, match="one per sample"):
        trainer.fit(src, src, src, torch.ones(3))
    with pytest.raises(DalibError, match="non-negative"):
        trainer.fit(src, src, src, -torch.ones(len(src)))
