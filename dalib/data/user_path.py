"""Your own data: a folder in one of three layouts, detected and loaded like a catalog dataset.

- ``images``: ``root/<domain>/<class>/<image>`` (the Office-31 layout); class = sub-folder name.
- ``features``: one file per domain, ``root/<domain>.npz`` or ``.mat`` holding a feature matrix
  and a label vector (found under the names ``X``/``y``, ``x``/``y``, ``fts``/``labels`` or
  ``features``/``labels``, else named with ``x_key``/``y_key``), or a numeric ``root/<domain>.csv``
  (one sample per row, the label in the last column, optional header row). Labels are integers;
  class i is the i-th smallest label value over all domains (0-based, 1-based or any values).
- ``texts``: one file per domain, ``root/<domain>.csv`` with a ``text`` and a ``label`` column,
  or ``root/<domain>.jsonl`` (`dalib.data.text_files`); embedded by MiniLM when loaded (the
  ``[text]`` extra; the representation is registered by `dalib.text`).

A folder goes wherever a dataset name goes (`dalib.data.catalog.resolve_dataset`); array names
follow it as ``PATH?x=NAME&y=NAME``. Domain short names are the shortest upper-cased prefixes
that tell the domains apart (``amazon``, ``webcam`` → ``A``, ``W``).
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy.io

from dalib.data.domain import Domain, check_compatible, tensor_domain
from dalib.data.features import load_csv_arrays, load_feature_file, to_labels
from dalib.data.folder import image_folder_domain, list_classes
from dalib.data.image_tensors import image_tensor_domain
from dalib.data.representations import text_representation
from dalib.data.spec import DatasetSpec, DomainSpec
from dalib.data.text_files import load_text_domains, read_domain_file
from dalib.errors import DalibError

LAYOUTS = ("images", "features", "texts")
KEY_PAIRS = (("X", "y"), ("x", "y"), ("fts", "labels"), ("features", "labels"))
EXPECTED = ("images root/<domain>/<class>/<image>, features root/<domain>.npz|.mat|.csv, "
            "or texts root/<domain>.csv|.jsonl with text,label columns")
NAME_KEYS = "--dataset PATH?x=NAME&y=NAME, or --x-key/--y-key for `dalib data check`"
TEXT_REPRESENTATION, TEXT_MAX_LENGTH = "minilm", 256
_KIND = {"images": "images", "features": "features", "texts": "text"}


def _visible(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if not p.name.startswith("."))


def csv_is_text(path: Path) -> bool:
    """Whether a CSV file's first row names a ``text`` column (a text domain, not features)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), [])
    return "text" in (cell.strip() for cell in header)


def file_layout(path: Path) -> str | None:
    """``features`` or ``texts`` for a domain file, None for a file of another type."""
    suffix = path.suffix.lower()
    if suffix in (".npz", ".mat"):
        return "features"
    if suffix == ".jsonl":
        return "texts"
    if suffix == ".csv":
        return "texts" if csv_is_text(path) else "features"
    return None


def detect_layout(path: str | Path) -> str:
    """``images``, ``features`` or ``texts``: the layout of the folder ``path``.

    Domain folders mean images; ``.npz`` / ``.mat`` / numeric ``.csv`` files mean features;
    ``.jsonl`` / ``.csv`` files with a ``text`` column mean texts. Other files are ignored. An
    empty folder, or one mixing layouts, raises a one-line error naming what was found."""
    root = Path(path)
    if not root.exists():
        raise DalibError(f"dataset folder {root} does not exist; pass a catalog name (`dalib data list`) or a folder")
    if not root.is_dir():
        raise DalibError(f"{root} is a file; pass the folder holding one folder or file per domain: {EXPECTED}")
    found: dict[str, list[str]] = {}
    for entry in _visible(root):
        layout = "images" if entry.is_dir() else file_layout(entry)
        if layout:
            found.setdefault(layout, []).append(entry.name + ("/" if entry.is_dir() else ""))
    if not found:
        names = ", ".join(p.name for p in _visible(root)[:5]) or "nothing"
        raise DalibError(f"{root} holds no domain folders or .npz/.mat/.csv/.jsonl files (found: {names}); "
                         f"expected {EXPECTED}")
    if len(found) > 1:
        mixed = "; ".join(f"{layout}: {', '.join(names[:3])}" for layout, names in found.items())
        raise DalibError(f"{root} mixes layouts ({mixed}); keep one of: {EXPECTED}")
    return next(iter(found))


