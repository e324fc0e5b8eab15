"""Atomic file writes: a reader sees the old file or the whole new one, never a partial file.

Each writer fills a temporary file in the destination's folder (same file system, so the
rename is atomic), flushes it to disk, then ``os.replace``-s it over the destination. On any
failure the temporary file is removed and the destination is left as it was.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_UMASK = os.umask(0)
os.umask(_UMASK)  # read the process umask once, so new files get the usual 0o666 & ~umask mode


def _write_atomic(path: Path, fill: Callable[[IO[bytes]], None]) -> None:
    """Call ``fill`` on a temporary binary file beside ``path``, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    _write_atomic(path, lambda fh: fh.write(data))


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented UTF-8 JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(payload, indent=1, ensure_ascii=False))


def save_figure_atomic(fig: Figure, path: Path, dpi: int = 110) -> None:
    """Save a matplotlib figure to ``path`` atomically, in the format its suffix names (.png, .pdf …)."""
    fmt = Path(path).suffix.lstrip(".")
    _write_atomic(path, lambda fh: fig.savefig(fh, format=fmt or None, dpi=dpi))
