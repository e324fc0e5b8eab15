"""The compressed variants of one trained run: what `dalib compress` builds from each model.

| variant            | built by                                                                      |
|--------------------|-------------------------------------------------------------------------------|
| `float`            | the re-trained run itself                                                     |
| `prune-K-S`        | `prune_model(kind K, sparsity S)`, masks folded in, no further training        |
| `prune-K-S+ft`     | the same, then R recovery steps on the task loss alone (source labels)        |
| `prune-K-S+ft+D`   | …recovery on the run's own objective L_task + Σ λ_k(p)·D_k(F_s, F_t) (unlabelled target) |
| `int8`             | `quantize_dynamic_int8` (Linear layers)                                        |
| `int8-static`      | `quantize_static_int8` (FX), calibrated on unlabelled target batches (conv models) |
| `distill-H`        | a student MLP (hidden H; bottleneck B for ``HxB``, else the teacher's) distilled from the run |

Recovery fine-tuning runs the one trainer for R steps at 0.1× (``recover_lr_mult``) the run's learning rate with
the pruning masks attached (pruned weights stay exactly zero), seeded with the run's seed, so
both recoveries see the same batches and dropout draws (for source-only, whose objective has no
term, `+ft+D` would equal `+ft`, so `dalib compress` does not build it). The method's terms continue from their trained state (e.g. DANN's
discriminator) with λ(p) restarting over the recovery steps. The trainer reads target labels
only to report accuracy, never to train or select.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, replace

import torch
from torch import nn

from dalib.bench.run import PreparedRun
from dalib.compress.distill import distill
from dalib.compress.prune import PRUNE_KINDS, check_sparsity, make_permanent, prune_model
from dalib.compress.quantize import quantize_dynamic_int8, quantize_static_int8
from dalib.errors import DalibError
from dalib.models import Classifier, build_backbone
from dalib.train.objective import Objective
from dalib.train.trainer import Trainer, seed_everything

QUANTIZE_CHOICES = ("int8", "int8-static")
_STUDENT = re.compile(r"^(\d+)(?:x(\d+))?$")


@dataclass(frozen=True)
class Variant:
    """One compressed variant (module docstring); ``recover``: "" none, "task" or "objective"."""

    kind: str
    sparsity: float = 0.0
    prune_kind: str = ""
    recover: str = ""
    student: str = ""

    @property
    def name(self) -> str:
        if self.kind == "prune":
            suffix = {"": "", "task": "+ft", "objective": "+ft+D"}[self.recover]
            return f"prune-{self.prune_kind}-{self.sparsity:g}{suffix}"
        return f"distill-{self.student}" if self.kind == "distill" else self.kind


def plan_variants(prune: list[float], prune_kind: str, quantize: list[str], student: str,
                  recover_steps: int) -> list[Variant]:
    """The variants a `dalib compress` call asks for, `float` first; one line per bad option."""
    if prune_kind not in PRUNE_KINDS:
        raise DalibError(f"unknown --prune-kind {prune_kind!r}; use one of {', '.join(PRUNE_KINDS)}")
    if recover_steps < 0:
        raise DalibError(f"--recover {recover_steps} must be ≥ 0 (0: no recovery fine-tuning)")
    variants = [Variant("float")]
    for s in prune:
        recover = ["", "task", "objective"] if recover_steps else [""]
        variants += [Variant("prune", check_sparsity(s), prune_kind, r) for r in recover]
    for q in quantize:
        if q not in QUANTIZE_CHOICES:
            raise DalibError(f"unknown --quantize {q!r}; use {' or '.join(QUANTIZE_CHOICES)}")
        variants.append(Variant(q))
    if student:
        parse_student(student)
        variants.append(Variant("distill", student=student))
    return variants


def parse_student(text: str) -> tuple[int, int | None]:
    """``"H"`` or ``"HxB"`` → (hidden width, bottleneck width or None for the teacher's)."""
    match = _STUDENT.match(text.strip())
    if not match or int(match.group(1)) < 1 or (match.group(2) and int(match.group(2)) < 1):
        raise DalibError(f"unknown student {text!r}; give the MLP's hidden width, optionally x its bottleneck "
                         "width: e.g. --distill 64 or --distill 64x32")
    return int(match.group(1)), int(match.group(2)) if match.group(2) else None


def _recover(run: PreparedRun, model: nn.Module, steps: int, with_terms: bool, lr_mult: float) -> None:
    seed_everything(run.spec.seed)  # both recoveries see the same batches and dropout draws
    objective = copy.deepcopy(run.objective) if with_terms else Objective([])
    config = replace(run.config, epochs=1, iters_per_epoch=steps, lr=lr_mult * run.config.lr, log_dir=None,
                     selection_scores=False, device="cpu")
    Trainer(model, objective, config, augment=run.augment).fit(run.source_train, run.source_val, run.target)


def _student(run: PreparedRun, text: str) -> Classifier:
    x = run.source_train.tensors[0] if run.source_train.tensors is not None else None
    if x is None or x.dim() != 2 or not x.is_floating_point():
        raise DalibError(f"--distill trains an MLP student on feature vectors; {run.spec.dataset} runs read "
                         f"{'files' if x is None else f'inputs of shape {tuple(x.shape[1:])}'}; "
                         "compress them with --prune / --quantize")
    hidden, bottleneck = parse_student(text)
    backbone = build_backbone("mlp", x.shape[1], hidden=(hidden,), dropout=run.profile.dropout)
    return Classifier(backbone, run.model.num_classes, bottleneck or run.model.feature_dim)


def build_variant(run: PreparedRun, variant: Variant, recover_steps: int = 0, distill_steps: int = 500, *,
                  recover_lr_mult: float = 0.1, temperature: float = 2.0, alpha: float = 0.5) -> nn.Module:
    """``variant`` of the trained ``run.model`` (left unchanged), on the CPU in eval mode: recovery at
    ``recover_lr_mult`` × the run's lr, distillation at ``temperature`` with source-label weight ``alpha``."""
    model = copy.deepcopy(run.model).cpu()
    if variant.kind == "float":
        return model.eval()
    if variant.kind == "prune":
        prune_model(model, variant.sparsity, variant.prune_kind)
        if variant.recover:
            _recover(run, model, recover_steps, variant.recover == "objective", recover_lr_mult)
        return make_permanent(model).eval()
    if variant.kind == "int8":
        return quantize_dynamic_int8(model)
    if variant.kind == "int8-static":
        x_t = run.target.tensors[0] if run.target.tensors is not None else None
        if x_t is None:
            raise DalibError("int8-static calibrates on in-memory target inputs; this run reads files")
        batches = list(x_t[torch.randperm(len(x_t), generator=torch.Generator().manual_seed(0))[:512]].split(64))
        return quantize_static_int8(model, batches)
    student = _student(run, variant.student)
    return distill(model, student, run.source_train, run.target, steps=distill_steps,
                   batch_size=run.profile.batch_size, temperature=temperature, alpha=alpha, seed=run.spec.seed)
