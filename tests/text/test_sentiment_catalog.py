"""The sentiment catalog entries (counts, MiniLM embeddings, token ids) and the TF-IDF row."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import dalib.text.domains as text_domains
from dalib.bench.profiles import profile_for
from dalib.bench.run import RunOptions, RunSpec, execute
from dalib.data.catalog import load_dataset
from dalib.data.tasks import select_tasks
from dalib.data.text import load_sentiment
from dalib.errors import DalibError


def _fake_embeddings(texts, max_length=256, **_):
    """A deterministic stand-in for MiniLM (hash features), so wiring tests need no model."""
    rows = [np.frombuffer(hashlib.sha256(t.encode()).digest(), dtype=np.uint8)[:16] / 255.0 for t in texts]
    return np.asarray(rows, dtype=np.float32), False


@pytest.fixture
def fake_minilm(monkeypatch):
    monkeypatch.setattr(text_domains, "cached_embeddings", _fake_embeddings)


def test_counts_representation(data_root):
    books, kitchen = load_dataset("amazon-sentiment-counts", data_root, ["books", "kitchen"])
    x = books.tensors[0].numpy()
    assert x.shape == (2000, 5000) and kitchen.tensors[0].shape == (2000, 5000)
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert np.bincount(books.labels.numpy()).tolist() == [1000, 1000]
    alone = load_dataset("amazon-sentiment-counts", data_root, ["kitchen"])[0]
    assert np.array_equal(alone.tensors[0].numpy(), kitchen.tensors[0].numpy())  # one shared vocabulary


def test_minilm_representation_keeps_texts_and_labels(data_root, fake_minilm):
    domains = load_dataset("amazon-sentiment", data_root)
    assert [(d.short, len(d), d.tensors[0].shape[1]) for d in domains] == [
        ("B", 2000, 16), ("D", 2000, 16), ("E", 2000, 16), ("K", 2000, 16)]
    books = domains[0]
    assert books.texts is not None and len(books.texts) == 2000 and books.class_names == ["negative", "positive"]
    row = _fake_embeddings([books.texts[1500]])[0][0]
    assert np.array_equal(books.tensors[0][1500].numpy(), row) and int(books.labels[1500]) == 1
    assert len(select_tasks(domains, None)) == 12


def test_tfidf_row_runs_in_the_harness(data_root, fake_minilm):
    task = select_tasks(load_dataset("amazon-sentiment", data_root, ["books", "kitchen"]), ["B2K"])[0]
    rec = execute(RunSpec("amazon-sentiment", "B2K", "shallow_tfidf_lr", 0, profile_for("amazon-sentiment")),
                  task, RunOptions())
    epoch = rec["epochs"][0]
    assert rec["n_source_train"] == 1600 and rec["n_target"] == 2000
    assert epoch["source_val_acc"] > 0.75 and epoch["target_acc"] > 0.7  # well above chance (0.5)


def test_tfidf_row_needs_texts(make_domain):
    from dalib.data.tasks import Task

    src, tgt = make_domain("src"), make_domain("tgt")
    with pytest.raises(DalibError, match="needs raw texts"):
        execute(RunSpec("x", "S2T", "shallow_tfidf_lr", 0, profile_for("x")), Task(src, tgt), RunOptions())


def test_unknown_representation_is_refused(data_root):
    with pytest.raises(DalibError, match="unknown text representation"):
        load_sentiment(data_root / "amazon_multidomain_sentiment_text", ["books"], "bert", 128)


@pytest.mark.parametrize("method", ["source_only", "dann"])
def test_full_fine_tuning_runs_through_the_harness(tmp_path, method):
    """Token ids → MiniLM backbone → bottleneck → head, trained by the one trainer, alone or
    with an alignment term on top."""
    import torch

    from dalib.data.tasks import Task
    from dalib.data.text_files import load_text_domains
    from dalib.text.backbone import token_domain

    good = ["great product, works well", "love it, excellent", "superb quality", "very happy with it"]
    bad = ["broke after a day", "awful, do not buy", "terrible quality", "waste of money"]
    for name in ("src", "tgt"):
        rows = [f"{t} ({name}),positive" for t in good] + [f"{t} ({name}),negative" for t in bad]
        (tmp_path / f"{name}.csv").write_text("text,label\n" + "\n".join(f'"{r.rsplit(",", 1)[0]}",{r.rsplit(",", 1)[1]}' for r in rows))
    src, tgt = [token_domain(d, max_length=16) for d in load_text_domains(tmp_path)]
    prof = profile_for("amazon-sentiment-tokens").with_overrides(epochs=1, iters_per_epoch=2, batch_size=4)
    holder: dict[str, torch.nn.Module] = {}
    rec = execute(RunSpec("mine", "S2T", method, 0, prof), Task(src, tgt), RunOptions(), keep_model=holder)
    assert rec["epochs"][0]["step"] == 2 and rec["pad_input"] is None  # no distance on token ids
    assert (method == "dann") == ("dann" in rec["epochs"][0]["losses"])
    from dalib.text.backbone import MiniLMBackbone

    fresh = MiniLMBackbone().state_dict()
    tuned = holder["model"].backbone.state_dict()
    assert not torch.equal(fresh["encoder.encoder.layer.5.output.dense.weight"], tuned["encoder.encoder.layer.5.output.dense.weight"])
