"""A run's fingerprint: the sha256 of everything that changes its numbers.

A run's key (`RunSpec.key`) says which run it is (dataset, task, method, one-off and grid
hyper-parameters, seed); its *setting* (`run_setting`) says what produced the numbers:

* ``dataset``: the catalog entry (files with their sha256, preprocessing, label offset …),
  or for a folder / file outside the catalog the sha256 of every file;
* ``profile``: every `Profile` field after ``--epochs`` and ``--hp profile.*``, with a
  weights file (or the packaged file ``imagenet`` resolves to, or the bundled MiniLM
  model.safetensors of a ``minilm`` backbone) replaced by its sha256, and ``precision``
  left out when it is the default ``fp32`` (so folders written before the field existed
  keep their fingerprint);
* ``terms``: per term of the method, λ, its schedule and every constructor parameter after
  the registry's defaults and the overrides;
* ``plugins``: the sha256 of each file outside dalib that defines one of those terms;
* ``instance_weights``: the weight estimator, its parameters and the re-estimation period;
* ``versions`` (dalib, torch; scikit-learn for shallow runs) and ``device``;
* ``execution``: ``"vectorized"`` for a run trained in a vectorised batch (`dalib.bench.vector_run`;
  its numbers equal the single run's up to float rounding), absent for a single run.

Shallow runs have ``shallow`` (method and adapter parameters), ``input_trunk`` (the profile
fields that make cached-trunk features, None without a trunk) and ``target_classes`` (the
partial-set protocol's profile field) instead of profile, terms,
plugins, weights and device. The fingerprint is the sha256 of the setting as canonical JSON
(sorted keys, no spaces). The results store keeps both with each record and refuses to reuse
a record whose fingerprint differs (see `dalib.bench.grid.run_grid`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dalib
from dalib.bench.hparams import constructor_params, estimator_class, shallow_adapter_class, term_params
from dalib.errors import DalibError

if TYPE_CHECKING:
    from dalib.bench.spec import RunSpec

_DALIB_DIR = Path(dalib.__file__).resolve().parent


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file (cached per path, size and modification time)."""
    from dalib.data.verify import sha256_cached

    try:
        return sha256_cached(path)
    except OSError:
        raise DalibError(f"cannot read {path} to fingerprint it; check that the file exists") from None


def dataset_identity(dataset: str) -> dict[str, Any]:
    """The catalog entry of ``dataset`` (without its free-text note), or, for a path outside
    the catalog, the sha256 of each of its files (relative names)."""
    from dalib.data.catalog import CATALOG

    if dataset in CATALOG:
        entry = dataclasses.asdict(CATALOG[dataset])
        entry.pop("note", None)
        return {"catalog": entry}
    path = Path(dataset)
    if path.is_file():
        return {"files": {path.name: sha256_file(path)}}
    if path.is_dir():
        return {"files": {str(f.relative_to(path)): sha256_file(f) for f in sorted(path.rglob("*")) if f.is_file()}}
    raise DalibError(f"dataset {dataset!r} is neither a catalog name nor a file or folder; `dalib data list` shows names")


def _versions(*packages: str) -> dict[str, str]:
    from importlib.metadata import version

    return {"dalib": dalib.__version__, **{p: version(p) for p in packages}}


def plugin_file(cls: type) -> str | None:
    """The source file of ``cls`` when it lies outside the dalib package (a plugin)."""
    source = inspect.getsourcefile(cls)
    if source is None:
        return None
    path = Path(source).resolve()
    return None if _DALIB_DIR in path.parents else str(path)


def _params(params: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    return {name: overrides.get(name, p.default) for name, p in params.items()}


def weights_identity(profile: dict[str, Any]) -> Any:
    """A profile's ``weights`` as its fingerprint holds them: ``sha256:…`` of the file a run starts
    from (a local file, the packaged file ``imagenet`` resolves to, `weight_files.weights_file`, or
    the bundled MiniLM model.safetensors of a ``minilm`` backbone); unchanged for a random init."""
    if profile.get("weights") or profile.get("backbone") == "minilm":
        from dalib.models.weight_files import weights_sha256

        return f"sha256:{weights_sha256(profile['backbone'], profile['weights'])}"
    return profile.get("weights")


#: Profile fields left out of a setting when they hold this default (added after folders existed).
OMITTED_AT_DEFAULT = {"precision": "fp32"}


def with_omitted_defaults(setting: dict[str, Any]) -> dict[str, Any]:
    """``setting`` with its profile's `OMITTED_AT_DEFAULT` fields filled in, for messages that
    compare two settings (``precision`` is ``"fp32"`` there, not absent)."""
    if not isinstance(setting.get("profile"), dict):
        return setting
    return {**setting, "profile": {**OMITTED_AT_DEFAULT, **setting["profile"]}}


def run_setting(spec: RunSpec, dataset: dict[str, Any]) -> dict[str, Any]:
    """The components of ``spec``'s fingerprint (see the module docstring); ``dataset`` is
    `dataset_identity` of ``spec.dataset``, computed once per grid."""
    from dalib.methods import resolve_method

    overrides = spec.overrides()
    profile = dataclasses.asdict(spec.profile.with_overrides(**overrides.get("profile", {})))
    profile["weights"] = weights_identity(profile)
    for name, default in OMITTED_AT_DEFAULT.items():  # folders written before the field keep their fingerprint
        if profile[name] == default:
            del profile[name]
    if spec.method.startswith("shallow_"):
        adapter = constructor_params(shallow_adapter_class(spec.method))
        # a cached trunk's features are the shallow method's input, so the profile that makes them counts
        trunk = {k: profile[k] for k in ("backbone", "weights", "trunk", "image_size", "views")} if profile["trunk"] else None
        return {"dataset": dataset, "versions": _versions("torch", "scikit-learn"), "input_trunk": trunk,
                "target_classes": profile["target_classes"],
                "shallow": {"method": spec.method, "params": _params(adapter, overrides.get("shallow", {}))}}
    terms, plugins = {}, {}
    for entry in resolve_method(spec.method).entries:
        terms[entry.name] = {"class": f"{entry.cls.__module__}.{entry.cls.__qualname__}", "schedule": entry.schedule,
                             **_params(term_params(entry.name), overrides.get(entry.name, {}))}
        plugin = plugin_file(entry.cls)
        if plugin is not None:
            plugins[Path(plugin).name] = sha256_file(plugin)
    weights = None
    if spec.weights:
        estimator = constructor_params(estimator_class(spec.weights))
        weights = {"estimator": spec.weights, "reweight_every": spec.reweight_every,
                   "params": _params(estimator, overrides.get("weights", {}))}
    setting = {"dataset": dataset, "versions": _versions("torch"), "device": spec.device, "profile": profile,
               "terms": terms, "plugins": plugins, "instance_weights": weights}
    if spec.vectorized:  # another sequence of float operations than the single run's
        setting["execution"] = "vectorized"
    return setting


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces; tuples as lists, other objects by ``repr``."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)


def fingerprint(setting: dict[str, Any]) -> str:
    """The hex sha256 of ``setting`` as canonical JSON."""
    return hashlib.sha256(canonical_json(setting).encode("utf-8")).hexdigest()
