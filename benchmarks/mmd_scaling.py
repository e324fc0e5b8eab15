"""MMD cost: quadratic (U-statistic) vs linear-time estimator, and trainer step time per method.

Part 1 times one forward+backward of MK-MMD² on n source + n target samples (d = 256) for
n = 256 … 8192 with a fixed bandwidth (so the linear estimator is truly O(n)), and prints
the quadratic / linear ratio. Part 2 times trainer steps on SURF-sized data (800-d, batch
32 + 32, the SURF profile's MLP) for every registered method, relative to source_only.
Usage: python benchmarks/mmd_scaling.py [--sizes 256,1024,4096,8192] [--steps 300]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from dalib.alignment.mmd import GaussianKernels, mmd2_linear, mmd2_unbiased
from dalib.data.domain import tensor_domain
from dalib.methods import available_methods, build_terms, resolve_method
from dalib.models import Classifier, build_backbone
from dalib.train.objective import Objective
from dalib.train.trainer import TrainConfig, Trainer


def time_estimator(fn, n: int, d: int = 256, repeats: int = 3) -> float:
    gen = torch.Generator().manual_seed(n)
    x = torch.randn(n, d, generator=gen, requires_grad=True)
    y = torch.randn(n, d, generator=gen) + 0.5
    kernel = GaussianKernels(sigma2=float(2 * d))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x, y, kernel).backward()
        best = min(best, time.perf_counter() - start)
    return best


def step_time(method: str, steps: int) -> float:
    gen = np.random.default_rng(0)
    names = [str(c) for c in range(10)]
    src = tensor_domain("s", "S", names, gen.normal(size=(800, 800)), np.arange(800) % 10)
    tgt = tensor_domain("t", "T", names, gen.normal(size=(800, 800)) + 0.3, np.arange(800) % 10)
    torch.manual_seed(0)
    model = Classifier(build_backbone("mlp", 800, hidden=(512,)), 10, 256)
    terms = build_terms(resolve_method(method), 256, 10)
    config = TrainConfig(epochs=1, iters_per_epoch=steps, batch_size=32, selection_scores=False)
    trainer = Trainer(model, Objective(terms), config)
    tiny = src.subset(np.arange(16))
    return trainer.fit(src, tiny, tgt.subset(np.arange(16))).seconds / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,512,1024,2048,4096,8192")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("| n | quadratic (s) | linear (s) | quadratic / linear |\n|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        q, lin = time_estimator(mmd2_unbiased, n), time_estimator(mmd2_linear, n)
        print(f"| {n} | {q:.4f} | {lin:.5f} | {q / lin:.1f} |", flush=True)
    print("\n| method | ms/step | ÷ source_only |\n|---|---|---|")
    methods = available_methods()
    best = {m: float("inf") for m in methods}
    for _ in range(args.repeats):  # round-robin, best of repeats: machine load hits every method alike
        for m in methods:
            best[m] = min(best[m], step_time(m, args.steps))
    for m in methods:
        print(f"| {m} | {1e3 * best[m]:.2f} | {best[m] / best['source_only']:.2f} |")


if __name__ == "__main__":
    main()
