"""Bring-your-own text domains: one ``root/<domain>.csv`` or ``root/<domain>.jsonl`` file per domain.

A ``.csv`` file has a header row naming at least the text and label columns; a ``.jsonl`` file holds one
JSON object per line with at least those two fields (blank lines are skipped). Files are UTF-8 (a leading
byte-order mark is fine). Labels are compared as strings, so a JSON ``1`` and a CSV ``1`` are the same class.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterator

import torch

from dalib.data.domain import Domain
from dalib.data.text import TextDataset
from dalib.errors import DalibError

SUFFIXES = (".csv", ".jsonl")


def domain_file(root: Path, name: str) -> Path:
    """The one file of domain ``name``: ``root/<name>.csv`` or ``root/<name>.jsonl``."""
    candidates = [root / f"{name}{suffix}" for suffix in SUFFIXES]
    found = [path for path in candidates if path.is_file()]
    if not found:
        raise DalibError(
            f"domain {name!r}: neither {candidates[0]} nor {candidates[1]} exists; add one or fix the domain name"
        )
    if len(found) > 1:
        raise DalibError(f"domain {name!r}: both {found[0]} and {found[1]} exist; keep one of them")
    return found[0]


def _records(path: Path) -> Iterator[tuple[str, dict]]:
    """``(where, record)`` per CSV row or JSONL line; ``where`` is ``"line N"`` (for a CSV record spanning
    several lines, its last line)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            if path.suffix == ".csv":
                reader = csv.DictReader(f)
                for row in reader:
                    yield f"line {reader.line_num}", row
                return
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DalibError(
                        f"{path} line {lineno}: bad JSON ({err.msg}); write one JSON object per line"
                    ) from None
                if not isinstance(record, dict):
                    raise DalibError(f"{path} line {lineno}: a JSON {type(record).__name__}, not an object; "
                                     "write one {...} object per line")
                yield f"line {lineno}", record
    except UnicodeDecodeError as err:
        raise DalibError(f"{path} is not UTF-8 ({err.reason}); re-save it as UTF-8") from None
    except csv.Error as err:
        raise DalibError(f"{path}: unreadable CSV ({err}); check its quoting") from None


def read_domain_file(path: Path, text_field: str = "text", label_field: str = "label") -> tuple[list[str], list[str]]:
    """Texts (stripped) and label strings of one domain file; each problem names file and line."""
    texts: list[str] = []
    labels: list[str] = []
    for where, record in _records(path):
        missing = [field for field in (text_field, label_field) if field not in record]
        if missing:
            found = sorted(str(key) for key in record)
            raise DalibError(f"{path} {where}: no {' or '.join(map(repr, missing))} column (columns found: {found}); "
                             "rename it or pass text_field= / label_field=")
        text, label = record[text_field], record[label_field]
        if not isinstance(text, str) or not text.strip():
            raise DalibError(f"{path} {where}: empty or non-string text {text!r}; fill it in or drop the row")
        if label is None or str(label).strip() == "":
            raise DalibError(f"{path} {where}: empty label; give every row a label")
        texts.append(text.strip())
        labels.append(str(label).strip())
    if not texts:
        raise DalibError(f"{path} has no records; add rows (CSV: a header, then one row per text)")
    return texts, labels


def _check_label_sets(label_sets: dict[str, set[str]]) -> None:
    """Raise unless every domain has the same set of labels."""
    (first, ref), *rest = label_sets.items()
    for name, labels in rest:
        if labels != ref:
            raise DalibError(
                f"label sets differ between domains {first!r} and {name!r}: only in {first}: "
                f"{sorted(ref - labels) or '-'}; only in {name}: {sorted(labels - ref) or '-'}; "
                "fix the labels or pass class_names= to fix the class set"
            )


def load_text_domains(root: Path, domains: list[str] | None = None, text_field: str = "text",
                      label_field: str = "label", class_names: list[str] | None = None) -> list[Domain]:
    """One `Domain` (a `TextDataset`, raw texts also in ``Domain.texts``) per file under ``root``.

    ``domains`` picks files by stem (default: every ``.csv`` / ``.jsonl``, sorted). Domain short name = first
    letter upper-cased. Classes = ``class_names`` when given (labels must be among them, a domain may lack
    some), else the sorted set of label strings, which must then be the same in every domain.
    """
    root = Path(root)
    if not root.is_dir():
        raise DalibError(
            f"text domain folder {root} does not exist; pass the folder holding the <domain>.csv / .jsonl files"
        )
    if domains is None:
        domains = sorted({p.stem for p in root.iterdir() if p.suffix in SUFFIXES and p.is_file()})
    if not domains:
        raise DalibError(f"no text domains: no .csv or .jsonl file in {root} (or an empty domains list); "
                         "add one file per domain, <domain>.csv or <domain>.jsonl")
    if class_names is not None and len(set(class_names)) != len(class_names):
        raise DalibError(f"class_names {class_names} has duplicates; list each class once")
    data = {name: read_domain_file(domain_file(root, name), text_field, label_field) for name in domains}
    if class_names is None:
        _check_label_sets({name: set(labels) for name, (_, labels) in data.items()})
        class_names = sorted(set(data[domains[0]][1]))
    index = {cls: i for i, cls in enumerate(class_names)}
    result = []
    for name, (texts, labels) in data.items():
        unknown = sorted(set(labels) - set(index))
        if unknown:
            raise DalibError(f"domain {name!r}: labels {unknown} are not in class_names {class_names}; "
                             "fix the labels or add them to class_names")
        y = torch.tensor([index[label] for label in labels], dtype=torch.long)
        result.append(Domain(name, name[0].upper(), list(class_names), TextDataset(texts, y), y, texts=texts))
    return result
