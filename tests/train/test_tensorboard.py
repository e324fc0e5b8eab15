"""TensorBoard scalars: every loss term, λ, learning rate and accuracies."""

from __future__ import annotations

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dalib.methods import build_terms, resolve_method
from dalib.models import Classifier, build_backbone
from dalib.train.objective import Objective
from dalib.train.trainer import TrainConfig, Trainer


def test_trainer_writes_scalars(make_domain, tmp_path):
    src, tgt = make_domain("src"), make_domain("tgt", shift=0.5, seed=1)
    torch.manual_seed(0)
    model = Classifier(build_backbone("mlp", 5, hidden=(8,)), 3, 4)
    cfg = TrainConfig(epochs=2, batch_size=16, log_dir=str(tmp_path), log_every=1, selection_scores=False)
    Trainer(model, Objective(build_terms(resolve_method("dann+mcc"), 4, 3)), cfg).fit(src, src, tgt)
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"loss/total", "loss/task", "loss/dann", "loss/mcc", "lambda/dann", "lambda/mcc", "lr",
            "acc/source_val", "acc/target", "target_entropy"} <= tags
    assert len(events.Scalars("acc/target")) == 2 and len(events.Scalars("loss/task")) == 2 * 3
