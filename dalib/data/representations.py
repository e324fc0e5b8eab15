"""Text representations: raw-text domain → the tensors a model consumes, registered from above ``data/``.

``data/`` never imports the text encoders (they live in `dalib.text`, above it); instead
`dalib.text.domains` registers ``minilm`` (sentence embeddings) and ``tokens`` (token ids) here
when imported, which ``import dalib.text`` and building any dalib model do. A representation maps
a text `Domain` (its raw texts in ``Domain.texts``) and a token limit to a new `Domain`.
"""

from __future__ import annotations

from typing import Callable

from dalib.data.domain import Domain
from dalib.errors import DalibError

TextRepresentation = Callable[[Domain, int], Domain]

_REGISTRY: dict[str, TextRepresentation] = {}


def register_text_representation(name: str, represent: TextRepresentation) -> None:
    """Make ``represent(domain, max_length) -> Domain`` available as representation ``name``."""
    _REGISTRY[name] = represent


def registered_text_representations() -> list[str]:
    """Names of the registered representations, sorted."""
    return sorted(_REGISTRY)


def text_representation(name: str) -> TextRepresentation:
    """The representation registered as ``name``; one line naming the fix when there is none."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(registered_text_representations()) or "none"
        raise DalibError(f"unknown text representation {name!r} (registered: {known}); "
                         "`import dalib.text` registers minilm and tokens") from None
