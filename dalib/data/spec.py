"""What a dataset is made of: its domains, classes, files and how to read them."""

from __future__ import annotations

from dataclasses import dataclass, field

from dalib.errors import DalibError


@dataclass(frozen=True)
class DomainSpec:
    """One domain of a dataset: its file (relative to the dataset folder) and array keys."""

    name: str
    short: str
    file: str = ""
    x_key: str = "fts"
    y_key: str = "labels"


@dataclass(frozen=True)
class DatasetSpec:
    """A catalog benchmark or a folder of your own. ``kind`` is ``features``, ``images``, ``text``
    or ``embedded``.

    For ``text``, ``preprocess`` names the representation (`dalib.data.representations`:
    ``minilm`` or ``tokens``; or ``counts`` for the sentiment reviews) and ``max_length`` the token limit.

    ``sha256`` maps each file (relative to ``folder``) to its digest; for image folders
    ``manifest`` names a ``sha256sum``-style list whose own digest is in ``sha256``.

    A folder of your own (`dalib.data.user_path`) has ``layout`` ``images``, ``features`` or
    ``texts`` (empty for catalog entries), ``folder`` its absolute path, and for feature files
    ``label_values``: the sorted label values found, class i being label value ``label_values[i]``.
    """

    name: str
    kind: str
    domains: tuple[DomainSpec, ...]
    class_names: tuple[str, ...]
    folder: str = ""
    label_offset: int = 0
    preprocess: str = "none"
    sha256: dict[str, str] = field(default_factory=dict)
    manifest: str = ""
    note: str = ""
    max_length: int = 0
    layout: str = ""
    label_values: tuple[int, ...] = ()

    def domain(self, key: str) -> DomainSpec:
        """Find a domain by name or short name (case-insensitive)."""
        for d in self.domains:
            if key.lower() in (d.name.lower(), d.short.lower()):
                return d
        names = ", ".join(f"{d.name} ({d.short})" for d in self.domains)
        raise DalibError(f"dataset {self.name!r} has no domain {key!r}; choose from {names}")
