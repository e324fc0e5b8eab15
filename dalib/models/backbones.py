"""Feature extractors g: x → features. Each exposes ``feature_dim``."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from torch import Tensor, nn

from dalib.errors import DalibError
from dalib.models.efficientnet import VARIANTS as EFFICIENTNET_VARIANTS
from dalib.models.efficientnet import EfficientNetLite
from dalib.models.vision import ARCHS, LeNet, TorchvisionBackbone, load_weights
from dalib.models.weight_files import weights_file
from dalib.text.backbone import build_minilm_backbone  # loads transformers only when built


class MLP(nn.Module):
    """Fully connected backbone for feature vectors: (n, in_dim) → (n, hidden[-1]).

    Each hidden layer is Linear → ReLU → Dropout.
    """

    def __init__(self, in_dim: int, hidden: tuple[int, ...] = (512,), dropout: float = 0.5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_dim
        for width in hidden:
            layers += [nn.Linear(prev, width), nn.ReLU(), nn.Dropout(dropout)]
            prev = width
        self.net = nn.Sequential(*layers)
        self.in_dim, self.feature_dim = in_dim, prev

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_dim:
            raise DalibError(
                f"MLP expects inputs of shape (n, {self.in_dim}), got {tuple(x.shape)}; "
                "the features do not match the model's input dimension"
            )
        return self.net(x)


BACKBONES = {"mlp": MLP, "lenet": LeNet, "minilm": build_minilm_backbone,
             **{arch: partial(TorchvisionBackbone, arch) for arch in ARCHS},
             **{name: partial(EfficientNetLite, name) for name in EFFICIENTNET_VARIANTS}}


def build_backbone(name: str, in_dim: int, weights: str | Path | None = None, **kwargs: object) -> nn.Module:
    """Build a registered backbone for inputs of dimension ``in_dim``; ``weights`` names a local state-dict
    file, or "imagenet" for the weights packaged with the vision extra (`weight_files.weights_file`)."""
    try:
        cls = BACKBONES[name]
    except KeyError:
        raise DalibError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}") from None
    backbone = cls(in_dim, **kwargs)  # type: ignore[operator]
    path = weights_file(name, weights)
    if path is not None:
        getattr(backbone, "load_weights_file", partial(load_weights, backbone))(path)
    return backbone
