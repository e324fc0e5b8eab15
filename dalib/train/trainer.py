"""The one training loop every method runs through."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

import torch
from torch import nn
from tqdm import tqdm

from dalib.data.domain import Domain
from dalib.data.sampling import BatchStream
from dalib.errors import DalibError
from dalib.eval.metrics import predict
from dalib.eval.selection import unsupervised_scores
from dalib.train.multi_step import MultiStepRunner
from dalib.train.objective import describe_nonfinite, is_finite
from dalib.train.optim import make_optimizer, set_lr, training_groups
from dalib.train.param_groups import frozen_norms_to_eval
from dalib.train.precision import check_precision, training_precision
from dalib.train.rng_state import capture_rng, restore_rng
from dalib.train.step import TrainingStep


Reweigher = Callable[[np.ndarray, np.ndarray], np.ndarray]
EpochHook = Callable[["Trainer", int], None]
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


@dataclass
class TrainConfig:
    """Optimisation settings. One epoch = ``iters_per_epoch`` steps (default: one pass over
    the source train split). ``lr_schedule`` is ``inverse_decay`` (DANN: lr·(1+α·p)^−β with
    α = ``lr_alpha`` = 10, β = ``lr_beta`` = 0.75) or ``constant``; ``optimizer`` is ``sgd``
    (momentum, Nesterov) or ``adam``.
    ``selection_scores`` computes the IWV / DEV / SND scores after every epoch.
    ``lr_mults`` maps parameter-name prefixes to learning-rate multipliers (layer-wise rates,
    e.g. ``{"backbone": 0.1}``; see `dalib.train.param_groups`).
    ``precision`` is ``fp32`` or ``bf16`` (bfloat16 operands in the linear layers' products
    during training; float32 elsewhere and in evaluation; `dalib.train.precision`)."""

    epochs: int = 20
    batch_size: int = 32
    iters_per_epoch: int | None = None
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_schedule: str = "inverse_decay"
    lr_alpha: float = 10.0
    lr_beta: float = 0.75
    seed: int = 0
    device: str = "cpu"
    num_workers: int = 0
    eval_batch_size: int = 1024
    log_dir: str | None = None
    log_every: int = 10
    progress_bar: bool = False
    selection_scores: bool = True
    lr_mults: dict[str, float] = field(default_factory=dict)
    precision: str = "fp32"

    def __post_init__(self) -> None:
        check_precision(self.precision)
        if self.optimizer not in ("sgd", "adam"):
            raise DalibError(f"unknown optimizer {self.optimizer!r}; use 'sgd' or 'adam'")
        if self.lr_schedule not in ("inverse_decay", "constant"):
            raise DalibError(f"unknown lr schedule {self.lr_schedule!r}; use 'inverse_decay' or 'constant'")
        if self.lr_alpha < 0 or self.lr_beta < 0:
            raise DalibError(f"lr_alpha={self.lr_alpha}, lr_beta={self.lr_beta}: the decay lr·(1+α·p)^−β needs "
                             "α ≥ 0 and β ≥ 0")
        if self.epochs < 1 or self.batch_size < 1:
            raise DalibError("epochs and batch_size must be at least 1")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise DalibError(f"device {self.device!r} requested but CUDA is not available; use --device cpu")


#: TrainConfig fields that do not change a run's numbers; a resumed fit may differ in them.
RESUME_FREE_SETTINGS = frozenset({"device", "num_workers", "eval_batch_size", "log_dir", "log_every", "progress_bar"})


@dataclass
class EpochRecord:
    """What each selection protocol needs, stored after every epoch (no selection at train time).

    ``target_acc`` uses target labels and is for reporting or oracle tables only; ``scores``
    holds the unsupervised IWV / DEV risks and SND score of `dalib.eval.selection`;
    ``target_heldout_acc`` is the accuracy on the held-out target half that the target-only
    baseline is evaluated on (when the run was given it).
    """

    epoch: int
    step: int
    losses: dict[str, float]
    source_val_acc: float
    target_acc: float
    target_entropy: float
    lr: float
    scores: dict[str, float] = field(default_factory=dict)
    target_heldout_acc: float | None = None


@dataclass
class History:
    """Per-epoch records of one run (`EpochRecord`, or `MultiTaskRecord` for multi-task
    training), plus its wall time in seconds."""

    epochs: list[Any] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": [asdict(e) for e in self.epochs], "seconds": self.seconds}


def seed_everything(seed: int) -> None:
    """Seed torch's global RNG (model initialisation, dropout) for a reproducible run."""
    torch.manual_seed(seed)


