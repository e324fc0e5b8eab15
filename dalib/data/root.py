"""Where the data lives: ``--data-root``, else ``$DALIB_DATA``, else ``../shared/data``."""

from __future__ import annotations

import os
from pathlib import Path

from dalib.errors import DalibError

_REPO = Path(__file__).resolve().parents[2]


def default_candidates() -> list[Path]:
    """``../shared/data`` relative to the working directory and to the dalib checkout."""
    return [Path.cwd().parent / "shared" / "data", _REPO.parent / "shared" / "data"]


def find_data_root(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The data root, or None when none is set and no default exists."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("DALIB_DATA")
    if env:
        return Path(env)
    for cand in default_candidates():
        if cand.is_dir():
            return cand.resolve()
    return None


def require_data_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data root; raises a one-line error when it is missing."""
    root = find_data_root(explicit)
    if root is None:
        raise DalibError(
            "no data root: pass --data-root or set DALIB_DATA to the folder holding the datasets "
            "(default ../shared/data was not found)"
        )
    if not root.is_dir():
        raise DalibError(f"data root {root} does not exist; fix --data-root or DALIB_DATA")
    return root
