"""MiniLM as a cached trunk: the bottom 6 − N transformer layers run once per review, the top N train.

For token ids ``x`` (n, 2, L) (`dalib.text.backbone.tokenize`) the sentence representation of
the uncached encoder is

    g(x) = mean_pool(layer_5 ∘ … ∘ layer_0 ∘ embeddings(ids), mask)

(`mean_pool`: e = Σ_l m_l·h_l / max(Σ_l m_l, 1e-9)). A cut ``top:N`` splits it at layer 6 − N:

    states(x) = layer_{5−N} ∘ … ∘ layer_0 ∘ embeddings(ids)        computed once, in eval mode, cached
    g(x)      = mean_pool(layer_5 ∘ … ∘ layer_{6−N}(states), mask)  `MiniLMTop`, trained

Cached samples are *packed states* (L, 385): channels 0–383 the hidden states entering layer
6 − N, channel 384 the attention mask (1 = token), float16 by default (the mask's 0 / 1 are
exact in it). Padding positions hold zeros; they are masked out of attention and pooling, so
they change nothing. The cache lives at

    $DALIB_CACHE/text_trunk/<domain>-minilm-top<N>-<L>tok-<dtype>-<key>.npy

key = sha256(format ‖ sha256 of model.safetensors ‖ N ‖ L ‖ dtype ‖ every text ‖ the token ids),
so new weights, another cut or token limit, or any edited review never reuse old states.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from dalib.data.array_cache import load_array, save_array, writable_cache_dir
from dalib.data.domain import Domain
from dalib.errors import DalibError
from dalib.models.trunk import MINILM_LAYERS as LAYERS, TrunkCut, refuse_minilm_cut
from dalib.progress import ProgressLine, say as say_line
from dalib.text.encoder import EMBED_DIM, load_encoder, mean_pool

FORMAT = "minilm packed states (n,L,385) v1"
PACKED_DIM = EMBED_DIM + 1  # hidden states + the attention mask
Say = Callable[[str], None]


def _attention_mask(config: Any, hidden: Tensor, mask: Tensor) -> Tensor | None:
    """The additive / boolean attention mask the BERT layers expect, built by transformers
    itself for this model's attention implementation (None where nothing is masked)."""
    from transformers.masking_utils import create_bidirectional_mask

    return create_bidirectional_mask(config=config, inputs_embeds=hidden, attention_mask=mask)


class MiniLMTop(nn.Module):
    """The trainable top N layers over packed states: x (b, L, 385) → (b, 384), not normalised.

    g = mean_pool(layer_5 ∘ … ∘ layer_{6−N}(x[..., :384]), x[..., 384]); float16 states are
    computed on in float32. Trailing columns that are padding in every row are dropped first
    (they change nothing). Dropout (p = 0.1) follows train / eval mode, as in the uncached
    encoder. Parameter names: ``layers.<k>.…`` for k = 0 … N−1 (k = N−1 is the model's layer 5).
    """

    feature_dim = EMBED_DIM

    def __init__(self, layers: list[nn.Module], config: Any) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.config = config

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[2] != PACKED_DIM:
            raise DalibError(f"MiniLMTop expects packed states (b, L, {PACKED_DIM}), got {tuple(x.shape)}; "
                             "build them with dalib.text.trunk.text_trunk_domains")
        mask = x[:, :, EMBED_DIM]
        used = mask.any(0).nonzero()
        width = int(used.max()) + 1 if len(used) else 1
        hidden, mask = x[:, :width, :EMBED_DIM].float(), mask[:, :width].long()
        attention = _attention_mask(self.config, hidden, mask)
        for layer in self.layers:
            hidden = layer(hidden, attention)
        return mean_pool(hidden, mask)

    def perturb_input(self, x: Tensor, view: Callable[[Tensor], Tensor]) -> Tensor:
        """Packed states x (b, L, 385) with ``view`` applied to the hidden channels 0–383 (in
        float32) and the attention-mask channel 384 kept exactly, so a perturbation (FixMatch's
        strong view) never masks or unmasks a token. → (b, L, 385) float32."""
        return torch.cat([view(x[..., :EMBED_DIM].float()), x[..., EMBED_DIM:].float()], dim=-1)

    def stages(self) -> list[tuple[str, nn.Module]]:
        """The top layers from input to output (gradual unfreezing)."""
        return [(f"layer{LAYERS - len(self.layers) + k}", m) for k, m in enumerate(self.layers)]


def check_cut(cut: TrunkCut) -> int:
    """N of a ``top:N`` cut for MiniLM (1 ≤ N ≤ 6); one line naming the alternatives otherwise."""
    refuse_minilm_cut(cut)
    return cut.blocks


