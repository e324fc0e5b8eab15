"""Text domains turned into what the trainer consumes: MiniLM embeddings, token ids, or counts.

``embedded_domain`` and ``token_domain`` (in `dalib.text.backbone`) work on any text domain,
from the catalog's reviews or from `dalib.data.text_files.load_text_domains` (your own CSV /
JSONL files).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from dalib.data.domain import Domain, tensor_domain
from dalib.data.text import SENTIMENT_CLASSES, counts_to_matrix, sentiment_domain
from dalib.errors import DalibError
from dalib.text.backbone import token_domain
from dalib.text.cache import cached_embeddings

REPRESENTATIONS = ("minilm", "tokens", "counts", "raw")
SENTIMENT_DOMAINS = (("books", "B"), ("dvd", "D"), ("electronics", "E"), ("kitchen", "K"))


def embedded_domain(domain: Domain, max_length: int = 256) -> Domain:
    """The domain with x = MiniLM sentence embeddings (n, 384), mean-pooled and unit-norm,
    read from / written to the embedding cache; labels, class names and texts kept."""
    if domain.texts is None:
        raise DalibError(f"domain {domain.name!r} has no texts to embed; load it from raw text (Domain.texts)")
    emb, _ = cached_embeddings(domain.texts, max_length=max_length)
    x = torch.from_numpy(np.ascontiguousarray(emb, dtype=np.float32))
    return Domain(domain.name, domain.short, domain.class_names, TensorDataset(x, domain.labels),
                  domain.labels, list(domain.texts))


def load_sentiment(folder: Path, names: list[str], representation: str, max_length: int) -> list[Domain]:
    """Domains ``names`` of the multi-domain sentiment dataset in ``folder`` as ``representation``:

    - ``minilm``: embeddings of the raw reviews (title + text), ``max_length`` tokens;
    - ``tokens``: token ids (n, 2, ``max_length``) for full fine-tuning of the encoder;
    - ``counts``: the ``processed_acl`` unigram/bigram counts over the 5000 tokens with the
      highest document frequency in all four domains (so a subset of domains gets the same
      columns), x = log(1 + count) with every row scaled to unit L2 norm;
    - ``raw``: the texts themselves (`dalib.data.text.TextDataset`), for counting and baselines.
    """
    if representation not in REPRESENTATIONS:
        raise DalibError(f"unknown text representation {representation!r}; use one of {REPRESENTATIONS}")
    shorts = dict(SENTIMENT_DOMAINS)
    if representation == "counts":
        loaded = {n: sentiment_domain(folder, n, shorts[n], "counts") for n, _ in SENTIMENT_DOMAINS}
        matrices = dict(zip(shorts, counts_to_matrix([docs for docs, _ in loaded.values()])))
        out = []
        for n in names:
            x = np.log1p(matrices[n].toarray().astype(np.float32))
            x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
            out.append(tensor_domain(n, shorts[n], list(SENTIMENT_CLASSES), x, loaded[n][1]))
        return out
    texts = [sentiment_domain(folder, n, shorts[n], "text") for n in names]
    if representation == "raw":
        return texts
    if representation == "tokens":
        return [token_domain(d, max_length) for d in texts]
    return [embedded_domain(d, max_length) for d in texts]
