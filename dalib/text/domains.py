"""The text representations the catalog asks for, registered into `dalib.data.representations`:

- ``minilm``: `embedded_domain`, MiniLM sentence embeddings (n, 384), cached;
- ``tokens``: `dalib.text.backbone.token_domain`, token ids (n, 2, L) for full fine-tuning;
- ``tokens-headtail``: `dalib.text.backbone.head_tail_token_domain`, the same with long reviews
  keeping their first and last tokens.

Both work on any text domain, from the catalog's reviews or from
`dalib.data.text_files.load_text_domains` (your own CSV / JSONL files). Importing
`dalib.text` imports this module, so the registrations happen before any text dataset loads.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import TensorDataset

from dalib.data.domain import Domain
from dalib.data.representations import register_text_representation
from dalib.errors import DalibError
from dalib.text.backbone import head_tail_token_domain, token_domain
from dalib.text.cache import cached_embeddings


def embedded_domain(domain: Domain, max_length: int = 256) -> Domain:
    """The domain with x = MiniLM sentence embeddings (n, 384), mean-pooled and unit-norm,
    read from / written to the embedding cache; labels, class names and texts kept."""
    if domain.texts is None:
        raise DalibError(f"domain {domain.name!r} has no texts to embed; load it from raw text (Domain.texts)")
    emb, _ = cached_embeddings(domain.texts, max_length=max_length)
    x = torch.from_numpy(np.ascontiguousarray(emb, dtype=np.float32))
    return Domain(domain.name, domain.short, domain.class_names, TensorDataset(x, domain.labels),
                  domain.labels, list(domain.texts))


register_text_representation("minilm", embedded_domain)
register_text_representation("tokens", token_domain)
register_text_representation("tokens-headtail", head_tail_token_domain)
