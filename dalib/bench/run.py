"""One run: (dataset, task, method, seed, hyper-parameters) → a JSON-serialisable record."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

import dalib
from dalib.bench.profiles import Profile
from dalib.data.tasks import Task, split_source
from dalib.methods import build_terms, resolve_method
from dalib.models import Classifier, build_backbone
from dalib.train.objective import Objective
from dalib.train.trainer import TrainConfig, Trainer, seed_everything


@dataclass(frozen=True)
class RunSpec:
    """Everything that identifies a run; ``key`` names its record file."""

    dataset: str
    task: str
    method: str
    seed: int
    profile: Profile
    hparams: tuple[tuple[str, str, Any], ...] = ()
    device: str = "cpu"

    @property
    def key(self) -> str:
        hp = "".join(f",{t}.{k}={v}" for t, k, v in self.hparams)
        return f"{self.dataset}/{self.task}/{self.method}{hp}/seed{self.seed}"

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


def execute(spec: RunSpec, task: Task, options: RunOptions) -> dict[str, Any]:
    """Train one run and return its record (config, per-epoch history, wall time)."""
    torch.set_num_threads(options.threads)
    seed_everything(spec.seed)
    prof = spec.profile
    source_train, source_val = split_source(task.source, spec.seed)
    x0 = source_train.dataset[0][0]
    backbone = build_backbone(prof.backbone, int(torch.as_tensor(x0).numel()),
                              hidden=prof.hidden, dropout=prof.dropout)
    model = Classifier(backbone, task.source.num_classes, prof.bottleneck_dim)
    terms = build_terms(resolve_method(spec.method), model.feature_dim, model.num_classes, spec.overrides())
    log_dir = str(Path(options.log_root) / spec.key) if options.log_root else None
    config = TrainConfig(epochs=prof.epochs, iters_per_epoch=prof.iters_per_epoch, batch_size=prof.batch_size, lr=prof.lr,
                         weight_decay=prof.weight_decay, optimizer=prof.optimizer, seed=spec.seed,
                         device=spec.device, log_dir=log_dir, progress_bar=options.progress_bar)
    history = Trainer(model, Objective(terms), config).fit(source_train, source_val, task.target)
    return {
        "key": spec.key, "dataset": spec.dataset, "task": spec.task, "task_name": task.name,
        "source": task.source.name, "target": task.target.name, "method": spec.method,
        "seed": spec.seed, "hparams": [list(h) for h in spec.hparams], "profile": asdict(prof),
        "n_source_train": len(source_train), "n_source_val": len(source_val), "n_target": len(task.target),
        "log_dir": log_dir, "dalib_version": dalib.__version__, **history.to_dict(),
    }


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON to ``path`` atomically (temp file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh, indent=1, ensure_ascii=False)
    os.replace(tmp, path)
