"""The on-disk array cache shared by decoded images and text embeddings.

Arrays live as ``.npy`` files under ``$DALIB_CACHE/<kind>`` (default ``./.cache/dalib/<kind>``,
git-ignored); they are written atomically and a damaged or mis-shaped file counts as a miss.
The shared benchmark data is read-only, so a cache folder inside it is refused.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from dalib.data.root import find_data_root
from dalib.errors import DalibError

_REPO = Path(__file__).resolve().parents[2]


def default_cache_dir(kind: str) -> Path:
    """``$DALIB_CACHE/<kind>``, else ``./.cache/dalib/<kind>``."""
    return Path(os.environ.get("DALIB_CACHE") or Path(".cache") / "dalib") / kind


def writable_cache_dir(kind: str, explicit: Path | None = None) -> Path:
    """``explicit`` or the default folder for ``kind``; refuses one inside the shared data (the
    data root, the ``shared/`` folder holding it, or ``../shared`` beside the repo)."""
    directory = Path(explicit) if explicit is not None else default_cache_dir(kind)
    root = find_data_root()
    protected = {_REPO.parent / "shared"}
    if root is not None:
        protected |= {root, *([root.parent] if root.resolve().parent.name == "shared" else [])}
    target = directory.resolve()
    for place in protected:
        if target.is_relative_to(place.resolve()):
            raise DalibError(f"{kind} cache {directory} lies inside the shared data {place}, which is read-only; "
                             "set DALIB_CACHE or cache_dir to a folder of your own")
    return directory


def load_array(path: Path, shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray | None:
    """The cached array, or None when absent, unreadable, or not of ``shape`` and ``dtype``."""
    try:
        array = np.load(path)
    except (OSError, ValueError, EOFError):
        return None
    return array if array.shape == shape and array.dtype == dtype else None


def save_array(path: Path, array: np.ndarray) -> None:
    """Write ``array`` via a temporary file and a rename, so readers never see half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise DalibError(f"cannot write the cache {path.parent}: {err.strerror}; set DALIB_CACHE to a writable folder") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, array)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
