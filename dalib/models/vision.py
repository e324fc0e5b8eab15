"""Vision backbones (LeNet for small digits, torchvision ResNet/VGG) and local weight files.

Weights are never downloaded: `load_weights` reads a state-dict file the user copied over
(see README, "Pretrained weights").
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from pathlib import Path

import torch
from torch import Tensor, nn

from dalib.errors import DalibError

ARCHS = ("resnet18", "resnet34", "resnet50", "vgg16")
HEAD_KEYS = re.compile(r"^(fc|classifier\.6)\.")  # ImageNet 1000-way classifiers the backbones drop


class LeNet(nn.Module):
    """LeNet for small grey digits: (n, c·s·s) flat vectors or (n, c, s, s) images → (n, 500).

    conv(c→20, 5) → ReLU → maxpool 2 → conv(20→50, 5) → ReLU → maxpool 2 → Linear(→500) → ReLU →
    Dropout. Convolutions are padded, so any s ≥ 4 works (8×8 sklearn digits, 16×16 USPS/MNIST).
    Without ``in_channels`` / ``image_size`` a square grey image is assumed (c = 1, s = √in_dim).
    """

    def __init__(self, in_dim: int, in_channels: int | None = None, image_size: int | None = None) -> None:
        super().__init__()
        c = in_channels or (in_dim // image_size**2 if image_size else 1)
        s = image_size or math.isqrt(in_dim // c)
        if c * s * s != in_dim or s < 4:
            raise DalibError(
                f"LeNet cannot read {in_dim}-d inputs as {c} channel(s) of {s}×{s} pixels (need c·s·s = in_dim, "
                "s ≥ 4); pass in_channels and image_size that match the data"
            )
        self.arch, self.in_dim, self.shape, self.feature_dim = "lenet", in_dim, (c, s, s), 500
        self.features = nn.Sequential(
            nn.Conv2d(c, 20, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(20, 50, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.fc = nn.Sequential(nn.Linear(50 * (s // 4) ** 2, 500), nn.ReLU(), nn.Dropout(0.5))

    def forward(self, x: Tensor) -> Tensor:
        """(n, c·s·s) or (n, c, s, s) → (n, 500)."""
        if x.dim() == 2 and x.shape[1] == self.in_dim:
            x = x.reshape(len(x), *self.shape)
        elif x.dim() != 4 or tuple(x.shape[1:]) != self.shape:
            c, s, _ = self.shape
            raise DalibError(
                f"LeNet expects inputs of shape (n, {self.in_dim}) or (n, {c}, {s}, {s}), got {tuple(x.shape)}; "
                "build the backbone for the data's input size"
            )
        return self.fc(self.features(x).flatten(1))

    def stages(self) -> list[tuple[str, nn.Module]]:
        """Stages from input to output for gradual unfreezing: conv1, conv2, fc."""
        return [("conv1", self.features[:3]), ("conv2", self.features[3:]), ("fc", self.fc)]


class TorchvisionBackbone(nn.Module):
    """A torchvision ResNet-18/34/50 or VGG-16 without its ImageNet classifier: (n, 3, H, W) → (n, feature_dim).

    Built with ``weights=None`` (random init) unless ``weights`` names a local file. ResNets end at
    global average pooling (512 / 512 / 2048-d); VGG-16 keeps its classifier up to the second
    ReLU → Dropout (4096-d). Any H, W ≥ 32 works (adaptive pooling). Submodules keep torchvision's
    names under ``net`` (``net.layer4``, ``net.features.28``), so optimiser groups can address stages.
    ``in_dim`` is ignored: it exists for `build_backbone`'s common signature.
    """

    def __init__(self, arch: str, in_dim: int = 0, weights: str | Path | None = None) -> None:
        super().__init__()
        if arch not in ARCHS:
            raise DalibError(f"unknown torchvision architecture {arch!r}; choose one of {', '.join(ARCHS)}")
        self.arch = arch
        from torchvision import models  # imported when built: torchvision pulls in torch._dynamo (~1 s)

        self.net = getattr(models, arch)(weights=None)
        if arch.startswith("resnet"):
            self.feature_dim = self.net.fc.in_features
            self.net.fc = nn.Identity()
        else:
            self.feature_dim = self.net.classifier[3].out_features
            self.net.classifier = self.net.classifier[:6]
        if weights is not None:
            load_weights(self, weights)

    def forward(self, x: Tensor) -> Tensor:
        """(n, 3, H, W) normalised images, H, W ≥ 32 → (n, feature_dim)."""
        if x.dim() != 4 or x.shape[1] != 3 or min(x.shape[2:]) < 32:
            raise DalibError(
                f"{self.arch} expects images of shape (n, 3, H, W) with H, W ≥ 32, got {tuple(x.shape)}; "
                "load images with image_tensor_domain(..., image_size ≥ 32) or use the mlp backbone for features"
            )
        return self.net(x)

    def stages(self) -> list[tuple[str, nn.Module]]:
        """The stages from input to output, for gradual unfreezing; together they hold every parameter once.

        ResNet: stem (conv1 + bn1), layer1 … layer4. VGG-16: block1 … block5 (conv blocks ending in
        a max-pool), then classifier (avgpool + the two 4096-d layers).
        """
        net = self.net
        if self.arch.startswith("resnet"):
            return [("stem", nn.Sequential(net.conv1, net.bn1))] + [(f"layer{i}", getattr(net, f"layer{i}"))
                                                                    for i in range(1, 5)]
        blocks, start = [], 0
        for i, layer in enumerate(net.features):
            if isinstance(layer, nn.MaxPool2d):
                blocks.append((f"block{len(blocks) + 1}", net.features[start:i + 1]))
                start = i + 1
        return blocks + [("classifier", nn.Sequential(net.avgpool, net.classifier))]

    def trunk_blocks(self) -> list[tuple[str, nn.Module]]:
        """The ResNet as a cached trunk cuts it (`dalib.models.trunk`): stem (conv1 + bn1 + ReLU +
        max-pool), layer1 … layer4, head (global average pool + flatten); composed in order they
        are ``forward``. VGG-16 lists none."""
        net = self.net
        if not self.arch.startswith("resnet"):
            raise DalibError(f"{self.arch} does not list trunk blocks; use a ResNet for a cached trunk "
                             "(or trunk '' for the plain path)")
        return ([("stem", nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool))]
                + [(f"layer{i}", getattr(net, f"layer{i}")) for i in range(1, 5)]
                + [("head", nn.Sequential(net.avgpool, nn.Flatten(1)))])


def save_weights(module: nn.Module, path: str | Path) -> None:
    """Save ``module.state_dict()`` to ``path`` atomically (a temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(module.state_dict(), fh)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def load_weights(module: nn.Module, path: str | Path, strict_head: bool = False) -> None:
    """Load a local state-dict file into ``module`` (on CPU; the file is never fetched from the web).

    The file may hold a plain state dict, ``{"state_dict": ...}`` or ``{"model": ...}``. Keys may lack
    the module's prefix (a torchvision ImageNet file ``conv1.weight`` loads into
    `TorchvisionBackbone`'s ``net.conv1.weight``). Unless ``strict_head``, the file's ImageNet
    classifier (``fc.*``, ``classifier.6.*``) is dropped when the module has none. Missing BatchNorm
    ``num_batches_tracked`` counters (old torchvision files) are tolerated.
    """
    path = Path(path)
    if not path.is_file():
        raise DalibError(f"weights file not found: {path}; weights are never downloaded, see README "
                         "(Pretrained weights) for how to get them and pass --weights PATH")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load raises many types for corrupt or non-torch files
        raise DalibError(f"unreadable weights file {path} ({type(err).__name__}); "
                         "save it with torch.save(model.state_dict(), path)") from None
    if isinstance(state, dict):
        state = state.get("state_dict", state.get("model", state))
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise DalibError(f"weights file {path} holds a {type(state).__name__}, not a state dict; "
                         "save it with torch.save(model.state_dict(), path)")
    own = module.state_dict()
    prefix = _key_prefix(list(own), list(state))
    mapped = {prefix + k: v for k, v in state.items()
              if strict_head or prefix + k in own or not HEAD_KEYS.match(k)}
    missing = [k for k in own if k not in mapped and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in mapped if k not in own]
    shapes = [f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in mapped.items()
              if k in own and v.shape != own[k].shape]
    if missing or unexpected or shapes:
        problems = "; ".join(f"{len(keys)} {label}: {', '.join(keys[:5])}" + (" …" if len(keys) > 5 else "")
                             for label, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                                                 ("shape mismatches (file vs model)", shapes)) if keys)
        model, guess = getattr(module, "arch", type(module).__name__), guess_arch(state)
        fix = (f"build that backbone or pass weights for {model}" if guess != model else
               f"rebuild the {model} as the file's was (input size, head), or load with strict_head=False "
               "to drop an ImageNet fc / classifier.6")
        raise DalibError(f"weights file {path} does not fit {model}: {problems}; the file seems to be for {guess}; {fix}")
    module.load_state_dict(mapped)