def _token_tensor(domain: Domain) -> Tensor:
    x = domain.tensors[0] if domain.tensors is not None else None
    if x is None or x.dim() != 3 or x.shape[1] != 2 or x.dtype != torch.long:
        raise DalibError(f"domain {domain.name!r} does not hold token ids (n, 2, L); load a '-tokens' dataset "
                         "(e.g. amazon-sentiment-tokens) or use dalib.text.token_domain")
    return x


def cache_key(domain: Domain, n_top: int, dtype: np.dtype) -> str:
    """The hex sha256 naming the cached states of ``domain`` (module docstring)."""
    from dalib.text.cache import weights_sha256

    tokens = _token_tensor(domain)
    digest = hashlib.sha256(f"{FORMAT}|{weights_sha256()}|{n_top}|{tokens.shape[2]}|{dtype}|".encode())
    for text in domain.texts or []:
        raw = text.encode("utf-8")
        digest.update(f"{len(raw)}:".encode())
        digest.update(raw)
    digest.update(tokens.contiguous().numpy().tobytes())
    return digest.hexdigest()


@torch.no_grad()
def packed_states(domain: Domain, encoder: nn.Module, n_top: int, dtype: np.dtype = np.dtype(np.float16),
                  device: str = "cpu", say: Say = say_line, cache_dir: Any = None) -> tuple[np.ndarray, bool]:
    """``(states, hit)``: packed states (n, L, 385) of every review of ``domain`` entering layer
    6 − ``n_top`` of ``encoder`` (a MiniLM `BertModel`), read from the cache when present.

    Otherwise computed in eval mode in batches of 64 reviews sorted by length (each batch
    padded only to its longest review), with a progress line every few seconds, and stored."""
    tokens = _token_tensor(domain)
    dtype = np.dtype(dtype)
    n, length = tokens.shape[0], tokens.shape[2]
    stem = re.sub(r"[^\w.-]", "_", f"{domain.name}-minilm-top{n_top}-{length}tok-{dtype}")
    path = writable_cache_dir("text_trunk", cache_dir) / f"{stem}-{cache_key(domain, n_top, dtype)[:24]}.npy"
    cached = load_array(path, (n, length, PACKED_DIM), dtype)
    if cached is not None:
        return cached, True
    frozen = "embeddings" + (f" and layers 0–{LAYERS - n_top - 1}" if n_top < LAYERS else " only")
    say(f"text trunk cache: {domain.name}, {n} reviews × {length} tokens through MiniLM's {frozen} "
        f"(top:{n_top} trains) → {path}")
    was_training = encoder.training
    encoder.eval().to(device)
    out = np.zeros((n, length, PACKED_DIM), dtype=dtype)
    lengths = tokens[:, 1].sum(1)
    order = torch.argsort(lengths, descending=True, stable=True)
    progress = ProgressLine(say, domain.name, n, "reviews")
    try:
        for i in range(0, n, 64):
            idx = order[i:i + 64]
            width = max(int(lengths[idx].max()), 1)
            ids, mask = tokens[idx, 0, :width].to(device), tokens[idx, 1, :width].to(device)
            hidden = encoder.embeddings(input_ids=ids)
            attention = _attention_mask(encoder.config, hidden, mask)
            for layer in encoder.encoder.layer[:LAYERS - n_top]:
                hidden = layer(hidden, attention)
            hidden = hidden * mask.unsqueeze(-1)  # padding positions hold zeros
            out[idx.numpy(), :width] = torch.cat([hidden, mask.unsqueeze(-1).to(hidden.dtype)], 2).cpu().numpy()
            progress.update(min(i + 64, n))
    finally:
        encoder.train(was_training)
    save_array(path, out)
    return out, False


def text_trunk_domains(domains: list[Domain], cut: TrunkCut, dtype: np.dtype = np.dtype(np.float16),
                       device: str = "cpu", say: Say = say_line,
                       cache_dir: Any = None) -> tuple[list[Domain], MiniLMTop]:
    """The token domains as packed states (x (n, L, 385), labels and texts kept) and the trainable
    `MiniLMTop` of a fresh pretrained MiniLM cut at ``cut`` (``top:N``)."""
    n_top = check_cut(cut)
    _, encoder = load_encoder(device)
    out = []
    for domain in domains:
        states, _ = packed_states(domain, encoder, n_top, dtype, device, say, cache_dir)
        x = torch.from_numpy(states)
        out.append(Domain(domain.name, domain.short, list(domain.class_names), TensorDataset(x, domain.labels),
                          domain.labels, domain.texts))
    top = MiniLMTop(list(encoder.encoder.layer[LAYERS - n_top:]), encoder.config).to(device).train()
    return out, top
