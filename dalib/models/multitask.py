"""A shared backbone with several named task heads (multi-task learning)."""

from __future__ import annotations

from torch import Tensor, nn

from dalib.errors import DalibError


class MultiTaskNet(nn.Module):
    """h_k(x) = W_k·f(x) + b_k for each named task k, with one shared f(x) = ReLU(BN(B·g(x))).

    ``heads`` maps a task name to its number of classes. ``forward(x)`` returns
    ``(f, {name: logits_k})`` with f (n, bottleneck_dim) and logits_k (n, C_k).
    """

    def __init__(self, backbone: nn.Module, heads: dict[str, int], bottleneck_dim: int = 256) -> None:
        super().__init__()
        if not heads or any(c < 2 for c in heads.values()):
            raise DalibError(f"multi-task heads need at least one task with ≥ 2 classes each, got {heads}")
        self.backbone = backbone
        self.bottleneck = nn.Sequential(
            nn.Linear(backbone.feature_dim, bottleneck_dim), nn.BatchNorm1d(bottleneck_dim), nn.ReLU(),
        )
        self.heads = nn.ModuleDict({name: nn.Linear(bottleneck_dim, c) for name, c in heads.items()})
        self.feature_dim = bottleneck_dim

    def forward(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        f = self.bottleneck(self.backbone(x))
        return f, {name: head(f) for name, head in self.heads.items()}

    def head(self, name: str) -> "HeadView":
        """A ``(features, logits)`` view of one task, for `dalib.eval.metrics.predict`."""
        if name not in self.heads:
            raise DalibError(f"no task head {name!r}; heads are {list(self.heads)}")
        return HeadView(self, name)


class HeadView(nn.Module):
    """``forward(x) = (f, logits_name)`` of a `MultiTaskNet`; shares its parameters."""

    def __init__(self, net: MultiTaskNet, name: str) -> None:
        super().__init__()
        self.net, self.name = net, name

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        f = self.net.bottleneck(self.net.backbone(x))
        return f, self.net.heads[self.name](f)
