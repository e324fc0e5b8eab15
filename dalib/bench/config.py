"""`BenchConfig`: every option of `dalib bench`, typed and validated in one place.

The command line (`BenchConfig.from_cli`), a YAML file (`BenchConfig.from_yaml`, keys named
as the long options) and library code (``BenchConfig(...)`` or `BenchConfig.from_mapping`)
build the same frozen object, and `dalib.bench.plan.run_bench` runs it as is. Fields accept
the text forms of the command line (``seeds="0,1,2"``, ``hp=["dann.weight=0.3"]``) or typed
values, and are stored canonical (tuples, ints, floats). ``__post_init__`` checks every value
against the registries — dataset, methods, seeds, protocol, weight estimators, device, every
``--hp`` / ``--grid`` term, name and value (`dalib.bench.hp_check`) — before anything runs;
a bad one raises a one-line `DalibError` naming the option and the accepted form.

Loading the ``plugin`` files is part of validation (their terms must be known), so building
a config imports them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from dalib.bench.values import coerce
from dalib.errors import DalibError

HpItem = tuple[str, str, Any]
GridAxis = tuple[str, str, tuple[Any, ...]]
LIST_KEYS = ("hp", "grid", "plugin", "profile")  # a command line adds to a file's items (same TERM.NAME: replaced)


def _option(field: str) -> str:
    return "--" + field.replace("_", "-")


def _names(value: Any, field: str) -> tuple[str, ...]:
    """A comma list (text) or a list → stripped, non-empty names."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else None
    if items is None or any(not isinstance(i, (str, int)) for i in items):
        raise DalibError(f"{_option(field)}: expected a comma list such as a,b (or a YAML list), got {value!r}")
    return tuple(str(i).strip() for i in items if str(i).strip())


