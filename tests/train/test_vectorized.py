"""Runs trained as one vectorised model equal the same runs trained alone.

Tolerance: per-epoch losses, entropy and the SND score to 1e-5 relative (or 1e-6 absolute: an
MMD² of 0.01 is a difference of kernel means of order 1), the IWV / DEV scores to 1e-3 (their
weights come from the C of lowest held-out log-loss: where two C are that close, a rounding
difference can pick the other), accuracies exactly, over 2 epochs × 8 steps of rotated digits. A batch computes the same formulas in another order
(one batched matrix product for R runs, a fused optimizer step), so each step differs from the
single run by float32 rounding (~1e-7 relative); over 16 steps that stays below 1e-5. (Over a
full 1000-step SURF run it reaches ~3e-3 relative in the loss and, in 1 run of 8, one target
sample's prediction — far inside the seeds' spread.)
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from dalib.bench.profiles import profile_for
from dalib.bench.run import PreparedRun, RunOptions, RunSpec, prepare_run
from dalib.data.catalog import load_dataset
from dalib.data.tasks import select_tasks
from dalib.errors import DalibError
from dalib.train.run_dropout import RunDropout, RunGenerators, probing, supplied_masks, with_run_dropout
from dalib.train.trainer import Trainer
from dalib.train.vectorized import VectorizedTrainer, VectorRun

TASKS = ("R02R30", "R302R60", "R602R0")


def _prepared(method: str, task: str, seed: int) -> PreparedRun:
    t = select_tasks(load_dataset("rotated-digits"), [task])[0]
    profile = profile_for("rotated-digits").with_overrides(epochs=2, iters_per_epoch=8)
    run = prepare_run(RunSpec("rotated-digits", task, method, seed, profile), t, RunOptions())
    assert isinstance(run, PreparedRun)
    return run


def _vector_run(p: PreparedRun) -> VectorRun:
    return VectorRun(p.spec.key, p.model, p.objective, p.config, p.source_train, p.source_val, p.target,
                     p.dropout_state, torch.as_tensor(p.heldout), p.augment)


def _alone(method: str, task: str, seed: int) -> list:
    p = _prepared(method, task, seed)
    return Trainer(p.model, p.objective, p.config, augment=p.augment).fit(
        p.source_train, p.source_val, p.target, target_heldout=torch.as_tensor(p.heldout)).epochs


def _assert_same(got, want, rel: float = 1e-5) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert (g.source_val_acc, g.target_acc, g.target_heldout_acc) == (w.source_val_acc, w.target_acc,
                                                                         w.target_heldout_acc)
        assert g.losses == pytest.approx(w.losses, rel=rel, abs=1e-6)
        assert g.scores["snd"] == pytest.approx(w.scores["snd"], rel=rel)
        assert {k: g.scores[k] for k in ("iwv", "dev")} == pytest.approx({k: w.scores[k] for k in ("iwv", "dev")},
                                                                          rel=1e-3)
        assert g.target_entropy == pytest.approx(w.target_entropy, rel=rel, abs=1e-6)


# Every single-step built-in term, and the ones of the SURF table. Kills: one dropout stream
# shared by the batch (or the global one), a run training on another
# run's batches, gradients summed across runs (shared parameters), another lr schedule, weight
# decay or momentum, BatchNorm statistics pooled over runs, and a term that sees another run's
# features (DeepJDOT's plan, MMD's bandwidth, the discriminator of DANN / CDAN).
@pytest.mark.parametrize("method", ["source_only", "dann", "dan", "jan", "deep_coral", "cdan", "cdan_e", "deepjdot",
                                    "mcc", "dann+mcc", "entropy", "bnm", "bsp", "bss", "afn", "mdd", "pseudo_label",
                                    "target_only"])
def test_batch_of_runs_equals_each_run_trained_alone(method):
    pairs = [(t, s) for t in TASKS for s in (0, 1)]
    batch = VectorizedTrainer([_vector_run(_prepared(method, t, s)) for t, s in pairs]).fit()
    for (task, seed), history in zip(pairs, batch):
        _assert_same(history.epochs, _alone(method, task, seed))


def test_a_run_does_not_depend_on_its_batch_mates():
    """The same run alone, first of two, and last of three gives the same numbers (to the
    tolerance above). Kills: a run's stream, init or masks taken from its position in the batch."""
    alone = VectorizedTrainer([_vector_run(_prepared("dann", "R02R30", 0))]).fit()[0].epochs
    second = VectorizedTrainer([_vector_run(_prepared("dann", t, s)) for t, s in
                                (("R302R60", 1), ("R02R30", 0))]).fit()[1].epochs
    third = VectorizedTrainer([_vector_run(_prepared("dann", t, s)) for t, s in
                               (("R602R0", 2), ("R302R60", 0), ("R02R30", 0))]).fit()[2].epochs
    _assert_same(second, alone)
    _assert_same(third, alone)