def short_names(names: list[str]) -> list[str]:
    """The shortest k such that the upper-cased k-letter prefixes of ``names`` differ; those prefixes."""
    for k in range(1, max(map(len, names)) + 1):
        shorts = [n[:k].upper() for n in names]
        if len(set(shorts)) == len(shorts):
            return shorts
    return [n.upper() for n in names]  # only reached for names differing in case alone


def domain_files(root: Path, layout: str) -> dict[str, Path]:
    """Domain name → its folder (images) or file (features, texts), sorted by name."""
    entries = [p for p in _visible(root) if (p.is_dir() if layout == "images" else file_layout(p) == layout)]
    files: dict[str, Path] = {}
    for entry in entries:
        name = entry.name if entry.is_dir() else entry.stem
        if name in files:
            raise DalibError(f"domain {name!r} has two files, {files[name].name} and {entry.name}; keep one per domain")
        files[name] = entry
    return files


def array_names(path: Path) -> list[str]:
    """Names of the arrays stored in an ``.npz`` or ``.mat`` file (without reading them)."""
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as data:
                return list(data.files)
        return [name for name, _, _ in scipy.io.whosmat(str(path))]
    except (ValueError, OSError, NotImplementedError) as err:
        raise DalibError(f"cannot read {path} ({err}); save it with numpy.savez or as a MATLAB v5 file") from None


def feature_keys(path: Path, x_key: str | None = None, y_key: str | None = None) -> tuple[str, str]:
    """The (features, labels) array names of a feature file: the given ones, or the one usual
    pair present (`KEY_PAIRS`); ``("", "")`` for a CSV (label in the last column)."""
    if path.suffix.lower() == ".csv":
        return "", ""
    names = array_names(path)
    if x_key or y_key:
        missing = [k for k in (x_key, y_key) if not k or k not in names]
        if missing:
            raise DalibError(f"{path}: no array {missing[0]!r} (found: {', '.join(names)}); name both: "
                             f"{NAME_KEYS}")
        return str(x_key), str(y_key)
    pairs = [pair for pair in KEY_PAIRS if pair[0] in names and pair[1] in names]
    if len(pairs) != 1:
        problem = "several usual" if pairs else "no usual"
        raise DalibError(f"{path}: {problem} feature/label array names (found: {', '.join(names)}); "
                         f"name them: {NAME_KEYS}")
    return pairs[0]