def _items(value: Any) -> list[Any]:
    """``--hp`` / ``--grid`` / ``--plugin`` items: one text, a list, or a YAML mapping NAME → value."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [(str(k), v) for k, v in value.items()]
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _item_name(item: Any) -> str:
    """``TERM.NAME`` of an hp / grid item in any of its forms (for merging file and flags)."""
    if isinstance(item, str):
        return item.partition("=")[0].strip()
    if isinstance(item, tuple) and len(item) == 3:
        return f"{item[0]}.{item[1]}"
    return str(item[0]) if isinstance(item, tuple) else str(item)


@dataclass(frozen=True)
class BenchConfig:
    """A whole `dalib bench` invocation; see the module docstring.

    ``hp``: (term, name, value) overrides, sorted; ``grid``: (term, name, values) axes whose
    every combination runs and is selected per task by the protocol; ``tasks`` () means
    every ordered pair; ``epochs`` None keeps the dataset profile's.
    """

    dataset: str = "rotated-digits"
    methods: tuple[str, ...] = ("source_only", "dann")
    seeds: tuple[int, ...] = (0, 1, 2)
    tasks: tuple[str, ...] = ()
    out: str = "runs/bench"
    select: str = "last"
    workers: int = 1
    threads: int = 1
    backend: str = "local"
    ray_address: str | None = None
    epochs: int | None = None
    profile: tuple[tuple[str, Any], ...] = ()
    hp: tuple[HpItem, ...] = ()
    grid: tuple[GridAxis, ...] = ()
    plugin: tuple[str, ...] = ()
    weights: tuple[str, ...] = ()
    reweight_every: int = 0
    device: str = "cpu"
    vectorize: str = "auto"
    tensorboard: bool = False
    progress: bool = False
    target_only: bool = True
    data_root: str | None = None

    def __post_init__(self) -> None:
        from dalib.bench import hp_check

        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731  (frozen)
        self._check_dataset()
        set_("plugin", tuple(str(p) for p in _items(self.plugin)))
        self._load_plugins()
        set_("methods", self._methods())
        set_("seeds", self._seeds())
        set_("tasks", _names(self.tasks, "tasks"))
        if len(set(self.tasks)) != len(self.tasks):
            raise DalibError(f"--tasks {','.join(self.tasks)}: a task is listed twice; list each once")
        for name in ("workers", "threads"):
            value = coerce(getattr(self, name), int, _option(name))
            if value < 1:
                raise DalibError(f"{_option(name)} {value}: expected an integer ≥ 1")
            set_(name, value)
        self._check_choices()
        set_("epochs", coerce(self.epochs, int | None, "--epochs"))
        if self.epochs is not None and self.epochs < 1:
            raise DalibError(f"--epochs {self.epochs}: expected an integer ≥ 1")
        set_("weights", self._weights())
        set_("reweight_every", coerce(self.reweight_every, int, "--reweight-every"))
        if self.reweight_every < 0 or (self.reweight_every and not self.weights):
            raise DalibError(f"--reweight-every {self.reweight_every}: expected an integer ≥ 0, and > 0 only "
                             "together with --weights")
        set_("device", hp_check.check_device(str(self.device)))
        set_("vectorize", _vectorize(self.vectorize))
        for name in ("tensorboard", "progress", "target_only"):
            set_(name, coerce(getattr(self, name), bool, _option(name)))
        if not isinstance(self.out, (str, Path)) or not str(self.out).strip() or Path(self.out).is_file():
            raise DalibError(f"--out {self.out!r}: expected the path of a folder (it may not exist yet)")
        set_("out", str(self.out))
        set_("profile", hp_check.check_profile(self.profile))
        self.base_profile  # builds the dataset's profile with the overrides: a bad combination fails before any data loads
        hp = hp_check.check_hp(_items(self.hp), self)
        set_("hp", hp)
        set_("grid", hp_check.check_grid(_items(self.grid), self))
        hp_check.check_settings(self)

    def _check_dataset(self) -> None:
        from dalib.data.catalog import get_spec

        if not isinstance(self.dataset, str) or not self.dataset:
            raise DalibError(f"--dataset {self.dataset!r}: expected a dataset name; `dalib data list` shows them")
        try:
            spec = get_spec(self.dataset)
        except DalibError as err:
            raise DalibError(f"--dataset {self.dataset}: {err}") from None
        # a catalog name as is, a folder of your own by its absolute path (`path_spec`): records
        # then name it so that `dalib report` works from any directory
        object.__setattr__(self, "dataset", spec.name)
        if self.data_root is not None and not Path(self.data_root).is_dir():
            raise DalibError(f"--data-root {self.data_root}: no such folder; pass the folder holding the datasets "
                             "(or set DALIB_DATA)")

    def _load_plugins(self) -> None:
        from dalib.plugins import load_plugins

        for path in self.plugin:
            try:
                load_plugins([path])
            except DalibError as err:
                raise DalibError(f"--plugin {path}: {err}") from None
            except Exception as err:  # a user file: any import error becomes one line
                raise DalibError(f"--plugin {path}: importing it failed ({type(err).__name__}: {err})") from None

    def _methods(self) -> tuple[str, ...]:
        from dalib.bench.shallow_names import is_shallow, parse_shallow
        from dalib.methods import resolve_method

        methods = _names(self.methods, "methods")
        if not methods:
            raise DalibError("--methods: expected at least one method, e.g. --methods source_only,dann")
        if len(set(methods)) != len(methods):
            raise DalibError(f"--methods {','.join(methods)}: a method is listed twice; list each once")
        for m in methods:
            try:
                parse_shallow(m) if is_shallow(m) else resolve_method(m)
            except DalibError as err:
                raise DalibError(f"--methods {m}: {err}") from None
        return methods

    def _seeds(self) -> tuple[int, ...]:
        try:
            seeds = tuple(coerce(s, int, "--seeds") for s in _names(self.seeds, "seeds"))
        except DalibError:
            raise DalibError(f"--seeds {self.seeds}: expected a comma list of distinct integers ≥ 0, "
                             "e.g. --seeds 0,1,2") from None
        if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
            raise DalibError(f"--seeds {','.join(map(str, seeds))}: expected distinct integers ≥ 0, e.g. --seeds 0,1,2")
        return seeds

    def _check_choices(self) -> None:
        from dalib.bench.grid import BACKENDS
        from dalib.eval.selection import PROTOCOLS

        if self.select not in PROTOCOLS:
            raise DalibError(f"--select {self.select!r}: expected one of {', '.join(PROTOCOLS)}")
        if self.backend not in BACKENDS:
            raise DalibError(f"--backend {self.backend!r}: expected one of {', '.join(BACKENDS)}")
        if self.ray_address is not None and self.backend != "ray":
            raise DalibError("--ray-address: only with --backend ray; add --backend ray or drop --ray-address")

    def _weights(self) -> tuple[str, ...]:
        from dalib.bench.shallow_names import WEIGHTINGS  # the estimators' names, without scikit-learn

        weights = _names(self.weights, "weights")
        for w in weights:
            if w not in WEIGHTINGS:
                raise DalibError(f"--weights {w!r}: expected a comma list of {', '.join(WEIGHTINGS)}")
        if len(set(weights)) != len(weights):
            raise DalibError(f"--weights {','.join(weights)}: an estimator is listed twice; list each once")
        return weights

    @property
    def max_batch(self) -> int:
        """Runs per vectorised batch: ``--vectorize N``, or for ``auto`` 18 on the CPU (measured on
        Office-Caltech10 SURF: no gain beyond, and smaller batches balance two workers) and 128 on
        a GPU; 0 for ``off`` (every run alone)."""
        if self.vectorize == "off":
            return 0
        if self.vectorize == "auto":
            return 128 if self.device.startswith("cuda") else 18
        return int(self.vectorize)

    @property
    def run_methods(self) -> list[str]:
        """The methods that run: source-only first, the target-only reference last (if on)."""
        from dalib.methods import SOURCE_ONLY, TARGET_ONLY

        methods = [m for m in self.methods]
        if SOURCE_ONLY not in methods:
            methods.insert(0, SOURCE_ONLY)
        if self.target_only and TARGET_ONLY not in methods:
            methods.append(TARGET_ONLY)
        return methods

    def weightings(self, method: str) -> list[str]:
        """Each deep method runs unweighted and once per weight estimator; shallow ones once."""
        return [""] if method.startswith("shallow_") else ["", *self.weights]

    @property
    def base_profile(self) -> Any:
        """The dataset's `Profile` with ``profile`` / ``--profile`` and ``--epochs`` applied: the
        setting of every run of this bench, so not part of a row's label (``--hp profile.*``
        apply per run and label their rows)."""
        from dalib.bench.profiles import profile_for

        return profile_for(self.dataset).with_overrides(**dict(self.profile)).with_overrides(epochs=self.epochs)

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> "BenchConfig":
        """A config from option names (``data-root`` or ``data_root``) → values; unknown names are refused."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {str(k).replace("-", "_"): v for k, v in options.items()}
        unknown = sorted(set(values) - known)
        if unknown:
            raise DalibError(f"unknown bench option(s) {unknown}; use the names of `dalib bench --help` "
                             f"({', '.join(sorted(known))})")
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: Mapping[str, Any] | None = None) -> "BenchConfig":
        """A config from a YAML file of bench options, ``overrides`` (e.g. command-line flags) winning."""
        from dalib.yaml_file import read_mapping

        options = read_mapping(path, "config", "bench options, e.g. 'dataset: office-caltech10-surf'")
        return cls.from_mapping(merge_options(options, overrides or {}))

    @classmethod
    def from_cli(cls, args: Any) -> "BenchConfig":
        """A config from `dalib bench` arguments parsed with ``argument_default=SUPPRESS`` (given flags only)."""
        given = {k: v for k, v in vars(args).items() if k not in ("func", "command", "config")}
        config = getattr(args, "config", None)
        return cls.from_yaml(config, given) if config else cls.from_mapping(given)