def test_run_dropout_draws_the_masks_of_nn_dropout():
    """Bit for bit: the masks a `RunDropout` multiplies by are those ``nn.Dropout`` draws from
    the global generator in the same state, call after call. Kills: another rate, the scale
    1/(1 − p) missing, a mask drawn with another distribution or shape order."""
    net = nn.Sequential(nn.Linear(6, 8), nn.Dropout(0.3), nn.ReLU(), nn.Dropout(0.5))
    x = torch.randn(5, 6)
    torch.manual_seed(3)
    gens = RunGenerators()
    gens.add(torch.get_rng_state())
    expected = [net(x) for _ in range(3)]  # global stream, as a single run
    stand_in = with_run_dropout(net)
    assert [type(m) for m in stand_in] == [nn.Linear, RunDropout, nn.ReLU, RunDropout]
    with probing() as sites:
        stand_in(x)
    assert sites == [((5, 8), 0.3), ((5, 8), 0.5)]
    for want in expected:
        masks = tuple(m[0] for m in gens.draw_masks(sites, torch.device("cpu")))
        with supplied_masks(masks):
            assert torch.equal(stand_in(x), want)
    stand_in.eval()
    assert torch.equal(stand_in(x), net.eval()(x))


def test_run_dropout_refuses_a_step_unlike_the_probed_one():
    layer = RunDropout(0.5)
    with pytest.raises(DalibError, match="outside a vectorised training step"):
        layer(torch.ones(2, 3))
    with pytest.raises(DalibError, match="another input shape or order"):
        with supplied_masks((torch.ones(4, 3),)):
            layer(torch.ones(2, 3))
    with pytest.raises(DalibError, match="used 0 of its 1 dropout masks"):
        with supplied_masks((torch.ones(2, 3),)):
            pass
    assert torch.equal(F.dropout(torch.ones(2, 2), 0.0), torch.ones(2, 2))


def test_nonfinite_loss_names_the_run_and_the_step():
    runs = [_vector_run(_prepared("source_only", t, 0)) for t in TASKS[:2]]
    runs[1].config.lr = 1e12  # diverges within the first epoch
    runs[0].config.lr = 1e12
    with pytest.raises(DalibError, match=r"run rotated-digits/R02R30/source_only/seed0: loss is NaN/inf at step \d+"):
        VectorizedTrainer(runs).fit()


def test_runs_with_other_settings_cannot_share_a_batch():
    a, b = _vector_run(_prepared("dann", "R02R30", 0)), _vector_run(_prepared("dann", "R302R60", 1))
    b.config.lr = 0.5
    with pytest.raises(DalibError, match="differ in lr; a vectorised batch shares every training setting but the seed"):
        VectorizedTrainer([a, b])
    c = _vector_run(_prepared("source_only", "R02R30", 0))
    with pytest.raises(DalibError, match="other parameter shapes than run 0"):
        VectorizedTrainer([a, c])
