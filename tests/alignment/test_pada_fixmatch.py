"""PADA's class weights and weighted losses, FixMatch's views and consistency loss, against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import softmax

from dalib.alignment.fixmatch import FixMatch, consistency_loss, strong_view
from dalib.alignment.mdd import MDD
from dalib.alignment.pada import PADA
from dalib.alignment.schedules import warm_start
from dalib.errors import DalibError


# Kills: weights not normalised by their maximum (γ = ā), a moving average that keeps the new
# batch's share m instead of 1 − m, and an average of logits instead of softmax probabilities.
def test_pada_class_weights_follow_the_moving_average_of_target_predictions():
    pada = PADA(8, 3, momentum=0.9)
    np.testing.assert_allclose(pada.class_weights.numpy(), np.ones(3))  # starts as DANN
    z1, z2 = torch.tensor([[3.0, 0.0, -2.0], [2.0, 1.0, -1.0]]), torch.tensor([[0.0, 2.5, -3.0]])
    pada.update_class_weights(z1)
    pada.update_class_weights(z2)
    mean = np.full(3, 1 / 3)
    for z in (z1, z2):
        mean = 0.9 * mean + 0.1 * softmax(z.numpy(), axis=1).mean(0)
    np.testing.assert_allclose(pada.class_weights.numpy(), mean / mean.max(), rtol=1e-6)


# Kills: the task loss left unweighted (the objective's CE kept beside the weighted one), the
# instance weights w_s dropped from the class-weighted CE, class weights missing from the
# discriminator's source term, the single-step terms lost, and λ left out.
def test_pada_step_loss_matches_hand_computation(tiny_classifier, step_batch):
    model, pada = tiny_classifier, PADA(8, 3, momentum=0.5, dropout=0.0).eval()
    ws = torch.tensor([1.0, 0.5, 2.0, 1.0, 1.5, 1.0])
    batch = step_batch(model, lam=0.5, ws=ws)
    (step,) = pada.update_steps(batch)
    assert (step.name, step.updates) == ("weighted", ("features", "head", "term"))
    loss = float(step.loss()[0].detach())
    with torch.no_grad():
        f, z = model(torch.cat([batch.xs, batch.xt]))
        f_s, z_s, f_t, z_t = f[:6].double(), z[:6].double(), f[6:].double(), z[6:].double()
        mean = 0.5 * np.full(3, 1 / 3) + 0.5 * softmax(z_t.numpy(), axis=1).mean(0)
        gamma = mean / mean.max()
        c = gamma[batch.ys.numpy()]
        ce = -np.log(softmax(z_s.numpy(), axis=1))[np.arange(6), batch.ys.numpy()]
        d_s = pada.discriminator(f[:6]).squeeze(1).double().numpy()
        d_t = pada.discriminator(f[6:]).squeeze(1).double().numpy()
    softplus = lambda x: np.log1p(np.exp(x))  # noqa: E731
    adv = 0.5 * ((c * softplus(-d_s)).mean() + softplus(d_t).mean())
    extra = float(0.25 * f_t.pow(2).mean() + 0.125 * f_s.pow(2).mean() + 0.0625 * z_t.pow(2).mean())
    want = (ws.numpy() * c * ce).mean() + extra + 0.5 * adv
    assert loss == pytest.approx(want, rel=1e-5)


def test_pada_reverses_the_gradient_into_the_features():
    """Kills a PADA whose discriminator input is not gradient-reversed (features would help D)."""
    pada = PADA(4, 3, dropout=0.0).double()
    f_s = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    f_t = torch.randn(3, 4, dtype=torch.float64)
    pada(f_s, f_t, y_s=torch.tensor([0, 1, 2, 0, 1]), progress=0.5).backward()
    reversed_grad = f_s.grad.clone()
    f_s.grad = None
    from dalib.alignment.adversarial import domain_adversarial_loss

    domain_adversarial_loss(pada.discriminator, f_s, f_t, w_s=torch.ones(5, dtype=torch.float64)).backward()
    torch.testing.assert_close(reversed_grad, -warm_start(0.5, 1.0, 10.0) * f_s.grad)


# Kills: masking with > τ instead of ≥ τ (the row at exactly τ), a mean over the confident
# samples only (FixMatch divides by all n), pseudo-labels taken from the strong view, and no mask.
def test_fixmatch_consistency_loss_matches_numpy():
    weak = torch.tensor([[np.log(3.0), 0.0, -np.inf], [0.0, 0.0, 0.0], [0.5, 0.0, 0.0],  # row 0: max p = 0.75 exactly
                         [0.0, 0.0, 9.0]], dtype=torch.float64)
    strong = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    p = softmax(np.nan_to_num(weak.numpy(), neginf=-1e9), axis=1)
    mask = p.max(1) >= 0.75
    assert mask.tolist() == [True, False, False, True]
    ce = -np.log(softmax(strong.numpy(), axis=1))[np.arange(4), p.argmax(1)]
    assert float(consistency_loss(weak, strong, 0.75)) == pytest.approx((mask * ce).sum() / 4, rel=1e-12)


def test_fixmatch_strong_view_is_inverted_dropout_plus_scaled_noise():
    """Kills dropout without the 1/(1 − ρ) rescaling, noise not scaled by the batch std, and a
    strong view that does not draw from the (seeded) global RNG."""
    x = torch.randn(400, 6) * torch.tensor([1.0, 2.0, 3.0, 0.5, 1.0, 4.0])
    torch.manual_seed(3)
    dropped = strong_view(x, 0.3, 0.0)
    kept = dropped != 0
    torch.testing.assert_close(dropped[kept], x[kept] / 0.7)
    assert 0.6 < float(kept.float().mean()) < 0.8
    torch.manual_seed(3)
    noisy = strong_view(x, 0.0, 0.5)
    ratio = (noisy - x).std(0) / x.std(0)
    assert torch.all((ratio > 0.4) & (ratio < 0.6))
    torch.manual_seed(3)
    torch.testing.assert_close(strong_view(x, 0.0, 0.5), noisy)


def test_fixmatch_strong_view_draws_random_numbers_only_for_what_it_applies():
    """Kills the noise drawn (and the global RNG advanced) at noise = 0, which would shift every
    later random draw of the run. (Dropout at p = 0 draws nothing, so its guard is a shortcut.)"""
    x = torch.randn(5, 3)
    torch.manual_seed(6)
    strong_view(x, 0.0, 0.0)
    after_nothing = torch.rand(3)
    torch.manual_seed(6)
    strong_view(x, 0.3, 0.0)
    after_dropout = torch.rand(3)
    torch.manual_seed(6)
    torch.nn.functional.dropout(x, 0.3, training=True)
    torch.testing.assert_close(after_dropout, torch.rand(3))
    torch.manual_seed(6)
    torch.testing.assert_close(after_nothing, torch.rand(3))


@pytest.mark.parametrize("rows", [1, 2])
def test_fixmatch_strong_view_of_a_tiny_batch_scales_the_noise_by_one_or_by_the_std(rows):
    """Kills the std of a single row (NaN) used as the noise scale, and a batch of two rows
    scaled by 1 instead of its std (the switch at n > 1 moved)."""
    x = torch.tensor([[1.0, -2.0, 0.5], [3.0, 1.0, 0.5]])[:rows]
    torch.manual_seed(4)
    got = strong_view(x, 0.0, 0.5)
    torch.manual_seed(4)
    scale = torch.ones(1, 3) if rows == 1 else (x[0] - x[1]).abs().unsqueeze(0) / 2 ** 0.5
    torch.testing.assert_close(got, x + 0.5 * scale * torch.randn_like(x))


THRESHOLD = 0.37  # 2 of the 5 target rows of `_batch` pass it (max p 0.385, 0.391) on the untrained `_model`


def test_fixmatch_step_adds_lambda_times_consistency_on_a_strong_forward(tiny_classifier, step_batch):
    """Kills λ left out, the strong view replaced by the weak one (the loss would differ), and the
    objective given other features, logits or weights than the batch's."""
    model, fm = tiny_classifier, FixMatch(8, 3, threshold=THRESHOLD, drop=0.3, noise=0.1)
    ws = torch.tensor([1.0, 0.5, 2.0, 1.0, 1.5, 1.0])
    batch = step_batch(model, lam=0.5, ws=ws)
    (step,) = fm.update_steps(batch)
    assert (step.name, step.updates) == ("consistency", ("features", "head", "term"))
    torch.manual_seed(5)
    loss = float(step.loss()[0].detach())
    torch.manual_seed(5)
    with torch.no_grad():
        f, z = model(torch.cat([batch.xs, batch.xt]))
        base, _ = batch.objective(f[:6], z[:6], f[6:], z[6:], ws)
        _, strong = model(strong_view(batch.xt, 0.3, 0.1))
        u = consistency_loss(z[6:], strong, THRESHOLD)
    assert float(u) > 0
    assert loss == pytest.approx(float(base) + 0.5 * float(u), rel=1e-6)


