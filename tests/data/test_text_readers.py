"""Text readers: the multi-domain sentiment reviews (raw pseudo-XML and feature counts) and BYO csv/jsonl domains."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import numpy as np
import pytest

from dalib.data.text import (
    TextDataset, counts_to_matrix, read_count_lines, read_review_blocks, read_review_texts, sentiment_domain,
    shared_vocabulary,
)
from dalib.data.text_files import load_text_domains
from dalib.errors import DalibError

NAMES = ["books", "dvd", "electronics", "kitchen"]
# measured on the shared copy: unique review texts (Amazon shows one review under several product variants,
# so ~2 % are repeated, always with the same label) and the median number of words per text (title + body)
UNIQUE = {"books": 1956, "dvd": 1954, "electronics": 1966, "kitchen": 1978}
MEDIAN_WORDS = {"books": 116, "dvd": 115, "electronics": 82, "kitchen": 73}


@pytest.fixture(scope="module")
def sentiment_root(data_root: Path) -> Path:
    root = data_root / "amazon_multidomain_sentiment_text"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    return root


@pytest.fixture(scope="module")
def raw(sentiment_root):
    return {name: sentiment_domain(sentiment_root, name, name[0].upper(), "text") for name in NAMES}


@pytest.fixture(scope="module")
def counts(sentiment_root):
    return {name: sentiment_domain(sentiment_root, name, name[0].upper(), "counts") for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_raw_domain_counts_and_clean_texts(raw, name):
    d = raw[name]
    assert len(d) == 2000 and d.class_names == ["negative", "positive"] and d.short == name[0].upper()
    assert np.bincount(d.labels.numpy()).tolist() == [1000, 1000]
    assert d.labels[:1000].sum() == 0  # negative.review first
    assert d.texts == d.dataset.texts and d.dataset[1999] == (d.texts[1999], 1)
    assert all(t and t == t.strip() for t in d.texts)
    joined = " ".join(d.texts)
    for leftover in ("&quot", "&amp;", "&lt;", "<review_text>", "</title>", "\x1a", "\n", "  "):
        assert leftover not in joined, leftover
    assert re.search(r"&(#[0-9]+|[a-z]+);", joined) is None
    assert len(set(d.texts)) == UNIQUE[name]
    assert statistics.median(len(t.split()) for t in d.texts) == MEDIAN_WORDS[name]


def test_raw_known_reviews(raw):
    kitchen = raw["kitchen"].texts
    assert kitchen[1000].startswith(
        "Perfectly fits the books' atmosphere. For those of you unfamiliar with the \"A Series of Unfortunate Events\"")
    # the source escapes this one twice: &amp;quot;Non Stop&amp;quot;
    assert sum('the minute I seen "Non Stop" I had to have it!' in t for t in kitchen) == 1
    assert not set(raw["books"].texts) & set(kitchen)  # no review shared across domains


@pytest.mark.parametrize("name", NAMES)
def test_counts_domain_matches_files(counts, sentiment_root, name):
    docs, labels = counts[name]
    assert len(docs) == 2000 and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [1000, 1000] and labels[:1000].sum() == 0
    assert all(docs)
    _, names = read_count_lines(sentiment_root / "processed_acl" / name / "positive.review")
    assert set(names) == {"positive"} and len(names) == 1000


def test_counts_match_provenance_and_matrix(counts):
    books_pos = counts["books"][0][1000:]
    assert len(set().union(*books_pos)) == 111_658  # distinct tokens of books/positive, as PROVENANCE.md reports
    docs = [counts[name][0] for name in NAMES]
    vocab = shared_vocabulary(docs)
    assert len(vocab) == 5000 and vocab[:7] == ["i", "not", "was", "you", "my", "one", "<num>"]
    assert "the" not in vocab  # processed_acl dropped stop-word unigrams ("the" survives only in bigrams)
    mats = counts_to_matrix(docs)
    assert [m.shape for m in mats] == [(2000, 5000)] * 4 and mats[0].dtype == np.int32
    assert [m.nnz for m in mats] == [186_679, 186_895, 141_521, 124_989]
    # kitchen/positive.review line 1 holds "their:3" and "perfectly:2"; positives start at row 1000
    line1 = docs[3][1000]
    assert line1["their"] == 3 and line1["perfectly"] == 2
    assert mats[3][1000, vocab.index("their")] == 3 and mats[3][1000, vocab.index("perfectly")] == 2
    in_vocab = set(vocab)
    assert mats[3][1000].sum() == sum(c for t, c in line1.items() if t in in_vocab) == 45


def test_counts_to_matrix_ties_and_unknown_tokens():
    a = [{"b": 1, "a": 2}, {"c": 5}]
    b = [{"c": 1, "zz": 7}]
    assert shared_vocabulary([a, b], 2) == ["c", "a"]  # c in 2 docs; a, b, zz in 1: tie broken by string
    ma, mb = counts_to_matrix([a, b], 2)
    assert ma.toarray().tolist() == [[0, 2], [5, 0]] and mb.toarray().tolist() == [[1, 0]]
    with pytest.raises(DalibError, match="max_features=0"):
        counts_to_matrix([a], 0)
    with pytest.raises(DalibError, match="no tokens"):
        counts_to_matrix([[{}]])


REVIEWS = """<review>
<unique_id>
X1:a
</unique_id>
<title>
Great &quot;value&quot; & fast!
</title>
<rating>
5.0
</rating>
<review_text>
First line &amp; more,
  second   line.

