"""A run killed after epoch k and resumed from its checkpoint equals the uninterrupted run, bit for bit."""

from __future__ import annotations

import random
from dataclasses import asdict

import numpy as np
import pytest
import torch

from dalib.errors import DalibError
from dalib.methods import build_terms, resolve_method
from dalib.models import Classifier, build_backbone
from dalib.train.objective import Objective
from dalib.train.trainer import TrainConfig, Trainer


class _Kill(Exception):
    """Stands in for the process being killed."""


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Draws from the augmentation generator and from the global numpy and Python RNGs."""
    return x + 0.05 * torch.randn(x.shape, generator=gen) + 0.01 * float(np.random.normal()) + 0.01 * random.random()


def _reweigher(f_s: np.ndarray, f_t: np.ndarray) -> np.ndarray:
    d = ((f_s - f_t.mean(0)) ** 2).sum(1)
    return np.exp(-d / d.mean())


def _kill_at_epoch_3(trainer: Trainer, epoch: int) -> None:
    if epoch == 3:
        raise _Kill


def _trainer(init_seed: int, hooks=(), **config) -> Trainer:
    """DANN on an MLP: dropout in the backbone and the discriminator draws from torch's global
    RNG; 5 steps per epoch over 3 (source) and 2 (target) batches per pass, so epochs end
    mid-pass and the streams' positions matter; momentum makes the optimizer state matter."""
    torch.manual_seed(init_seed)
    model = Classifier(build_backbone("mlp", 5, hidden=(16,)), 3, bottleneck_dim=8)
    cfg = TrainConfig(**{"epochs": 5, "batch_size": 16, "iters_per_epoch": 5, "seed": 3, **config})
    return Trainer(model, Objective(build_terms(resolve_method("dann"), 8, 3)), cfg, hooks=hooks,
                   augment=_augment)


def _seed_globals(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def test_killed_and_resumed_run_equals_uninterrupted_run(make_domain, tmp_path):
    """Kills a checkpoint that misses any of: the torch, numpy, Python or augmentation RNG
    state, the batch streams' positions, the instance weights re-estimated at epoch 2 (used
    until epoch 4), the optimizer state or the history."""
    src, val = make_domain("src"), make_domain("val", seed=2)
    tgt = make_domain("tgt", n=45, shift=1.0, seed=1)
    kw = {"reweigher": _reweigher, "reweight_every": 2}

    _seed_globals(0)
    full = _trainer(init_seed=0)
    expected = full.fit(src, val, tgt, **kw)

    _seed_globals(0)
    with pytest.raises(_Kill):
        _trainer(init_seed=0, hooks=[_kill_at_epoch_3]).fit(src, val, tgt, checkpoint=tmp_path / "run.pt", **kw)
    _seed_globals(99)  # a new process: other global RNG states, another initialisation
    resumed = _trainer(init_seed=1)
    resumed.load_checkpoint(tmp_path / "run.pt")
    assert resumed.epoch == 3
    got = resumed.fit(src, val, tgt, checkpoint=tmp_path / "run.pt", **kw)

    assert [asdict(e) for e in got.epochs] == [asdict(e) for e in expected.epochs]
    assert [e.epoch for e in got.epochs] == [1, 2, 3, 4, 5]
    for part in ("model", "objective"):
        want, have = getattr(full, part).state_dict(), getattr(resumed, part).state_dict()
        assert want.keys() == have.keys()
        for name in want:
            assert torch.equal(want[name], have[name]), f"{part}.{name}"


def test_resume_with_another_config_is_refused(make_domain, tmp_path):
    src, tgt = make_domain("src"), make_domain("tgt", shift=1.0, seed=1)
    first = _trainer(init_seed=0, epochs=1, selection_scores=False)
    first.fit(src, src, tgt, checkpoint=tmp_path / "run.pt")
    other = _trainer(init_seed=0, epochs=3, selection_scores=False)
    other.load_checkpoint(tmp_path / "run.pt")
    with pytest.raises(DalibError, match="epochs=1"):
        other.fit(src, src, tgt)


def test_resume_with_other_data_is_refused(make_domain, tmp_path):
    src, tgt = make_domain("src"), make_domain("tgt", shift=1.0, seed=1)
    first = _trainer(init_seed=0, epochs=1, selection_scores=False)
    first.fit(src, src, tgt, checkpoint=tmp_path / "run.pt")
    other = _trainer(init_seed=0, epochs=1, selection_scores=False)
    other.load_checkpoint(tmp_path / "run.pt")
    with pytest.raises(DalibError, match="resume with the same data"):
        other.fit(src, src, make_domain("tgt", n=45, shift=1.0, seed=1))


def test_checkpoint_without_rng_state_is_refused(tmp_path):
    trainer = _trainer(init_seed=0)
    torch.save({"model": trainer.model.state_dict(), "epoch": 2}, tmp_path / "old.pt")
    with pytest.raises(DalibError, match="no RNG and stream state"):
        trainer.load_checkpoint(tmp_path / "old.pt")
    with pytest.raises(DalibError, match="checkpoint not found"):
        trainer.load_checkpoint(tmp_path / "missing.pt")
