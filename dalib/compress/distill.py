"""Distillation of an adapted teacher into a smaller student on source labels + unlabelled target.

With teacher logits z^T, student logits z^S (n, C) and temperature T, the soft-target loss is

    KD_T(z^S, z^T) = T² · (1/n) Σ_i KL(softmax(z^T_i / T) ‖ softmax(z^S_i / T))
                   = T² · (1/n) Σ_i Σ_c p^T_ic (log p^T_ic − log p^S_ic)

(T² keeps its gradient on the scale of the hard loss, Hinton et al. 2015). A distillation step
on a source batch (x_s, y_s) and a target batch x_t minimises

    L = α · CE(z^S(x_s), y_s) + (1 − α) · ½ (KD_T on x_s + KD_T on x_t)

so the student learns the teacher's adapted target predictions without any target label.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dalib.data.domain import Domain
from dalib.data.sampling import BatchStream
from dalib.errors import DalibError


def distillation_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """KD_T(z^S, z^T) of the module docstring, a scalar; both logits (n, C)."""
    if student_logits.shape != teacher_logits.shape or student_logits.dim() != 2:
        raise DalibError(f"distillation needs student and teacher logits of one shape (n, C), got "
                         f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}; the student needs the "
                         "teacher's number of classes")
    if not temperature > 0:
        raise DalibError(f"distillation temperature {temperature!r} must be > 0 (1 is the plain softmax; 2–4 is usual)")
    log_p_s = F.log_softmax(student_logits / temperature, dim=1)
    log_p_t = F.log_softmax(teacher_logits / temperature, dim=1)
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(1).mean()
    return temperature ** 2 * kl


def distill(teacher: nn.Module, student: nn.Module, source: Domain, target: Domain, *, steps: int = 500,
            batch_size: int = 32, lr: float = 1e-3, temperature: float = 2.0, alpha: float = 0.5, seed: int = 0,
            say: Callable[[str], None] | None = None) -> nn.Module:
    """Train ``student`` (returning ``(features, logits)`` like dalib's `Classifier`) to imitate the
    frozen ``teacher`` (module docstring) with Adam, ``steps`` steps of ``batch_size`` source and
    target samples; the target's labels are never read. Returns the student in eval mode."""
    if not 0 <= alpha <= 1:
        raise DalibError(f"distillation alpha {alpha!r} must be in [0, 1] (the weight of the source-label loss)")
    torch.manual_seed(seed)
    sources = BatchStream(source, batch_size, torch.Generator().manual_seed(seed))
    targets = BatchStream(target, batch_size, torch.Generator().manual_seed(seed + 1))
    teacher.eval()
    student.train()
    optimizer = torch.optim.Adam(student.parameters(), lr=lr)
    for step in range(steps):
        (x_s, y_s, _), (x_t, _, _) = next(sources), next(targets)  # target labels dropped here
        with torch.no_grad():
            zt_s, zt_t = teacher(x_s)[1], teacher(x_t)[1]
        zs_s, zs_t = student(x_s)[1], student(x_t)[1]
        soft = 0.5 * (distillation_loss(zs_s, zt_s, temperature) + distillation_loss(zs_t, zt_t, temperature))
        loss = alpha * F.cross_entropy(zs_s, y_s) + (1 - alpha) * soft
        if not torch.isfinite(loss):
            raise DalibError(f"distillation loss is {float(loss.detach())} at step {step}; lower lr (now {lr}) or the temperature")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if say is not None and (step + 1) % max(steps // 4, 1) == 0:
            say(f"  distillation step {step + 1}/{steps}: loss {float(loss.detach()):.4f}")
    return student.eval()
