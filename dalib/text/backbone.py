"""MiniLM as a trainable dalib backbone: token ids → mean-pooled 384-d sentence features.

Inputs are LongTensors (n, 2, L): ``x[:, 0]`` WordPiece ids, ``x[:, 1]`` the attention mask
(1 = token, 0 = padding), as made by `tokenize` / `token_domain`.

Parameter names, for layer-wise learning rates. Inside `MiniLMBackbone` the transformer is
``self.encoder`` (a `BertModel` without its unused pooler), so its parameters are named

* ``encoder.embeddings.{word_embeddings,position_embeddings,token_type_embeddings}.weight``,
  ``encoder.embeddings.LayerNorm.{weight,bias}``
* ``encoder.encoder.layer.<i>.{attention.self.{query,key,value},attention.output.dense,
  attention.output.LayerNorm,intermediate.dense,output.dense,output.LayerNorm}.{weight,bias}``
  for i = 0..5 (layer 5 is the top)

and, once wrapped in `dalib.models.Classifier` (attribute ``backbone``), they gain the prefix
``backbone.``: e.g. ``lr_mults={"backbone.encoder.embeddings": 0.1,
"backbone.encoder.encoder.layer.0": 0.1}`` addresses the embeddings and the lowest layer.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from dalib.data.domain import Domain
from dalib.errors import DalibError
from dalib.text.encoder import EMBED_DIM, check_max_length, check_texts, load_encoder, load_tokenizer, mean_pool


class MiniLMBackbone(nn.Module):
    """g(x) = mean_pool(BERT(ids, mask), mask): (n, 2, L) long → (n, 384) float, not normalised.

    Starts from the pretrained all-MiniLM-L6-v2 weights (a fresh copy per instance). With
    ``freeze=True`` every encoder parameter has ``requires_grad=False`` (a frozen feature
    extractor that still runs in the forward pass). Dropout (p = 0.1) follows train/eval mode.
    """

    feature_dim = EMBED_DIM

    def __init__(self, freeze: bool = False, device: str = "cpu") -> None:
        super().__init__()
        _, model = load_encoder(device)
        model.pooler = None  # the [CLS] pooler is unused by mean pooling; dropping it saves its parameters
        self.encoder = model.train()
        self.encoder.requires_grad_(not freeze)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[1] != 2 or x.dtype != torch.long:
            raise DalibError(
                f"MiniLMBackbone expects token tensors (n, 2, L) of dtype long, got {tuple(x.shape)} {x.dtype}; "
                "build them with dalib.text.tokenize or token_domain"
            )
        # Trailing columns that are padding in every row change nothing (masked out of attention and pooling): drop them.
        used = x[:, 1].any(0).nonzero()
        width = int(used.max()) + 1 if len(used) else 1
        ids, mask = x[:, 0, :width], x[:, 1, :width]
        hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        return mean_pool(hidden, mask)


def build_minilm_backbone(in_dim: int, **kwargs: object) -> MiniLMBackbone:
    """Factory with dalib's backbone signature; ``in_dim`` is ignored (inputs are token ids).

    ``kwargs`` go to `MiniLMBackbone` (``freeze``, ``device``).
    """
    return MiniLMBackbone(**kwargs)  # type: ignore[arg-type]


def tokenize(texts: list[str], max_length: int = 128) -> Tensor:
    """Token tensor (n, 2, max_length) long: ids and attention mask, truncated and right-padded."""
    check_texts(texts)
    check_max_length(max_length)
    enc = load_tokenizer()(list(texts), padding="max_length", truncation=True, max_length=max_length,
                           return_tensors="pt")
    return torch.stack([enc["input_ids"], enc["attention_mask"]], dim=1).long()


def tokenize_head_tail(texts: list[str], max_length: int = 128) -> Tensor:
    """Token tensor (n, 2, max_length) long like `tokenize`, but a review longer than the limit
    keeps its first *and* its last WordPiece tokens instead of only the first.

    With c = max_length − 2 content positions ([CLS] and [SEP] take two), a review of m > c
    tokens t_1 … t_m becomes [CLS] t_1 … t_h t_{m−(c−h)+1} … t_m [SEP] with h = ⌈c / 2⌉ head and
    c − h tail tokens: the title and opening, and the closing verdict a review often ends on
    (head+tail truncation, Sun et al. 2019, "How to fine-tune BERT for text classification").
    A review of m ≤ c tokens gets exactly `tokenize`'s tensor.
    """
    check_texts(texts)
    check_max_length(max_length)
    if max_length < 3:
        raise DalibError(f"max_length={max_length} leaves no token between [CLS] and [SEP]; head+tail needs max_length >= 3")
    tok = load_tokenizer()
    content = max_length - 2
    head = content - content // 2
    out = torch.full((len(texts), 2, max_length), tok.pad_token_id, dtype=torch.long)
    out[:, 1] = 0
    for i, ids in enumerate(tok(list(texts), add_special_tokens=False, verbose=False)["input_ids"]):
        if len(ids) > content:
            ids = ids[:head] + ids[len(ids) - (content - head):]
        row = torch.tensor([tok.cls_token_id, *ids, tok.sep_token_id], dtype=torch.long)
        out[i, 0, :len(row)] = row
        out[i, 1, :len(row)] = 1
    return out


def _tokenized(domain: Domain, tokenizer: Callable[[list[str], int], Tensor], max_length: int) -> Domain:
    if domain.texts is None:
        raise DalibError(f"domain {domain.name!r} has no texts to tokenize; load it from raw text (Domain.texts)")
    tokens = tokenizer(domain.texts, max_length)
    return Domain(domain.name, domain.short, domain.class_names, TensorDataset(tokens, domain.labels),
                  domain.labels, list(domain.texts))


def token_domain(domain: Domain, max_length: int = 128) -> Domain:
    """The same domain with ``dataset = TensorDataset(tokens (n, 2, max_length), labels)``; texts kept."""
    return _tokenized(domain, tokenize, max_length)


def head_tail_token_domain(domain: Domain, max_length: int = 128) -> Domain:
    """`token_domain` with `tokenize_head_tail`: long reviews keep their first and last tokens."""
    return _tokenized(domain, tokenize_head_tail, max_length)
