"""Text-encoder speed on CPU: MiniLM embedding throughput, fine-tuning steps/s and the cache speed-up.

Reads the first N reviews of the Amazon multi-domain sentiment raw text (books/positive.review
under the data root: --data-root, else $DALIB_DATA, else ../shared/data). Measures, in one run:
embedding throughput (reviews/s) of `embed_texts` at max_length 128 and 256 (batch 64, after one
untimed pass that loads the model and meets every padded batch shape; best of --repeats, as the
machine may be shared); fine-tuning steps/s of MiniLMBackbone + linear head with SGD (batch 16,
max_length 128, 10 timed steps after 2 warm-up; the labels are placeholders, speed only), the
same for the cached trunk `top:N` (`dalib.text.trunk.MiniLMTop` over cached packed states, N in
--top, states built once in a temporary folder, untimed) and its ratio to full fine-tuning; and
`cached_embeddings` miss ÷ hit time in a temporary cache folder (the weights digest, computed
once per process, is taken before timing). Usage: python benchmarks/text_embedding.py [--n 200]
"""

from __future__ import annotations

import argparse
import html
import os
import re
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from dalib.data.domain import Domain
from dalib.data.root import require_data_root
from dalib.errors import DalibError
from dalib.models.trunk import TrunkCut
from dalib.text import MiniLMBackbone, cached_embeddings, embed_texts, tokenize
from dalib.text.cache import weights_sha256
from dalib.text.trunk import text_trunk_domains

REVIEWS = Path("amazon_multidomain_sentiment_text/sorted_data_acl/books/positive.review")
_REVIEW_TEXT = re.compile(r"<review_text>\s*(.*?)\s*</review_text>", re.S)


def load_reviews(root: Path, n: int) -> list[str]:
    """The first ``n`` non-empty ``<review_text>`` blocks, HTML entities unescaped."""
    path = root / REVIEWS
    if not path.is_file():
        raise DalibError(f"{path} not found; point --data-root or DALIB_DATA at the folder holding {REVIEWS.parts[0]}")
    texts = [html.unescape(t) for t in _REVIEW_TEXT.findall(path.read_text(encoding="utf-8", errors="replace"))]
    texts = [t for t in texts if t.strip()][:n]
    if len(texts) < n:
        raise DalibError(f"{path} holds only {len(texts)} reviews; pass --n {len(texts)} or less")
    return texts


def steps_per_s(backbone: nn.Module, inputs: torch.Tensor, batch: int, warmup: int, steps: int) -> float:
    """Steps/s of forward + backward + SGD step on ``backbone`` + Linear(384, 2) over ``inputs``."""
    torch.manual_seed(0)
    model = nn.Sequential(backbone, nn.Linear(backbone.feature_dim, 2)).train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)
    labels = torch.arange(len(inputs)) % 2
    start = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            start = time.perf_counter()
        idx = torch.arange(step * batch, (step + 1) * batch) % len(inputs)
        loss = F.cross_entropy(model(inputs[idx]), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="number of reviews")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--repeats", type=int, default=2, help="embedding timings: best of this many")
    parser.add_argument("--top", type=lambda v: [int(n) for n in v.split(",")], default=[1, 2, 3],
                        help="cached-trunk cuts top:N to time, comma-separated (default 1,2,3)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    texts = load_reviews(require_data_root(args.data_root), args.n)
    rows: list[tuple[str, str]] = []
    rate: dict[int, float] = {}
    for max_length in (128, 256):
        embed_texts(texts, max_length=max_length)  # warm-up: model load, kernels for each padded shape
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            embed_texts(texts, max_length=max_length)
            best = min(best, time.perf_counter() - t0)
        rate[max_length] = len(texts) / best
        rows.append((f"embed, max_length {max_length}", f"{rate[max_length]:.1f} reviews/s"))
    rows.append(("embed 128 ÷ 256 throughput", f"{rate[128] / rate[256]:.2f}×"))
    tokens = tokenize(texts, 128)
    sps = steps_per_s(MiniLMBackbone(), tokens, batch=16, warmup=2, steps=10)
    rows.append(("fine-tune all 6 layers, batch 16, max_length 128", f"{sps:.2f} steps/s ({16 * sps:.1f} reviews/s)"))
    labels = torch.arange(len(texts)) % 2
    domain = Domain("reviews", "R", ["neg", "pos"], TensorDataset(tokens, labels), labels, texts)
    for n_top in args.top:
        with tempfile.TemporaryDirectory() as tmp:
            (states,), top = text_trunk_domains([domain], TrunkCut("top", n_top), cache_dir=Path(tmp), say=lambda _: None)
        top_sps = steps_per_s(top, states.tensors[0], batch=16, warmup=2, steps=10)
        rows.append((f"fine-tune top:{n_top} over cached states, same batches",
                     f"{top_sps:.2f} steps/s, {top_sps / sps:.1f}× full fine-tuning"))
    weights_sha256()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        _, hit1 = cached_embeddings(texts, cache_dir=Path(tmp))
        t1 = time.perf_counter()
        _, hit2 = cached_embeddings(texts, cache_dir=Path(tmp))
        t2 = time.perf_counter()
    assert not hit1 and hit2
    rows += [("cache miss (embed + write), max_length 256", f"{1e3 * (t1 - t0):.1f} ms"),
             ("cache hit (read)", f"{1e3 * (t2 - t1):.2f} ms"),
             ("cache speed-up miss ÷ hit", f"{(t1 - t0) / (t2 - t1):.0f}×")]
    print(f"{len(texts)} reviews from {REVIEWS}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    try:
        main()
    except DalibError as err:
        raise SystemExit(f"error: {err}") from None
