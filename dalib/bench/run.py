"""One run: (dataset, task, method, seed, hyper-parameters) → a JSON-serialisable record."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import dalib
from dalib.bench.atomic import write_json_atomic  # noqa: F401  (re-exported for grid, finetune)
from dalib.bench.profiles import Profile
from dalib.bench.values import format_value
from dalib.bench.shallow_names import is_shallow
from dalib.bench.shallow_run import execute_shallow
from dalib.bench.trunk_run import prepare_trunk
from dalib.data.domain import Domain
from dalib.data.image_tensors import get_augmentation
from dalib.data.tasks import Task, partial_target, split_source, split_target
from dalib.eval.metrics import predict
from dalib.eval.transfer import proxy_a_distance
from dalib.methods import TARGET_ONLY, build_terms, resolve_method
from dalib.models import Classifier, build_backbone
from dalib.models.weight_files import weights_sha256
from dalib.reweighting import effective_sample_size, estimate_weights
from dalib.train.objective import Objective
from dalib.train.param_groups import backbone_lr_mults
from dalib.train.trainer import TrainConfig, Trainer, seed_everything


@dataclass(frozen=True)
class RunSpec:
    """What a run is; ``key`` names its record file.

    ``grid_axes`` names the ``TERM.NAME`` of ``hparams`` that come from a ``--grid`` (tables
    select over them per task); the others are one-off settings. Everything else that
    changes the numbers (dataset files, term defaults, plugin code, versions) is in the
    record's fingerprint (`dalib.bench.fingerprint`), which the results store compares.
    """

    dataset: str
    task: str
    method: str
    seed: int
    profile: Profile
    hparams: tuple[tuple[str, str, Any], ...] = ()
    device: str = "cpu"
    weights: str = ""
    reweight_every: int = 0
    grid_axes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The table row: the method, plus ``+w:<estimator>`` for instance-weighted runs."""
        if not self.weights:
            return self.method
        every = f"@{self.reweight_every}ep" if self.reweight_every else ""
        return f"{self.method}+w:{self.weights}{every}"

    @property
    def key(self) -> str:
        """``dataset/task/label[,TERM.NAME=V…][,grid:TERM.NAME=V…]/seedN``; a folder dataset
        of your own counts by its last path part."""
        hp = "".join(f",{'grid:' if f'{t}.{k}' in self.grid_axes else ''}{t}.{k}={format_value(v)}"
                     for t, k, v in self.hparams)
        return f"{Path(self.dataset).name}/{self.task}/{self.label}{hp}/seed{self.seed}"

    def overrides(self) -> dict[str, dict[str, Any]]:
        """Hyper-parameter overrides grouped by term name."""
        out: dict[str, dict[str, Any]] = {}
        for term, name, value in self.hparams:
            out.setdefault(term, {})[name] = value
        return out


@dataclass
class RunOptions:
    """Execution settings that do not change a run's numbers' identity."""

    log_root: str | None = None
    progress_bar: bool = False
    threads: int = 1


