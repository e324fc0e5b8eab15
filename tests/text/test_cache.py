"""The embedding cache: hits skip the model, any change of settings or texts misses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import dalib.text.cache as cache
from dalib.data.array_cache import default_cache_dir
from dalib.errors import DalibError
from dalib.text import cached_embeddings, embed_texts

TEXTS = ["The plot was gripping from start to finish.", "Terrible battery life.", "Arrived on time, works fine."]


def test_second_call_is_a_hit_without_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, hit1 = cached_embeddings(TEXTS, cache_dir=tmp_path)
    assert hit1 is False
    np.testing.assert_allclose(first, embed_texts(TEXTS), atol=1e-6)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 1 and files[0].endswith(".npy") and len(files[0]) == 64 + 4  # no temp file left over

    def refuse(*args: object, **kwargs: object) -> np.ndarray:
        raise AssertionError("the model was called on a cache hit")

    monkeypatch.setattr(cache, "embed_texts", refuse)
    second, hit2 = cached_embeddings(TEXTS, cache_dir=tmp_path)
    assert hit2 is True
    np.testing.assert_array_equal(second, first)


def test_changes_miss(tmp_path: Path) -> None:
    base, _ = cached_embeddings(TEXTS, cache_dir=tmp_path)
    _, hit = cached_embeddings(TEXTS, max_length=8, cache_dir=tmp_path)
    assert hit is False
    changed = TEXTS[:2] + ["Arrived late, works fine."]
    other, hit = cached_embeddings(changed, cache_dir=tmp_path)
    assert hit is False
    np.testing.assert_allclose(other[:2], base[:2], atol=1e-6)
    assert np.abs(other[2] - base[2]).max() > 1e-3
    _, hit = cached_embeddings(TEXTS, normalize=False, cache_dir=tmp_path)
    assert hit is False
    assert len(list(tmp_path.glob("*.npy"))) == 4


def test_key_separates_texts() -> None:
    assert cache.cache_key(["ab", "c"], 256, True) != cache.cache_key(["a", "bc"], 256, True)
    assert cache.cache_key(["ab", "c"], 256, True) == cache.cache_key(["ab", "c"], 256, True)


def test_default_dir_and_shared_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DALIB_CACHE", str(tmp_path / "c"))
    assert default_cache_dir("embeddings") == tmp_path / "c" / "embeddings"
    monkeypatch.delenv("DALIB_CACHE")
    assert default_cache_dir("embeddings") == Path(".cache/dalib/embeddings")
    monkeypatch.setenv("DALIB_DATA", str(tmp_path / "data"))
    with pytest.raises(DalibError, match="shared data"):
        cached_embeddings(TEXTS, cache_dir=tmp_path / "data" / "emb")
    assert not (tmp_path / "data").exists()


def test_corrupt_file_is_a_miss(tmp_path: Path) -> None:
    good, _ = cached_embeddings(TEXTS, cache_dir=tmp_path)
    (path,) = tmp_path.glob("*.npy")
    path.write_bytes(b"not an array")
    again, hit = cached_embeddings(TEXTS, cache_dir=tmp_path)
    assert hit is False
    np.testing.assert_array_equal(again, good)
