"""Pseudo-label self-training against a hand computation and its closed-form gradient."""

import math

import pytest
import torch

from dalib.alignment.pseudo_label import PseudoLabel, pseudo_label_loss
from dalib.errors import DalibError
from dalib.methods import build_terms, resolve_method


def _logits() -> torch.Tensor:
    # confidences 0.99 (class 0), 0.5 (below τ), 0.98 (class 1)
    return torch.tensor([[math.log(99.0), 0.0], [0.0, 0.0], [0.0, math.log(49.0)]], dtype=torch.float64,
                        requires_grad=True)


# Kills: averaging over the confident samples only (÷2 here, not ÷3), no confidence mask, the
# threshold compared with the logit instead of the softmax, soft targets (entropy) in place of the
# argmax pseudo-label, a gradient that flows through the pseudo-labels: the gradient is
# (softmax − onehot(ŷ)) / n on confident rows and 0 elsewhere.
def test_value_and_gradient_by_hand():
    logits = _logits()
    loss = pseudo_label_loss(logits, 0.95)
    assert loss.item() == pytest.approx((-math.log(0.99) - math.log(0.98)) / 3, rel=1e-12)
    loss.backward()
    expected = torch.tensor([[0.99 - 1, 0.01], [0.0, 0.0], [0.02, 0.98 - 1]], dtype=torch.float64) / 3
    torch.testing.assert_close(logits.grad, expected)
    assert pseudo_label_loss(_logits(), 0.999).item() == 0.0  # nothing confident enough
    assert pseudo_label_loss(_logits(), 0.4).item() == pytest.approx(
        (-math.log(0.99) - math.log(0.5) - math.log(0.98)) / 3, rel=1e-12)


def test_term_threshold_schedule_and_errors():
    term = PseudoLabel(feature_dim=2, num_classes=2)
    f = torch.zeros(3, 2, dtype=torch.float64)
    assert term(f, f, logits_t=_logits()).item() == pytest.approx(pseudo_label_loss(_logits(), 0.95).item())
    (built,) = build_terms(resolve_method("pseudo_label"), 2, 2, {})
    assert built.schedule(0.0, 1.0) == 0.0 and built.schedule(1.0, 1.0) == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(DalibError, match=r"^pseudo_label: threshold must be in \(0, 1\]"):
        PseudoLabel(2, 2, threshold=1.5)
    with pytest.raises(DalibError, match=r"^pseudo_label needs logits_t"):
        term(f, f)


# Kills: a strict `>` threshold (a confidence equal to τ counts), τ = 1 refused or τ = 0
# accepted, a message naming another term, a term that loses its sizes.
def test_threshold_edges_and_message():
    assert pseudo_label_loss(torch.zeros(1, 2, dtype=torch.float64), 0.5).item() == pytest.approx(math.log(2.0))
    assert PseudoLabel(2, 2, threshold=1.0).threshold == 1.0
    expected = r"^pseudo_label: threshold must be in \(0, 1\] \(a softmax confidence\), got 0.0$"
    with pytest.raises(DalibError, match=expected):
        PseudoLabel(2, 2, threshold=0.0)
    with pytest.raises(DalibError) as err:
        PseudoLabel(4, 3)(torch.zeros(2, 4), torch.zeros(2, 4), logits_t=torch.zeros(2, 2))
    assert str(err.value) == ("pseudo_label: logits_t has shape (2, 2), expected (n_t, 3), n_t ≥ 1; pass the "
                              "classifier outputs of the target batch")
    term = PseudoLabel(4, 3)
    assert (term.feature_dim, term.num_classes) == (4, 3)
