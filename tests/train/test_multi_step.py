"""The trainer's multi-step mechanism (`dalib.update_steps`) and the methods that use it: each
step moves exactly its named parameter groups (MCD's three steps, ADDA's two stages)."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch
from torch import nn

from dalib.errors import DalibError
from dalib.methods import build_terms, resolve_method
from dalib.models import Classifier, build_backbone
from dalib.train.objective import Objective
from dalib.train.trainer import TrainConfig, Trainer
from dalib.update_steps import UpdateStep


def _trainer(method: str, epochs: int = 1, iters: int = 1, **hp) -> Trainer:
    torch.manual_seed(0)
    model = Classifier(build_backbone("mlp", 5, hidden=(16,)), 3, bottleneck_dim=8)
    terms = build_terms(resolve_method(method), 8, 3, overrides={method: hp} if hp else None, model=model)
    # momentum and weight decay on: a parameter left out of a step must still not move
    cfg = TrainConfig(epochs=epochs, batch_size=16, iters_per_epoch=iters, seed=1, weight_decay=0.01,
                      selection_scores=False)
    return Trainer(model, Objective(terms), cfg)


def _snapshot(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def _record_steps(trainer: Trainer, parts: dict[str, nn.Module]) -> list[dict[str, list[torch.Tensor]]]:
    """Snapshot each named module after every optimizer step (and once before the first)."""
    snaps = [{k: _snapshot(m) for k, m in parts.items()}]
    step = trainer.optimizer.step

    def recording_step(*args, **kwargs):
        out = step(*args, **kwargs)
        snaps.append({k: _snapshot(m) for k, m in parts.items()})
        return out

    trainer.optimizer.step = recording_step
    return snaps


def _features(model: Classifier) -> nn.Module:
    return nn.ModuleList([model.backbone, model.bottleneck])


# Kills: step B updating the encoder (("features", "head", "term") instead of ("head", "term")),
# step C updating a head, the trainer not dropping the gradients of parameters outside a step's
# groups (weight decay and momentum would then move them), and a wrong repeat count (k = 3 → 5 steps).
def test_mcd_steps_move_only_their_groups(make_domain):
    trainer = _trainer("mcd", k=3)
    mcd = trainer.objective.terms[0].discrepancy
    model = trainer.model
    snaps = _record_steps(trainer, {"features": _features(model), "h1": model.head, "h2": mcd.head2})
    trainer.fit(make_domain("src"), make_domain("val", seed=2), make_domain("tgt", shift=1.0, seed=1))
    assert len(snaps) == 1 + 1 + 1 + 3  # start, A, B, C×3
    start, after_a, after_b, *after_c = snaps
    assert not any(_same(start[k], after_a[k]) for k in ("features", "h1", "h2"))  # A: everything
    assert _same(after_a["features"], after_b["features"])  # B: encoder fixed …
    assert not _same(after_a["h1"], after_b["h1"]) and not _same(after_a["h2"], after_b["h2"])  # … heads move
    previous = after_b
    for snap in after_c:  # C: heads fixed, encoder moves, each of the k times
        assert _same(previous["h1"], snap["h1"]) and _same(previous["h2"], snap["h2"])
        assert not _same(previous["features"], snap["features"])
        previous = snap


# Kills: a source encoder that trains in stage 2 (requires_grad left on, or listed in a step's
# groups), a head that moves in stage 2, a snapshot taken at build time instead of at the stage
# switch, and a source encoder left in train mode (its BatchNorm statistics would drift).
def test_adda_freezes_source_encoder_and_head_in_stage_two(make_domain):
    trainer = _trainer("adda", epochs=2, iters=3, pretrain=0.5)
    adda = trainer.objective.terms[0].discrepancy
    model = trainer.model
    switch: dict[str, object] = {}

    def at_epoch(tr: Trainer, epoch: int) -> None:
        if epoch == 1:  # stage 1 is over: epoch 0 is p ∈ [0, 0.5)
            switch["model"] = {k: v.clone() for k, v in model.state_dict().items()}

    trainer.hooks.append(at_epoch)
    snaps = _record_steps(trainer, {"features": _features(model), "head": model.head,
                                    "source": adda.source_encoder, "disc": adda.discriminator})
    trainer.fit(make_domain("src"), make_domain("val", seed=2), make_domain("tgt", shift=1.0, seed=1))
    assert len(snaps) == 1 + 3 + 2 * 3  # start, 3 pre-training steps, 3 × (discriminator, encoder)
    stage1, stage2 = snaps[1:4], snaps[4:]
    assert not _same(snaps[0]["head"], stage1[-1]["head"])  # pre-training trains the head
    for snap in stage2:
        assert _same(snap["head"], stage1[-1]["head"])
    for k, v in adda.source_encoder.state_dict().items():  # M_s = the model at the switch, frozen
        assert torch.equal(v, switch["model"][k]), k
    disc_steps, enc_steps = stage2[0::2], stage2[1::2]
    before = stage1[-1]
    for d, e in zip(disc_steps, enc_steps):
        assert _same(before["features"], d["features"]) and not _same(before["disc"], d["disc"])
        assert _same(d["disc"], e["disc"]) and not _same(d["features"], e["features"])
        before = e
    assert not adda.source_encoder.training and bool(adda.adapting)


class _Kill(Exception):
    """Stands in for the process being killed."""


def _kill_at_epoch_2(trainer: Trainer, epoch: int) -> None:
    if epoch == 2:
        raise _Kill


def test_mcd_run_resumes_exactly_from_its_checkpoint(make_domain, tmp_path):
    """Kills a checkpoint without the second head or its momentum (they live in the objective)."""
    data = make_domain("src"), make_domain("val", seed=2), make_domain("tgt", shift=1.0, seed=1)
    full = _trainer("mcd", epochs=3, iters=2).fit(*data)
    killed = _trainer("mcd", epochs=3, iters=2)
    killed.hooks.append(_kill_at_epoch_2)
    with pytest.raises(_Kill):
        killed.fit(*data, checkpoint=tmp_path / "run.pt")
    torch.manual_seed(99)  # a new process: another global RNG state
    resumed = _trainer("mcd", epochs=3, iters=2)
    resumed.load_checkpoint(tmp_path / "run.pt")
    got = resumed.fit(*data)
    assert [asdict(e) for e in got.epochs] == [asdict(e) for e in full.epochs]


def test_multi_step_parts_are_logged(make_domain):
    history = _trainer("mcd+entropy").fit(make_domain("src"), make_domain("val", seed=2),
                                         make_domain("tgt", shift=1.0, seed=1))
    assert set(history.epochs[0].losses) == {"task", "entropy", "lambda/entropy", "mcd/task_h2", "mcd/step_b",
                                             "mcd", "lambda/mcd"}


def test_two_multi_step_terms_are_refused():
    with pytest.raises(DalibError, match=r"^terms \['mcd', 'adda'\] each run their own update sequence; "
                                         r"combine at most one multi-step method with single-step terms$"):
        _trainer("mcd+adda")


def test_multi_step_needs_a_model_with_a_head():
    class NoHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Linear(5, 8)

        def forward(self, x):
            f = self.net(x)
            return f, f[:, :3]

    terms = build_terms(resolve_method("mcd"), 8, 3)
    with pytest.raises(DalibError, match=r"^method 'mcd' updates the classifier head separately but NoHead has "
                                         r"no \.head module; use dalib\.models\.Classifier"):
        Trainer(NoHead(), Objective(terms), TrainConfig(epochs=1))


@pytest.mark.parametrize("updates, repeat, message", [
    (("encoder",), 1, r"^update step 'x' names groups \['encoder'\]; use a non-empty subset of features, head, term$"),
    ((), 1, r"^update step 'x' names groups \[\]; use a non-empty subset of features, head, term$"),
    (("head",), 0, r"^update step 'x' has repeat=0; repeat at least once$"),
])
def test_update_step_checks_its_groups_and_repeat(updates, repeat, message):
    with pytest.raises(DalibError, match=message):
        UpdateStep("x", lambda: (torch.zeros(()), {}), updates, repeat)


def test_nan_in_a_step_names_the_step(make_domain):
    trainer = _trainer("mcd")
    with torch.no_grad():
        trainer.objective.terms[0].discrepancy.head2.weight.fill_(float("nan"))
    with pytest.raises(DalibError, match=r"^loss is NaN/inf at step 0 \(.*mcd/a=nan\); lower the learning rate"):
        trainer.fit(make_domain("src"), make_domain("val", seed=2), make_domain("tgt", shift=1.0, seed=1))
