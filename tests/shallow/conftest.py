"""Fixtures of the shallow tests: Office-Caltech10 SURF pairs under the published protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest


@pytest.fixture
def surf_pair(data_root: Path) -> Callable[[str, str], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """``surf_pair(source, target)`` → (X_s, y_s, X_t, y_t) of the published protocol: every row of
    both domains, each row divided by its sum, then z-scored per domain (skips without the data)."""
    from dalib.data.features import load_feature_file, surf_preprocess

    folder = data_root / "office_caltech10_surf"
    if not folder.is_dir():
        pytest.skip(f"Office-Caltech10 SURF features not found at {folder}")

    def load(source: str, target: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        (Xs, ys), (Xt, yt) = ((surf_preprocess(x), y) for x, y in (
            load_feature_file(folder / f"{name}_SURF_L10.mat", label_offset=1) for name in (source, target)))
        return Xs, ys, Xt, yt

    return load
