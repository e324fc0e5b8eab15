"""Head+tail truncation of token ids: long reviews keep their first and last WordPiece tokens.

The expected token rows are written out by hand (number words, one WordPiece each), not
computed by the function's own arithmetic.
"""

from __future__ import annotations

import pytest
import torch

from dalib.bench.profiles import profile_for
from dalib.errors import DalibError
from dalib.text import tokenize, tokenize_head_tail
from dalib.text.encoder import load_tokenizer

WORDS = "one two three four five six seven eight nine ten eleven twelve"


def _decoded(row: torch.Tensor) -> str:
    ids, mask = row
    return load_tokenizer().decode(ids[mask == 1].tolist())


def test_a_review_within_the_limit_gets_the_tensor_of_tokenize() -> None:
    texts = ["I loved this book.", "Awful, broke in a day.", WORDS]
    # kills: truncating short reviews too, padding with another id, a mask past [SEP]
    torch.testing.assert_close(tokenize_head_tail(texts, 16), tokenize(texts, 16), rtol=0, atol=0)


@pytest.mark.parametrize("max_length, kept", [
    (8, "one two three ten eleven twelve"),               # 6 content positions: 3 head + 3 tail
    (9, "one two three four ten eleven twelve"),          # 7: the odd one goes to the head (4 + 3)
    (3, "one"),                                           # 1: head only
])
def test_a_long_review_keeps_its_head_and_its_tail(max_length: int, kept: str) -> None:
    # kills: head = c // 2 (3 + 4 at 9), a tail one token short or long, [SEP] dropped or doubled
    row = tokenize_head_tail([WORDS], max_length)[0]
    assert row.shape == (2, max_length) and int(row[1].sum()) == max_length
    assert _decoded(row) == f"[CLS] {kept} [SEP]"


def test_too_short_a_limit_is_refused_in_one_line() -> None:
    with pytest.raises(DalibError, match="max_length >= 3"):
        tokenize_head_tail([WORDS], 2)


def test_the_head_tail_dataset_has_the_token_datasets_profile(data_root) -> None:
    from dalib.data.catalog import load_dataset

    assert profile_for("amazon-sentiment-tokens-headtail") == profile_for("amazon-sentiment-tokens")
    head = load_dataset("amazon-sentiment-tokens", data_root, ["kitchen"])[0].tensors[0]
    both = load_dataset("amazon-sentiment-tokens-headtail", data_root, ["kitchen"])[0].tensors[0]
    full = head[:, 1].sum(1) == 128
    ends = load_tokenizer()(load_dataset("amazon-sentiment-tokens", data_root, ["kitchen"])[0].texts,
                            add_special_tokens=False, verbose=False)["input_ids"]
    longer = torch.tensor([len(ids) > 126 for ids in ends])
    assert 500 < int(longer.sum()) < 1000  # a third of kitchen's 2000 reviews run past 126 tokens
    torch.testing.assert_close(both[~longer], head[~longer], rtol=0, atol=0)
    assert (full[longer]).all() and (both[longer, 0, 1:64] == head[longer, 0, 1:64]).all()
    last = [ids[-63:] for ids, is_long in zip(ends, longer.tolist()) if is_long]
    assert both[longer, 0, 64:127].tolist() == last
