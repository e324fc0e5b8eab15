"""Load user files that register new discrepancies (``dalib bench --plugin FILE``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from dalib.errors import DalibError

_LOADED: set[str] = set()


def load_plugins(paths: list[str]) -> None:
    """Import each Python file once; its ``@register`` lines add methods to the registry."""
    for raw in paths:
        path = Path(raw).resolve()
        if str(path) in _LOADED:
            continue
        if not path.is_file():
            raise DalibError(f"plugin file not found: {raw}; pass the path of a .py file")
        name = f"dalib_plugin_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise DalibError(f"cannot import plugin {raw}; it must be a Python source file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _LOADED.add(str(path))
