"""On-disk cache of sentence embeddings, keyed by everything that determines them.

key = sha256(model name ‖ sha256(model.safetensors) ‖ max_length ‖ normalize ‖ texts), each text
length-prefixed so no two text lists share a key; the array lives at ``<cache_dir>/<key>.npy``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from dalib.data.root import find_data_root
from dalib.errors import DalibError
from dalib.text.encoder import EMBED_DIM, MINILM, check_max_length, check_texts, embed_texts, minilm_path

_REPO = Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=None)
def _file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB chunks; memoised for the life of the process."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weights_sha256() -> str:
    """sha256 of the bundled model.safetensors, so new weights never reuse old embeddings."""
    return _file_sha256(minilm_path() / "model.safetensors")


def cache_key(texts: list[str], max_length: int, normalize: bool) -> str:
    """The hex sha256 naming the cache file of ``texts`` embedded with these settings."""
    h = hashlib.sha256(f"{MINILM}\n{weights_sha256()}\n{max_length}\n{bool(normalize)}\n".encode())
    for text in texts:
        raw = text.encode("utf-8")
        h.update(f"{len(raw)}:".encode())
        h.update(raw)
    return h.hexdigest()


def default_cache_dir() -> Path:
    """``$DALIB_CACHE/embeddings``, else ``./.cache/dalib/embeddings`` (git-ignored)."""
    return Path(os.environ.get("DALIB_CACHE") or Path(".cache") / "dalib") / "embeddings"


def _check_writable_place(cache_dir: Path) -> None:
    """Refuse a cache inside the shared, read-only data (the data root or ``../shared``)."""
    resolved = cache_dir.resolve()
    data_root = find_data_root()
    for shared in {_REPO.parent / "shared", *([data_root] if data_root else [])}:
        if resolved.is_relative_to(shared.resolve()):
            raise DalibError(f"embedding cache {cache_dir} lies in the shared data {shared}; set DALIB_CACHE or cache_dir to a private folder")


def _save_atomic(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to a temp file in the same folder, then rename it over ``path`` (no torn files)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, array)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cached_embeddings(texts: list[str], *, max_length: int = 256, normalize: bool = True,
                      cache_dir: Path | None = None) -> tuple[np.ndarray, bool]:
    """``(embed_texts(texts, ...), hit)``: (n, 384) float32 read from the cache when present
    (``hit`` True), else computed and stored. An unreadable or mis-shaped file counts as a miss.
    """
    check_texts(texts)
    check_max_length(max_length)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    _check_writable_place(folder)
    path = folder / f"{cache_key(texts, max_length, normalize)}.npy"
    if path.is_file():
        try:
            arr = np.load(path)
        except (OSError, ValueError):
            arr = None
        if arr is not None and arr.shape == (len(texts), EMBED_DIM) and arr.dtype == np.float32:
            return arr, True
    arr = embed_texts(texts, max_length=max_length, normalize=normalize)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _save_atomic(path, arr)
    except OSError as exc:
        raise DalibError(f"cannot write the embedding cache {folder}: {exc.strerror}; set DALIB_CACHE to a writable folder") from None
    return arr, False
