"""Shared fixtures: the shared data root (skips when absent) and small in-memory domains."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dalib.data.domain import Domain, tensor_domain
from dalib.data.root import find_data_root

# One torch thread, as every bench run uses: the suite's models are tiny, where a second
# thread only adds synchronisation (a resume test: 11 s → 3 s on a busy 2-core machine).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared benchmark data; tests that need it skip with the reason when it is missing."""
    root = find_data_root()
    if root is None or not root.is_dir():
        pytest.skip("shared data not found: set DALIB_DATA or place ../shared/data beside the repo")
    return root


def _make_domain(name: str, n: int = 60, d: int = 5, classes: int = 3, shift: float = 0.0,
                seed: int = 0) -> Domain:
    """A small Gaussian-blob domain: class c centred at 2c on every axis, plus ``shift``."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(size=(n, d)) + 2.0 * y[:, None] + shift
    return tensor_domain(name, name[0].upper(), [f"c{c}" for c in range(classes)], x, y)


@pytest.fixture
def make_domain():
    """Factory fixture: ``make_domain(name, n=60, d=5, classes=3, shift=0.0, seed=0)``."""
    return _make_domain


@pytest.fixture(autouse=True, scope="module")
def _methods_registered_by_a_module_are_removed_after_it():
    """Methods a test module adds (``--plugin`` files, ``@register`` in a test) are removed when
    it ends, with the record of loaded plugin files, so what a module sees in the registry does
    not depend on which modules ran before it."""
    from dalib import plugins
    from dalib.alignment.registry import REGISTRY

    methods, loaded = dict(REGISTRY), set(plugins._LOADED)
    yield
    REGISTRY.clear()
    REGISTRY.update(methods)
    plugins._LOADED.clear()
    plugins._LOADED.update(loaded)
