"""Per-sample prediction entropy and the mean entropy the ``entropy`` protocol reads."""

import math

import pytest
import torch

from dalib.eval.metrics import Predictions, prediction_entropy


# Kills: the entropy summed over the whole batch instead of per row, p / log p in place of
# p log p, the mean entropy taken over a batch total.
def test_prediction_entropy_per_row_hand_values():
    logits = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)], [0.0, 0.0]])
    h = prediction_entropy(logits)
    binary = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert h.shape == (3,)
    torch.testing.assert_close(h, torch.tensor([math.log(2.0), binary, math.log(2.0)]))
    pred = Predictions(torch.zeros(3, 1), logits, torch.tensor([0, 1, 1]))
    assert pred.mean_entropy == pytest.approx((2 * math.log(2.0) + binary) / 3)
    assert pred.accuracy == pytest.approx(2 / 3)
