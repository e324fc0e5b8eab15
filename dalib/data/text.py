"""Text domains: the Blitzer et al. (2007) multi-domain sentiment reviews, as raw text or as feature counts.

The dataset folder (``amazon_multidomain_sentiment_text``) holds two formats of the same reviews:

* ``sorted_data_acl/<domain>/{positive,negative}.review``: pseudo-XML, **not** valid XML (no root element,
  bare ``&``, HTML entities such as ``&quot;``): ``<review>`` … ``</review>`` blocks of ``<tag>`` value ``</tag>``
  fields, each value on its own line(s). Read with regexes, never with an XML parser.
* ``processed_acl/<domain>/{positive,negative}.review``: one review per line, ``token:count`` pairs
  (bigrams joined by ``_``) ending with ``#label#:positive`` or ``#label#:negative``.

Label 0 = ``negative.review``, 1 = ``positive.review``.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from itertools import chain, repeat
from pathlib import Path
from typing import Literal, Sequence, overload

import numpy as np
import scipy.sparse as sp
import torch
from torch.utils.data import Dataset

from dalib.data.domain import Domain, tensor_domain
from dalib.data.representations import text_representation
from dalib.errors import DalibError

SENTIMENT_CLASSES = ["negative", "positive"]
SENTIMENT_DOMAINS = (("books", "B"), ("dvd", "D"), ("electronics", "E"), ("kitchen", "K"))
_BLOCK = re.compile(r"<review>(.*?)</review>", re.DOTALL)
_FIELD = re.compile(r"<([a-z_]+)>(.*?)</\1>", re.DOTALL)
# Control characters other than whitespace. The raw files hold a few ``\x1a`` (ASCII SUB) where a
# non-ASCII letter was lost upstream ("na\x1ave"), next to many literal U+FFFD for the same loss.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
# A few values are escaped twice (``&amp;quot;``): a second pass decodes only complete ``&name;`` / ``&#n;``.
_ENTITY = re.compile(r"&(?:[A-Za-z]+[0-9]*|#[0-9]+|#[xX][0-9a-fA-F]+);")
_LABEL = "#label#:"


class TextDataset(Dataset):
    """Raw texts with class indices; yields ``(text: str, y: int)``."""

    def __init__(self, texts: Sequence[str], labels: Sequence[int] | torch.Tensor):
        self.texts = list(texts)
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        if len(self.texts) != len(self.labels):
            raise DalibError(f"{len(self.texts)} texts for {len(self.labels)} labels; give one label per text")

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> tuple[str, int]:
        return self.texts[i], int(self.labels[i])


def read_text_file(path: Path) -> str:
    """The file decoded as UTF-8; undecodable bytes (e.g. a Latin-1 copy) become U+FFFD instead of failing."""
    path = Path(path)
    if not path.is_file():
        raise DalibError(f"file not found: {path}; check the dataset folder (--data-root / DALIB_DATA)")
    return path.read_bytes().decode("utf-8", errors="replace")


def clean_value(value: str) -> str:
    """One field value: ``html.unescape`` (also ``&quot`` cut before its ``;``, and twice-escaped entities),
    control characters → U+FFFD (a lost character, like the U+FFFD already in the files), byte-order marks
    dropped, whitespace runs → one space, stripped."""
    text = _ENTITY.sub(lambda m: html.unescape(m.group(0)), html.unescape(value))
    text = _CONTROL.sub("\ufffd", text).replace("\ufeff", "")
    return " ".join(text.split())


def read_review_blocks(path: Path) -> list[dict[str, str]]:
    """Every ``<review>`` block of a ``sorted_data_acl`` file as ``{tag: cleaned value}`` (see `clean_value`).

    A block without ``<review_text>``, or a ``<review>`` never closed, raises an error naming file and block.
    """
    text = read_text_file(path)
    reviews: list[dict[str, str]] = []
    end = 0
    for number, match in enumerate(_BLOCK.finditer(text), 1):
        block, end = match.group(1), match.end()
        if "<review>" in block:
            raise DalibError(f"{path}: review block {number} has no </review> before the next <review>; close it")
        fields = {tag: clean_value(value) for tag, value in _FIELD.findall(block)}
        if "review_text" not in fields:
            raise DalibError(
                f"{path}: review block {number} has no <review_text>…</review_text> field "
                f"(found: {', '.join(fields) or 'none'}); fix or remove that block"
            )
        reviews.append(fields)
    if "<review>" in text[end:]:
        raise DalibError(f"{path}: review block {len(reviews) + 1} has no closing </review> (truncated file?)")
    if not reviews:
        raise DalibError(f"{path}: no <review>…</review> blocks; expected the sorted_data_acl format")
    return reviews


def review_text(fields: dict[str, str]) -> str:
    """Title and body of one review: ``"<title>. <review_text>"`` (only a space after a title that ends in
    ``.``, ``!`` or ``?``), or the one of them that is non-empty. Titles are kept because they
    carry much of the sentiment ("Broke after two weeks", "Five stars!") in few words."""
    title, body = fields.get("title", ""), fields["review_text"]
    if not title or not body:
        return title or body
    return f"{title} {body}" if title[-1] in ".!?" else f"{title}. {body}"


def read_review_texts(path: Path) -> list[str]:
    """One text per review of a ``sorted_data_acl`` file (see `review_text`); an empty review is an error."""
    texts = [review_text(fields) for fields in read_review_blocks(path)]
    for number, text in enumerate(texts, 1):
        if not text:
            raise DalibError(f"{path}: review block {number} has an empty title and review_text; remove that block")
    return texts


def read_count_lines(path: Path) -> tuple[list[dict[str, int]], list[str]]:
    """The ``processed_acl`` format: per non-blank line ``{token: count}`` and the label string after ``#label#:``.

    Tokens may contain ``:`` (the count follows the last one); a token repeated on one line has its counts summed.
    """
    docs: list[dict[str, int]] = []
    labels: list[str] = []
    for lineno, line in enumerate(read_text_file(path).splitlines(), 1):
        if not line.strip():
            continue
        *pairs, last = line.split()
        if not last.startswith(_LABEL) or last == _LABEL:
            raise DalibError(
                f"{path} line {lineno}: ends with {last[:40]!r}, not '#label#:<label>'; "
                "each line must be 'token:count … #label#:<label>'"
            )
        doc: dict[str, int] = {}
        for pair in pairs:
            token, _, count = pair.rpartition(":")
            if not (token and count.isdecimal()):
                raise DalibError(
                    f"{path} line {lineno}: bad feature {pair[:40]!r}; expected token:count with an integer count"
                )
            doc[token] = doc.get(token, 0) + int(count)
        docs.append(doc)
        labels.append(last[len(_LABEL):])
    if not docs:
        raise DalibError(f"{path} has no lines; expected one 'token:count … #label#:<label>' line per review")
    return docs, labels


@overload
def sentiment_domain(root: Path, name: str, short: str, fmt: Literal["text"] = "text") -> Domain: ...
@overload
def sentiment_domain(root: Path, name: str, short: str,
                     fmt: Literal["counts"]) -> tuple[list[dict[str, int]], np.ndarray]: ...


def sentiment_domain(root: Path, name: str, short: str, fmt: str = "text"):
    """One domain (books, dvd, electronics, kitchen) of the dataset folder ``root``, negatives first.

    ``fmt="text"``: a `Domain` whose dataset is a `TextDataset` of the raw texts (also in ``Domain.texts``),
    classes ``["negative", "positive"]``. ``fmt="counts"``: ``(docs, labels)``, docs a list of
    ``{token: count}`` and labels (n,) int64, for counts_to_matrix.
    """
    if fmt not in ("text", "counts"):
        raise DalibError(f"unknown sentiment format {fmt!r}; use 'text' or 'counts'")
    folder = Path(root) / ("sorted_data_acl" if fmt == "text" else "processed_acl") / name
    if not folder.is_dir():
        raise DalibError(f"sentiment domain folder not found: {folder}; check the domain name and the data root")
    if fmt == "counts":
        return _count_domain(folder)
    texts: list[str] = []
    labels: list[int] = []
    for label, cls in enumerate(SENTIMENT_CLASSES):
        found = read_review_texts(folder / f"{cls}.review")
        texts += found
        labels += [label] * len(found)
    y = torch.tensor(labels, dtype=torch.long)
    return Domain(name, short, list(SENTIMENT_CLASSES), TextDataset(texts, y), y, texts=texts)


def _count_domain(folder: Path) -> tuple[list[dict[str, int]], np.ndarray]:
    """Docs and int64 labels of ``processed_acl/<domain>``; a line labelled against its file is an error."""
    docs: list[dict[str, int]] = []
    labels: list[int] = []
    for label, cls in enumerate(SENTIMENT_CLASSES):
        path = folder / f"{cls}.review"
        found, names = read_count_lines(path)
        wrong = next((i for i, lab in enumerate(names) if lab != cls), None)
        if wrong is not None:
            raise DalibError(
                f"{path}: review {wrong + 1} is labelled {names[wrong]!r} in a {cls!r} file; fix the label"
            )
        docs += found
        labels += [label] * len(found)
    return docs, np.asarray(labels, dtype=np.int64)


def shared_vocabulary(docs_per_domain: list[list[dict[str, int]]], max_features: int = 5000) -> list[str]:
    """The ``max_features`` tokens with the highest document frequency over all domains, most frequent
    first; ties broken by token string, so the result is deterministic."""
    if max_features < 1:
        raise DalibError(f"max_features={max_features}; give a positive vocabulary size")
    df = Counter(chain.from_iterable(chain.from_iterable(docs_per_domain)))  # a doc holds a token once
    if not df:
        raise DalibError("no tokens in any domain; give at least one non-empty document")
    tokens = list(df)
    if len(tokens) > max_features:  # sort only the tokens at or above the max_features-th largest df
        freq = np.fromiter(df.values(), dtype=np.int64, count=len(tokens))
        cut = np.partition(freq, len(freq) - max_features)[len(freq) - max_features]
        tokens = [tokens[i] for i in np.flatnonzero(freq >= cut)]
    return sorted(tokens, key=lambda token: (-df[token], token))[:max_features]


def counts_to_matrix(docs_per_domain: list[list[dict[str, int]]], max_features: int = 5000) -> list[sp.csr_matrix]:
    """One (n_docs, vocabulary) int32 CSR count matrix per domain over one shared vocabulary
    (`shared_vocabulary`; column j = its j-th token). Tokens outside the vocabulary are dropped."""
    index = {token: j for j, token in enumerate(shared_vocabulary(docs_per_domain, max_features))}
    matrices = []
    for docs in docs_per_domain:
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        n = int(lengths.sum())
        cols = np.fromiter(map(index.get, chain.from_iterable(docs), repeat(-1)), dtype=np.int64, count=n)
        vals = np.fromiter(chain.from_iterable(map(dict.values, docs)), dtype=np.int32, count=n)
        rows = np.repeat(np.arange(len(docs)), lengths)
        kept = cols >= 0
        matrices.append(sp.csr_matrix((vals[kept], (rows[kept], cols[kept])), shape=(len(docs), len(index)),
                                      dtype=np.int32))
    return matrices


def load_sentiment(folder: Path, names: list[str], representation: str, max_length: int) -> list[Domain]:
    """Domains ``names`` of the multi-domain sentiment dataset in ``folder`` as ``representation``:

    - ``counts``: the ``processed_acl`` unigram/bigram counts over the 5000 tokens with the
      highest document frequency in all four domains (so a subset of domains gets the same
      columns), x = log(1 + count) with every row scaled to unit L2 norm;
    - ``raw``: the texts themselves (`TextDataset`), for counting and baselines;
    - any other name: that registered text representation (`dalib.data.representations`) of the raw reviews
      (title + text) with ``max_length`` tokens: ``minilm`` embeddings, ``tokens`` token ids.
    """
    represent = None if representation in ("counts", "raw") else text_representation(representation)
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
    if represent is None:
        return texts
    return [represent(d, max_length) for d in texts]
