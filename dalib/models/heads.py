"""Classifier = backbone → bottleneck (the features F that alignment losses see) → linear head."""

from __future__ import annotations

from torch import Tensor, nn


class Classifier(nn.Module):
    """h(x) = W·f(x) + b with f(x) = ReLU(BN(B·g(x))), the bottleneck features.

    ``forward(x)`` returns ``(f, logits)`` with f (n, bottleneck_dim) and logits (n, C).
    """

    def __init__(self, backbone: nn.Module, num_classes: int, bottleneck_dim: int = 256) -> None:
        super().__init__()
        self.backbone = backbone
        self.bottleneck = nn.Sequential(
            nn.Linear(backbone.feature_dim, bottleneck_dim), nn.BatchNorm1d(bottleneck_dim), nn.ReLU(),
        )
        self.head = nn.Linear(bottleneck_dim, num_classes)
        self.feature_dim, self.num_classes = bottleneck_dim, num_classes

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        f = self.bottleneck(self.backbone(x))
        return f, self.head(f)