def _key_prefix(own: list[str], file: list[str]) -> str:
    """The prefix that turns most file keys into module keys ('' when they already match)."""
    counts: dict[str, int] = {}
    for k in file:
        for m in own:
            if m.endswith(k) and (len(m) == len(k) or m[-len(k) - 1] == "."):
                counts[m[:-len(k)]] = counts.get(m[:-len(k)], 0) + 1
    return max(counts, key=lambda p: (counts[p], -len(p)), default="")


def guess_arch(state: dict[str, Tensor]) -> str:
    """A readable guess of the architecture a state dict was saved from."""
    blocks = tuple(len({m.group(1) for k in state if (m := re.search(rf"(?:^|\.)layer{i}\.(\d+)\.", k))})
                   for i in range(1, 5))
    if any(blocks):
        bottleneck = any(".conv3." in k for k in state)
        names = {((2, 2, 2, 2), False): "resnet18", ((3, 4, 6, 3), False): "resnet34",
                 ((3, 4, 6, 3), True): "resnet50", ((3, 4, 23, 3), True): "resnet101"}
        return names.get((blocks, bottleneck), f"a ResNet with {blocks} blocks per stage")
    convs = sum(1 for k, v in state.items() if re.search(r"(?:^|\.)features\.\d+\.weight$", k) and v.dim() == 4)
    if convs in (2, 8, 10, 13, 16):
        return {2: "lenet", 8: "vgg11", 10: "vgg13", 13: "vgg16", 16: "vgg19"}[convs]
    if state and all(v.dim() <= 2 for v in state.values()):
        return "an MLP or other fully connected model"
    return "an unrecognised architecture"