def test_fixmatch_step_perturbs_through_the_backbones_own_perturb_input(tiny_classifier, step_batch):
    """Kills the step building the strong view without the model (a backbone's ``perturb_input``,
    e.g. MiniLM's cached states with their attention mask, would be bypassed)."""
    model, fm = tiny_classifier, FixMatch(8, 3, threshold=THRESHOLD, drop=0.3, noise=0.1)
    seen = []
    model.backbone.perturb_input = lambda x, view: (seen.append(x.shape), x + 100.0)[1]
    (step,) = fm.update_steps(step_batch(model, lam=0.5))
    step.loss()
    assert seen == [(5, 5)]


@pytest.mark.parametrize("build, message", [
    (lambda: PADA(8, 3, momentum=1.0), r"^pada: momentum of the class-weight average must be in \[0, 1\), got 1\.0$"),
    (lambda: FixMatch(8, 3, threshold=0.0), r"^fixmatch: threshold τ must be in \(0, 1\], got 0\.0$"),
    (lambda: FixMatch(8, 3, drop=1.0), r"^fixmatch: drop=1\.0, noise=0\.1; the strong view needs 0 ≤ drop < 1 and noise ≥ 0$"),
])
def test_bad_hyper_parameters_get_one_line_errors(build, message):
    with pytest.raises(DalibError, match=message):
        build()


def test_pada_needs_source_labels():
    with pytest.raises(DalibError, match=r"^pada: y_s is missing; the class-weighted adversarial loss needs the source labels$"):
        PADA(4, 3)(torch.randn(4, 4), torch.randn(4, 4))


@pytest.mark.parametrize("make", [lambda g: PADA(8, 3, lam_max=0.5, gamma=g), lambda g: MDD(8, 3, lam_max=0.5, gamma=g)],
                         ids=["pada", "mdd"])
def test_the_reversal_warms_up_with_the_terms_own_gamma(make):
    """The reversal coefficient after a forward pass at progress p is λ_max·(2/(1 + e^(−γp)) − 1)
    with the term's γ, not the schedule's default 10. Kills: γ dropped from the warm_start call."""
    term = make(3.0)
    term(torch.randn(4, 8), torch.randn(4, 8), logits_s=torch.randn(4, 3), logits_t=torch.randn(4, 3),
         y_s=torch.tensor([0, 1, 2, 0]), progress=0.3)
    assert term.grl.coeff == pytest.approx(0.5 * (2.0 / (1.0 + math.exp(-3.0 * 0.3)) - 1.0), rel=1e-12)
