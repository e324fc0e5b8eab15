"""Feature-file domains: MATLAB ``.mat``, ``.npz`` and ``.csv``.

Matrices may be stored samples × features or features × samples (orientation is found
from the label count), dense or `scipy.sparse`; labels may be 1-based (``label_offset=1``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse

from dalib.errors import DalibError


def _dense(a: object) -> np.ndarray:
    return np.asarray(a.toarray() if scipy.sparse.issparse(a) else a)


def orient(x: np.ndarray, n_labels: int, source: str) -> np.ndarray:
    """Return ``x`` as (n_samples, n_features), transposing a features × samples matrix."""
    if x.ndim != 2:
        raise DalibError(f"{source}: features have shape {x.shape}; expected a 2-D matrix")
    if x.shape[0] == n_labels:
        return x
    if x.shape[1] == n_labels:
        return x.T
    raise DalibError(
        f"{source}: feature matrix {x.shape} matches neither orientation for {n_labels} labels; "
        "check that the features and labels belong together"
    )


def to_labels(y: np.ndarray, label_offset: int, source: str) -> np.ndarray:
    """Flatten a label vector/matrix (n,), (n,1) or (1,n) and subtract ``label_offset``."""
    y = _dense(y).ravel()
    if y.size and not np.all(np.equal(np.mod(y, 1), 0)):
        raise DalibError(f"{source}: labels are not integers; give class indices")
    return y.astype(np.int64) - label_offset


def load_mat_arrays(path: Path, x_key: str, y_key: str) -> tuple[np.ndarray, np.ndarray]:
    """Read ``x_key`` and ``y_key`` from a MATLAB (v5) file; returns (x (n, d) float64, y raw)."""
    if not path.is_file():
        raise DalibError(f"feature file not found: {path}; check --data-root / DALIB_DATA")
    try:
        mat = scipy.io.loadmat(str(path))
    except (ValueError, OSError, NotImplementedError) as err:
        raise DalibError(f"cannot read {path} as a MATLAB v5 file ({err}); re-save it with scipy or MATLAB -v7") from None
    for key in (x_key, y_key):
        if key not in mat:
            found = ", ".join(k for k in mat if not k.startswith("__"))
            raise DalibError(f"{path}: no variable {key!r} (found: {found}); set the catalog's keys")
    y = _dense(mat[y_key])
    x = orient(_dense(mat[x_key]).astype(np.float64), y.size, str(path))
    return x, y


def load_npz_arrays(path: Path, x_key: str = "x", y_key: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Read ``x_key`` / ``y_key`` arrays from an ``.npz`` file."""
    if not path.is_file():
        raise DalibError(f"feature file not found: {path}; check --data-root / DALIB_DATA")
    with np.load(path, allow_pickle=False) as data:
        for key in (x_key, y_key):
            if key not in data:
                raise DalibError(f"{path}: no array {key!r} (found: {', '.join(data.files)}); pass x_key/y_key")
        y = data[y_key]
        x = orient(data[x_key].astype(np.float64), y.size, str(path))
    return x, y


def load_csv_arrays(path: Path, label_column: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Read a numeric CSV (optional header row): one sample per row, labels in ``label_column``."""
    if not path.is_file():
        raise DalibError(f"feature file not found: {path}; check --data-root / DALIB_DATA")
    with path.open() as fh:
        first = fh.readline()
    skip = 0 if all(_is_number(c) for c in first.strip().split(",") if c) else 1
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)
    except ValueError as err:
        raise DalibError(f"{path}: not a numeric CSV ({err}); one sample per row, numbers only") from None
    y = table[:, label_column]
    x = np.delete(table, label_column % table.shape[1], axis=1)
    return x, y


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_feature_file(path: Path, x_key: str = "fts", y_key: str = "labels", label_offset: int = 0,
                      label_column: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Load (x (n, d) float64, y (n,) int64) from a ``.mat``, ``.npz`` or ``.csv`` file."""
    suffix = path.suffix.lower()
    if suffix == ".mat":
        x, y = load_mat_arrays(path, x_key, y_key)
    elif suffix == ".npz":
        x, y = load_npz_arrays(path, x_key, y_key)
    elif suffix == ".csv":
        x, y = load_csv_arrays(path, label_column)
    else:
        raise DalibError(f"{path}: unsupported feature file type {suffix!r}; use .mat, .npz or .csv")
    return x, to_labels(y, label_offset, str(path))


def surf_preprocess(x: np.ndarray) -> np.ndarray:
    """Standard Office-Caltech SURF preprocessing: x / Σ_row x, then per-domain z-score.

    z = (x − mean) / std with the population std (ddof = 0, MATLAB ``zscore(x, 1)``);
    a constant feature is left at 0.
    """
    sums = x.sum(axis=1, keepdims=True)
    x = x / np.where(sums == 0, 1.0, sums)
    return zscore(x)


def zscore(x: np.ndarray) -> np.ndarray:
    """Per-feature z-score with population std; zero-variance features become 0."""
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std == 0, 1.0, std)


PREPROCESSORS = {"none": lambda x: x, "surf": surf_preprocess, "zscore": zscore}
