"""The cached MiniLM trunk: packed states + the top N layers equal the uncached encoder, only the
top N layers train, and the state cache hits and misses on exactly what determines it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

import dalib.text.trunk as trunk
from dalib.bench.profiles import Profile
from dalib.bench.trunk_run import prepare_trunk
from dalib.data.domain import Domain
from dalib.data.tasks import Task
from dalib.errors import DalibError
from dalib.models import Classifier
from dalib.models.trunk import TrunkCut
from dalib.text import tokenize
from dalib.text.encoder import load_encoder, mean_pool

# lengths 7 … 48 tokens: padded rows test that the mask reaches the top layers and the pooling
TEXTS = ["I loved this book.", "Awful, broke in a day. " * 8, "A masterpiece of suspense, gripping from start to end.",
         "Waste of money.", "Works as described, arrived early, and the price was right for what you get."]
LABELS = torch.tensor([1, 0, 1, 0, 1])


def text_domain(texts: list[str] = TEXTS, name: str = "toy", max_length: int = 48) -> Domain:
    tokens = tokenize(texts, max_length)
    labels = LABELS[:len(texts)]
    return Domain(name, name[0].upper(), ["negative", "positive"], TensorDataset(tokens, labels), labels, list(texts))


def quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def reference() -> torch.Tensor:
    """Independent path: transformers' own BertModel forward (its embeddings, mask and 6 layers)."""
    tokens = text_domain().tensors[0]
    _, encoder = load_encoder()
    with torch.no_grad():
        return mean_pool(encoder(input_ids=tokens[:, 0], attention_mask=tokens[:, 1]).last_hidden_state, tokens[:, 1])


@pytest.mark.parametrize("n_top", [1, 3, 6])
@pytest.mark.parametrize(("dtype", "atol"), [(np.float32, 1e-5), (np.float16, 1e-3)])
def test_cached_path_equals_the_uncached_encoder(reference: torch.Tensor, tmp_path: Path, n_top: int,
                                                 dtype: type, atol: float) -> None:
    # kills: the cut one layer off (states after 6 − N + 1 layers), the top layers run without the
    # attention mask, padding pooled, float16 rounding of the mask; fp16 states round h to ~1e-3
    # relative, fp32 ones differ only by summation order
    (states,), top = trunk.text_trunk_domains([text_domain()], TrunkCut("top", n_top), np.dtype(dtype),
                                              say=quiet, cache_dir=tmp_path)
    x = states.tensors[0]
    assert x.shape == (5, 48, 385) and x.dtype == torch.from_numpy(np.zeros(1, dtype)).dtype
    assert torch.equal(x[..., 384], text_domain().tensors[0][:, 1].to(x.dtype))  # channel 384 is the mask
    assert (x[..., :384][x[..., 384] == 0] == 0).all()  # padding positions hold zeros
    with torch.no_grad():
        g = top.eval()(x)
    assert g.shape == (5, 384)
    assert (g - reference).abs().max() < atol
    assert (g - reference).abs().max() < 0.1 * (reference[1] - reference[3]).abs().max()  # not vacuous


def test_only_the_top_layers_receive_gradients(tmp_path: Path) -> None:
    (states,), top = trunk.text_trunk_domains([text_domain()], TrunkCut("top", 2), say=quiet, cache_dir=tmp_path)
    model = Classifier(top, 2).train()
    names = [n for n, _ in model.named_parameters()]
    layer_names = [n for n in names if n.startswith("backbone.")]
    assert len(layer_names) == 2 * 16 and all(n.startswith(("backbone.layers.0.", "backbone.layers.1."))
                                              for n in layer_names)  # no embeddings, no lower layer
    _, full = load_encoder()
    assert sum(p.numel() for p in top.parameters()) == sum(p.numel() for p in full.encoder.layer[4:].parameters())
    features, logits = model(states.tensors[0])
    torch.nn.functional.cross_entropy(logits, LABELS).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    assert states.tensors[0].grad is None and not states.tensors[0].requires_grad
    assert [name for name, _ in top.stages()] == ["layer4", "layer5"]


def test_states_are_cached_and_keyed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, encoder = load_encoder()
    first, hit = trunk.packed_states(text_domain(), encoder, 1, say=quiet, cache_dir=tmp_path)
    assert not hit and len(list(tmp_path.glob("*.npy"))) == 1
    monkeypatch.setattr(trunk, "_attention_mask", lambda *a: pytest.fail("the encoder ran on a cache hit"))
    again, hit = trunk.packed_states(text_domain(), encoder, 1, say=quiet, cache_dir=tmp_path)
    assert hit and np.array_equal(again, first)
    monkeypatch.undo()
    keys = {trunk.cache_key(d, n, np.dtype(np.float16)) for d, n in [
        (text_domain(), 1), (text_domain(), 2), (text_domain(max_length=40), 1),
        (text_domain(TEXTS[:4] + ["Works as described."]), 1)]}
    assert len(keys) == 4 and trunk.cache_key(text_domain(), 1, np.dtype(np.float32)) not in keys


def test_bad_cuts_and_inputs_are_named(tmp_path: Path) -> None:
    for cut, match in [(TrunkCut("frozen"), "amazon-sentiment"), (TrunkCut("full"), "trunk ''"),
                       (TrunkCut("top", 7), "MiniLM has 6")]:
        with pytest.raises(DalibError, match=match):
            trunk.check_cut(cut)
    floats = Domain("f", "F", ["a", "b"], TensorDataset(torch.zeros(2, 384), torch.tensor([0, 1])),
                    torch.tensor([0, 1]), ["a b", "c d"])
    with pytest.raises(DalibError, match="does not hold token ids"):
        trunk.cache_key(floats, 1, np.dtype(np.float16))
    (_,), top = trunk.text_trunk_domains([text_domain()], TrunkCut("top", 1), say=quiet, cache_dir=tmp_path)
    with pytest.raises(DalibError, match=r"packed states \(b, L, 385\)"):
        top(torch.zeros(2, 8, 384))


def test_bench_trunk_of_a_minilm_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DALIB_CACHE", str(tmp_path))
    task = Task(text_domain(name="books"), text_domain(TEXTS[::-1], name="dvd"))
    profile = Profile(backbone="minilm", trunk="top:1", backbone_lr_mult=0.1)
    cached, prof, backbone = prepare_trunk(profile, task, say=quiet)
    assert isinstance(backbone, trunk.MiniLMTop) and len(backbone.layers) == 1
    assert cached.source.tensors[0].shape == (5, 48, 385) and cached.target.texts == TEXTS[::-1]
    assert prof == profile and prof.applied_backbone_lr_mult == 0.1  # the top layer learns at 0.1× lr
    same, _, none = prepare_trunk(profile, task, shallow=True, say=quiet)
    assert none is None and same is task  # shallow text methods read the texts


def test_a_frozen_or_full_minilm_trunk_is_refused_in_the_profile() -> None:
    for mode in ("frozen", "full"):
        with pytest.raises(DalibError, match="trunk '' to fine-tune all"):
            Profile(backbone="minilm", trunk=mode)


def test_records_name_the_minilm_weights() -> None:
    from dalib.models.weight_files import weights_sha256
    from dalib.text.cache import weights_sha256 as minilm_sha256

    assert weights_sha256("minilm", "") == minilm_sha256() and len(minilm_sha256()) == 64
    assert weights_sha256("mlp", "") is None
