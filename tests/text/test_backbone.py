"""MiniLM as a trainable backbone: token tensors, fine-tuning moves the encoder, freezing does not."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from dalib.data.domain import tensor_domain
from dalib.errors import DalibError
from dalib.models import Classifier
from dalib.train.param_groups import param_groups
from dalib.text import MiniLMBackbone, build_minilm_backbone, embed_texts, token_domain, tokenize

TEXTS = ["I loved this book.", "Awful, broke in a day.", "A masterpiece of suspense.", "Waste of money."]
LABELS = torch.tensor([1, 0, 1, 0])


@pytest.fixture(scope="module")
def tokens() -> torch.Tensor:
    return tokenize(TEXTS, max_length=32)


def test_tokenize_shape_and_padding(tokens: torch.Tensor) -> None:
    assert tokens.shape == (4, 2, 32) and tokens.dtype == torch.long
    ids, mask = tokens[:, 0], tokens[:, 1]
    assert (ids[mask == 0] == 0).all() and (mask.sum(1) < 32).all()  # padded with [PAD] = 0
    assert (ids[:, 0] == 101).all()  # every sequence starts with [CLS]
    long = tokenize(["word " * 100], max_length=16)
    assert long.shape == (1, 2, 16) and int(long[0, 1].sum()) == 16  # truncated, not overflowing


def test_parameter_names_and_features(tokens: torch.Tensor) -> None:
    backbone = build_minilm_backbone(in_dim=12345)
    names = [n for n, _ in Classifier(backbone, 2).named_parameters()]
    assert names[0] == "backbone.encoder.embeddings.word_embeddings.weight"
    assert sum(n.startswith("backbone.encoder.encoder.layer.5.") for n in names) == 16
    assert not any("pooler" in n for n in names)
    groups = param_groups(Classifier(backbone, 2), {"backbone.encoder.embeddings": 0.1,
                                                    "backbone.encoder.encoder.layer.0": 0.1})
    assert sorted((g["lr_mult"], len(g["params"])) for g in groups) == [(0.1, 5 + 16), (1.0, 5 * 16 + 6)]
    backbone.eval()
    with torch.no_grad():
        f = backbone(tokens)
        wider = backbone(tokenize(TEXTS, max_length=64))  # more padding, same features
    assert f.shape == (4, backbone.feature_dim) == (4, 384)
    torch.testing.assert_close(wider, f, atol=1e-5, rtol=0)
    np.testing.assert_allclose(F.normalize(f, dim=1).numpy(), embed_texts(TEXTS, max_length=32), atol=1e-5)
    with pytest.raises(DalibError, match=r"\(n, 2, L\)"):
        backbone(tokens[:, 0])


def _sgd_step(backbone: MiniLMBackbone, tokens: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor, nn.Linear]:
    """One SGD step of cross-entropy on backbone + linear head.

    Returns the encoder weights and the head weight from before the step, and the head.
    """
    torch.manual_seed(0)
    head = nn.Linear(backbone.feature_dim, 2)
    model = nn.Sequential(backbone, head).train()
    before = {n: p.detach().clone() for n, p in backbone.named_parameters()}
    head_before = head.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    loss = F.cross_entropy(model(tokens), LABELS)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return before, head_before, head


def test_finetuning_step_changes_encoder(tokens: torch.Tensor) -> None:
    backbone = MiniLMBackbone()
    before, _, _ = _sgd_step(backbone, tokens)
    after = dict(backbone.named_parameters())
    changed = [n for n in before if not torch.equal(before[n], after[n])]
    assert len(changed) >= 0.9 * len(before)
    for name in ("encoder.embeddings.word_embeddings.weight", "encoder.encoder.layer.0.attention.self.query.weight",
                 "encoder.encoder.layer.5.output.dense.weight"):
        assert (after[name] - before[name]).abs().max() > 1e-6, name


@pytest.mark.parametrize("how", ["flag", "manual"])
def test_frozen_encoder_stays_bit_identical(tokens: torch.Tensor, how: str) -> None:
    backbone = MiniLMBackbone(freeze=True) if how == "flag" else MiniLMBackbone()
    if how == "manual":
        for p in backbone.encoder.parameters():
            p.requires_grad = False
    before, head_before, head = _sgd_step(backbone, tokens)
    for name, p in backbone.named_parameters():
        assert torch.equal(p, before[name]), name
    assert not torch.equal(head.weight, head_before)  # the head still trained


def test_token_domain_keeps_texts() -> None:
    x = np.zeros((4, 3), dtype=np.float32)
    dom = tensor_domain("books", "B", ["neg", "pos"], x, LABELS.numpy())
    dom.texts = list(TEXTS)
    tok = token_domain(dom, max_length=24)
    assert tok.tensors is not None and tok.tensors[0].shape == (4, 2, 24)
    assert tok.texts == TEXTS and torch.equal(tok.labels, LABELS)
    assert tok.subset(np.array([3, 1])).texts == [TEXTS[3], TEXTS[1]]
    dom.texts = None
    with pytest.raises(DalibError, match="no texts"):
        token_domain(dom)
