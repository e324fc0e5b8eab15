"""Trainer overhead: time per step of `dalib.train.Trainer` ÷ a bare hand-written torch loop.

Both run the same model (an MLP 800→512→256→10), the same optimiser (SGD, momentum 0.9,
Nesterov, weight decay, DANN lr decay) and the same in-memory batches (32 source + 32 target
drawn; source-only, so only the source batch is forwarded, as the trainer does). Evaluation sets are tiny so the per-epoch evaluation is a
negligible part of the trainer's time. Prints the median over repeats and the ratio
(target ≤ 1.05). Usage: python benchmarks/trainer_overhead.py [--steps 1500] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from torch.nn import functional as F

from dalib.data.domain import tensor_domain
from dalib.models import Classifier, build_backbone
from dalib.train.objective import Objective
from dalib.train.schedules import inverse_decay
from dalib.train.trainer import TrainConfig, Trainer


def make_model(seed: int) -> Classifier:
    torch.manual_seed(seed)
    return Classifier(build_backbone("mlp", 800, hidden=(512,)), 10, 256)


def bare_loop(xs: torch.Tensor, ys: torch.Tensor, xt: torch.Tensor, steps: int, batch: int) -> float:
    model = make_model(0)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4, nesterov=True, foreach=True)
    gen_s, gen_t = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    model.train()
    start = time.perf_counter()
    perm_s, perm_t, i = torch.randperm(len(xs), generator=gen_s), torch.randperm(len(xt), generator=gen_t), 0
    for step in range(steps):
        if (i + 1) * batch > len(xs):
            perm_s, perm_t, i = torch.randperm(len(xs), generator=gen_s), torch.randperm(len(xt), generator=gen_t), 0
        bs, bt = perm_s[i * batch:(i + 1) * batch], perm_t[i * batch:(i + 1) * batch]
        i += 1
        for g in opt.param_groups:
            g["lr"] = 0.01 * inverse_decay(step / steps)
        _ = xt[bt]  # the target batch is drawn but, with no alignment term, not forwarded
        _, logits = model(xs[bs])
        loss = F.cross_entropy(logits, ys[bs])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.perf_counter() - start) / steps


def trainer_loop(xs: torch.Tensor, ys: torch.Tensor, xt: torch.Tensor, steps: int, batch: int) -> float:
    names = [str(c) for c in range(10)]
    src = tensor_domain("s", "S", names, xs.numpy(), ys.numpy())
    tgt = tensor_domain("t", "T", names, xt.numpy(), np.zeros(len(xt), dtype=np.int64))
    tiny = src.subset(np.arange(16))
    cfg = TrainConfig(epochs=1, iters_per_epoch=steps, batch_size=batch, lr=0.01, selection_scores=False)
    trainer = Trainer(make_model(0), Objective([]), cfg)
    history = trainer.fit(src, tiny, tgt.subset(np.arange(16)))
    return history.seconds / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    xs, xt = torch.randn(960, 800, generator=gen), torch.randn(960, 800, generator=gen)
    ys = torch.randint(0, 10, (960,), generator=gen)
    bare, ours = [], []
    for _ in range(args.repeats):  # interleaved so that machine load affects both alike
        bare.append(bare_loop(xs, ys, xt, args.steps, 32))
        ours.append(trainer_loop(xs, ys, xt, args.steps, 32))
    b, t = statistics.median(bare), statistics.median(ours)
    print(f"bare torch loop: {1e3 * b:.3f} ms/step (median of {args.repeats} × {args.steps} steps)")
    print(f"dalib Trainer:   {1e3 * t:.3f} ms/step")
    print(f"ratio trainer / bare = {t / b:.3f} (target ≤ 1.05)")


if __name__ == "__main__":
    main()
