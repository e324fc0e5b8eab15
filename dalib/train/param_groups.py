"""Optimizer parameter groups: per-prefix learning-rate multipliers and weight-decay exemptions.

Layer-wise learning rates are given as ``{"backbone": 0.1}``: every parameter whose name starts
with a key (at a ``.`` boundary) gets that multiplier, the longest matching key winning; the
rest get 1.0. Frozen parameters (``requires_grad=False``) are still placed in a group, so a
later unfreezing (gradual unfreezing) trains them without rebuilding the optimizer; while they
are frozen their ``.grad`` stays None and torch's optimizers leave them bit-identical.
"""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn

from dalib.errors import DalibError


def lr_multiplier(name: str, lr_mults: dict[str, float]) -> float:
    """The multiplier of parameter ``name``: the value of its longest matching prefix, else 1.0."""
    best, mult = -1, 1.0
    for prefix, value in lr_mults.items():
        if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
            best, mult = len(prefix), float(value)
    return mult


def backbone_lr_mults(mult: float) -> dict[str, float]:
    """``lr_mults`` that scale only the ``backbone`` submodule's rate ({} when ``mult`` is 1)."""
    return {} if mult == 1.0 else {"backbone": float(mult)}


def param_groups(model: nn.Module, lr_mults: dict[str, float] | None = None,
                 no_decay: Iterable[nn.Parameter] = ()) -> list[dict]:
    """Group ``model``'s parameters by (lr multiplier, weight decay on/off).

    Each group is ``{"params": [...], "lr_mult": m, "no_decay": bool}``; the trainer sets
    ``lr = base_lr · m · schedule(p)`` and zero weight decay on ``no_decay`` groups (e.g. the
    parameters that L2-SP already pulls toward their starting point).
    """
    lr_mults = dict(lr_mults or {})
    names = [n for n, _ in model.named_parameters()]
    unused = [p for p in lr_mults if not any(n == p or n.startswith(p + ".") for n in names)]
    if unused:
        raise DalibError(f"lr multiplier prefix(es) {unused} match no parameter; names start with "
                         f"{sorted({n.split('.')[0] for n in names})}")
    exempt = {id(p) for p in no_decay}
    groups: dict[tuple[float, bool], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        groups.setdefault((lr_multiplier(name, lr_mults), id(p) in exempt), []).append(p)
    return [{"params": ps, "lr_mult": m, "no_decay": nd} for (m, nd), ps in groups.items()]


def frozen_norms_to_eval(model: nn.Module) -> None:
    """Put every normalisation layer whose parameters are all frozen into eval mode, so a
    frozen stage keeps its running statistics as well as its weights."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            params = list(module.parameters())
            if params and not any(p.requires_grad for p in params):
                module.eval()
