"""One run: (dataset, task, method, seed, hyper-parameters) → a JSON-serialisable record."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import dalib
from dalib.bench.atomic import write_json_atomic  # noqa: F401  (re-exported for grid, finetune)
from dalib.bench.environment import run_environment
from dalib.bench.profiles import Profile
from dalib.bench.spec import RunOptions, RunSpec  # noqa: F401  (re-exported: the API of a run)
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
from dalib.train.trainer import History, TrainConfig, Trainer, seed_everything


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


@dataclass
class PreparedRun:
    """A deep run built and ready to train: what `_execute` hands the trainer, and what the
    record needs afterwards. ``dropout_state`` is torch's global RNG state right after the model
    and terms were built (where the run's dropout draws begin; `dalib.train.vectorized`)."""

    spec: RunSpec
    header: dict[str, Any]
    profile: Profile
    task: Task
    source_train: Domain
    source_val: Domain
    target: Domain
    heldout: np.ndarray
    model: Classifier
    objective: Objective
    config: TrainConfig
    augment: Any
    dropout_state: torch.Tensor
    log_dir: str | None


def _header(spec: RunSpec, task: Task) -> dict[str, Any]:
    return {"key": spec.key, "dataset": spec.dataset, "task": spec.task, "task_name": task.name,
            "source": task.source.name, "target": task.target.name, "method": spec.label,
            "seed": spec.seed, "hparams": [list(h) for h in spec.hparams], "dalib_version": dalib.__version__,
            "spec": {"method": spec.method, "weights": spec.weights, "reweight_every": spec.reweight_every,
                     "vectorized": spec.vectorized}, "environment": run_environment(spec.device)}


def prepare_run(spec: RunSpec, task: Task, options: RunOptions) -> PreparedRun | dict[str, Any]:
    """Seed, split the data and build the model, terms and training settings of ``spec`` (a
    shallow run is executed here and its record returned instead)."""
    header = _header(spec, task)
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
    dropout_state = torch.get_rng_state()
    log_dir = str(Path(options.log_root) / spec.key) if options.log_root else None
    config = TrainConfig(epochs=prof.epochs, iters_per_epoch=prof.iters_per_epoch, batch_size=prof.batch_size, lr=prof.lr,
                         lr_alpha=prof.lr_alpha, lr_beta=prof.lr_beta,
                         weight_decay=prof.weight_decay, optimizer=prof.optimizer, seed=spec.seed,
                         device=spec.device, log_dir=log_dir, progress_bar=options.progress_bar,
                         lr_mults=backbone_lr_mults(prof.applied_backbone_lr_mult), precision=prof.precision)
    return PreparedRun(spec, header, prof, task, source_train, source_val, target, heldout, model, Objective(terms),
                       config, get_augmentation(prof.augment), dropout_state, log_dir)


def finish_run(run: PreparedRun, history: History, ess: float | None = None) -> dict[str, Any]:
    """The record of a trained run: its settings, per-epoch history and domain distances."""
    prof = run.profile
    return {**run.header, "profile": asdict(prof), "n_source_train": len(run.source_train),
            "n_source_val": len(run.source_val), "n_target": len(run.target), "log_dir": run.log_dir,
            "weights": run.spec.weights or None, "ess_fraction": ess,
            "weights_sha256": weights_sha256(prof.backbone, prof.weights),
            **domain_distances(run.model, run.source_train, run.target), **history.to_dict()}


def train_single(spec: RunSpec, task: Task, options: RunOptions) -> tuple[PreparedRun | dict[str, Any], History | None, float | None]:
    """Prepare and train one deep run alone: the `PreparedRun` (its model and objective trained),
    its history and the effective sample size fraction of its instance weights (None without
    weights). A shallow run comes back as its finished record, with no history."""
    run = prepare_run(spec, task, options)
    if not isinstance(run, PreparedRun):
        return run, None, None
    trainer = Trainer(run.model, run.objective, run.config, augment=run.augment)
    weights, reweigher, ess = None, None, None
    if spec.weights:
        reweigher = partial(estimate_weights, spec.weights, **spec.overrides().get("weights", {}))
        f_s, f_t = _weighting_inputs(run.model, run.source_train, run.target)
        w = reweigher(f_s, f_t)
        weights, ess = torch.as_tensor(w), effective_sample_size(w) / len(w)
    history = trainer.fit(run.source_train, run.source_val, run.target, weights, reweigher, spec.reweight_every,
                          torch.as_tensor(run.heldout))
    return run, history, ess


def _execute(spec: RunSpec, task: Task, options: RunOptions,
             keep_model: dict[str, Any] | None) -> dict[str, Any]:
    if spec.vectorized:  # a run of a vectorised batch, alone (e.g. the t-SNE re-run of `dalib report`)
        from dalib.bench.vector_run import execute_group

        return execute_group([spec], [task], options, keep_model)[0]
    run, history, ess = train_single(spec, task, options)
    if not isinstance(run, PreparedRun):
        return run
    assert history is not None
    if keep_model is not None:
        keep_model["model"], keep_model["task"] = run.model, run.task
    return finish_run(run, history, ess)


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
                   record["spec"]["weights"], record["spec"]["reweight_every"], tuple(record.get("grid", ())),
                   bool(record["spec"].get("vectorized", False)))


