"""The model-based transfer experiment behind `dalib finetune --config FILE`.

One YAML file names four stages; each finished run is stored as JSON under ``out`` and
skipped when the command is run again (a killed experiment resumes):

1. ``pretrain``: supervised training of the backbone on the pooled source domains; the
   backbone's weights are saved to ``out/pretrained-<backbone>.pt``.
2. ``kshot``: k labelled images per class of the target domain; every strategy of
   `dalib.finetune.strategies` (scratch, feature extraction, full, layer-wise, gradual,
   L2-SP, BSS) is trained from those weights and tested on the rest of the domain.
3. ``adaptation``: unsupervised domain adaptation (e.g. DANN A→W) through the bench harness,
   starting from the same weights.
4. ``multitask`` (optional): class + domain heads on one backbone (`multitask_run`).

Every number is read at the last epoch: no target label selects anything.

An optional top-level ``trunk:`` (``frozen``, ``top:N``, ``full``; `dalib.models.trunk`), with
``views:`` (default 10), runs stages 2 and 3 on a cached trunk of the images at ``image_size``
(default: the backbone's own resolution): the frozen part of the backbone runs once per cached
view, only the rest trains.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from dalib.bench.profiles import profile_for
from dalib.bench.run import RunOptions, RunSpec, execute, write_json_atomic
from dalib.data.catalog import load_dataset
from dalib.data.tasks import select_tasks
from dalib.errors import DalibError
from dalib.finetune.fewshot import FewShotConfig, pretrain, run_kshot
from dalib.finetune.multitask_run import run_multitask
from dalib.finetune.strategies import get_strategy
from dalib.models.trunk import validate_trunk
from dalib.train.trainer import TrainConfig

Say = Callable[[str], None]


#: keys of a stage section that choose which runs exist, not what a run computes
_LIST_KEYS = ("seeds", "strategies", "methods", "settings")


def stage_setting(cfg: dict[str, Any], stage: str, weights: Path | None) -> dict[str, Any]:
    """What changes the numbers of a stage's runs: the dataset (catalog entry or file checksums),
    image size, backbone, trunk and views, the sha256 of the starting weights, the stage's own
    section (less the lists of seeds / strategies / methods / settings), dalib and torch versions."""
    import torch

    import dalib
    from dalib.bench.fingerprint import dataset_identity, sha256_file

    section = {k: v for k, v in dict(cfg.get(stage, {})).items() if k not in _LIST_KEYS}
    common = {k: cfg.get(k) for k in ("dataset", "image_size", "backbone", "trunk", "views")}
    dataset = cfg["multitask"]["dataset"] if stage == "multitask" else cfg["dataset"]
    return {**common, "stage": stage, "section": section, "dataset": dataset_identity(dataset),
            "weights_sha256": sha256_file(weights) if weights is not None and Path(weights).is_file() else None,
            "versions": {"dalib": dalib.__version__, "torch": torch.__version__}}


def _stored(path: Path, run: Callable[[], dict[str, Any]], say: Say, setting: dict[str, Any]) -> dict[str, Any]:
    """The record at ``path`` if a previous run with the same fingerprint finished it, else run
    and store it with its fingerprint. A stored record of another setting stops the experiment
    with one line (one setting per output folder, as in `dalib bench`)."""
    from dalib.bench.fingerprint import fingerprint

    fp = fingerprint(setting)
    if path.is_file():
        stored = json.loads(path.read_text())
        if stored.get("fingerprint") != fp:
            raise DalibError(f"{path} was made with another setting (stage {setting['stage']!r}: dataset, weights, "
                             "its section or versions differ); use another out folder or delete that file")
        say(f"  done before: {path.name}")
        return stored
    record = {**run(), "setting": setting, "fingerprint": fp}
    write_json_atomic(path, record)
    say(f"  {path.stem}: {record.get('seconds', 0):.0f} s")
    return record


def _mean_std(values: list[float]) -> str:
    a = 100 * np.asarray(values)
    return f"{a.mean():.1f} ± {a.std(ddof=1) if len(a) > 1 else 0.0:.1f}"


def _train_config(section: dict[str, Any], seed: int) -> TrainConfig:
    keys = ("epochs", "iters_per_epoch", "batch_size", "lr", "lr_alpha", "lr_beta", "weight_decay", "optimizer")
    return TrainConfig(seed=seed, selection_scores=False, **{k: section[k] for k in keys if k in section})


def run_experiment(cfg: dict[str, Any], out: Path, data_root: Path | None, say: Say = print,
                   weights: Path | None = None) -> str:
    """Run (or resume) every stage of ``cfg``; write and return the markdown report.

    With ``weights`` (a local state-dict file, e.g. torchvision's ImageNet ResNet-18) the
    ``pretrain`` stage is skipped and every later stage starts from that file."""
    for key in ("dataset", "backbone", "kshot", *(() if weights else ("pretrain",))):
        if key not in cfg:
            raise DalibError(f"fine-tuning config lacks {key!r}; see experiments/finetune_office_caltech10_images.yaml")
    start, out = time.perf_counter(), Path(out)
    size = int(cfg.get("image_size", 64))
    domains = {d.name: d for d in load_dataset(cfg["dataset"], data_root, image_size=size)}
    backbone = cfg["backbone"]
    if weights is not None:
        if not Path(weights).is_file():
            raise DalibError(f"weights file not found: {weights}; dalib never downloads weights (see README)")
        pre: dict[str, Any] = {"weights": str(weights)}
    else:
        weights = out / f"pretrained-{backbone}.pt"
        pre = _pretrain(cfg, domains, weights, out, say)
    ks = cfg["kshot"]
    cut = validate_trunk(cfg.get("trunk", ""))
    trunk = ({"trunk": cut, "image_size": int(cfg.get("image_size", 0)), "views": int(cfg.get("views", 10))}
             if cut else {})
    fs = FewShotConfig(**{**trunk, **{k: ks[k] for k in FewShotConfig.__dataclass_fields__ if k in ks}})
    target = domains[ks["domain"]]
    say(f"{fs.k}-shot fine-tuning on {target.name}" + (f" (trunk {fs.trunk})" if fs.trunk else ""))
    tag = f"-{fs.trunk.replace(':', '')}" if fs.trunk else ""  # another trunk never reuses stored runs
    setting = stage_setting(cfg, "kshot", weights)
    kshot = {name: [_stored(out / "kshot" / f"{name}{tag}-seed{seed}.json",
                            lambda: run_kshot(get_strategy(name), backbone, weights, target, seed, fs), say, setting)
                    for seed in ks.get("seeds", [0])] for name in ks["strategies"]}
    adapt: dict[str, list[dict[str, Any]]] = {}
    if "adaptation" in cfg:
        ad = cfg["adaptation"]
        task = select_tasks(list(domains.values()), [ad["task"]])[0]
        prof = profile_for(cfg["dataset"]).with_overrides(**{"backbone": backbone, "weights": str(weights), **trunk,
                                                             **ad.get("profile", {})})
        say(f"adaptation {task.name} from the same weights" + (f" (trunk {prof.trunk})" if prof.trunk else ""))
        tag = f"-{prof.trunk.replace(':', '')}" if prof.trunk else ""
        setting = stage_setting(cfg, "adaptation", weights)
        for method in ad["methods"]:
            adapt[method] = [_stored(out / "adapt" / f"{method}{tag}-seed{seed}.json", lambda: execute(
                RunSpec(cfg["dataset"], task.ascii_name, method, seed, prof), task, RunOptions(threads=2)), say,
                setting) for seed in ad.get("seeds", [0])]
    multi: dict[str, list[dict[str, Any]]] = {}
    if "multitask" in cfg:
        mt = cfg["multitask"]
        mt_domains = load_dataset(mt["dataset"], data_root, image_size=size)
        say(f"multi-task class + domain on {mt['dataset']}")
        mt_setting = stage_setting(cfg, "multitask", None)
        for setting in mt["settings"]:
            multi[setting] = [_stored(out / "multitask" / f"{setting}-seed{seed}.json", lambda: run_multitask(
                mt_domains, mt["backbone"], setting, seed, _train_config(mt, seed), augment=mt.get("augment", "")), say,
                mt_setting) for seed in mt.get("seeds", [0])]
    report = format_report(cfg, pre, kshot, adapt, multi, time.perf_counter() - start)
    (out / "report.md").write_text(report)
    return report


def _pretrain(cfg: dict[str, Any], domains: dict[str, Any], weights: Path, out: Path, say: Say) -> dict[str, Any]:
    """Stage 1 (stored in out/pretrain.json): pre-train and save the backbone to ``weights``."""
    pre_cfg, seed = cfg["pretrain"], int(cfg["pretrain"].get("seed", 0))
    say(f"pretraining {cfg['backbone']} on {'+'.join(pre_cfg['domains'])} ({cfg.get('image_size', 64)} px)")
    record = _stored(out / "pretrain.json", lambda: pretrain(
        [domains[n] for n in pre_cfg["domains"]], cfg["backbone"], weights, seed, _train_config(pre_cfg, seed),
        pre_cfg.get("augment", "flip_crop")), say, stage_setting(cfg, "pretrain", None))
    if not weights.is_file():
        raise DalibError(f"{out / 'pretrain.json'} exists but {weights} is missing; delete the json to pretrain again")
    return record


def format_report(cfg: dict[str, Any], pre: dict[str, Any], kshot: dict[str, list[dict[str, Any]]],
                  adapt: dict[str, list[dict[str, Any]]], multi: dict[str, list[dict[str, Any]]],
                  wall: float) -> str:
    """Markdown tables of the four stages (accuracy in %, mean ± std over seeds)."""
    ks = cfg["kshot"]
    first = next(iter(kshot.values()))[0]
    start = (f"Starting weights: {pre['weights']} (given, no pre-training)." if "domains" not in pre else
             f"Pre-training on {' + '.join(pre['domains'])}: source-val accuracy {100 * pre['source_val_acc']:.1f}% "
             f"after {pre['epochs'][-1]['step']} steps, {pre['seconds']:.0f} s.")
    if cfg.get("trunk"):  # the cached trunk runs at image_size, 0 = the backbone's own resolution
        size = f"trunk {cfg['trunk']} at {cfg.get('image_size') or 'the backbone’s own'} px"
    else:
        size = f"{cfg.get('image_size', 64)} px"
    lines = [f"# Model-based transfer on {cfg['dataset']} ({size}, {cfg['backbone']})", "",
             start, "",
             f"## {first['k']}-shot fine-tuning on {ks['domain']} ({first['n_train']} labelled images, "
             f"tested on the other {first['n_test']}; last epoch, no selection)", "",
             "| strategy | test accuracy (%) | seeds | s / run |", "|---|---|---|---|"]
    for name, recs in kshot.items():
        lines.append(f"| {name} | {_mean_std([r['test_acc'] for r in recs])} | {len(recs)} | "
                     f"{np.mean([r['seconds'] for r in recs]):.0f} |")
    if adapt:
        task = next(iter(adapt.values()))[0]["task_name"]
        lines += ["", f"## Unsupervised adaptation {task} from the pre-trained weights "
                  "(all target images, no target labels; last epoch)", "",
                  "| method | target accuracy (%) | seeds | s / run |", "|---|---|---|---|"]
        for method, recs in adapt.items():
            lines.append(f"| {method} | {_mean_std([r['epochs'][-1]['target_acc'] for r in recs])} | {len(recs)} | "
                         f"{np.mean([r['seconds'] for r in recs]):.0f} |")
    if multi:
        lines += ["", f"## Multi-task: class + domain heads on {cfg['multitask']['dataset']} "
                  "(source-val split of the pooled domains; last epoch)", "",
                  "| setting | class accuracy (%) | domain accuracy (%) | final task weights | s / run |",
                  "|---|---|---|---|---|"]
        for setting, recs in multi.items():
            dom = _mean_std([r["val_acc"]["domain"] for r in recs]) if "domain" in recs[0]["val_acc"] else "–"
            w = ", ".join(f"{k} {np.mean([r['task_weights'][k] for r in recs]):.2f}" for k in recs[0]["task_weights"])
            lines.append(f"| {setting} | {_mean_std([r['val_acc']['class'] for r in recs])} | {dom} | {w} | "
                         f"{np.mean([r['seconds'] for r in recs]):.0f} |")
    lines += ["", f"Wall time of this invocation: {wall / 60:.1f} min (runs stored earlier are not re-run)."]
    return "\n".join(lines) + "\n"
