"""dalib: a PyTorch research toolkit for domain adaptation.

The names a script needs are available here, imported on first use (PEP 562), so
``import dalib`` and ``dalib --help`` stay light:

- data: `load_dataset` (a catalog name or a folder of your own), `load_path_dataset`,
  `check_path`, `select_tasks`, `split_source`, `split_target`, `Domain`, `Task`;
- model: `build_backbone`, `Classifier`;
- method: `resolve_method`, `build_terms`, `available_methods`, `Discrepancy`, `register`;
- training: `Objective`, `Trainer`, `TrainConfig`, `seed_everything`;
- evaluation: `predict` (``.accuracy``, ``.features``, ``.logits``).
"""

from __future__ import annotations

import importlib
from typing import Any

from dalib.errors import DalibError

__version__ = "0.3.0"

_LAZY: dict[str, str] = {
    "load_dataset": "dalib.data.catalog",
    "load_path_dataset": "dalib.data.user_path",
    "check_path": "dalib.data.path_check",
    "select_tasks": "dalib.data.tasks",
    "split_source": "dalib.data.tasks",
    "split_target": "dalib.data.tasks",
    "Task": "dalib.data.tasks",
    "Domain": "dalib.data.domain",
    "build_backbone": "dalib.models",
    "Classifier": "dalib.models",
    "resolve_method": "dalib.methods",
    "build_terms": "dalib.methods",
    "available_methods": "dalib.methods",
    "Discrepancy": "dalib.alignment",
    "register": "dalib.alignment",
    "Objective": "dalib.train.objective",
    "Trainer": "dalib.train.trainer",
    "TrainConfig": "dalib.train.trainer",
    "seed_everything": "dalib.train.trainer",
    "predict": "dalib.eval.metrics",
}

__all__ = ["DalibError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    """Import the module behind a library name on first use and cache the name here.

    `dalib.text` is imported with the first name: it registers the text representations that
    text datasets are loaded with (it does not import transformers)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'dalib' has no attribute {name!r}")
    importlib.import_module("dalib.text")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
