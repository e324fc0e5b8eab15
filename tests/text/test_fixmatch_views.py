"""FixMatch's strong view on text inputs: packed MiniLM states keep their attention mask; token ids are refused."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dalib.alignment.fixmatch import strong_input, strong_view
from dalib.errors import DalibError
from dalib.models import Classifier
from dalib.text.encoder import EMBED_DIM
from dalib.text.trunk import PACKED_DIM, MiniLMTop


def _packed(n: int = 8, length: int = 12) -> torch.Tensor:
    x = torch.zeros(n, length, PACKED_DIM, dtype=torch.float16)
    for i in range(n):
        used = 3 + i  # rows of different lengths: the mask channel varies over the batch
        x[i, :used, :EMBED_DIM] = torch.randn(used, EMBED_DIM).half()
        x[i, :used, EMBED_DIM] = 1
    return x


# Kills: the strong view applied to the whole packed tensor (dropout and noise on the mask channel
# mask or unmask tokens), and a view that leaves the hidden states unperturbed.
def test_packed_states_perturb_only_the_hidden_channels() -> None:
    model, x = Classifier(MiniLMTop([], config=None), 2), _packed()
    torch.manual_seed(4)
    strong = strong_input(model, x, 0.3, 0.1)
    torch.manual_seed(4)
    expected = strong_view(x[..., :EMBED_DIM].float(), 0.3, 0.1)
    assert strong.shape == x.shape and strong.dtype == torch.float32
    assert torch.equal(strong[..., EMBED_DIM], x[..., EMBED_DIM].float())
    torch.testing.assert_close(strong[..., :EMBED_DIM], expected)
    assert not torch.allclose(strong[..., :EMBED_DIM], x[..., :EMBED_DIM].float())


# Kills: a model without ``perturb_input`` getting anything but `strong_view` of its whole input.
def test_float_features_get_the_plain_strong_view() -> None:
    model, x = nn.Linear(5, 2), torch.randn(16, 5)
    torch.manual_seed(2)
    strong = strong_input(model, x, 0.3, 0.1)
    torch.manual_seed(2)
    torch.testing.assert_close(strong, strong_view(x, 0.3, 0.1))


def test_token_ids_have_no_strong_view() -> None:
    ids = torch.ones(4, 2, 10, dtype=torch.long)
    message = (r"^fixmatch: the strong view perturbs float inputs, got torch\.int64 \(token ids\?\); "
               r"fine-tune on cached states instead \(--profile trunk=top:N\) or use float features$")
    with pytest.raises(DalibError, match=message):
        strong_input(nn.Linear(2, 2), ids, 0.3, 0.1)
