"""Magnitude pruning of a trained dalib model to a target sparsity (`torch.nn.utils.prune`).

The prunable weights are those of every ``nn.Linear`` and ``nn.Conv{1,2}d`` of the model (the
backbone, bottleneck and head; biases and normalisation layers are kept). Three kinds:

| kind      | what is zeroed                                                       | sparsity s means            |
|-----------|----------------------------------------------------------------------|-----------------------------|
| `global`  | the s·N weights of smallest |w| over all prunable weights together    | s of all prunable weights   |
| `layer`   | in each layer, its s·n_l weights of smallest |w|                     | s of each layer's weights   |
| `channel` | in each layer but the classifier head, the ⌊s·c_l⌉ output channels  | s of each layer's channels  |
|           | (rows of W, filters of a conv) of smallest L2 norm                   |                             |

The head's output channels are the classes, so channel pruning leaves them all. While masks are
attached (``weight = weight_orig ⊙ mask``, a forward pre-hook of `torch.nn.utils.prune`),
fine-tuning updates ``weight_orig`` and the pruned entries stay exactly zero; `make_permanent`
folds the masks into plain ``weight`` tensors.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils import prune

from dalib.errors import DalibError

PRUNE_KINDS = ("global", "layer", "channel")
_PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d)


def prunable_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every Linear / Conv layer of ``model``, in registration order."""
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, _PRUNABLE)]
    if not layers:
        raise DalibError(f"{type(model).__name__} has no Linear or Conv layer to prune")
    return layers


def check_sparsity(sparsity: float) -> float:
    """``sparsity`` as a float in [0, 1); one line naming the range otherwise."""
    if not isinstance(sparsity, (int, float)) or not 0 <= float(sparsity) < 1:
        raise DalibError(f"sparsity {sparsity!r} must be a fraction in [0, 1), e.g. 0.5 or 0.9")
    return float(sparsity)


def prune_model(model: nn.Module, sparsity: float, kind: str = "global", head: str = "head") -> nn.Module:
    """Attach magnitude-pruning masks to ``model`` in place (table in the module docstring) and return it.

    ``head`` names the classifier layer whose output channels `channel` pruning keeps (dalib's
    `Classifier` calls it ``head``). A model pruned before is pruned again on top of its masks
    (`torch.nn.utils.prune` combines them)."""
    sparsity = check_sparsity(sparsity)
    if kind not in PRUNE_KINDS:
        raise DalibError(f"unknown pruning kind {kind!r}; use one of {', '.join(PRUNE_KINDS)}")
    layers = prunable_layers(model)
    if kind == "global":
        prune.global_unstructured([(m, "weight") for _, m in layers], pruning_method=prune.L1Unstructured,
                                  amount=sparsity)
    elif kind == "layer":
        for _, m in layers:
            prune.l1_unstructured(m, "weight", amount=sparsity)
    else:
        for name, m in layers:
            if name != head:
                prune.ln_structured(m, "weight", amount=sparsity, n=2, dim=0)
    return model


def make_permanent(model: nn.Module) -> nn.Module:
    """Fold every pruning mask into its layer's ``weight`` (removing ``weight_orig`` and the hook)."""
    for _, m in prunable_layers(model):
        if prune.is_pruned(m) and hasattr(m, "weight_mask"):
            prune.remove(m, "weight")
    return model


def _weight(m: nn.Module) -> Tensor:
    return m.weight.detach()


def weight_sparsity(model: nn.Module) -> float:
    """Fraction of exactly-zero entries over all prunable weights of ``model``."""
    weights = [_weight(m) for _, m in prunable_layers(model)]
    return sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)


def channel_sparsity(model: nn.Module, head: str = "head") -> float:
    """Fraction of all-zero output channels over the prunable layers but ``head``."""
    rows = [_weight(m).flatten(1) for name, m in prunable_layers(model) if name != head]
    return sum(int((r.abs().sum(1) == 0).sum()) for r in rows) / sum(len(r) for r in rows)
