"""Where a vectorised SURF batch's time goes, and the floor it puts under the full table.

    python benchmarks/batch_time_split.py [--methods source_only,dann,...] [--epochs 2] [--data-root PATH]

For each method of the SURF reference table (`experiments/office_caltech10_surf.yaml`) and the
target-only line, one vectorised batch of 18 runs (6 tasks × 3 seeds: a batch of the bench on
the CPU) trains ``--epochs`` epochs of the bench profile on one torch thread, and the script
times, per training step: gathering the batch, drawing the dropout masks, the forward pass, the
backward pass and the optimizer step; per epoch: the evaluation (accuracies and the IWV / DEV /
SND scores the selection protocols need). It also times the step's matrix products alone: the
products of one step, forward and backward, are recorded (operation, shapes, strides) and
replayed on random operands of the same layout.

From these it prints, per method, the CPU seconds per run of the full profile (1000 steps, 20
evaluations) and of its products alone, and for the whole 396-run table (36 runs per method):
the predicted CPU seconds, the part of them that is matrix products and evaluation, and the
wall time on 2 workers. A 396-run table in 3 minutes on 2 cores allows 360 CPU seconds.
Measured in this one invocation; the shares, not the seconds, carry over to a busier machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode

import dalib.train.vectorized as vectorized
from dalib.bench.config import BenchConfig
from dalib.bench.plan import plan_bench, run_bench
from dalib.bench.profiles import profile_for
from dalib.train.run_dropout import RunGenerators
from dalib.train.stacked import StackedRuns

TABLE = "source_only,dann,dan,jan,deep_coral,cdan,cdan_e,deepjdot,mcc,dann+mcc,target_only"
TASKS = "A2W,C2A,D2W,W2C,A2D,C2W"
PHASES = ("batch", "masks", "forward", "backward", "optimizer")
PRODUCTS = {torch.ops.aten.bmm.default, torch.ops.aten.mm.default, torch.ops.aten.addmm.default,
            torch.ops.aten.baddbmm.default}
RECORDED_STEP = 10  # the step whose products are replayed (past the first, which probes the dropout calls)


class ProductRecorder(TorchDispatchMode):
    """Records every matrix product dispatched while active: (operation, [(shape, stride, dtype)])."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Any, list[tuple[tuple[int, ...], tuple[int, ...], torch.dtype]]]] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if func in PRODUCTS:
            self.calls.append((func, [(tuple(a.shape), a.stride(), a.dtype) for a in args if isinstance(a, torch.Tensor)]))
        return func(*args, **(kwargs or {}))


def replay_seconds(calls: list, repeats: int = 20) -> float:
    """Seconds of one pass over ``calls``, each on random operands of its recorded layout."""
    operands = [[torch.empty_strided(s, st, dtype=dt).normal_() for s, st, dt in layout] for _, layout in calls]
    for (func, _), args in zip(calls, operands):
        func(*args)
    start = time.perf_counter()
    for _ in range(repeats):
        for (func, _), args in zip(calls, operands):
            func(*args)
    return (time.perf_counter() - start) / repeats