def _vectorize(value: Any) -> str:
    """``--vectorize``: auto, off, or the most runs per batch (an integer ≥ 1), as text."""
    text = str(value).strip().lower()
    if text in ("auto", "off") or (text.isdigit() and int(text) >= 1):
        return text
    if value is False:
        return "off"
    raise DalibError(f"--vectorize {value!r}: expected auto, off, or the most runs trained as one model (an integer ≥ 1)")


def merge_options(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` (a YAML file) updated by ``overrides`` (command-line flags).

    A flag replaces the file's value, except ``hp`` / ``grid`` / ``plugin`` / ``profile`` items,
    which are added to the file's; an item naming the same ``TERM.NAME`` (profile field, plugin
    path) replaces it.
    """
    merged = {str(k).replace("-", "_"): v for k, v in base.items()}
    if isinstance(merged.get("profile"), Mapping):  # YAML ``profile: {trunk: frozen}`` → (field, value) items
        merged["profile"] = list(merged["profile"].items())
    for key, value in overrides.items():
        key = key.replace("-", "_")
        if key in LIST_KEYS and key in merged:
            new = _items(value)
            names = {_item_name(i) for i in new}
            merged[key] = [i for i in _items(merged[key]) if _item_name(i) not in names] + new
        else:
            merged[key] = value
    return merged
