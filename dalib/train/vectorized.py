"""Many runs of one model and method trained as one vectorised model.

`VectorizedTrainer` trains R runs that differ only in seed and data (the tasks of a table, its
seeds) in one loop: their parameters are stacked (`dalib.train.stacked.StackedRuns`), every
step runs the same `TrainingStep` on each run's own batch under ``torch.func.vmap`` — batched
matrix products instead of R small ones — and one elementwise optimizer step updates them
all. Everything random stays per run: each run has the batch streams, augmentation generator
and dropout stream (`dalib.train.run_dropout`) of its single run, and its parameters start
from the model its single run builds. A run's numbers therefore do not depend on which other
runs share its batch, and they equal those of `dalib.train.trainer.Trainer` on the same run up
to float rounding (batched and single matrix products sum in another order).

After every epoch the stacked values are copied back into each run's own modules, which are
evaluated exactly as a single run's are; the selection scores of all runs are computed
together (`dalib.eval.selection.unsupervised_scores_batch`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from dalib.data.domain import Domain
from dalib.data.sampling import BatchStream
from dalib.errors import DalibError
from dalib.eval.metrics import Predictions, predict
from dalib.eval.selection import unsupervised_scores_batch
from dalib.train.objective import describe_nonfinite
from dalib.train.optim import make_optimizer, set_lr, training_groups
from dalib.train.param_groups import frozen_norms_to_eval
from dalib.train.precision import training_precision
from dalib.train.run_dropout import RunGenerators
from dalib.train.stacked import StackedRuns
from dalib.train.step import TrainingStep
from dalib.train.trainer import Augment, EpochRecord, History, TrainConfig, steps_per_epoch

#: TrainConfig fields that may differ between the runs of one vectorised batch.
PER_RUN_SETTINGS = frozenset({"seed", "log_dir"})


@dataclass
class VectorRun:
    """One run of a vectorised batch, built as its single run builds it.

    ``dropout_state`` is torch's global RNG state right after the run's model and objective were
    built under its seed (`torch.get_rng_state()`): the state its single run's dropout layers
    start drawing from. The other fields are the arguments of ``Trainer(model, objective,
    config, augment=augment).fit(source_train, source_val, target, target_heldout=...)``.
    """

    label: str
    model: nn.Module
    objective: nn.Module
    config: TrainConfig
    source_train: Domain
    source_val: Domain
    target: Domain
    dropout_state: Tensor
    target_heldout: Tensor | None = None
    augment: Augment | None = None


def _shared_config(runs: list[VectorRun]) -> TrainConfig:
    first = {k: v for k, v in asdict(runs[0].config).items() if k not in PER_RUN_SETTINGS}
    for run in runs[1:]:
        other = {k: v for k, v in asdict(run.config).items() if k not in PER_RUN_SETTINGS}
        diff = sorted(k for k in first if first[k] != other[k])
        if diff:
            raise DalibError(f"runs {runs[0].label} and {run.label} differ in {diff[0]}; a vectorised batch shares "
                             "every training setting but the seed")
    return runs[0].config


class VectorizedTrainer:
    """Train ``runs`` (`VectorRun`, same model, method and training settings) as one model."""

    def __init__(self, runs: list[VectorRun]) -> None:
        if not runs:
            raise DalibError("a vectorised batch needs at least one run")
        self.runs, self.config = runs, _shared_config(runs)
        self.device = torch.device(self.config.device)
        self.steps = [TrainingStep(r.model.to(self.device), r.objective.to(self.device)) for r in runs]
        self.stacked = StackedRuns(self.steps, self.device)
        self.generators = RunGenerators()
        for run in runs:
            self.generators.add(run.dropout_state)
        self.optimizer = self._make_optimizer()

    def _make_optimizer(self) -> torch.optim.Optimizer:
        """The single run's parameter groups (`training_groups` of run 0), on the stacked tensors."""
        first = self.steps[0]
        names = {id(p): n for n, p in first.named_parameters()}
        anchored = [p for t in getattr(first.objective, "terms", []) for p in t.discrepancy.anchored_parameters()]
        groups = training_groups(first.model, first.objective, self.config.lr_mults, anchored)
        for g in groups:
            g["params"] = [self.stacked.params[names[id(p)]] for p in g["params"]]
        return make_optimizer(groups, self.config, fused=True)

    def _streams(self) -> tuple[list[BatchStream], list[BatchStream], list[torch.Generator], int]:
        cfg, runs = self.config, self.runs
        src = [BatchStream(r.source_train, cfg.batch_size, torch.Generator().manual_seed(r.config.seed),
                           cfg.num_workers) for r in runs]
        tgt = [BatchStream(r.target, cfg.batch_size, torch.Generator().manual_seed(r.config.seed + 1),
                           cfg.num_workers) for r in runs]
        augment_rngs = [torch.Generator().manual_seed(r.config.seed + 2) for r in runs]
        iters = {cfg.iters_per_epoch or steps_per_epoch(len(r.source_train), cfg.batch_size) for r in runs}
        sizes = {(s.batch_size, t.batch_size) for s, t in zip(src, tgt)}
        if len(iters) > 1 or len(sizes) > 1:
            raise DalibError("the runs of a vectorised batch need the same steps per epoch and batch sizes; "
                             f"got steps {sorted(iters)} and (source, target) batches {sorted(sizes)}")
        return src, tgt, augment_rngs, iters.pop()

    def _batch(self, src: list[BatchStream], tgt: list[BatchStream],
               augment_rngs: list[torch.Generator]) -> tuple[Tensor, Tensor, Tensor]:
        """Every run's next (source inputs, source labels, target inputs), stacked; the target
        labels are dropped here, never used in training."""
        uses_target = self.steps[0].uses_target
        xs, ys, xt = [], [], []
        for run, s, t, rng in zip(self.runs, src, tgt, augment_rngs):
            x_s, y_s, _ = next(s)
            x_t, _, _ = next(t)
            if run.augment is not None:
                x_s = run.augment(x_s, rng)
                x_t = run.augment(x_t, rng) if uses_target else x_t
            xs.append(x_s), ys.append(y_s), xt.append(x_t)
        dev = self.device
        return torch.stack(xs).to(dev), torch.stack(ys).to(dev), torch.stack(xt).to(dev)

    def fit(self) -> list[History]:
        """Train every run for ``config.epochs`` epochs, evaluating each after every epoch; one
        `History` per run (its ``seconds``: the batch's wall time ÷ R)."""
        cfg = self.config
        src, tgt, augment_rngs, iters = self._streams()
        total, start = iters * cfg.epochs, time.perf_counter()
        histories = [History() for _ in self.runs]
        terms = [t for t in getattr(self.steps[0].objective, "terms", []) if not getattr(t.discrepancy, "multi_step", False)]
        sites: list[tuple[tuple[int, ...], float]] | None = None
        step = 0
        for epoch in range(cfg.epochs):
            self.stacked.train(True)
            frozen_norms_to_eval(self.stacked.template.model)
            sums: dict[str, Any] = {}
            for _ in range(iters):
                progress = step / total
                lr = set_lr(self.optimizer, cfg, progress)
                xs, ys, xt = self._batch(src, tgt, augment_rngs)
                with training_precision(cfg.precision):  # the probe too: it calls the same layers
                    if sites is None:
                        sites = self._probe(xs, ys, xt, progress)
                    masks = self.generators.draw_masks(sites, self.device)
                    loss, parts = self.stacked.losses(masks, xs, ys, xt, None, progress)
                self._check_finite(loss, parts, step)
                self.optimizer.zero_grad(set_to_none=True)
                loss.sum().backward()
                self.optimizer.step()
                lams = {t.name: t.lam(progress) for t in terms}
                for k, v in parts.items():  # in the single run's order: each term's value, then its λ
                    sums[k] = sums.get(k, 0.0) + v.detach()
                    if k in lams:
                        sums[f"lambda/{k}"] = sums.get(f"lambda/{k}", 0.0) + lams[k]
                step += 1
            for r, record in enumerate(self._evaluate(epoch + 1, step, sums, iters, lr)):
                histories[r].epochs.append(record)
        seconds = (time.perf_counter() - start) / len(self.runs)
        for h in histories:
            h.seconds = seconds
        return histories

    def _probe(self, xs: Tensor, ys: Tensor, xt: Tensor, progress: float) -> list[tuple[tuple[int, ...], float]]:
        """The step's dropout calls; the first call under vmap, so a term that cannot run there
        (it reads tensor values in Python, calls numpy, draws random numbers) fails here, in one line."""
        try:
            return self.stacked.probe(xs, ys, xt, None, progress)
        except (RuntimeError, ValueError, TypeError) as err:
            terms = ", ".join(t.name for t in getattr(self.steps[0].objective, "terms", [])) or "the model"
            first = (str(err).strip().splitlines() or [type(err).__name__])[0].split(". ")[0]
            raise DalibError(f"{terms} cannot train vectorised under torch.func.vmap ({first}): a loss that reads "
                             "tensor values in Python (float(x), x.item(), if x > 0, numpy) cannot; keep them tensors "
                             "(x.detach() for a constant factor), set `vectorizable = False` on the term's class, "
                             "or run with --vectorize off") from None

    def check(self) -> None:
        """Take every run's first batch and run the step's forward pass under vmap once, without
        changing anything: a term that cannot train vectorised fails here (`_probe`)."""
        src, tgt, augment_rngs, _ = self._streams()
        xs, ys, xt = self._batch(src, tgt, augment_rngs)
        self._probe(xs, ys, xt, 0.0)

    def _check_finite(self, loss: Tensor, parts: dict[str, Tensor], step: int) -> None:
        bad = (~torch.isfinite(loss.detach())).nonzero()
        if len(bad):
            r = int(bad[0])
            raise DalibError(f"run {self.runs[r].label}: " + describe_nonfinite(step, {k: v[r] for k, v in parts.items()}))

    def _evaluate(self, epoch: int, step: int, sums: dict[str, Any], iters: int, lr: float) -> list[EpochRecord]:
        """Each run's `EpochRecord`: its own modules, holding the stacked values, evaluated as a single run's."""
        self.stacked.write_back(self.steps)
        kw = {"batch_size": self.config.eval_batch_size, "device": self.device, "num_workers": self.config.num_workers}
        preds: list[tuple[Predictions, Predictions]] = [(predict(r.model, r.source_val, **kw), predict(r.model, r.target, **kw))
                                                        for r in self.runs]
        scores = unsupervised_scores_batch(preds) if self.config.selection_scores else [{} for _ in preds]
        records = []
        for r, (run, (val, tgt)) in enumerate(zip(self.runs, preds)):
            losses = {k: float(v[r] if isinstance(v, Tensor) else v) / iters for k, v in sums.items()}
            held = None
            if run.target_heldout is not None:
                h = run.target_heldout
                held = float((tgt.logits[h].argmax(1) == tgt.labels[h]).float().mean())
            records.append(EpochRecord(epoch, step, losses, val.accuracy, tgt.accuracy, tgt.mean_entropy, lr,
                                       scores[r], held))
        return records
