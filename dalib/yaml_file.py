"""Reading YAML experiment files with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dalib.errors import DalibError


def read_mapping(path: str | Path, what: str, example: str) -> dict[str, Any]:
    """The mapping in the YAML file ``path`` (an empty file gives {}); ``what`` names the kind
    of file in errors and ``example`` shows what it should hold."""
    import yaml  # imported lazily: only experiment files need it

    file = Path(path)
    if not file.is_file():
        raise DalibError(f"{what} file not found: {path}")
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as err:
        raise DalibError(f"{path} is not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise DalibError(f"{path} must hold a mapping of {example}")
    return data
