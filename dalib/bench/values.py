"""Typed option values from the command line or a YAML file, with one-line errors.

`coerce` turns a value as typed on the command line (text) or as read from YAML (a number,
a list, a boolean) into the type a field or hyper-parameter declares:

* ``bool``: true / false (also yes / no, 1 / 0);
* ``int``: an integer (``1.5`` is refused, not truncated);
* ``float``: a finite number (integers become floats, so ``1`` and ``1.0`` are one value);
* ``str``: text;
* ``tuple[T, ...]`` (or any sequence): items joined by ``/`` on the command line
  (``512/256``), a list in YAML;
* ``X | None``: ``none`` on the command line, ``null`` in YAML;
* anything else (``Any``, an unannotated parameter): text is read as none, true/false,
  an integer, a number or text, in that order.
"""

from __future__ import annotations

import collections.abc
import math
import types
import typing
from typing import Any, Union

from dalib.errors import DalibError

TUPLE_SEP = "/"
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")
_SEQUENCES = (tuple, list, collections.abc.Sequence)
_PLURAL = {bool: "true/false values", int: "integers", float: "finite numbers", str: "names"}


def _optional(hint: Any) -> tuple[bool, Any]:
    """(whether ``hint`` admits None, the hint without None; Any when several types remain)."""
    if typing.get_origin(hint) not in (Union, types.UnionType):
        return False, hint
    rest = [a for a in typing.get_args(hint) if a is not type(None)]
    return len(rest) < len(typing.get_args(hint)), rest[0] if len(rest) == 1 else Any


def describe(hint: Any) -> str:
    """How a value of type ``hint`` is written, for error messages."""
    nullable, hint = _optional(hint)
    if typing.get_origin(hint) in _SEQUENCES or hint in (tuple, list):
        args = typing.get_args(hint)
        item = _PLURAL.get(args[0], "values") if args else "values"
        text = f"{item} joined by '{TUPLE_SEP}' (e.g. 512{TUPLE_SEP}256)"
    else:
        text = {bool: "true or false", int: "an integer", float: "a finite number", str: "text"}.get(hint, "a value")
    return f"{text} or none" if nullable else text


def _guess(text: str) -> Any:
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def coerce(value: Any, hint: Any, what: str) -> Any:
    """``value`` as type ``hint`` (see the module docstring); ``what`` names the option in errors."""
    nullable, inner = _optional(hint)
    if nullable and (value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null"))):
        return None
    try:
        return _coerce(value, inner)
    except (TypeError, ValueError):
        raise DalibError(f"{what}={_show(value)}: expected {describe(hint)}") from None


def _show(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return TUPLE_SEP.join(str(v) for v in value)
    return str(value)


def _coerce(value: Any, hint: Any) -> Any:
    """Raise TypeError / ValueError when ``value`` does not fit ``hint``."""
    origin = typing.get_origin(hint)
    if origin in _SEQUENCES or hint in (tuple, list):
        args = typing.get_args(hint)
        item = args[0] if args else Any
        if isinstance(value, str):
            parts = value.split(TUPLE_SEP)
        elif isinstance(value, (tuple, list)):
            parts = list(value)
        else:
            parts = [value]
        if not parts or any(isinstance(p, str) and not p.strip() for p in parts):
            raise ValueError(value)
        return tuple(_coerce(p, item) for p in parts)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(value)
    if hint is int:
        if isinstance(value, bool) or isinstance(value, float):
            raise TypeError(value)
        return int(value.strip()) if isinstance(value, str) else int(value)
    if hint is float:
        if isinstance(value, bool):
            raise TypeError(value)
        number = float(value.strip()) if isinstance(value, str) else float(value)
        if not math.isfinite(number):
            raise ValueError(value)
        return number
    if hint is str:
        if not isinstance(value, str):
            raise TypeError(value)
        return value.strip()
    return _guess(value) if isinstance(value, str) else value


def format_value(value: Any) -> str:
    """A value as `coerce` reads it back: ``none``, ``true``/``false``, ``a/b`` for tuples."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (tuple, list)):
        return TUPLE_SEP.join(format_value(v) for v in value)
    return str(value)
