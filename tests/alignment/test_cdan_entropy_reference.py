"""CDAN+E's entropy weights and loss against a hand computation (Long et al., NeurIPS 2018, eq. 10).

With C = 4 classes the paper's w = 1 + exp(−H) and the plausible wrong 2 − H/log C agree only at
one-hot predictions (both 2); at the uniform prediction they give 1 + 1/C = 1.25 versus 1.
"""

from __future__ import annotations

import math

import pytest
import torch

from dalib.alignment.cdan import CDAN, CDANE, entropy_weights

PROBS = [[0.97, 0.01, 0.01, 0.01], [0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0], [0.7, 0.1, 0.1, 0.1]]


def hand_weights(rows: list[list[float]]) -> list[float]:
    """w_i = 1 + exp(−H_i), H_i = −Σ_c p_ic log p_ic (0 log 0 = 0), rescaled to sum to n."""
    raw = [1.0 + math.exp(sum(p * math.log(p) for p in row if p > 0)) for row in rows]
    return [w * len(raw) / sum(raw) for w in raw]


# Kills: 2 − H/log C (uniform row gets 1 instead of 1.25 before rescaling), exp(+H), a missing
# rescaling (sum 5.25 instead of 4), rescaling to 1 instead of n, and log without the minus sign.
def test_entropy_weights_equal_hand_computation():
    got = entropy_weights(torch.tensor(PROBS, dtype=torch.float64))
    assert got.tolist() == pytest.approx(hand_weights(PROBS), rel=1e-9)
    uniform_over_onehot = (1.0 + 0.25) / 2.0  # uniform row vs a one-hot row, before rescaling
    one_hot = entropy_weights(torch.tensor([[1.0, 0, 0, 0], [0.25] * 4], dtype=torch.float64))
    assert (one_hot[1] / one_hot[0]).item() == pytest.approx(uniform_over_onehot, rel=1e-9)


def _bce_by_hand(logit: float, label: int) -> float:
    prob = 1.0 / (1.0 + math.exp(-logit))
    return -math.log(prob) if label == 1 else -math.log(1.0 - prob)


# Kills: entropy weights computed from the logits instead of the softmax, source and target
# weights swapped, weights applied to only one domain, the plain CDAN loss returned for CDAN+E,
# and the map fed f ⊗ f or the un-normalised logits.
def test_cdan_e_loss_equals_hand_weighted_bce():
    torch.manual_seed(0)
    d, c = 3, 4
    loss_fn = CDANE(d, c, hidden=8).double().eval()  # eval: no dropout, BatchNorm uses its buffers
    with torch.no_grad():
        loss_fn.discriminator[-1].weight.mul_(20.0)  # spread the logits so per-sample BCEs differ
    f_s, f_t = torch.randn(5, d, dtype=torch.float64), torch.randn(3, d, dtype=torch.float64)
    l_s, l_t = 3 * torch.randn(5, c, dtype=torch.float64), 3 * torch.randn(3, c, dtype=torch.float64)
    got = loss_fn(f_s, f_t, logits_s=l_s, logits_t=l_t, progress=0.5).item()

    def side(f, logits, label):
        rows = logits.softmax(1).tolist()
        w = hand_weights(rows)
        total = 0.0
        for i, row in enumerate(rows):
            outer = torch.tensor([[f[i, a].item() * row[k] for k in range(c)] for a in range(d)],
                                 dtype=torch.float64).reshape(1, -1)
            z = loss_fn.discriminator(outer).item()
            total += w[i] * _bce_by_hand(z, label)
        return total / len(rows)

    expected = 0.5 * (side(f_s, l_s, 1) + side(f_t, l_t, 0))
    assert got == pytest.approx(expected, rel=1e-9)
    plain = CDAN(d, c, hidden=8).double().eval()
    plain.load_state_dict(loss_fn.state_dict())
    unweighted = plain(f_s, f_t, logits_s=l_s, logits_t=l_t, progress=0.5).item()
    assert abs(unweighted - expected) > 1e-3  # the weights matter on this batch
