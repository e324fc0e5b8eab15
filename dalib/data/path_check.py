"""``dalib data check PATH``: what a folder of your own holds, and what would stop a benchmark on it.

`check_path` reads every domain like `dalib.data.user_path` does, but collects problems instead
of stopping at the first: class sets that differ between domains, empty class folders,
unreadable images, unreadable or non-integer labels, missing or ambiguous array names,
features of different dimensions, NaN/inf values, fewer than two domains. Notes are not
problems: a domain too small for the target-only reference (the bench skips that reference).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from dalib.data.folder import IMAGE_SUFFIXES
from dalib.data.tasks import target_only_problem
from dalib.data.text_files import read_domain_file
from dalib.data.user_path import detect_layout, domain_files, feature_keys, read_features, short_names
from dalib.errors import DalibError

_SHOWN = 5  # unreadable images listed per domain before "and N more"


@dataclass
class DomainCount:
    """One domain: name, short name, samples per class (aligned with the report's classes) and
    ``detail`` (feature dimension, or empty)."""

    name: str
    short: str
    per_class: dict[str, int]
    detail: str = ""

    @property
    def samples(self) -> int:
        return sum(self.per_class.values())


@dataclass
class PathReport:
    """What `check_path` found: layout, classes (sorted), per-domain counts, problems and notes."""

    path: Path
    layout: str
    classes: list[str]
    domains: list[DomainCount]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """The report as printed by ``dalib data check``."""
        out = [f"{self.path}: {self.layout}, {len(self.domains)} domains, {len(self.classes)} classes",
               f"classes: {', '.join(self.classes)}",
               "| domain | short | samples | per class |", "|---|---|---|---|"]
        for d in self.domains:
            counts = " ".join(str(d.per_class.get(c, 0)) for c in self.classes)
            out.append(f"| {d.name} | {d.short} | {d.samples}{' ' + d.detail if d.detail else ''} | {counts} |")
        out += [f"note: {n}" for n in self.notes]
        out += [f"PROBLEM: {p}" for p in self.problems]
        out.append("ok: ready for `dalib bench --dataset PATH`" if self.ok else f"{len(self.problems)} problem(s)")
        return out


def _image_domain(folder: Path, problems: list[str]) -> dict[str, int]:
    """Images per class sub-folder of one domain folder; empty folders and unreadable images
    (PIL cannot verify them) are added to ``problems``."""
    per_class: dict[str, int] = {}
    bad: list[str] = []
    for cls in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        images = sorted(p for p in cls.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        per_class[cls.name] = len(images)
        if not images:
            problems.append(f"empty class folder {cls} (no {'/'.join(sorted(IMAGE_SUFFIXES))} images)")
        for path in images:
            try:
                with Image.open(path) as img:
                    img.verify()
            except (UnidentifiedImageError, OSError, SyntaxError) as err:
                bad.append(f"{path.relative_to(folder.parent)} ({type(err).__name__})")
    if not per_class:
        problems.append(f"domain folder {folder} has no class sub-folders; expected <domain>/<class>/<image>")
    if bad:
        more = f" and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else ""
        problems.append(f"{len(bad)} unreadable image(s) in {folder.name}: {', '.join(bad[:_SHOWN])}{more}")
    return per_class


def _feature_domain(path: Path, x_key: str | None, y_key: str | None,
                    problems: list[str]) -> tuple[dict[str, int], tuple[int, ...] | None]:
    """Samples per label value and the feature shape of one feature file (None when unreadable)."""
    try:
        x, y = read_features(path, *feature_keys(path, x_key, y_key))
    except DalibError as err:
        problems.append(str(err))
        return {}, None
    if not np.isfinite(x).all():
        problems.append(f"{path.name}: {int((~np.isfinite(x)).sum())} NaN/inf feature values; clean or impute them")
    values, counts = np.unique(y, return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts)}, x.shape[1:]


def _text_domain(path: Path, problems: list[str]) -> dict[str, int]:
    """Texts per label of one text file."""
    try:
        labels = read_domain_file(path)[1]
    except DalibError as err:
        problems.append(str(err))
        return {}
    values, counts = np.unique(labels, return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts)}


def _class_set_problems(domains: list[DomainCount]) -> list[str]:
    """One problem per domain whose class set differs from the first domain's."""
    first = domains[0]
    ref = set(first.per_class)
    out = []
    for d in domains[1:]:
        have = set(d.per_class)
        if have != ref:
            out.append(f"class sets differ between {first.name!r} and {d.name!r}: only in {first.name}: "
                       f"{sorted(ref - have) or '-'}; only in {d.name}: {sorted(have - ref) or '-'}; "
                       "every domain needs the same classes")
    return out


def _number_first(value: str) -> tuple[int, float | str]:
    """Sort key of label values: numbers in numeric order, then names."""
    try:
        return 0, float(value)
    except ValueError:
        return 1, value


def check_path(path: str | Path, x_key: str | None = None, y_key: str | None = None) -> PathReport:
    """Domains, classes, counts and problems of the folder ``path`` (see `dalib.data.user_path`).

    A missing, empty or mixed-layout folder raises (nothing to report on); everything else is
    collected in the report."""
    root = Path(path).expanduser().resolve()
    layout = detect_layout(root)
    problems: list[str] = []
    files = domain_files(root, layout)
    shapes: dict[str, tuple[int, ...]] = {}
    domains = []
    for (name, file), short in zip(files.items(), short_names(list(files))):
        detail = ""
        if layout == "images":
            per_class = _image_domain(file, problems)
        elif layout == "features":
            per_class, shape = _feature_domain(file, x_key, y_key, problems)
            if shape is not None:
                shapes[name], detail = shape, f"× {'×'.join(map(str, shape))}"
        else:
            per_class = _text_domain(file, problems)
        domains.append(DomainCount(name, short, per_class, detail))
    if len(domains) < 2:
        problems.append(f"{len(domains)} domain ({', '.join(files)}); a transfer task needs at least two")
    else:
        problems += _class_set_problems(domains)
    if len(set(shapes.values())) > 1:
        dims = ", ".join(f"{n} {'×'.join(map(str, s))}" for n, s in shapes.items())
        problems.append(f"feature dimension differs between domains ({dims}); domains must share one feature space")
    found = {c for d in domains for c in d.per_class}
    classes = sorted(found, key=_number_first) if layout == "features" else sorted(found)
    notes = [note for d in domains if (note := _reference_note(d, classes))]
    return PathReport(root, layout, classes, domains, problems, notes)


def _reference_note(domain: DomainCount, classes: list[str]) -> str | None:
    """A note when ``domain``, as a target, is too small for the target-only reference (seed 0)."""
    labels = np.repeat(np.arange(len(classes)), [domain.per_class.get(c, 0) for c in classes])
    problem = target_only_problem(labels, seed=0) if len(labels) else None
    if problem is None:
        return None
    return f"target {domain.name!r} {problem}; `dalib bench` skips the target-only reference on it"
