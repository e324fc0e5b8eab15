"""MCD, MDD and ADDA losses on fixed inputs against independent numpy / hand computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import softmax

from dalib.alignment.adda import ADDA
from dalib.alignment.mcd import MCD, classifier_discrepancy
from dalib.alignment.mdd import MDD, log_one_minus_softmax, margin_disparity
from dalib.alignment.schedules import warm_start
from dalib.errors import DalibError


def _logits(seed: int, n: int = 7, c: int = 4, scale: float = 2.0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).normal(scale=scale, size=(n, c)))


# Kills: a sum over classes instead of the mean (×C), a sum over samples (×n), a squared
# difference instead of the absolute one, and logits compared without the softmax.
def test_classifier_discrepancy_is_mean_absolute_probability_difference():
    z1, z2 = _logits(0), _logits(1)
    want = np.abs(softmax(z1.numpy(), axis=1) - softmax(z2.numpy(), axis=1)).mean()
    assert float(classifier_discrepancy(z1, z2)) == pytest.approx(want, rel=1e-12)
    assert float(classifier_discrepancy(z1, z1)) == 0.0


# Kills: step B's discrepancy added instead of subtracted, step B without the second head's
# cross-entropy, λ left out of B or C, step A without CE(h₂) or without the single-step terms,
# and weights w_s ignored by h₂.
def test_mcd_step_losses_match_hand_computation(tiny_classifier, step_batch):
    model = tiny_classifier
    mcd = MCD(8, 3, k=2)
    w = torch.tensor([0.5, 1.5, 1.0, 2.0, 0.5, 0.5])
    batch = step_batch(model, lam=0.7, ws=w)
    steps = {s.name: s for s in mcd.update_steps(batch)}
    assert [(s.name, s.updates, s.repeat) for s in mcd.update_steps(batch)] == [
        ("a", ("features", "head", "term"), 1), ("b", ("head", "term"), 1), ("c", ("features",), 2)]
    with torch.no_grad():
        f_s, z_s = model(batch.xs)
        f_t, z_t = model(batch.xt)
        p1 = softmax(z_t.numpy().astype(np.float64), axis=1)
        p2 = softmax(mcd.head2(f_t).numpy().astype(np.float64), axis=1)
        d = np.abs(p1 - p2).mean()

        def wce(z):
            logp = np.log(softmax(z.numpy().astype(np.float64), axis=1))
            return float((w.numpy() * -logp[np.arange(6), batch.ys.numpy()]).mean())

        ce1, ce2 = wce(z_s), wce(mcd.head2(f_s))
        extra = float(0.25 * f_t.double().pow(2).mean() + 0.125 * f_s.double().pow(2).mean()
                      + 0.0625 * z_t.double().pow(2).mean())  # the stand-in single-step term of `step_batch`
    assert float(steps["a"].loss()[0].detach()) == pytest.approx(ce1 + ce2 + extra, rel=1e-5)
    assert float(steps["b"].loss()[0].detach()) == pytest.approx(ce1 + ce2 - 0.7 * d, rel=1e-5)
    assert float(steps["c"].loss()[0].detach()) == pytest.approx(0.7 * d, rel=1e-5)


def test_mdd_log_one_minus_softmax_is_exact_and_finite():
    """Kills log(1 − softmax) computed directly (−inf when softmax_y rounds to 1)."""
    z, y = _logits(2), torch.tensor([0, 1, 2, 3, 0, 1, 2])
    p = softmax(z.numpy(), axis=1)
    want = np.log(1.0 - p[np.arange(7), y.numpy()])
    np.testing.assert_allclose(log_one_minus_softmax(z, y).numpy(), want, rtol=1e-10)
    extreme = torch.tensor([[60.0, 0.0, -1.0]])
    got = float(log_one_minus_softmax(extreme, torch.tensor([0])))
    assert got == pytest.approx(np.log(np.exp(-60.0) + np.exp(-61.0)), rel=1e-6)


# Kills: γ on the target term instead of the source term, γ missing, the target term's sign
# flipped, log softmax in place of log(1 − softmax) on the target, and a sum instead of a mean.
def test_margin_disparity_matches_numpy():
    adv_s, adv_t = _logits(3, n=6), _logits(4, n=5)
    y_s, y_t = torch.tensor([0, 1, 2, 3, 0, 1]), torch.tensor([3, 2, 1, 0, 3])
    ps, pt = softmax(adv_s.numpy(), axis=1), softmax(adv_t.numpy(), axis=1)
    want = 4.0 * np.mean(-np.log(ps[np.arange(6), y_s.numpy()])) - np.mean(np.log(1 - pt[np.arange(5), y_t.numpy()]))
    assert float(margin_disparity(adv_s, adv_t, y_s, y_t, 4.0)) == pytest.approx(want, rel=1e-10)


# Kills: no gradient reversal (the encoder would ascend −D_γ), a reversal coefficient other
# than λ_max·warm_start(p), and the auxiliary head receiving the reversed gradient.
def test_mdd_gradients_reverse_into_features_only():
    torch.manual_seed(0)
    mdd = MDD(6, 4, margin=3.0, lam_max=0.1, gamma=10.0).double()
    f_s = torch.randn(5, 6, dtype=torch.float64, requires_grad=True)
    f_t = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    z_s = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    z_t = torch.randn(4, 4, dtype=torch.float64, requires_grad=True)
    loss = mdd(f_s, f_t, logits_s=z_s, logits_t=z_t, progress=0.2)
    loss.backward()
    assert z_s.grad is None and z_t.grad is None
    f_s2, f_t2 = f_s.detach().requires_grad_(), f_t.detach().requires_grad_()
    plain = margin_disparity(mdd.aux_head(f_s2), mdd.aux_head(f_t2), z_s.argmax(1), z_t.argmax(1), 3.0)
    grads = torch.autograd.grad(plain, [f_s2, f_t2, *mdd.aux_head.parameters()])
    coeff = warm_start(0.2, 0.1, 10.0)
    torch.testing.assert_close(f_s.grad, -coeff * grads[0])
    torch.testing.assert_close(f_t.grad, -coeff * grads[1])
    for p, g in zip(mdd.aux_head.parameters(), grads[2:]):
        torch.testing.assert_close(p.grad, g)
    assert float(loss.detach()) == pytest.approx(float(plain.detach()), rel=1e-12)


# Kills: the discriminator's source/target labels swapped, the ½ missing, and the encoder step
# trained with the discriminator's own labels (target = 0) instead of the inverted label 1.
def test_adda_discriminator_and_encoder_losses(tiny_classifier, step_batch):
    model = tiny_classifier
    adda = ADDA(8, 3, model=model, pretrain=0.25, dropout=0.0).eval()
    f_s, f_t = torch.randn(6, 8), torch.randn(5, 8)
    with torch.no_grad():
        d_s = adda.discriminator(f_s).squeeze(1).double().numpy()
        d_t = adda.discriminator(f_t).squeeze(1).double().numpy()
    softplus = lambda x: np.log1p(np.exp(x))  # noqa: E731  BCE(σ(x), 1) = softplus(−x), BCE(σ(x), 0) = softplus(x)
    assert float(adda(f_s, f_t).detach()) == pytest.approx(0.5 * (softplus(-d_s).mean() + softplus(d_t).mean()), rel=1e-5)
    batch = step_batch(model, lam=0.6, progress=0.5)
    steps = {s.name: s for s in adda.update_steps(batch)}
    with torch.no_grad():
        e_t = adda.discriminator(model(batch.xt)[0]).squeeze(1).double().numpy()
    assert float(steps["target_encoder"].loss()[0].detach()) == pytest.approx(0.6 * softplus(-e_t).mean(), rel=1e-5)


@pytest.mark.parametrize("build, message", [
    (lambda: MCD(8, 3, k=0), r"^mcd: k \(encoder steps per iteration\) must be an integer ≥ 1, got 0$"),
    (lambda: MDD(8, 3, margin=0.0), r"^mdd: margin γ must be > 0, got 0\.0$"),
    (lambda: MDD(8, 3, hidden=-1), r"^mdd: hidden must be an integer ≥ 0 \(0 = a linear auxiliary head\), got -1$"),
    (lambda: ADDA(8, 3, model=torch.nn.Linear(5, 8), pretrain=1.0),
     r"^adda: pretrain \(the fraction of training spent on source pre-training\) must be in \(0, 1\), got 1\.0$"),
])
def test_bad_hyper_parameters_get_one_line_errors(build, message):
    with pytest.raises(DalibError, match=message):
        build()


def test_mdd_and_mcd_need_their_logits():
    # kills: the term's name or the argument's name dropped from (or changed in) the messages
    f = torch.randn(4, 8)
    hint = "pass the classifier outputs of the target batch"
    cases = [
        (lambda: MDD(8, 3)(f, f, logits_s=torch.randn(4, 3), logits_t=torch.randn(4, 5)),
         f"mdd: logits_t has shape (4, 5), expected (n_t, 3), n_t ≥ 1; {hint}"),
        (lambda: MDD(8, 3)(f, f, logits_t=torch.randn(4, 3)),
         "mdd needs logits_s; pass logits_s= to the discrepancy (the trainer does so when the model has a "
         "classifier head)"),
        (lambda: MCD(8, 3)(f, f, logits_t=torch.randn(4, 5)), f"mcd: logits_t has shape (4, 5), expected (n_t, 3), n_t ≥ 1; {hint}"),
        (lambda: MCD(8, 3)(f, f), "mcd needs logits_t; pass logits_t= to the discrepancy (the trainer does so when "
         "the model has a classifier head)"),
    ]
    for call, message in cases:
        with pytest.raises(DalibError) as err:
            call()
        assert str(err.value) == message


# Kills: the pre-training step given other features, logits or weights than the batch's, the
# steps renamed (their names label the logged losses and the NaN errors), and the discriminator
# step reading the target encoder's features on the source batch instead of the frozen copy's.
def test_adda_steps_before_and_after_the_switch(tiny_classifier, step_batch):
    model = tiny_classifier
    adda = ADDA(8, 3, model=model, pretrain=0.4, dropout=0.0).eval()
    ws = torch.tensor([1.0, 0.5, 2.0, 1.0, 1.5, 1.0])
    batch = step_batch(model, lam=0.6, ws=ws, progress=0.3)
    (pretrain,) = adda.update_steps(batch)
    assert (pretrain.name, pretrain.updates) == ("pretrain", ("features", "head", "term"))
    with torch.no_grad():
        want, _ = batch.objective(*batch.forward(), ws)
    assert float(pretrain.loss()[0].detach()) == pytest.approx(float(want), rel=1e-6)
    switch = {k: v.clone() for k, v in model.state_dict().items()}
    stage2 = adda.update_steps(step_batch(model, lam=0.6, ws=ws, progress=0.4))
    assert [(s.name, s.updates) for s in stage2] == [("discriminator", ("term",)), ("target_encoder", ("features",))]
    with torch.no_grad():
        model.backbone.net[0].weight.add_(0.5)  # the target encoder moves away from its frozen copy
        assert not torch.allclose(adda.source_encoder(batch.xs)[0], model(batch.xs)[0])
        want = adda(adda.source_encoder(batch.xs)[0], model(batch.xt)[0])
    assert all(torch.equal(v, switch[k]) for k, v in adda.source_encoder.state_dict().items())
    assert float(stage2[0].loss()[0].detach()) == pytest.approx(float(want), rel=1e-6)
