"""Fixtures of the alignment tests: a tiny classifier and the `StepBatch` a multi-step term sees."""

from __future__ import annotations

from typing import Callable

import pytest
import torch
from torch.nn import functional as F

from dalib.models import Classifier, build_backbone
from dalib.update_steps import StepBatch


@pytest.fixture
def tiny_classifier() -> Classifier:
    """MLP 5 → 16 → bottleneck 8 → 3 classes, seeded, without dropout, in eval mode (so a joint
    and a separate forward give the same features)."""
    torch.manual_seed(0)
    return Classifier(build_backbone("mlp", 5, hidden=(16,), dropout=0.0), 3, bottleneck_dim=8).eval()


@pytest.fixture
def step_batch() -> Callable[..., StepBatch]:
    """``step_batch(model, lam, ws=None, progress=0.3)``: 6 source rows (labels 0,1,2,0,1,2) and 5
    shifted target rows; its objective is the weighted source cross-entropy of the given weights
    plus a stand-in single-step term ``extra`` = 0.25·mean(f_t²) + 0.125·mean(f_s²) + 0.0625·mean(z_t²),
    so that a step passing the wrong features, logits or weights to the objective changes its loss."""
    gen = torch.Generator().manual_seed(0)
    xs, xt = torch.randn(6, 5, generator=gen), torch.randn(5, 5, generator=gen) + 1.0
    ys = torch.tensor([0, 1, 2, 0, 1, 2])

    def make(model: Classifier, lam: float, ws: torch.Tensor | None = None, progress: float = 0.3) -> StepBatch:
        def forward():
            f, z = model(torch.cat([xs, xt]))
            return f[:6], z[:6], f[6:], z[6:]

        def objective(f_s, z_s, f_t, z_t, w):
            ce = F.cross_entropy(z_s, ys, reduction="none")
            task = ce.mean() if w is None else (w * ce).mean()
            extra = 0.25 * f_t.pow(2).mean() + 0.125 * f_s.pow(2).mean() + 0.0625 * z_t.pow(2).mean()
            return task + extra, {"task": task, "extra": extra}

        return StepBatch(model, xs, ys, xt, ws, progress, lam, forward, objective)

    return make
