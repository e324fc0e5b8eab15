"""Training cost of every registered method relative to source-only, measured on Office-Caltech10 SURF.

One run per method on A→W with the dataset's bench profile (MLP 800→512→256, batch 32 + 32, SGD),
one torch thread, no per-epoch selection scores. A method's time per training step is the
difference of two runs of N₁ and N₂ steps divided by N₂ − N₁, so start-up and the end-of-epoch
evaluation cancel. Each repeat times source-only right before the method, and the ratio of the
two is kept, so a machine whose load drifts during the script still gives comparable ratios; the
median over repeats is printed. Prints steps/s and the ratio (time per step ÷ source-only's),
and with ``--write`` stores the ratios in
`dalib/method_costs.py`, which `dalib methods` lists. Needs the shared data (``DALIB_DATA``).

Usage: python benchmarks/method_cost.py [--steps 40,240] [--repeats 3] [--write]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from dalib.bench.profiles import profile_for
from dalib.bench.run import build_model
from dalib.data.catalog import load_dataset
from dalib.data.tasks import select_tasks, split_source
from dalib.methods import available_methods, build_terms, resolve_method
from dalib.train.objective import Objective
from dalib.train.trainer import TrainConfig, Trainer

DATASET, TASK = "office-caltech10-surf", "A2W"
OUT = Path(__file__).resolve().parents[1] / "dalib" / "method_costs.py"


def seconds(method: str, steps: int, task, train, val) -> float:
    prof = profile_for(DATASET)
    torch.manual_seed(0)
    model = build_model(prof, train, task.source.num_classes)
    terms = build_terms(resolve_method(method), model.feature_dim, model.num_classes, model=model)
    config = TrainConfig(epochs=1, iters_per_epoch=steps, batch_size=prof.batch_size, lr=prof.lr,
                         weight_decay=prof.weight_decay, selection_scores=False)
    trainer = Trainer(model, Objective(terms), config)
    start = time.perf_counter()
    trainer.fit(train, val, task.target)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="40,240", help="N1,N2: the two run lengths whose time difference is timed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    n1, n2 = (int(s) for s in args.steps.split(","))
    torch.set_num_threads(1)
    task = select_tasks(load_dataset(DATASET), [TASK])[0]
    train, val = split_source(task.source, 0)
    def per_step(method: str) -> float:
        return (seconds(method, n2, task, train, val) - seconds(method, n1, task, train, val)) / (n2 - n1)

    baseline, ratios = [], {}
    for method in available_methods()[1:]:  # all but source_only, the reference
        pairs = [(per_step("source_only"), per_step(method)) for _ in range(args.repeats)]
        baseline += [b for b, _ in pairs]
        ratios[method] = statistics.median(t / b for b, t in pairs)
        print(f"{method:14s} {1 / statistics.median(t for _, t in pairs):8.1f} steps/s  {ratios[method]:5.2f}×",
              flush=True)
    source_steps = 1 / statistics.median(baseline)
    print(f"source_only    {source_steps:8.1f} steps/s  1.00×")
    if args.write:
        lines = [f'    "{m}": {r:.1f},' for m, r in sorted(ratios.items())]
        OUT.write_text(
            '"""Time per training step of each built-in method ÷ source-only\'s, on Office-Caltech10 SURF A→W\n'
            f'(bench profile, one thread). Written by `python benchmarks/method_cost.py --write`: rerun it after\n'
            'adding a method (a test checks that every built-in method has an entry)."""\n\n'
            f"SOURCE_ONLY_STEPS_PER_S = {source_steps:.0f}\n\n"
            "RELATIVE_STEP_TIME: dict[str, float] = {\n" + "\n".join(lines) + "\n}\n")
        print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
