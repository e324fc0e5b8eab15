"""Cutting a backbone into a frozen prefix and a trainable suffix (`dalib.models.trunk`)."""

from __future__ import annotations

import pytest
import torch

from dalib.errors import DalibError
from dalib.models import Classifier, build_backbone
from dalib.models.backbones import BACKBONES
from dalib.models.trunk import CachedTrunk, TrunkCut, parse_trunk, split_trunk, state_sha256, validate_trunk


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return build_backbone("resnet18", 0).eval()


def test_trunk_modes_parse_and_bad_ones_raise_one_line():
    assert parse_trunk("") is None and parse_trunk(" frozen ") == TrunkCut("frozen")
    assert parse_trunk("top:3") == TrunkCut("top", 3) and validate_trunk("top:03") == "top:3"
    assert not parse_trunk("full").cached and parse_trunk("top:1").cached and parse_trunk("frozen").cached
    for bad in ("top:0", "top", "top:-1", "frozen:2", "all"):
        with pytest.raises(DalibError, match=r"unknown trunk .*'frozen', 'top:N'") as err:
            validate_trunk(bad)
        assert "\n" not in str(err.value)


def test_resnet_trunk_blocks_compose_to_forward(resnet):
    # kills: a stem without ReLU or max-pool, a head without flatten, a block left out
    x = torch.randn(2, 3, 40, 40)
    out = x
    names = []
    for name, block in resnet.trunk_blocks():
        out = block(out)
        names.append(name)
    assert names == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert torch.equal(out, resnet(x)) and out.shape == (2, 512)


@pytest.mark.parametrize("text", ["frozen", "top:1", "top:2", "top:4"])
def test_suffix_after_prefix_is_the_backbone(resnet, text):
    # kills: an off-by-one cut (a block in both parts, or in neither)
    prefix, suffix = split_trunk(resnet, parse_trunk(text))
    x = torch.randn(2, 3, 40, 40)
    assert torch.equal(suffix(prefix(x)), resnet(x))
    n = 0 if text == "frozen" else int(text[4:])
    expected = ["layer1", "layer2", "layer3", "layer4"][4 - n:] + ["head"] if n else []
    assert [name for name, _ in suffix.named_children()] == expected


def test_cut_errors_name_the_fix(resnet):
    with pytest.raises(DalibError, match=r"top:5 asks for 5 blocks .* use top:1 … top:4"):
        split_trunk(resnet, TrunkCut("top", 5))
    with pytest.raises(DalibError, match="no prefix"):
        split_trunk(resnet, TrunkCut("full"))
    with pytest.raises(DalibError, match="'MLP' does not list trunk blocks.*MiniLM on token ids"):
        split_trunk(build_backbone("mlp", 4), TrunkCut("frozen"))
    with pytest.raises(DalibError, match="input shape|views of shape"):
        CachedTrunk(split_trunk(resnet, TrunkCut("top", 1))[1], 512, (256, 2, 2))(torch.randn(3, 256, 2, 2))


@pytest.mark.parametrize("n", [1, 2])
def test_under_top_n_only_the_last_n_blocks_receive_gradients(resnet, n):
    # kills: a cut that leaves block K−N in the suffix, or the suffix reading a copy of the weights
    prefix, suffix = split_trunk(resnet, TrunkCut("top", n))
    with torch.no_grad():
        cached = prefix(torch.randn(4, 3, 40, 40)).unsqueeze(1)  # (b, V = 1, C, H, W)
    model = Classifier(CachedTrunk(suffix, 512, cached.shape[2:]), 3, 8).train()
    model(cached)[1].sum().backward()
    receiving = {id(p) for p in model.backbone.parameters() if p.grad is not None}
    last = {f"net.layer{i}." for i in range(5 - n, 5)}
    expected = {id(p) for name, p in resnet.named_parameters() if any(name.startswith(s) for s in last)}
    assert receiving == expected and expected
    for p in model.backbone.parameters():
        p.grad = None


def test_cached_trunk_reads_view_zero_of_each_sample(resnet):
    # kills: reading another view, or averaging the views
    _, suffix = split_trunk(resnet, TrunkCut("top", 1))
    trunk = CachedTrunk(suffix, 512, (256, 2, 2)).eval()
    views = torch.randn(3, 4, 256, 2, 2)
    assert torch.equal(trunk(views), suffix(views[:, 0])) and trunk.stages()[0][0] == "layer4"
    assert torch.allclose(trunk(views.half()), suffix(views.half()[:, 0].float()))


def test_state_sha256_follows_every_weight_and_buffer(resnet):
    # kills: hashing names or shapes only, or skipping BatchNorm buffers
    copy = build_backbone("resnet18", 0)
    copy.load_state_dict(resnet.state_dict())
    assert state_sha256(copy) == state_sha256(resnet)
    with torch.no_grad():
        copy.net.layer3[0].bn1.running_var[0] += 1e-3
    assert state_sha256(copy) != state_sha256(resnet)
    copy.load_state_dict(resnet.state_dict())
    with torch.no_grad():
        copy.net.conv1.weight[0, 0, 0, 0] *= -1
    assert state_sha256(copy) != state_sha256(resnet)


@pytest.mark.skipif("efficientnet_lite0" not in BACKBONES, reason="EfficientNet-Lite backbones not installed")
def test_efficientnet_lite0_top3_suffix_after_prefix_is_the_backbone():
    torch.manual_seed(0)
    net = build_backbone("efficientnet_lite0", 0).eval()
    prefix, suffix = split_trunk(net, TrunkCut("top", 3))
    x = torch.randn(2, 3, 32, 32)
    assert [n for n, _ in suffix.named_children()] == ["block13", "block14", "block15", "head"]
    assert torch.allclose(suffix(prefix(x)), net(x), atol=1e-6, rtol=0)
