"""Text support (optional extra ``.[text]``): the offline MiniLM encoder, its embedding cache,
a fine-tunable MiniLM backbone and the TF-IDF baseline.

Only the TF-IDF baseline works without the extra; the rest import transformers when first used
(and ``TfidfLinear`` imports scikit-learn when first named).
"""

from dalib.text import domains as _domains  # noqa: F401  (registers the minilm and tokens representations)
from dalib.text.backbone import (MiniLMBackbone, build_minilm_backbone, head_tail_token_domain, token_domain, tokenize,
                                 tokenize_head_tail)
from dalib.text.cache import cached_embeddings
from dalib.text.encoder import MINILM, embed_texts, load_encoder, mean_pool, minilm_path, require_text_extra

__all__ = [
    "MINILM", "MiniLMBackbone", "TfidfLinear", "build_minilm_backbone", "cached_embeddings", "embed_texts",
    "head_tail_token_domain", "load_encoder", "mean_pool", "minilm_path", "require_text_extra", "token_domain",
    "tokenize", "tokenize_head_tail",
]


def __getattr__(name: str) -> object:
    """``TfidfLinear`` on first use: it imports scikit-learn, which planning a bench does not need."""
    if name == "TfidfLinear":
        from dalib.text.tfidf import TfidfLinear

        return TfidfLinear
    raise AttributeError(f"module 'dalib.text' has no attribute {name!r}")