def train_model(spec: RunSpec, task: Task) -> tuple[torch.nn.Module, dict[str, Any], Task]:
    """Re-execute a deep run: its trained model, the fresh record and the task the model reads
    (``task`` itself, or its cached-trunk views when the profile has a trunk)."""
    holder: dict[str, Any] = {}
    record = execute(spec, task, RunOptions(), keep_model=holder)
    return holder["model"], record, holder["task"]


MAX_INPUT_PAD_DIM = 20_000  # beyond (e.g. packed MiniLM states, 49,280 values), a linear probe of raw inputs is slow


def domain_distances(model: torch.nn.Module, source: Domain, target: Domain) -> dict[str, float | None]:
    """Proxy A-distance between source and target: on the inputs (in-memory float data of at most
    `MAX_INPUT_PAD_DIM` values per sample; the same for every method of a task and seed, so
    computed once per process, `input_pad`) and on the trained model's bottleneck features."""
    ts, tt = source.tensors, target.tensors
    before = None
    if (ts is not None and tt is not None and ts[0].is_floating_point()  # not on token ids
            and ts[0][0].numel() <= MAX_INPUT_PAD_DIM):
        before = input_pad(ts[0].flatten(1).double().numpy(), tt[0].flatten(1).double().numpy())
    after = proxy_a_distance(predict(model, source).features.double().numpy(),
                             predict(model, target).features.double().numpy())
    return {"pad_input": before, "pad_adapted": after}


_INPUT_PAD: dict[tuple[str, str], float] = {}


def input_pad(x_s: np.ndarray, x_t: np.ndarray) -> float:
    """`proxy_a_distance` of two input arrays, kept per process by their contents' sha1."""
    key = (hashlib.sha1(np.ascontiguousarray(x_s)).hexdigest(), hashlib.sha1(np.ascontiguousarray(x_t)).hexdigest())
    if key not in _INPUT_PAD:
        if len(_INPUT_PAD) >= 256:
            _INPUT_PAD.clear()
        _INPUT_PAD[key] = proxy_a_distance(x_s, x_t)
    return _INPUT_PAD[key]


def _weighting_inputs(model: torch.nn.Module, source: Domain, target: Domain) -> tuple[np.ndarray, np.ndarray]:
    """Inputs of the first weight estimate: the raw features of in-memory domains, else the
    untrained model's bottleneck features."""
    ts, tt = source.tensors, target.tensors
    if ts is not None and tt is not None:
        return ts[0].flatten(1).double().numpy(), tt[0].flatten(1).double().numpy()
    return predict(model, source).features.double().numpy(), predict(model, target).features.double().numpy()