class BatchClock:
    """Seconds per phase of the vectorised batches trained while `installed`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.steps = self.evaluations = self.runs = 0
        self.recorder: ProductRecorder | None = None
        self.product_seconds = 0.0

    def timed(self, phase: str, fn: Callable[..., Any], record: bool = False) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            if record and self.recorder is not None:
                with self.recorder:
                    out = fn(*args, **kwargs)
            else:
                out = fn(*args, **kwargs)
            self.seconds[phase] += time.perf_counter() - start
            return out
        return wrapper

    def installed(self) -> "_Patches":
        clock = self
        trainer = vectorized.VectorizedTrainer

        def draw_masks(generators: RunGenerators, *args: Any, **kwargs: Any) -> Any:
            clock.steps += 1
            clock.recorder = ProductRecorder() if clock.steps == RECORDED_STEP else None
            return masks(generators, *args, **kwargs)

        def make_optimizer(self: Any) -> torch.optim.Optimizer:
            optimizer = make(self)
            optimizer.step = clock.timed("optimizer", optimizer.step)  # type: ignore[method-assign]
            clock.runs += len(self.runs)
            return optimizer

        def backward(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> None:
            timed_backward(tensor, *args, **kwargs)
            if clock.recorder is not None:  # the recorded step ends here: replay its products
                clock.product_seconds += replay_seconds(clock.recorder.calls)
                clock.recorder = None

        def evaluate(self: Any, *args: Any, **kwargs: Any) -> Any:
            clock.evaluations += 1
            return timed_evaluate(self, *args, **kwargs)

        masks, make = RunGenerators.draw_masks, trainer._make_optimizer
        timed_backward = self.timed("backward", torch.Tensor.backward, record=True)
        timed_evaluate = self.timed("evaluation", trainer._evaluate)
        return _Patches([(trainer, "_batch", self.timed("batch", trainer._batch)),
                         (RunGenerators, "draw_masks", self.timed("masks", draw_masks)),
                         (StackedRuns, "losses", self.timed("forward", StackedRuns.losses, record=True)),
                         (torch.Tensor, "backward", backward), (trainer, "_make_optimizer", make_optimizer),
                         (trainer, "_evaluate", evaluate)])


class _Patches:
    """Sets the given (owner, name, value) attributes while entered, restoring them after."""

    def __init__(self, patches: list[tuple[Any, str, Any]]) -> None:
        self.patches, self.saved = patches, [(o, n, getattr(o, n)) for o, n, _ in patches]

    def __enter__(self) -> None:
        for owner, name, value in self.patches:
            setattr(owner, name, value)

    def __exit__(self, *_: Any) -> None:
        for owner, name, value in self.saved:
            setattr(owner, name, value)


def measure(method: str, epochs: int, data_root: str | None, out: Path) -> BatchClock:
    """Train one vectorised batch of ``method`` (18 runs) under a `BatchClock`."""
    reference = method == "target_only"  # planned beside a method, as the bench adds it
    plan = plan_bench(BenchConfig(dataset="office-caltech10-surf", methods="source_only" if reference else method,
                                  tasks=TASKS, seeds="0,1,2", epochs=epochs, target_only=reference, workers=1,
                                  vectorize="18", data_root=data_root, out=str(out)))
    plan = dataclasses.replace(plan, specs=[s for s in plan.specs if s.method == method])
    clock = BatchClock()
    with clock.installed():
        run_bench(plan, log=None)
    return clock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=TABLE)
    parser.add_argument("--epochs", type=int, default=2, help="epochs of each measured batch (default 2)")
    parser.add_argument("--data-root")
    args = parser.parse_args()
    torch.set_num_threads(1)
    prof = profile_for("office-caltech10-surf")
    steps, evaluations = prof.epochs * (prof.iters_per_epoch or 0), prof.epochs
    print(f"SURF, one vectorised batch of 18 runs per method ({TASKS} × seeds 0,1,2), {args.epochs} epochs, "
          f"one thread; per run of the full profile ({steps} steps, {evaluations} evaluations), CPU s:")
    print("| method | " + " | ".join(PHASES) + " | evaluation | run | of it products | of it evaluation |")
    print("|---" * (len(PHASES) + 5) + "|")
    total = products = evaluation = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i, method in enumerate(args.methods.split(",")):
            clock = measure(method, args.epochs, args.data_root, Path(tmp) / str(i))
            per_step = {p: clock.seconds[p] / clock.steps * steps / clock.runs for p in PHASES}
            per_eval = clock.seconds["evaluation"] / clock.evaluations * evaluations / clock.runs
            run = sum(per_step.values()) + per_eval
            run_products = clock.product_seconds * steps / clock.runs
            total, products, evaluation = total + 36 * run, products + 36 * run_products, evaluation + 36 * per_eval
            cells = " | ".join(f"{per_step[p]:.2f}" for p in PHASES)
            print(f"| {method} | {cells} | {per_eval:.2f} | {run:.2f} | {run_products:.2f} ({run_products / run:.0%}) | "
                  f"{per_eval / run:.0%} |", flush=True)
    print(f"table of {36 * len(args.methods.split(','))} runs: {total:.0f} CPU s predicted ({total / 2:.0f} s wall on "
          f"2 workers); matrix products {products:.0f} CPU s ({products / total:.0%}), evaluation {evaluation:.0f} "
          f"CPU s ({evaluation / total:.0%}); 3 minutes on 2 cores allow 360 CPU s")


if __name__ == "__main__":
    main()
