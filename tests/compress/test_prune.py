"""Magnitude pruning: exactly zero at the requested sparsity, the smallest weights go first,
masks survive fine-tuning, and bad requests are named."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dalib.compress.prune import channel_sparsity, make_permanent, prunable_layers, prune_model, weight_sparsity
from dalib.errors import DalibError
from dalib.models import Classifier
from dalib.models.backbones import MLP


def model() -> Classifier:
    torch.manual_seed(0)
    return Classifier(MLP(40, (32,), dropout=0.0), 5, 16)


def weights(m: nn.Module) -> list[torch.Tensor]:
    return [layer.weight.detach().clone() for _, layer in prunable_layers(m)]


@pytest.mark.parametrize("sparsity", [0.5, 0.8, 0.9])
def test_global_pruning_zeroes_the_smallest_weights_of_all_layers(sparsity: float) -> None:
    # kills: pruning the largest weights, per-layer instead of global thresholds, a wrong count
    m = model()
    before = torch.cat([w.flatten() for w in weights(m)])
    make_permanent(prune_model(m, sparsity, "global"))
    after = torch.cat([w.flatten() for w in weights(m)])
    n_zero = int((after == 0).sum())
    assert n_zero == round(sparsity * before.numel())
    assert weight_sparsity(m) == pytest.approx(sparsity, abs=1 / before.numel())
    kept, pruned = before.abs()[after != 0], before.abs()[after == 0]
    assert pruned.max() <= kept.min()  # brute-force check of the magnitude rule
    assert torch.equal(after[after != 0], before[after != 0])  # kept weights unchanged
    per_layer = [float((w == 0).float().mean()) for w in weights(m)]
    assert max(per_layer) - min(per_layer) > 0.05  # one global threshold, not equal shares


def test_layer_pruning_hits_every_layer_at_the_sparsity() -> None:
    m = model()
    before = weights(m)
    make_permanent(prune_model(m, 0.8, "layer"))
    for b, a in zip(before, weights(m)):
        assert int((a == 0).sum()) == round(0.8 * b.numel())
        assert b.abs()[a == 0].max() <= b.abs()[a != 0].min()


def test_channel_pruning_zeroes_whole_rows_of_smallest_norm_and_keeps_the_classes() -> None:
    m = model()
    before = dict(prunable_layers(m))
    norms = {n: l.weight.detach().norm(dim=1).clone() for n, l in before.items()}
    make_permanent(prune_model(m, 0.5, "channel"))
    for name, layer in prunable_layers(m):
        zero_rows = layer.weight.abs().sum(1) == 0
        if name == "head":
            assert not zero_rows.any()  # every class keeps its output
            continue
        assert int(zero_rows.sum()) == round(0.5 * len(zero_rows))
        assert norms[name][zero_rows].max() <= norms[name][~zero_rows].min()
    assert channel_sparsity(m) == pytest.approx(0.5)


def test_masks_hold_during_fine_tuning() -> None:
    m = prune_model(model(), 0.9, "global")
    opt = torch.optim.SGD(m.parameters(), lr=0.5)
    for _ in range(3):
        loss = m(torch.randn(8, 40))[1].pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    make_permanent(m)
    assert weight_sparsity(m) >= 0.9 - 1e-3
    assert not any(hasattr(layer, "weight_orig") for _, layer in prunable_layers(m))


def test_bad_requests_are_named() -> None:
    # kills: the kinds' list or the model's class left out of the messages
    with pytest.raises(DalibError, match=r"fraction in \[0, 1\)"):
        prune_model(model(), 1.0)
    with pytest.raises(DalibError) as err:
        prune_model(model(), 0.5, "random")
    assert str(err.value) == "unknown pruning kind 'random'; use one of global, layer, channel"
    with pytest.raises(DalibError) as err:
        prune_model(nn.Sequential(nn.ReLU()), 0.5)
    assert str(err.value) == "Sequential has no Linear or Conv layer to prune"


def test_sparsity_zero_prunes_nothing_and_channel_sparsity_counts_zero_rows() -> None:
    # kills: sparsity 0 (the unpruned reference of a sweep) refused, and channel_sparsity
    # counting the non-zero rows instead of the zero ones
    m = model()
    before = weights(m)
    make_permanent(prune_model(m, 0.0, "global"))
    assert all(torch.equal(a, b) for a, b in zip(before, weights(m)))
    assert channel_sparsity(m) == 0.0 and weight_sparsity(m) == 0.0
    make_permanent(prune_model(m, 0.5, "channel"))
    assert channel_sparsity(m) == pytest.approx((16 + 8) / (32 + 16))  # 16 of 32 and 8 of 16 rows
