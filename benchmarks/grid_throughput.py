"""Runs per minute of one grid on each way of executing it (a script, not a test).

    python benchmarks/grid_throughput.py [--methods source_only,dann,mcc] [--tasks A2W,C2A,D2W,W2C,A2D,C2W]
        [--seeds 0] [--epochs N] [--data-root PATH]

The same Office-Caltech10 SURF grid (bench profile, no target-only runs) runs from scratch, in a
fresh output folder each time, as

* serial: one process, every run alone (``--workers 1 --vectorize off``);
* workers 2: two processes, every run alone;
* vectorised: one process, runs of one method trained as one model (``--vectorize auto``);
* vectorised, workers 2: both;
* vectorised, workers 2, bf16: both, with ``--profile precision=bf16`` (bfloat16 operands in
  the linear layers' products; another run's numbers, `dalib.train.precision`);
* and, when a GPU is present, cuda (every run alone) and cuda vectorised.

Prints wall seconds, runs per minute and the ratio to serial of each, measured in this one
invocation (the machine's speed drifts by ±25% over minutes: compare ratios, not seconds).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from dalib.bench.config import BenchConfig
from dalib.bench.plan import plan_bench, run_bench


def wall_seconds(settings: dict, out: Path) -> tuple[float, int]:
    """(seconds, runs) of one grid run from scratch."""
    plan = plan_bench(BenchConfig(**settings, out=str(out)))
    start = time.perf_counter()
    run_bench(plan, log=None)
    return time.perf_counter() - start, len(plan.specs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="source_only,dann,mcc")
    parser.add_argument("--tasks", default="A2W,C2A,D2W,W2C,A2D,C2W")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--data-root")
    args = parser.parse_args()
    grid = dict(dataset="office-caltech10-surf", methods=args.methods, tasks=args.tasks, seeds=args.seeds,
                epochs=args.epochs, target_only=False, data_root=args.data_root)
    ways = {"serial": dict(workers=1, vectorize="off"), "workers 2": dict(workers=2, vectorize="off"),
            "vectorised": dict(workers=1, vectorize="auto"), "vectorised, workers 2": dict(workers=2, vectorize="auto"),
            "vectorised, workers 2, bf16": dict(workers=2, vectorize="auto", profile=["precision=bf16"])}
    if torch.cuda.is_available():
        ways["cuda"] = dict(workers=1, vectorize="off", device="cuda")
        ways["cuda vectorised"] = dict(workers=1, vectorize="auto", device="cuda")
    print(f"grid: SURF {args.methods} × {args.tasks} × seeds {args.seeds}"
          + (f", {args.epochs} epochs" if args.epochs else ", bench profile"))
    print("| execution | wall s | runs/min | ÷ serial |\n|---|---|---|---|")
    base = None
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, way) in enumerate(ways.items()):
            seconds, runs = wall_seconds({**grid, **way}, Path(tmp) / str(i))
            rate = 60.0 * runs / seconds
            base = base or rate
            print(f"| {name} | {seconds:.1f} | {rate:.1f} | {rate / base:.2f} |", flush=True)


if __name__ == "__main__":
    main()