Third: na\x1ave &amp;quot;twice&amp;quot; 5 &lt; 6&#33;
</review_text>
</review>
<review>
<title>

</title>
<review_text>
No title &quot;here
</review_text>
</review>
<review>
<title>
Plain title
</title>
<review_text>
Body
</review_text>
</review>
"""


def test_hand_written_review_file(tmp_path):
    path = tmp_path / "positive.review"
    path.write_bytes(REVIEWS.encode().replace(b"Plain title", b"Plain t\xe9tle"))  # a stray latin-1 byte
    blocks = read_review_blocks(path)
    assert blocks[0] == {"unique_id": "X1:a", "title": 'Great "value" & fast!', "rating": "5.0",
                         "review_text": 'First line & more, second line. Third: na\ufffdve "twice" 5 < 6!'}
    assert read_review_texts(path) == [
        'Great "value" & fast! First line & more, second line. Third: na\ufffdve "twice" 5 < 6!',
        'No title "here',
        "Plain t\ufffdtle. Body",
    ]


@pytest.mark.parametrize("text, message", [
    ("<review><title>t</title></review>\n<review><title>x</title></review>", r"block 1 has no <review_text>.*found: title"),
    ("<review><review_text>a</review_text></review>\n<review><review_text>b</review_text>",
     r"block 2 has no closing </review>"),
    ("<review><review_text>a</review_text>\n<review><review_text>b</review_text></review>",
     r"block 1 has no </review> before the next <review>"),
    ("<review><title></title><review_text></review_text></review>", r"block 1 has an empty title and review_text"),
    ("nothing here", r"no <review>"),
])
def test_bad_review_files(tmp_path, text, message):
    path = tmp_path / "negative.review"
    path.write_text(text)
    with pytest.raises(DalibError, match=message) as info:
        read_review_texts(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_count_lines_and_bad_lines(tmp_path):
    path = tmp_path / "x.review"
    path.write_text("good:2 a_b:1 c:d:3 good:1 #label#:positive\n\nonly:1 #label#:negative\n")
    docs, labels = read_count_lines(path)
    assert docs == [{"good": 3, "a_b": 1, "c:d": 3}, {"only": 1}] and labels == ["positive", "negative"]
    for bad, message in [("a:1 b:x #label#:positive", r"line 3: bad feature 'b:x'"),
                         ("a:1 :2 #label#:positive", r"line 3: bad feature ':2'"),
                         ("a:1 b:-2 #label#:positive", r"line 3: bad feature 'b:-2'"),
                         ("a:1 b:2", r"line 3: ends with 'b:2', not '#label#:<label>'"),
                         ("a:1 #label#:", r"line 3: ends with '#label#:'")]:
        path.write_text(f"a:1 #label#:positive\n\n{bad}\n")
        with pytest.raises(DalibError, match=message):
            read_count_lines(path)


def test_sentiment_domain_bad_input(tmp_path):
    with pytest.raises(DalibError, match="unknown sentiment format 'xml'"):
        sentiment_domain(tmp_path, "books", "B", "xml")
    with pytest.raises(DalibError, match=r"folder not found: .*sorted_data_acl/books"):
        sentiment_domain(tmp_path, "books", "B")
    folder = tmp_path / "processed_acl" / "books"
    folder.mkdir(parents=True)
    (folder / "negative.review").write_text("a:1 #label#:negative\nb:1 #label#:positive\n")
    with pytest.raises(DalibError, match=r"negative.review: review 2 is labelled 'positive' in a 'negative' file"):
        sentiment_domain(tmp_path, "books", "B", "counts")
    (folder / "negative.review").write_text("a:1 #label#:negative\n")
    with pytest.raises(DalibError, match=r"file not found: .*positive.review"):
        sentiment_domain(tmp_path, "books", "B", "counts")


def test_text_dataset_length_mismatch():
    assert TextDataset(["a", "b"], [0, 1])[1] == ("b", 1)
    with pytest.raises(DalibError, match="2 texts for 1 labels"):
        TextDataset(["a", "b"], [0])


def _write_csv(path: Path, rows: list[list[str]]) -> None:
    path.write_text("\n".join(",".join(row) for row in rows) + "\n")


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_byo_csv_and_jsonl_round_trip(tmp_path):
    _write_csv(tmp_path / "books.csv", [["id", "text", "label"], ["1", "good read", "pos"],
                                        ["2", '"bad, really\nbad"', "neg"], ["3", "  fine  ", "pos"]])
    _write_jsonl(tmp_path / "movies.jsonl", [{"text": "loved it", "label": "pos"}, {"text": "meh", "label": "neg"}])
    (tmp_path / "notes.txt").write_text("ignored")
    books, movies = load_text_domains(tmp_path)
    assert (books.name, books.short, movies.name, movies.short) == ("books", "B", "movies", "M")
    assert books.class_names == movies.class_names == ["neg", "pos"]
    assert books.texts == ["good read", "bad, really\nbad", "fine"] and books.labels.tolist() == [1, 0, 1]
    assert movies.dataset[0] == ("loved it", 1) and movies.labels.tolist() == [1, 0]
    only, = load_text_domains(tmp_path, ["movies"], class_names=["pos", "neg", "neutral"])
    assert only.class_names == ["pos", "neg", "neutral"] and only.labels.tolist() == [0, 1]


def test_byo_other_fields_and_numeric_labels(tmp_path):
    _write_jsonl(tmp_path / "a.jsonl", [{"body": "x", "y": 1}, {"body": "y", "y": 0}])
    _write_csv(tmp_path / "b.csv", [["y", "body"], ["0", "z"], ["1", "w"]])
    a, b = load_text_domains(tmp_path, text_field="body", label_field="y")
    assert a.class_names == ["0", "1"] and a.labels.tolist() == [1, 0] and b.labels.tolist() == [0, 1]


@pytest.mark.parametrize("files, kwargs, message", [
    ({}, {}, r"no text domains: no .csv or .jsonl file in"),
    ({"a.csv": "text,label\nx,p\n"}, {"domains": ["a", "b"]}, r"domain 'b': neither .*b\.csv nor .*b\.jsonl exists"),
    ({"a.csv": "text,label\nx,p\n", "a.jsonl": '{"text": "x", "label": "p"}\n'}, {}, r"both .*a\.csv and .*a\.jsonl"),
    ({"a.csv": "body,stars\nx,p\n"}, {}, r"a\.csv line 2: no 'text' or 'label' column \(columns found: \['body', 'stars'\]\)"),
    ({"a.csv": "text,label\nx,p\n   ,p\n"}, {}, r"a\.csv line 3: empty or non-string text"),
    ({"a.jsonl": '{"text": "x", "label": "p"}\n\n{"text": "", "label": "p"}\n'}, {}, r"a\.jsonl line 3: empty"),
    ({"a.jsonl": '{"text": "x", "label": "p"}\n{"text": "y", "label": "p"\n'}, {}, r"a\.jsonl line 2: bad JSON"),
    ({"a.jsonl": '["x", "p"]\n'}, {}, r"a\.jsonl line 1: a JSON list, not an object"),
    ({"a.csv": "text,label\nx,\n"}, {}, r"a\.csv line 2: empty label"),
    ({"a.csv": "text,label\nx,p\ny,q\n"}, {"class_names": ["p", "n"]},
     r"labels \['q'\] are not in class_names \['p', 'n'\]"),
    ({"a.csv": "text,label\nx,p\n"}, {"class_names": ["p", "p"]}, r"duplicates"),
    ({"a.csv": "text,label\nx,p\ny,q\n", "b.csv": "text,label\nx,p\ny,r\n"}, {},
     r"label sets differ between domains 'a' and 'b': only in a: \['q'\]; only in b: \['r'\]"),
    ({"a.csv": "text,label\n"}, {}, r"a\.csv has no records"),
    ({"a.csv": b"text,label\n\xff\xfe,p\n"}, {}, r"a\.csv is not UTF-8"),
])
def test_byo_bad_inputs(tmp_path, files, kwargs, message):
    for name, content in files.items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DalibError, match=message) as info:
        load_text_domains(tmp_path, **kwargs)
    assert "\n" not in str(info.value)


def test_byo_missing_root(tmp_path):
    with pytest.raises(DalibError, match=r"text domain folder .*nope does not exist"):
        load_text_domains(tmp_path / "nope")


def test_byo_bom_csv(tmp_path):
    (tmp_path / "a.csv").write_bytes("\ufefftext,label\nné,p\n".encode())
    assert load_text_domains(tmp_path)[0].texts == ["né"]
