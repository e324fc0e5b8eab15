"""What ``--hp TERM.NAME=VALUE`` and ``--grid TERM.NAME=V1,V2`` may name, with types and defaults.

A run accepts these ``TERM`` prefixes (`hp_targets`):

* each registered term of its method (``dann``, ``mcc`` …): ``weight`` (λ) and every
  parameter of the term's constructor, with the registry's defaults;
* ``profile``: every field of `dalib.bench.profiles.Profile` (model and optimiser);
* ``weights`` (runs with ``--weights``): the weight estimator's constructor parameters;
* ``shallow`` (shallow methods): the adapter's constructor parameters; shallow methods take
  ``profile`` too (its trunk, backbone, weights, views and image size choose their input features).

Registry imports happen inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import typing
from dataclasses import dataclass
from typing import Any, Sequence

PROFILE, WEIGHTS, SHALLOW = "profile", "weights", "shallow"
_NOT_HYPERPARAMETERS = {"self", "feature_dim", "num_classes", "model"}


@dataclass(frozen=True)
class Param:
    """A settable hyper-parameter: its type (for `dalib.bench.values.coerce`) and default."""

    hint: Any
    default: Any


def hp_targets(method: str, weights: str) -> list[str]:
    """The ``TERM`` prefixes that apply to a run of ``method`` (with weight estimator ``weights``)."""
    if method.startswith("shallow_"):
        return [SHALLOW, PROFILE]
    from dalib.methods import resolve_method

    return [*(e.name for e in resolve_method(method).entries), PROFILE, *([WEIGHTS] if weights else [])]


def grid_settings(grid: Sequence[tuple[str, str, Sequence[Any]]], targets: list[str]
                  ) -> list[tuple[tuple[str, str, Any], ...]]:
    """Every combination of the grid axes that apply to a run with these ``targets``
    (one empty combination when none applies)."""
    axes = [[(t, n, v) for v in values] for t, n, values in grid if t in targets]
    return [tuple(combo) for combo in itertools.product(*axes)]


def _hint_of(default: Any) -> Any:
    if default is None:
        return Any
    if isinstance(default, (tuple, list)):
        return tuple[_hint_of(default[0]), ...] if default else tuple
    return type(default) if isinstance(default, (bool, int, float, str)) else Any


def constructor_params(cls: type, defaults: dict[str, Any] | None = None) -> dict[str, Param]:
    """The keyword parameters of ``cls.__init__`` (``defaults`` replacing the signature's)."""
    defaults = defaults or {}
    try:
        hints = typing.get_type_hints(cls.__init__)
    except (NameError, TypeError, AttributeError):  # annotations naming types that are not importable
        hints = {}
    out: dict[str, Param] = {}
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name in _NOT_HYPERPARAMETERS or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        default = defaults.get(p.name, None if p.default is p.empty else p.default)
        out[p.name] = Param(hints.get(p.name, _hint_of(default)), default)
    for name, default in defaults.items():  # registry defaults the signature takes through **kwargs
        out.setdefault(name, Param(_hint_of(default), default))
    return out


def term_params(term: str) -> dict[str, Param]:
    """``weight`` (λ, the registry's default) and the constructor parameters of a registered term."""
    from dalib.alignment.registry import REGISTRY

    entry = REGISTRY[term]
    return {"weight": Param(float, entry.weight), **constructor_params(entry.cls, entry.defaults)}


def profile_params() -> dict[str, Param]:
    """Every field of `Profile`, typed by its annotation."""
    from dalib.bench.profiles import Profile

    hints = typing.get_type_hints(Profile)
    return {f.name: Param(hints[f.name], f.default) for f in dataclasses.fields(Profile)}


def estimator_class(name: str) -> type:
    """The weight-estimator class of ``--weights NAME``."""
    from dalib.reweighting import WEIGHT_ESTIMATORS

    return WEIGHT_ESTIMATORS[name]


def shallow_adapter_class(method: str) -> type:
    """The class ``shallow.NAME`` hyper-parameters go to for a shallow method."""
    from dalib.bench.shallow_names import TFIDF, parse_shallow
    from dalib.reweighting import WEIGHT_ESTIMATORS
    from dalib.shallow import MEDA, SHALLOW_METHODS

    if method == TFIDF:
        from dalib.text.tfidf import TfidfLinear

        return TfidfLinear
    adapter, _ = parse_shallow(method)
    if adapter == "meda":
        return MEDA
    return WEIGHT_ESTIMATORS[adapter] if adapter in WEIGHT_ESTIMATORS else SHALLOW_METHODS[adapter]  # type: ignore[return-value]
