"""`dalib finetune EXPERIMENT.yaml`: the model-based transfer experiment (see `experiment`).

Before anything trains, `check_experiment` checks the file: known stage and option names,
typed values (`dalib.bench.values.coerce`), known dataset, backbone, strategies, methods and
multi-task settings; the command-line options are checked too. A bad one is a one-line
`DalibError` naming the option and the accepted form.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from pathlib import Path
from typing import Any

from dalib.bench.values import coerce
from dalib.errors import DalibError
from dalib.yaml_file import read_mapping

_TOP = {"dataset", "image_size", "backbone", "out", "pretrain", "kshot", "adaptation", "multitask", "trunk", "views",
        "weights"}
_TRAIN = {"epochs": int, "iters_per_epoch": int, "batch_size": int, "lr": float, "lr_alpha": float, "lr_beta": float,
          "weight_decay": float, "optimizer": str, "augment": str}
_SECTIONS: dict[str, dict[str, Any]] = {
    "pretrain": {**_TRAIN, "domains": list[str], "seed": int},
    "adaptation": {"task": str, "methods": list[str], "seeds": list[int], "profile": dict},
    "multitask": {**_TRAIN, "dataset": str, "backbone": str, "settings": list[str], "seeds": list[int]},
}


def _kshot_keys() -> dict[str, Any]:
    from dalib.finetune.fewshot import FewShotConfig

    hints = typing.get_type_hints(FewShotConfig)
    return {**{f.name: hints[f.name] for f in dataclasses.fields(FewShotConfig)},
            "domain": str, "seeds": list[int], "strategies": list[str]}


def _section(cfg: dict[str, Any], name: str, keys: dict[str, Any], path: str) -> dict[str, Any]:
    """The stage ``name`` with every value coerced to its declared type; unknown keys refused."""
    section = cfg.get(name, {})
    if not isinstance(section, dict):
        raise DalibError(f"{path}: {name} must be a mapping of options, e.g. {name}: {{epochs: 8}}")
    unknown = sorted(set(section) - set(keys))
    if unknown:
        raise DalibError(f"{path}: {name} has unknown option(s) {unknown}; use {', '.join(sorted(keys))}")
    for k, v in section.items():
        if keys[k] is dict and not isinstance(v, dict):
            raise DalibError(f"{path}: {name}.{k} must be a mapping, e.g. {k}: {{epochs: 8}}")
    return {k: v if keys[k] is dict else coerce(v, keys[k], f"{path}: {name}.{k}") for k, v in section.items()}


def check_experiment(cfg: dict[str, Any], path: str) -> None:
    """Check an experiment mapping (see `dalib.finetune.experiment`); raise one line on the first problem."""
    from dalib.bench.profiles import Profile
    from dalib.data.catalog import get_spec
    from dalib.finetune.multitask_run import MULTITASK_SETTINGS
    from dalib.finetune.strategies import STRATEGIES
    from dalib.methods import resolve_method
    from dalib.models.backbones import BACKBONES

    unknown = sorted(set(cfg) - _TOP)
    if unknown:
        raise DalibError(f"{path}: unknown key(s) {unknown}; an experiment has {', '.join(sorted(_TOP))}")
    for key in ("dataset", "backbone", "kshot"):
        if key not in cfg:
            raise DalibError(f"{path}: the experiment lacks {key!r}; see experiments/finetune_office_caltech10_images.yaml")
    for key, hint in (("image_size", int), ("views", int), ("trunk", str), ("out", str), ("weights", str)):
        if key in cfg:
            coerce(cfg[key], hint, f"{path}: {key}")
    get_spec(str(cfg["dataset"]))
    kshot = _section(cfg, "kshot", _kshot_keys(), path)
    _, adapt, multi = (_section(cfg, name, keys, path) for name, keys in _SECTIONS.items())
    for backbone, where in ((cfg["backbone"], "backbone"), (multi.get("backbone"), "multitask.backbone")):
        if backbone is not None and backbone not in BACKBONES:
            raise DalibError(f"{path}: {where} {backbone!r}: expected one of {', '.join(BACKBONES)}")
    if "dataset" in multi:
        get_spec(multi["dataset"])
    for name, value, known in (("kshot.strategies", kshot.get("strategies", []), STRATEGIES),
                               ("multitask.settings", multi.get("settings", []), MULTITASK_SETTINGS)):
        bad = [v for v in value if v not in known]
        if bad:
            raise DalibError(f"{path}: {name} {bad}: expected names from {', '.join(known)}")
    for method in adapt.get("methods", []):
        resolve_method(method)
    fields = {f.name for f in dataclasses.fields(Profile)}
    bad_fields = sorted(set(adapt.get("profile", {})) - fields)
    if bad_fields:
        raise DalibError(f"{path}: adaptation.profile has unknown field(s) {bad_fields}; use {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(Profile)
    for key, value in adapt.get("profile", {}).items():
        coerce(value, hints[key], f"{path}: adaptation.profile.{key}")
    for name, seeds in (("kshot", kshot.get("seeds", [])), ("adaptation", adapt.get("seeds", [])),
                        ("multitask", multi.get("seeds", []))):
        if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
            raise DalibError(f"{path}: {name}.seeds {seeds}: expected distinct integers ≥ 0")


def cmd_finetune(args: argparse.Namespace) -> None:
    """Check the options and the experiment file, then run (or resume) the experiment."""
    from dalib.data.root import find_data_root
    from dalib.finetune.experiment import run_experiment

    from dalib.models.weight_files import weights_file

    cfg = read_mapping(args.experiment, "experiment", "stages: dataset, backbone, pretrain and kshot sections")
    given = args.weights or cfg.get("weights")  # "imagenet": the backbone's packaged file
    weights = weights_file(str(cfg.get("backbone", "")), given) if given else None
    if weights is not None and not weights.is_file():
        raise DalibError(f"--weights {given}: weights file not found; pass a local state-dict file (never downloaded)")
    if args.data_root and not Path(args.data_root).is_dir():
        raise DalibError(f"--data-root {args.data_root}: no such folder; pass the folder holding the datasets")
    out = Path(args.out or cfg.get("out", "runs/finetune"))
    if out.is_file():
        raise DalibError(f"--out {out}: is a file; pass a folder")
    check_experiment(cfg, args.experiment)
    if "pretrain" not in cfg and weights is None:
        raise DalibError(f"{args.experiment}: no pretrain section and no weights (--weights or weights:); add one")
    print(run_experiment(cfg, out, find_data_root(args.data_root), weights=weights), end="")
    print(f"report written to {out / 'report.md'}")
