"""Frozen parameters stay bit-identical, parameter groups carry their learning rates, gradual
unfreezing follows its schedule, extracted features equal the backbone's output."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dalib.data.domain import tensor_domain
from dalib.errors import DalibError
from dalib.finetune import STRATEGIES, GradualUnfreezing, extract_features, freeze
from dalib.models import Classifier
from dalib.models.backbones import MLP
from dalib.train.objective import Objective
from dalib.train.param_groups import lr_multiplier, param_groups
from dalib.train.trainer import TrainConfig, Trainer


class TinyConvNet(nn.Module):
    """Two stages with BatchNorm, to check frozen running statistics too."""

    def __init__(self) -> None:
        super().__init__()
        self.stage1 = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU())
        self.stage2 = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU())
        self.feature_dim = 8

    def forward(self, x):
        return self.stage2(self.stage1(x))

    def stages(self):
        return [("stage1", self.stage1), ("stage2", self.stage2)]


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_frozen_backbone_is_bit_identical_after_training_steps(make_domain):
    src = make_domain("src", n=64, d=6)
    torch.manual_seed(0)
    model = Classifier(TinyConvNet(), 3, 4)
    freeze(model.backbone)
    before, head_before = _snapshot(model.backbone), model.head.weight.detach().clone()
    cfg = TrainConfig(epochs=2, batch_size=16, weight_decay=1e-2, momentum=0.9)
    Trainer(model, Objective([]), cfg).fit(src, src, src)
    after = _snapshot(model.backbone)
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BN running stats
    assert not torch.equal(head_before, model.head.weight)


def test_parameter_groups_carry_the_configured_learning_rates():
    torch.manual_seed(0)
    model = Classifier(TinyConvNet(), 3, 4)
    cfg = TrainConfig(lr=0.01, lr_mults={"backbone": 0.1, "backbone.stage2": 0.5}, lr_schedule="constant")
    trainer = Trainer(model, Objective([]), cfg)
    trainer.set_lr(0.3)
    lr_of = {id(p): g["lr"] for g in trainer.optimizer.param_groups for p in g["params"]}
    for name, p in model.named_parameters():
        expected = 0.01 * (0.5 if name.startswith("backbone.stage2") else 0.1 if name.startswith("backbone") else 1.0)
        assert lr_of[id(p)] == pytest.approx(expected), name
    trainer = Trainer(model, Objective([]), TrainConfig(lr=0.01, lr_mults={"backbone": 0.1}))
    trainer.set_lr(1.0)  # inverse decay: factor (1 + 10)^−0.75
    assert {round(g["lr"], 8) for g in trainer.optimizer.param_groups} == {
        round(0.01 * 11 ** -0.75, 8), round(0.001 * 11 ** -0.75, 8)}


def test_lr_prefixes_match_whole_name_parts_and_unknown_prefixes_fail():
    assert lr_multiplier("backbone.stage1.0.weight", {"backbone": 0.1, "back": 9.0}) == 0.1
    assert lr_multiplier("head.weight", {"backbone": 0.1}) == 1.0
    assert lr_multiplier("a.weight", {"a": 0.5}) == 0.5  # kills a one-letter prefix never winning
    with pytest.raises(DalibError) as err:
        param_groups(Classifier(TinyConvNet(), 3, 4), {"encoder": 0.1})
    assert str(err.value) == ("lr multiplier prefix(es) ['encoder'] match no parameter; names start with "
                              "['backbone', 'bottleneck', 'head']")


def test_gradual_unfreezing_trains_stages_from_the_top(make_domain):
    src = make_domain("src", n=64, d=6)
    torch.manual_seed(0)
    model = Classifier(TinyConvNet(), 3, 4)
    hook = GradualUnfreezing(model.backbone.stages(), every=1)
    assert [hook.trainable(e) for e in range(4)] == [[], ["stage2"], ["stage1", "stage2"], ["stage1", "stage2"]]
    seen = []

    def record(trainer, epoch):
        seen.append((_snapshot(model.backbone.stage1), _snapshot(model.backbone.stage2)))

    trainer = Trainer(model, Objective([]), TrainConfig(epochs=3, batch_size=16), hooks=[hook, record])
    trainer.fit(src, src, src)
    seen.append((_snapshot(model.backbone.stage1), _snapshot(model.backbone.stage2)))

    def same(a, b):
        return all(torch.equal(a[k], b[k]) for k in a)

    assert same(seen[0][0], seen[1][0]) and same(seen[0][1], seen[1][1])  # epoch 1: backbone frozen
    assert same(seen[1][0], seen[2][0]) and not same(seen[1][1], seen[2][1])  # epoch 2: stage2 only
    assert not same(seen[2][0], seen[3][0])  # epoch 3: everything


def test_extract_features_equals_the_eval_mode_backbone():
    torch.manual_seed(0)
    backbone = MLP(6, (8,), dropout=0.5)
    x = torch.randn(20, 6)
    dom = tensor_domain("d", "D", ["a", "b"], x.numpy(), (torch.arange(20) % 2).numpy())
    feats = extract_features(backbone, dom, batch_size=7)
    backbone.eval()
    assert torch.allclose(feats.tensors[0], backbone(x), atol=1e-6)
    assert torch.equal(feats.labels, dom.labels) and backbone.training is False


def test_strategy_table():
    assert STRATEGIES["layerwise"].lr_mults == {"backbone": 0.1}
    assert STRATEGIES["full"].lr_mults == {} and STRATEGIES["l2sp"].method == "l2sp"
    assert not STRATEGIES["scratch"].pretrained and STRATEGIES["feature_extraction"].freeze_backbone
