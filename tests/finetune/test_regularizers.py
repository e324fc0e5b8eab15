"""L2-SP and BSS against closed forms; L2-SP's parameters are exempt from weight decay."""

from __future__ import annotations

import math

import pytest
import torch
from dalib.errors import DalibError
from dalib.finetune import BSS, L2SP
from dalib.methods import build_terms, resolve_method
from dalib.models import Classifier
from dalib.models.backbones import MLP
from dalib.train.objective import Objective
from dalib.train.trainer import TrainConfig, Trainer


def _model(seed: int = 0) -> Classifier:
    torch.manual_seed(seed)
    return Classifier(MLP(6, (8,)), 3, 4)


def test_l2sp_is_zero_at_start_and_half_squared_distance_after_drift():
    model = _model()
    reg = L2SP(4, 3, model)
    assert float(reg(torch.zeros(2, 4), torch.zeros(2, 4)).detach()) == 0.0
    deltas = [torch.randn_like(p) for p in model.backbone.parameters()]
    values = []
    for eps in (0.01, 0.1, 1.0):
        with torch.no_grad():
            for p, s, d in zip(model.backbone.parameters(), [getattr(reg, f"start_{i}") for i in range(len(deltas))], deltas):
                p.copy_(s + eps * d)
        values.append(float(reg(torch.zeros(2, 4), torch.zeros(2, 4)).detach()))
    expected = [0.5 * eps ** 2 * sum(float((d ** 2).sum()) for d in deltas) for eps in (0.01, 0.1, 1.0)]
    assert values == pytest.approx(expected, rel=1e-5)
    assert values[0] < values[1] < values[2]


def test_l2sp_anchors_only_the_backbone_and_its_gradient_pulls_back():
    model = _model()
    reg = L2SP(4, 3, model)
    assert {id(p) for p in reg.anchored_parameters()} == {id(p) for p in model.backbone.parameters()}
    w = model.backbone.net[0].weight
    with torch.no_grad():
        w.add_(1.0)
    reg(torch.zeros(1, 4), torch.zeros(1, 4)).backward()
    assert torch.allclose(w.grad, torch.ones_like(w))  # ∂/∂w ½‖w − w⁰‖² = w − w⁰
    assert model.head.weight.grad is None


def test_l2sp_through_the_registry_exempts_backbone_from_weight_decay():
    model = _model()
    terms = build_terms(resolve_method("l2sp"), 4, 3, model=model)
    trainer = Trainer(model, Objective(terms), TrainConfig(weight_decay=5e-4))
    backbone = {id(p) for p in model.backbone.parameters()}
    for group in trainer.optimizer.param_groups:
        ids = {id(p) for p in group["params"]}
        if ids & backbone:
            assert ids <= backbone and group["weight_decay"] == 0.0
        else:
            assert group["weight_decay"] == 5e-4
    assert not trainer.uses_target and terms[0].weight == 0.01


def test_l2sp_without_model_or_with_unknown_part_is_a_clear_error():
    with pytest.raises(DalibError, match="pass model="):
        build_terms(resolve_method("l2sp"), 4, 3)
    with pytest.raises(DalibError, match="no part 'trunk'"):
        L2SP(4, 3, _model(), part="trunk")
    relu = next(name for name, m in _model().named_modules() if isinstance(m, torch.nn.ReLU))
    with pytest.raises(DalibError) as err:  # kills the message dropped
        L2SP(4, 3, _model(), part=relu)
    assert str(err.value) == f"L2-SP: model part {relu!r} has no parameters to anchor"


def test_bss_is_the_sum_of_the_k_smallest_squared_singular_values():
    torch.manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(16, 5))
    v, _ = torch.linalg.qr(torch.randn(5, 5))
    sigma = torch.tensor([5.0, 3.0, 2.0, 0.5, 0.25])
    f = u @ torch.diag(sigma) @ v.T
    assert float(BSS(5, 3, k=1)(f, f[:0])) == pytest.approx(0.25 ** 2, rel=1e-4)
    assert float(BSS(5, 3, k=2)(f, f[:0])) == pytest.approx(0.25 ** 2 + 0.5 ** 2, rel=1e-4)


def test_bss_gradient_shrinks_the_smallest_direction_only():
    torch.manual_seed(1)
    u, _ = torch.linalg.qr(torch.randn(16, 4))
    sigma = torch.tensor([4.0, 2.0, 1.0, 0.5])
    f = (u @ torch.diag(sigma)).requires_grad_(True)
    BSS(4, 3, k=1)(f, f[:0]).backward()
    with torch.no_grad():
        after = torch.linalg.svdvals(f - 0.1 * f.grad)
    assert after[-1] < 0.5 - 0.05  # the smallest singular value shrank (by 2·0.1·0.5 = 0.1)
    assert torch.allclose(after[:3], sigma[:3], atol=1e-5)  # the others are untouched
    with pytest.raises(DalibError, match="k ≥ 1"):
        BSS(4, 3, k=0)


def test_fine_tuning_terms_train_without_target_batches(make_domain):
    src, tgt = make_domain("src", n=48, d=6), make_domain("tgt", n=48, d=6, shift=1.0)
    model = _model()
    calls = []
    model.backbone.register_forward_hook(lambda m, i, o: calls.append(len(i[0])))
    terms = build_terms(resolve_method("l2sp+bss"), 4, 3, model=model)
    hist = Trainer(model, Objective(terms), TrainConfig(epochs=1, batch_size=16)).fit(src, src, tgt)
    losses = hist.epochs[-1].losses
    assert losses["l2sp"] > 0 and math.isfinite(losses["bss"])
    assert calls[0] == 16  # the training batch holds source samples only
