"""R structurally identical modules as one set of stacked tensors, called per run under ``vmap``.

`StackedRuns` keeps every parameter and buffer of R modules (one `TrainingStep` per run) as
one tensor with a leading run dimension, and a template copy of the module on the ``meta``
device (structure only, with `RunDropout` layers) that ``torch.func.functional_call`` runs with
one run's slice of each tensor inside ``torch.func.vmap``. The runs share no parameter, so the
gradient of Σ_r L_r with respect to run r's slice is ∂L_r/∂θ_r: one backward pass trains every
run, and an elementwise optimizer (SGD, Adam) on the stacked tensors is R independent ones.

The weight of every ``nn.Linear`` is stored transposed, (R, in, out), and given to the template
as a transposed view, so that the batched matrix products of the forward pass and of the weight
gradient run on contiguous operands and the gradient arrives in the layout of its parameter
(no copy per step).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from dalib.errors import DalibError
from dalib.train.run_dropout import probing, supplied_masks, with_run_dropout


def _structure(module: nn.Module) -> list[tuple[str, tuple[int, ...], torch.dtype]]:
    return [(n, tuple(t.shape), t.dtype) for n, t in [*module.named_parameters(), *module.named_buffers()]]


class StackedRuns:
    """The parameters and buffers of ``modules`` (same structure, same train/eval mode) stacked
    on a leading run dimension, on ``device``; see the module docstring."""

    def __init__(self, modules: list[nn.Module], device: torch.device) -> None:
        first = _structure(modules[0])
        for i, m in enumerate(modules[1:], 1):
            if _structure(m) != first:
                raise DalibError(f"run {i} of a vectorised batch has other parameter shapes than run 0; "
                                 "only runs of one model and method can train as one model")
        self.size = len(modules)
        self.template = with_run_dropout(modules[0]).to("meta")
        self.transposed = {f"{name}.weight" for name, m in self.template.named_modules()
                           if isinstance(m, nn.Linear) and m.weight.dim() == 2}
        self.params: dict[str, Tensor] = {}
        for name, p in modules[0].named_parameters():
            stacked = torch.stack([dict(m.named_parameters())[name].detach() for m in modules]).to(device)
            if name in self.transposed:
                stacked = stacked.transpose(1, 2)
            self.params[name] = stacked.contiguous().requires_grad_(p.requires_grad)
        self.buffers = {name: torch.stack([dict(m.named_buffers())[name] for m in modules]).to(device)
                        for name, _ in modules[0].named_buffers()}

    def module_params(self) -> dict[str, Tensor]:
        """The stacked parameters in the modules' own layout (Linear weights as transposed views)."""
        return {n: p.transpose(1, 2) if n in self.transposed else p for n, p in self.params.items()}

    def train(self, mode: bool = True) -> None:
        """Set the template's train / eval mode (dropout, BatchNorm)."""
        self.template.train(mode)

    def losses(self, masks: tuple[Tensor, ...], xs: Tensor, ys: Tensor, xt: Tensor, ws: Tensor | None,
               progress: float) -> tuple[Tensor, dict[str, Tensor]]:
        """Every run's ``(L_r, parts_r)`` of the template `TrainingStep` on its own batch: inputs
        and ``masks`` (one per dropout call, `RunGenerators.draw_masks`) carry a leading run
        dimension; returns L (R,) and each tensor part (R,). BatchNorm running statistics are
        updated in place."""
        template = self.template

        def per_run(params: dict[str, Tensor], buffers: dict[str, Tensor], masks: tuple[Tensor, ...],
                    xs: Tensor, ys: Tensor, xt: Tensor, ws: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
            with supplied_masks(masks):
                loss, parts = functional_call(template, (params, buffers), (xs, ys, xt, progress, ws))
            return loss, {k: v for k, v in parts.items() if isinstance(v, Tensor)}

        in_dims = (0, 0, 0, 0, 0, 0, None if ws is None else 0)
        return vmap(per_run, in_dims=in_dims, randomness="error")(self.module_params(), self.buffers, masks,
                                                                  xs, ys, xt, ws)

    def probe(self, xs: Tensor, ys: Tensor, xt: Tensor, ws: Tensor | None,
              progress: float) -> list[tuple[tuple[int, ...], float]]:
        """The dropout calls (a run's input shape, p) of one step on these batches, in call
        order, found without changing any parameter or buffer (on copies, without gradient)."""
        template, buffers = self.template, {n: b.clone() for n, b in self.buffers.items()}

        def per_run(params: dict[str, Tensor], buffers: dict[str, Tensor], xs: Tensor, ys: Tensor, xt: Tensor,
                    ws: Tensor | None) -> Tensor:
            return functional_call(template, (params, buffers), (xs, ys, xt, progress, ws))[0]

        with torch.no_grad(), probing() as sites:
            vmap(per_run, in_dims=(0, 0, 0, 0, 0, None if ws is None else 0), randomness="error")(
                self.module_params(), buffers, xs, ys, xt, ws)
        return list(sites)

    @torch.no_grad()
    def write_back(self, modules: list[nn.Module]) -> None:
        """Copy each run's slice of every parameter and buffer into its own module."""
        for r, module in enumerate(modules):
            for name, p in module.named_parameters():
                value = self.params[name][r]
                p.copy_(value.T if name in self.transposed else value)
            for name, b in module.named_buffers():
                b.copy_(self.buffers[name][r])
