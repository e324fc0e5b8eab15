"""A backbone cut into a frozen prefix (run once per input, cached) and a trainable suffix.

A backbone that supports a cached trunk lists its stages with ``trunk_blocks()``: an ordered
list ``[(stem), block_1 … block_K, ("head", …)]`` whose plain composition equals ``forward``.
A trunk mode says how much of it trains:

| mode     | trains                         | computed once per view and cached                |
|----------|--------------------------------|--------------------------------------------------|
| `frozen` | nothing of the backbone        | features g(x), (n, V, feature_dim)               |
| `top:N`  | block_{K−N+1} … block_K + head | activations entering block_{K−N+1}, (n, V, C, H, W) |
| `full`   | everything                     | nothing (the GPU path)                           |

"" keeps the plain path of the profile (no trunk).
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from dalib.errors import DalibError

TRUNK_MODES = "'frozen', 'top:N' (N ≥ 1) or 'full' ('' for none)"
_TOP = re.compile(r"^top:(\d+)$")
MINILM_LAYERS = 6  # transformer layers of all-MiniLM-L6-v2


@dataclass(frozen=True)
class TrunkCut:
    """A parsed trunk mode: ``mode`` is ``frozen``, ``top`` or ``full``; ``blocks`` is N of ``top:N``."""

    mode: str
    blocks: int = 0

    @property
    def cached(self) -> bool:
        """Whether a prefix is computed once and cached (``frozen`` and ``top:N``)."""
        return self.mode != "full"

    def __str__(self) -> str:
        return f"top:{self.blocks}" if self.mode == "top" else self.mode


def parse_trunk(text: str) -> TrunkCut | None:
    """``"frozen"``, ``"top:N"``, ``"full"`` → `TrunkCut`; ``""`` → None; anything else raises."""
    text = str(text).strip()
    if not text:
        return None
    if text in ("frozen", "full"):
        return TrunkCut(text)
    match = _TOP.match(text)
    if match and int(match.group(1)) >= 1:
        return TrunkCut("top", int(match.group(1)))
    raise DalibError(f"unknown trunk {text!r}; use {TRUNK_MODES}")


def validate_trunk(text: str) -> str:
    """The trunk mode in canonical form (``"top:02"`` → ``"top:2"``); raises a one-line error."""
    cut = parse_trunk(text)
    return "" if cut is None else str(cut)


def refuse_minilm_cut(cut: TrunkCut | None) -> None:
    """MiniLM trains through ``top:N`` (1 ≤ N ≤ 6) or the plain path (``""``) only: ``frozen`` and
    ``full`` are refused with one line naming the three alternatives, N > 6 naming the range."""
    if cut is not None and cut.mode in ("frozen", "full"):
        raise DalibError(f"trunk {cut.mode!r} for MiniLM: use the dataset amazon-sentiment (cached sentence "
                         "embeddings) for a frozen encoder, trunk top:N to fine-tune the top N layers, or trunk '' "
                         "to fine-tune all of them")
    if cut is not None and not 1 <= cut.blocks <= MINILM_LAYERS:
        raise DalibError(f"trunk {cut} asks for {cut.blocks} layers but MiniLM has {MINILM_LAYERS}; "
                         f"use top:1 … top:{MINILM_LAYERS}")


def trunk_blocks(backbone: nn.Module) -> list[tuple[str, nn.Module]]:
    """``backbone.trunk_blocks()``, checked: at least a stem, one block and a last entry "head"."""
    if not hasattr(backbone, "trunk_blocks"):
        name = getattr(backbone, "arch", type(backbone).__name__)
        raise DalibError(f"backbone {name!r} does not list trunk blocks; a cached trunk needs a ResNet or "
                         "EfficientNet-Lite backbone, or MiniLM on token ids (dataset amazon-sentiment-tokens or "
                         "your texts through token_domain); or trunk '' for the plain path")
    blocks = list(backbone.trunk_blocks())
    if len(blocks) < 3 or blocks[-1][0] != "head":
        raise DalibError(f"trunk_blocks() of {type(backbone).__name__} gave {[n for n, _ in blocks]}; it must "
                         "list a stem, the blocks and a last entry named 'head'")
    return blocks


def split_trunk(backbone: nn.Module, cut: TrunkCut) -> tuple[nn.Sequential, nn.Sequential]:
    """(prefix, suffix) with suffix(prefix(x)) = backbone(x), sharing the backbone's modules.

    ``frozen``: the prefix is the whole backbone, the suffix empty (identity). ``top:N``: the
    suffix is the last N blocks and the head. ``full`` has no cut and is refused here.
    """
    blocks = trunk_blocks(backbone)
    if cut.mode == "full":
        raise DalibError("trunk 'full' trains the whole backbone; there is no prefix to split off")
    if cut.mode == "top" and cut.blocks > len(blocks) - 2:
        raise DalibError(f"trunk {cut} asks for {cut.blocks} blocks but the backbone has {len(blocks) - 2} "
                         f"after its stem ({', '.join(n for n, _ in blocks[1:-1])}); use top:1 … "
                         f"top:{len(blocks) - 2}")
    k = len(blocks) if cut.mode == "frozen" else len(blocks) - 1 - cut.blocks
    return nn.Sequential(OrderedDict(blocks[:k])), nn.Sequential(OrderedDict(blocks[k:]))


class CachedTrunk(nn.Module):
    """The trainable suffix of a cut backbone over cached inputs: x (b, V, *input_shape) → (b, feature_dim).

    It reads view 0 of every sample: whole cached samples (evaluation) have the centre crop
    there; training batches come through `dalib.data.views.one_view`, which puts the one view
    drawn per sample there (x of shape (b, 1, *input_shape)). Cached float16 activations are
    computed on in float32. ``stages()`` lists the suffix blocks (gradual unfreezing).
    """

    def __init__(self, suffix: nn.Sequential, feature_dim: int, input_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.blocks, self.feature_dim, self.input_shape = suffix, feature_dim, tuple(input_shape)

    def forward(self, x: Tensor) -> Tensor:
        """(b, V, *input_shape) → suffix(x[:, 0]) (b, feature_dim)."""
        if x.dim() != len(self.input_shape) + 2 or tuple(x.shape[2:]) != self.input_shape:
            raise DalibError(f"cached trunk expects views of shape (b, V, {', '.join(map(str, self.input_shape))}), "
                             f"got {tuple(x.shape)}; the cache was built for another backbone or cut")
        return self.blocks(x[:, 0].float())

    def stages(self) -> list[tuple[str, nn.Module]]:
        """The suffix blocks, from input to output."""
        return list(self.blocks.named_children())


def state_sha256(module: nn.Module) -> str:
    """sha256 of ``module``'s state dict (names, dtypes, shapes and bytes in order): the identity of its
    weights, for a file-loaded or a randomly initialised network alike."""
    digest = hashlib.sha256()
    for name, value in module.state_dict().items():
        if isinstance(value, Tensor):
            t = value.detach().cpu().contiguous()
            digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
            digest.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()