def execute(spec: RunSpec, task: Task, options: RunOptions,
            keep_model: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train one run and return its record (config, per-epoch history, wall time).

    Torch and the BLAS libraries behind numpy / scikit-learn use ``options.threads`` threads,
    so parallel workers do not oversubscribe the cores. ``keep_model``, when given, receives
    the trained model under ``"model"`` and the task it was trained on under ``"task"`` (with a
    cached trunk, the task of cached views the model reads)."""
    torch.set_num_threads(options.threads)
    with threadpool_limits(limits=options.threads):
        return _execute(spec, task, options, keep_model)


def _execute(spec: RunSpec, task: Task, options: RunOptions,
             keep_model: dict[str, Any] | None) -> dict[str, Any]:
    header = {"key": spec.key, "dataset": spec.dataset, "task": spec.task, "task_name": task.name,
              "source": task.source.name, "target": task.target.name, "method": spec.label,
              "seed": spec.seed, "hparams": [list(h) for h in spec.hparams], "dalib_version": dalib.__version__,
              "spec": {"method": spec.method, "weights": spec.weights, "reweight_every": spec.reweight_every}}
    seed_everything(spec.seed)
    prof = spec.profile.with_overrides(**spec.overrides().get("profile", {}))
    task, prof, backbone = prepare_trunk(prof, task, is_shallow(spec.method), spec.device)  # Profile.trunk
    task = partial_target(task, prof.target_classes)
    labelled, heldout = split_target(task.target, spec.seed)
    if is_shallow(spec.method):
        return {**header, **execute_shallow(spec.method, task, spec.seed, spec.overrides().get("shallow", {}),
                                            heldout)}
    if spec.method == TARGET_ONLY:  # reference line: labelled target half → held-out target half
        source_train, source_val = split_source(task.target.subset(labelled, ":labelled"), spec.seed)
        target, heldout = task.target.subset(heldout, ":heldout"), np.arange(len(heldout))
    else:
        source_train, source_val = split_source(task.source, spec.seed)
        target = task.target
    model = build_model(prof, source_train, task.source.num_classes, backbone)
    term_hparams = {k: v for k, v in spec.overrides().items() if k not in ("profile", "weights")}
    terms = build_terms(resolve_method(spec.method), model.feature_dim, model.num_classes, term_hparams, model)
    log_dir = str(Path(options.log_root) / spec.key) if options.log_root else None
    config = TrainConfig(epochs=prof.epochs, iters_per_epoch=prof.iters_per_epoch, batch_size=prof.batch_size, lr=prof.lr,
                         lr_alpha=prof.lr_alpha, lr_beta=prof.lr_beta,
                         weight_decay=prof.weight_decay, optimizer=prof.optimizer, seed=spec.seed,
                         device=spec.device, log_dir=log_dir, progress_bar=options.progress_bar,
                         lr_mults=backbone_lr_mults(prof.applied_backbone_lr_mult))
    trainer = Trainer(model, Objective(terms), config, augment=get_augmentation(prof.augment))
    weights, reweigher, ess = None, None, None
    if spec.weights:
        reweigher = partial(estimate_weights, spec.weights, **spec.overrides().get("weights", {}))
        f_s, f_t = _weighting_inputs(model, source_train, target)
        w = reweigher(f_s, f_t)
        weights, ess = torch.as_tensor(w), effective_sample_size(w) / len(w)
    history = trainer.fit(source_train, source_val, target, weights, reweigher, spec.reweight_every,
                          torch.as_tensor(heldout))
    if keep_model is not None:
        keep_model["model"], keep_model["task"] = model, task
    return {**header, "profile": asdict(prof), "n_source_train": len(source_train),
            "n_source_val": len(source_val), "n_target": len(target), "log_dir": log_dir,
            "weights": spec.weights or None, "ess_fraction": ess,
            "weights_sha256": weights_sha256(prof.backbone, prof.weights),
            **domain_distances(model, source_train, target), **history.to_dict()}


def build_model(prof: Profile, domain: Domain, num_classes: int,
                backbone: torch.nn.Module | None = None) -> Classifier:
    """``backbone`` (else the profile's, from its weights file if any) under a bottleneck and head."""
    if backbone is None:
        in_dim = int(torch.as_tensor(domain.dataset[0][0]).numel())
        kwargs: dict[str, Any] = {"hidden": prof.hidden, "dropout": prof.dropout} if prof.backbone == "mlp" else {}
        backbone = build_backbone(prof.backbone, in_dim, weights=prof.weights or None, **kwargs)
    return Classifier(backbone, num_classes, prof.bottleneck_dim)


def spec_of(record: dict[str, Any], device: str = "cpu") -> RunSpec:
    """The `RunSpec` that produced a stored record (to re-execute it deterministically)."""
    prof = dict(record["profile"])
    prof["hidden"] = tuple(prof["hidden"])
    return RunSpec(record["dataset"], record["task"], record["spec"]["method"], record["seed"],
                   Profile(**prof), tuple(tuple(h) for h in record["hparams"]), device,
                   record["spec"]["weights"], record["spec"]["reweight_every"], tuple(record.get("grid", ())))


def train_model(spec: RunSpec, task: Task) -> tuple[torch.nn.Module, dict[str, Any], Task]:
    """Re-execute a deep run: its trained model, the fresh record and the task the model reads
    (``task`` itself, or its cached-trunk views when the profile has a trunk)."""
    holder: dict[str, Any] = {}
    record = execute(spec, task, RunOptions(), keep_model=holder)
    return holder["model"], record, holder["task"]


def domain_distances(model: torch.nn.Module, source: Domain, target: Domain) -> dict[str, float | None]:
    """Proxy A-distance between source and target: on the inputs (in-memory data only) and
    on the trained model's bottleneck features."""
    ts, tt = source.tensors, target.tensors
    before = None
    if ts is not None and tt is not None and ts[0].is_floating_point():  # not on token ids
        before = proxy_a_distance(ts[0].flatten(1).double().numpy(), tt[0].flatten(1).double().numpy())
    after = proxy_a_distance(predict(model, source).features.double().numpy(),
                             predict(model, target).features.double().numpy())
    return {"pad_input": before, "pad_adapted": after}


def _weighting_inputs(model: torch.nn.Module, source: Domain, target: Domain) -> tuple[np.ndarray, np.ndarray]:
    """Inputs of the first weight estimate: the raw features of in-memory domains, else the
    untrained model's bottleneck features."""
    ts, tt = source.tensors, target.tensors
    if ts is not None and tt is not None:
        return ts[0].flatten(1).double().numpy(), tt[0].flatten(1).double().numpy()
    return predict(model, source).features.double().numpy(), predict(model, target).features.double().numpy()