class Trainer:
    """Minimise L = mean_i w_i·ℓ(h(x_i^s), y_i^s) + Σ_k λ_k(p)·D_k(F_s, F_t) with p = step/total.

    ``model(x)`` returns ``(features, logits)``. Target labels are never used for training:
    the trainer takes target inputs only, and uses labels only to report ``target_acc``.
    """

    def __init__(self, model: nn.Module, objective: nn.Module, config: TrainConfig,
                 hooks: Sequence[EpochHook] = (), augment: Augment | None = None) -> None:
        """``objective`` is an `Objective` (or any module with the same call signature, e.g.
        `MultiTaskLoss`); ``hooks`` are called as ``hook(trainer, epoch)`` before each epoch
        (gradual unfreezing); ``augment(x, generator)`` transforms every training batch
        (source and target) with a generator seeded from ``config.seed``."""
        self.config = config
        self.device = torch.device(config.device)
        self.model = model.to(self.device)
        self.objective = objective.to(self.device)
        self.hooks, self.augment = list(hooks), augment
        self.augment_rng = torch.Generator().manual_seed(config.seed + 2)
        terms = [t.discrepancy for t in getattr(objective, "terms", [])]
        self.step_loss = TrainingStep(self.model, self.objective)
        self.uses_target = self.step_loss.uses_target
        self.optimizer = self._make_optimizer([p for d in terms for p in d.anchored_parameters()])
        self.multi_step = MultiStepRunner.for_objective(self.objective, self.model, self.optimizer)
        self.epoch = 0
        self.history = History()
        # state of the running fit that a checkpoint needs besides the modules: the two batch
        # streams, the current instance weights, and (after load_checkpoint) the saved stream
        # states and config that the next fit resumes from
        self._streams: tuple[BatchStream, BatchStream] | None = None
        self._weights: torch.Tensor | None = None
        self._resume: dict[str, Any] | None = None

    def _make_optimizer(self, anchored: list[nn.Parameter]) -> torch.optim.Optimizer:
        """All model parameters and the objective's trainable ones (`dalib.train.optim`)."""
        return make_optimizer(training_groups(self.model, self.objective, self.config.lr_mults, anchored), self.config)

    def set_lr(self, progress: float) -> float:
        """Set every group's lr to lr·mult·schedule(p); returns the base lr·schedule(p)."""
        return set_lr(self.optimizer, self.config, progress)

    def fit(self, source_train: Domain, source_val: Domain, target: Domain,
            source_weights: torch.Tensor | None = None, reweigher: Reweigher | None = None,
            reweight_every: int = 0, target_heldout: torch.Tensor | None = None,
            checkpoint: str | Path | None = None) -> History:
        """Train for ``config.epochs`` epochs; evaluate source-val and target after each.

        ``source_weights`` (n_s,) are the instance weights w_i of the task loss (rescaled to
        mean 1). With ``reweigher`` and ``reweight_every = k > 0``, the weights are
        re-estimated every k epochs as ``reweigher(F_s, F_t)`` on the current bottleneck
        features of the source train split (n_s, d) and the target (n_t, d).
        ``target_heldout`` (k,) indexes the target samples whose accuracy is also recorded
        as ``target_heldout_acc``.

        With ``checkpoint``, :meth:`save_checkpoint` writes that file after every epoch. After
        :meth:`load_checkpoint`, fit continues from the saved epoch and returns the whole run's
        history; called with the same data and arguments it reproduces the uninterrupted run
        exactly (same batches, random draws, weights and parameters).
        """
        cfg = self.config
        gen_s = torch.Generator().manual_seed(cfg.seed)
        gen_t = torch.Generator().manual_seed(cfg.seed + 1)
        src = BatchStream(source_train, cfg.batch_size, gen_s, cfg.num_workers)
        tgt = BatchStream(target, cfg.batch_size, gen_t, cfg.num_workers)
        iters = cfg.iters_per_epoch or steps_per_epoch(len(source_train), cfg.batch_size)
        total = iters * cfg.epochs
        saved, self._resume = self._resume, None
        if saved is not None:
            self._continue_from_checkpoint(saved, src, tgt, len(source_train))
        else:
            self._weights = None if source_weights is None else self._check_weights(source_weights, len(source_train))
            if self.epoch == 0:
                self.history = History()
        self._streams = (src, tgt)
        writer = _summary_writer(cfg.log_dir)
        history, start = self.history, time.perf_counter()
        bar = tqdm(total=total, disable=not cfg.progress_bar, desc=f"{source_train.short}→{target.short}", leave=False)
        step = self.epoch * iters
        for epoch in range(self.epoch, cfg.epochs):
            if reweigher is not None and reweight_every > 0 and epoch > 0 and epoch % reweight_every == 0:
                self._weights = self._reweight(reweigher, source_train, target)
            for hook in self.hooks:
                hook(self, epoch)
            self.train_mode()
            sums: dict[str, torch.Tensor] = {}
            for _ in range(iters):
                progress = step / total
                lr = self.set_lr(progress)
                xs, ys, idx = next(src)
                xt, _, _ = next(tgt)  # target labels are dropped here, never used in training
                if self.augment is not None:
                    xs = self.augment(xs, self.augment_rng)
                    xt = self.augment(xt, self.augment_rng) if self.uses_target else xt
                loss, parts = self._step(xs, ys, xt, progress, None if self._weights is None else self._weights[idx], step)
                for k, v in parts.items():
                    sums[k] = sums.get(k, 0.0) + (v.detach() if isinstance(v, torch.Tensor) else v)
                if writer is not None and step % cfg.log_every == 0:
                    writer.add_scalar("loss/total", float(loss.detach()), step)
                    for k, v in parts.items():
                        value = v.detach() if isinstance(v, torch.Tensor) else v
                        writer.add_scalar(k if k.startswith("lambda/") else f"loss/{k}", float(value), step)
                    writer.add_scalar("lr", lr, step)
                step += 1
                bar.update(1)
            self.epoch = epoch + 1
            record = self._evaluate(epoch + 1, step, {k: float(v) / iters for k, v in sums.items()},
                                    source_val, target, lr, target_heldout)
            history.epochs.append(record)
            if writer is not None:
                writer.add_scalar("acc/source_val", record.source_val_acc, epoch + 1)
                writer.add_scalar("acc/target", record.target_acc, epoch + 1)
                writer.add_scalar("target_entropy", record.target_entropy, epoch + 1)
            bar.set_postfix(src_val=f"{record.source_val_acc:.3f}", tgt=f"{record.target_acc:.3f}")
            if checkpoint is not None:
                self.save_checkpoint(checkpoint)
        bar.close()
        if writer is not None:
            writer.close()
        history.seconds += time.perf_counter() - start
        return history

    def train_mode(self) -> None:
        """Model and objective in train mode, except normalisation layers of frozen stages."""
        self.model.train()
        self.objective.train()
        frozen_norms_to_eval(self.model)

    def _check_weights(self, w: torch.Tensor, n: int) -> torch.Tensor:
        w = torch.as_tensor(w, dtype=torch.float32)
        if w.shape != (n,):
            raise DalibError(f"source weights have shape {tuple(w.shape)} for {n} source samples; give one per sample")
        if not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise DalibError("source weights must be finite, non-negative and not all zero; check the weight estimator")
        return (w * (n / w.sum())).to(self.device)

    def _reweight(self, reweigher: Reweigher, source_train: Domain, target: Domain) -> torch.Tensor:
        kw = {"batch_size": self.config.eval_batch_size, "device": self.device, "num_workers": self.config.num_workers}
        f_s = predict(self.model, source_train, **kw).features.numpy()
        f_t = predict(self.model, target, **kw).features.numpy()
        return self._check_weights(torch.as_tensor(reweigher(f_s, f_t)), len(source_train))

    def _step(self, xs: torch.Tensor, ys: torch.Tensor, xt: torch.Tensor, progress: float,
              ws: torch.Tensor | None, step: int) -> tuple[torch.Tensor, dict[str, Any]]:
        dev = self.device
        xs, ys, xt = xs.to(dev, non_blocking=True), ys.to(dev, non_blocking=True), xt.to(dev, non_blocking=True)
        with training_precision(self.config.precision):
            if self.multi_step is not None:
                return self.multi_step.run(
                    xs, ys, xt, ws, progress, step, forward=lambda: self.step_loss.features(xs, xt),
                    objective=lambda f_s, z_s, f_t, z_t, w_s: self.objective(f_s, z_s, ys, f_t, z_t, progress, w_s))
            loss, parts = self.step_loss(xs, ys, xt, progress, ws)
        if not is_finite(loss):
            raise DalibError(describe_nonfinite(step, parts))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss, parts

    def _evaluate(self, epoch: int, step: int, losses: dict[str, float], source_val: Domain,
                  target: Domain, lr: float, heldout: torch.Tensor | None = None) -> EpochRecord:
        kw = {"batch_size": self.config.eval_batch_size, "device": self.device, "num_workers": self.config.num_workers}
        val = predict(self.model, source_val, **kw)
        tgt = predict(self.model, target, **kw)
        scores = unsupervised_scores(val, tgt) if self.config.selection_scores else {}
        held = None
        if heldout is not None:
            held = float((tgt.logits[heldout].argmax(1) == tgt.labels[heldout]).float().mean())
        return EpochRecord(epoch, step, losses, val.accuracy, tgt.accuracy, tgt.mean_entropy, lr, scores, held)

    def save_checkpoint(self, path: str | Path) -> None:
        """Save everything a resumed :meth:`fit` needs to continue exactly: model, objective (e.g.
        discriminators), optimizer state, epoch, config, history so far, the batch streams'
        positions, the current instance weights, and the torch (CPU and CUDA), numpy, Python and
        augmentation RNG states. Call it between epochs (``fit(checkpoint=...)`` does, after each
        one). The file is written to ``path + ".tmp"`` and renamed, so a kill leaves no half file."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        if self._resume is not None:  # loaded but not yet resumed: keep the loaded positions
            streams, weights = self._resume["streams"], self._resume["source_weights"]
        else:
            streams = None if self._streams is None else [s.state_dict() for s in self._streams]
            weights = None if self._weights is None else self._weights.cpu()
        torch.save({"model": self.model.state_dict(), "objective": self.objective.state_dict(),
                    "optimizer": self.optimizer.state_dict(), "epoch": self.epoch,
                    "config": asdict(self.config), "history": self.history.to_dict(),
                    "streams": streams, "source_weights": weights, "rng": capture_rng(self.augment_rng)}, tmp)
        tmp.replace(path)

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore a checkpoint written by :meth:`save_checkpoint` (same model and method),
        including the global RNG states; the next :meth:`fit` resumes from it."""
        path = Path(path)
        if not path.is_file():
            raise DalibError(f"checkpoint not found: {path}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if "rng" not in state:
            raise DalibError(f"checkpoint {path} has no RNG and stream state (older dalib); retrain the run")
        try:
            self.model.load_state_dict(state["model"])
            self.objective.load_state_dict(state["objective"])
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0]
            raise DalibError(f"checkpoint {path} does not fit this model/method ({first})") from None
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch = int(state["epoch"])
        self.history = History([EpochRecord(**e) for e in state["history"]["epochs"]], state["history"]["seconds"])
        restore_rng(state["rng"], self.augment_rng)
        self._resume = {k: state[k] for k in ("streams", "source_weights", "config")}

    def _continue_from_checkpoint(self, saved: dict[str, Any], src: BatchStream, tgt: BatchStream,
                                  n_source: int) -> None:
        """Put the streams and instance weights where the loaded checkpoint left them."""
        for key, value in asdict(self.config).items():
            if key not in RESUME_FREE_SETTINGS and saved["config"].get(key) != value:
                raise DalibError(f"checkpoint was written with {key}={saved['config'].get(key)!r} but this trainer "
                                 f"has {key}={value!r}; resume with the checkpoint's TrainConfig")
        if saved["streams"] is not None:
            src.load_state_dict(saved["streams"][0])
            tgt.load_state_dict(saved["streams"][1])
        w = saved["source_weights"]
        if w is not None and w.shape != (n_source,):
            raise DalibError(f"checkpoint holds {w.shape[0]} source weights for {n_source} source samples; "
                             "resume with the same source split")
        self._weights = None if w is None else w.to(self.device)


def _summary_writer(log_dir: str | None):  # -> SummaryWriter | None
    if not log_dir:
        return None
    from torch.utils.tensorboard import SummaryWriter  # imported lazily: it is slow to import

    return SummaryWriter(log_dir)


def steps_per_epoch(n_source_train: int, batch_size: int) -> int:
    """Default steps in one epoch: full source batches in the train split (at least 1)."""
    return max(1, math.floor(n_source_train / min(batch_size, n_source_train)))
