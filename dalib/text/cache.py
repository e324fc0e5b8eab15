"""On-disk cache of sentence embeddings, keyed by everything that determines them.

key = sha256(model name ‖ sha256(model.safetensors) ‖ max_length ‖ normalize ‖ texts), each text
length-prefixed so no two text lists share a key; the array lives at ``<cache_dir>/<key>.npy``.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

from dalib.data.array_cache import load_array, save_array, writable_cache_dir
from dalib.data.verify import sha256_cached
from dalib.text.encoder import EMBED_DIM, MINILM, check_max_length, check_texts, embed_texts, minilm_path

def weights_sha256() -> str:
    """sha256 of the bundled model.safetensors, so new weights never reuse old embeddings."""
    return sha256_cached(minilm_path() / "model.safetensors")  # read once per process


def cache_key(texts: list[str], max_length: int, normalize: bool) -> str:
    """The hex sha256 naming the cache file of ``texts`` embedded with these settings."""
    h = hashlib.sha256(f"{MINILM}\n{weights_sha256()}\n{max_length}\n{bool(normalize)}\n".encode())
    for text in texts:
        raw = text.encode("utf-8")
        h.update(f"{len(raw)}:".encode())
        h.update(raw)
    return h.hexdigest()


def cached_embeddings(texts: list[str], *, max_length: int = 256, normalize: bool = True,
                      cache_dir: Path | None = None) -> tuple[np.ndarray, bool]:
    """``(embed_texts(texts, ...), hit)``: (n, 384) float32 read from the cache when present
    (``hit`` True), else computed (with progress lines) and stored. An unreadable or mis-shaped file
    counts as a miss.
    """
    check_texts(texts)
    check_max_length(max_length)
    folder = writable_cache_dir("embeddings", cache_dir)
    path = folder / f"{cache_key(texts, max_length, normalize)}.npy"
    arr = load_array(path, (len(texts), EMBED_DIM), np.float32)
    if arr is not None:
        return arr, True
    print(f"embedding cache: {len(texts)} texts through {MINILM} (max {max_length} tokens) → {path}", flush=True)
    arr = embed_texts(texts, max_length=max_length, normalize=normalize, progress=True)
    save_array(path, arr)
    return arr, False