def read_labels(path: Path, x_key: str, y_key: str) -> np.ndarray:
    """The integer labels (n,) of a feature file, reading only the label array where possible."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return to_labels(load_csv_arrays(path)[1], 0, str(path))
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return to_labels(data[y_key], 0, str(path))
    return to_labels(scipy.io.loadmat(str(path), variable_names=[y_key])[y_key], 0, str(path))


def read_features(path: Path, x_key: str, y_key: str) -> tuple[np.ndarray, np.ndarray]:
    """(x (n, d) float64, y (n,) int64 label values) of a feature file."""
    if path.suffix.lower() == ".csv":
        x, y = load_csv_arrays(path)
        return x, to_labels(y, 0, str(path))
    return load_feature_file(path, x_key, y_key)


def check_same_classes(class_sets: dict[str, set]) -> None:
    """Raise unless every domain has the same set of classes."""
    (first, ref), *rest = class_sets.items()
    for name, classes in rest:
        if classes != ref:
            raise DalibError(f"class sets differ between domains {first!r} and {name!r}: only in {first}: "
                             f"{sorted(ref - classes) or '-'}; only in {name}: {sorted(classes - ref) or '-'}; "
                             "every domain needs the same classes")


def parse_reference(reference: str) -> tuple[Path, str | None, str | None]:
    """``PATH`` or ``PATH?x=NAME&y=NAME`` → (path, x_key, y_key)."""
    path, _, query = reference.partition("?")
    keys: dict[str, str] = {}
    for item in filter(None, query.split("&")):
        key, sep, value = item.partition("=")
        if not sep or key not in ("x", "y") or not value:
            raise DalibError(f"bad dataset option {item!r} in {reference!r}; write PATH?x=NAME&y=NAME")
        keys[key] = value
    return Path(path), keys.get("x"), keys.get("y")


def reference_layout(reference: str) -> str | None:
    """The layout of the folder that the dataset reference ``reference`` names; None when it
    names no folder holding a dataset."""
    path = Path(reference.partition("?")[0])
    if not path.is_dir():
        return None
    try:
        return detect_layout(path)
    except DalibError:
        return None


def path_spec(path: str | Path, x_key: str | None = None, y_key: str | None = None) -> DatasetSpec:
    """The `DatasetSpec` of a folder of your own: layout, domains, classes (files are read for the labels).

    Its name is the absolute path (plus ``?x=…&y=…`` when keys are given), so it resolves again."""
    root = Path(path).expanduser().resolve()
    layout = detect_layout(root)
    files = domain_files(root, layout)
    if len(files) < 2:
        raise DalibError(f"{root} holds {len(files)} domain ({', '.join(files) or 'none'}); "
                         "a transfer task needs at least two")
    shorts = dict(zip(files, short_names(list(files))))
    keys = {name: feature_keys(file, x_key, y_key) if layout == "features" else ("", "")
            for name, file in files.items()}
    if layout == "images":
        classes = {name: set(list_classes(folder)) for name, folder in files.items()}
    elif layout == "features":
        classes = {name: set(read_labels(file, *keys[name]).tolist()) for name, file in files.items()}
    else:
        classes = {name: set(read_domain_file(file)[1]) for name, file in files.items()}
    check_same_classes(classes)
    values = sorted(next(iter(classes.values())))
    name = str(root) + (f"?x={x_key}&y={y_key}" if x_key or y_key else "")
    return DatasetSpec(
        name, _KIND[layout],
        tuple(DomainSpec(n, shorts[n], file.name, *keys[n]) for n, file in files.items()),
        tuple(str(v) for v in values), folder=str(root), layout=layout,
        label_values=tuple(values) if layout == "features" else (),
        preprocess=TEXT_REPRESENTATION if layout == "texts" else "none",
        max_length=TEXT_MAX_LENGTH if layout == "texts" else 0,
        note=f"your own {layout} folder",
    )


def load_path_domains(spec: DatasetSpec, wanted: list[DomainSpec], image_size: int = 64) -> list[Domain]:
    """Domains ``wanted`` of a folder spec (`path_spec`): images decoded to ``image_size`` px once
    (cached, see `dalib.data.image_tensors`), features as float32 (n, d), texts embedded."""
    folder = Path(spec.folder)
    if spec.layout == "images":
        return [image_tensor_domain(image_folder_domain(folder, d.name, d.short), image_size) for d in wanted]
    if spec.layout == "texts":
        represent = text_representation(spec.preprocess)
        raw = load_text_domains(folder, [d.name for d in wanted], class_names=list(spec.class_names))
        return [represent(replace(r, short=d.short), spec.max_length) for r, d in zip(raw, wanted)]
    values = np.asarray(spec.label_values)
    loaded = []
    for d in wanted:
        x, y = read_features(folder / d.file, d.x_key, d.y_key)
        index = np.searchsorted(values, y).clip(0, len(values) - 1)
        if not np.array_equal(values[index], y):
            raise DalibError(f"{folder / d.file}: labels {sorted(set(y.tolist()) - set(values.tolist()))} are new "
                             "since the dataset was resolved; resolve it again")
        loaded.append(tensor_domain(d.name, d.short, list(spec.class_names), x.astype(np.float32), index))
    return loaded


def load_path_dataset(path: str | Path, *, x_key: str | None = None, y_key: str | None = None,
                      image_size: int = 64) -> list[Domain]:
    """Every domain of the folder ``path`` (see the module docstring), like
    `dalib.data.catalog.load_dataset` returns a catalog dataset's domains."""
    spec = path_spec(path, x_key, y_key)
    domains = load_path_domains(spec, list(spec.domains), image_size)
    check_compatible(domains)
    return domains
