"""EfficientNet-Lite backbone: logits equal the reference package's, trunk blocks compose to forward,
stages cover every parameter once, drop-connect rates, TF "SAME" padding and channel rounding."""

from __future__ import annotations

import contextlib
import io
import math

import pytest
import torch
from torch.nn import functional as F

from dalib.errors import DalibError
from dalib.models import build_backbone
from dalib.models.efficientnet import (EfficientNetLite, SamePad, imagenet_classifier, input_resolution,
                                       round_channels)
from dalib.models.weight_files import weights_file

VARIANTS = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]


@pytest.mark.parametrize("name", VARIANTS)
def test_logits_equal_reference_package(name):
    # Kills: symmetric padding on stride-2 convolutions (torchvision style instead of TF "SAME"),
    # BatchNorm eps 1e-5 instead of 1e-3, ReLU instead of ReLU6, depth-scaling the first/last block
    # group, width-scaling the stem, a wrong key in the reference → dalib renaming.
    reference = pytest.importorskip("efficientnet_lite_pytorch")
    path = weights_file(name, "imagenet")
    with contextlib.redirect_stdout(io.StringIO()):  # the reference prints on load
        ref = reference.EfficientNet.from_pretrained(name.replace("_", "-"), weights_path=str(path)).eval()
    ours = build_backbone(name, 0, weights="imagenet").eval()
    fc = imagenet_classifier(name).eval()
    s = input_resolution(name)
    x = torch.randn(2, 3, s, s, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, got = ref(x), fc(ours(x))
    assert got.shape == (2, 1000)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_trunk_blocks_compose_to_forward_and_hold_every_parameter_once():
    torch.manual_seed(0)
    model = EfficientNetLite("efficientnet_lite0").eval()
    blocks = model.trunk_blocks()
    assert [n for n, _ in blocks] == ["stem"] + [f"block{i}" for i in range(16)] + ["head"]
    x = torch.randn(2, 3, 64, 64)
    h = x
    with torch.no_grad():
        for _, module in blocks:
            h = module(h)
        assert h.shape == (2, model.feature_dim) == (2, 1280)
        assert torch.equal(h, model(x))
    ids = [id(p) for _, m in blocks for p in m.parameters()]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))


@pytest.mark.parametrize("name, blocks, sizes", [("efficientnet_lite0", 16, [1, 2, 2, 6, 5]),
                                                  ("efficientnet_lite2", 21, [1, 3, 3, 8, 6])])
def test_stages_group_blocks_by_stride_and_cover_every_parameter_once(name, blocks, sizes):
    # Block groups (repeats) of lite0: 1,2,2,3,3,4,1; lite2 (depth 1.2, first/last unscaled): 1,3,3,4,4,5,1.
    # Stride-2 groups start a stage: [g0], [g1], [g2], [g3 g4], [g5 g6]. Kills: scaling all repeats.
    model = EfficientNetLite(name)
    stages = model.stages()
    assert [n for n, _ in stages] == ["stem", "stride2", "stride4", "stride8", "stride16", "stride32", "head"]
    assert [len(m) for _, m in stages[1:-1]] == sizes and len(model.blocks) == blocks
    ids = [id(p) for _, m in stages for p in m.parameters()]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    with torch.no_grad():  # resolution halves exactly at each stage: stride 32 overall
        h = torch.randn(1, 3, 64, 64)
        for (label, m), side in zip(stages[:-1], (32, 32, 16, 8, 4, 2)):
            h = m(h)
            assert h.shape[-1] == side, label


def test_drop_connect_rates_follow_block_index_and_act_only_in_training():
    # Reference: rate_i = 0.2·i / B on blocks with a skip (stride 1, c_in = c_out). Kills: i / (B − 1),
    # dropping on blocks without skip, dropping in eval mode.
    model = EfficientNetLite("efficientnet_lite0")
    # lite0 block groups have 1, 2, 2, 3, 3, 4, 1 blocks; each group's first block changes the channels
    # or the stride, its repeats (stride 1, c → c) have a skip: blocks 2, 4, 6–7, 9–10, 12–14.
    skips = {2, 4, 6, 7, 9, 10, 12, 13, 14}
    assert {i for i, b in enumerate(model.blocks) if b.drop is not None} == skips
    for i in skips:
        assert model.blocks[i].drop.p == pytest.approx(0.2 * i / 16)
    block = model.blocks[14]  # rate 0.175
    x = torch.randn(400, block.project.conv.out_channels, 2, 2)
    with torch.no_grad():
        block.eval()
        assert torch.equal(block(x), x + block.project(block.depthwise(block.expand(x))))
        block.train()  # BatchNorm uses the batch's statistics: the same for the branch and the block
        branch = block.project(block.depthwise(block.expand(x)))
        torch.manual_seed(0)
        out = block(x)
    kept = torch.isclose(out, x + branch / (1 - 0.175), atol=1e-5).flatten(1).all(1)
    dropped = torch.equal(out[~kept], x[~kept])
    assert dropped and abs((~kept).float().mean().item() - 0.175) < 0.06  # 400 samples: σ ≈ 0.019


def test_drop_connect_can_be_switched_off():
    model = build_backbone("efficientnet_lite0", 0, drop_connect_rate=0.0)
    assert all(b.drop is None or b.drop.p == 0.0 for b in model.blocks)
    with pytest.raises(DalibError, match="drop_connect_rate"):
        EfficientNetLite("efficientnet_lite0", drop_connect_rate=1.0)


@pytest.mark.parametrize("size, kernel, stride", [(224, 3, 2), (56, 5, 2), (65, 5, 2), (33, 3, 2), (7, 3, 1)])
def test_same_padding_matches_tensorflow_rule(size, kernel, stride):
    # TF "SAME": output ⌈i/s⌉, total pad P = max((⌈i/s⌉−1)s + k − i, 0), ⌊P/2⌋ before, the rest after.
    # Checked against F.conv2d with the explicitly padded input. Kills: ⌈P/2⌉ before (PyTorch-style
    # centring), padding computed for a fixed size.
    x = torch.randn(1, 1, size, size)
    out = F.conv2d(SamePad(kernel, stride)(x), torch.ones(1, 1, kernel, kernel), stride=stride)
    p = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    padded = torch.zeros(1, 1, size + p, size + p)
    padded[..., p // 2:p // 2 + size, p // 2:p // 2 + size] = x
    expected = F.conv2d(padded, torch.ones(1, 1, kernel, kernel), stride=stride)
    assert out.shape[-1] == math.ceil(size / stride)
    torch.testing.assert_close(out, expected)


def test_round_channels_matches_tensorflow_rounding():
    # TF round_filters: ⌊(c·w + 4) / 8⌋·8, +8 when that is below 0.9·c·w. Hand-computed values; the
    # last two kill dropping the +8 correction (7·1.7 = 11.9 → 8 < 10.7 → 16; 3·1 → 0 → 8).
    assert [round_channels(c, 1.1) for c in (16, 24, 40, 80, 112, 192, 320)] == [16, 24, 48, 88, 120, 208, 352]
    assert [round_channels(c, 1.0) for c in (16, 24, 320)] == [16, 24, 320]
    assert round_channels(7, 1.7) == 16 and round_channels(3, 1.0) == 8


def test_bad_inputs_raise_one_line_errors():
    model = EfficientNetLite("efficientnet_lite0")
    with pytest.raises(DalibError, match=r"\(n, 3, H, W\).*224 px"):
        model(torch.randn(2, 1280))
    with pytest.raises(DalibError, match="choose one of efficientnet_lite0"):
        EfficientNetLite("efficientnet_lite3")
