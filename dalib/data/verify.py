"""Checksums of catalog files, and the presence summary `dalib data list` prints."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from dalib.data.catalog import DatasetSpec, dataset_dir
from dalib.errors import DalibError


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 digest of a file."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@lru_cache(maxsize=256)
def _sha256_memo(path: str, size: int, mtime_ns: int) -> str:
    return sha256_of(Path(path))


def sha256_cached(path: str | Path) -> str:
    """Hex sha256 of a file, read once per process for each (absolute path, size, mtime)."""
    p = Path(path).resolve()
    st = p.stat()
    return _sha256_memo(str(p), st.st_size, st.st_mtime_ns)


@dataclass
class VerifyReport:
    """Outcome of `verify`: files checked, and the ones missing or with a wrong digest."""

    checked: int
    missing: list[str]
    mismatched: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.mismatched


def _expected(spec: DatasetSpec, folder: Path) -> dict[str, str]:
    expected = dict(spec.sha256)
    if spec.manifest:
        manifest = folder / spec.manifest
        if manifest.is_file() and sha256_of(manifest) == spec.sha256.get(spec.manifest):
            for line in manifest.read_text().splitlines():
                digest, _, rel = line.strip().partition("  ")
                if rel:
                    expected[rel.removeprefix("./")] = digest
    return expected


def verify(spec: DatasetSpec, root: Path | None) -> VerifyReport:
    """Check the sha256 of every file of ``spec`` (for image folders, every listed image)."""
    if spec.kind == "embedded":
        return VerifyReport(0, [], [])
    folder = dataset_dir(spec, root)
    report = VerifyReport(0, [], [])
    for rel, digest in sorted(_expected(spec, folder).items()):
        path = folder / rel
        if not path.is_file():
            report.missing.append(rel)
            continue
        report.checked += 1
        if sha256_of(path) != digest:
            report.mismatched.append(rel)
    return report


def files_present(spec: DatasetSpec, root: Path | None) -> bool:
    """Whether every file (or domain folder) of ``spec`` exists under ``root``."""
    if spec.kind == "embedded":
        return True
    try:
        folder = dataset_dir(spec, root)
    except DalibError:
        return False
    if spec.kind == "images":
        return all((folder / d.name).is_dir() for d in spec.domains)
    if spec.kind == "text":
        return all((folder / rel).is_file() for rel in spec.sha256)
    return all((folder / d.file).is_file() for d in spec.domains)
