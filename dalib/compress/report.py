"""The `dalib compress` outputs: a markdown table, a CSV of every measurement and an accuracy-vs-size plot."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from pathlib import Path

from dalib.compress.experiment import SOURCE_ONLY, Measurement, Row

STEM = "compress"


def markdown(rows: list[Row], measurements: list[Measurement], recover_steps: int) -> str:
    """The table, with what was measured on which runs."""
    groups = sorted({(m.task, m.seed) for m in measurements})
    tasks = ", ".join(dict.fromkeys(t for t, _ in groups))
    seeds = ", ".join(str(s) for s in sorted({s for _, s in groups}))
    lines = [f"**Compressed models: target accuracy on all target samples (%), mean over {len(groups)} "
             f"task × seed pairs ({tasks}; seeds {seeds}), ± its std across those pairs (task spread, not seed "
             f"noise); the bench's last-epoch models, re-trained from their records (stored accuracy reproduced); "
             f"Δ float = change from the same run's float model; gain = the method minus the equally compressed "
             f"source-only model (pp)**", "",
             "| method | variant | target acc | Δ float | gain over source-only | size (bytes) | size ÷ float "
             "| latency (ms / 256) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        gain = "–" if r.method == SOURCE_ONLY else f"{r.gain:+.1f}"
        lines.append(f"| {r.method} | {r.variant} | {r.acc:.1f} ± {r.acc_std:.1f} | {r.drop:+.1f} | {gain} | "
                     f"{r.size_bytes:,} | {r.size_ratio:.2f} | {r.latency_ms:.2f} |")
    lines += ["", "Sizes: `torch.save` of the state dict (median over tasks × seeds), pruned matrices as CSR (int32 "
              "indices) when smaller; channel pruning zeroes channels without removing them, so it saves neither "
              "bytes nor time. Latency: median of repeated calls on one batch, this process's CPU threads."]
    if recover_steps:
        lines.append(f"`+ft`: {recover_steps} recovery steps on the source task loss alone; `+ft+D`: the same steps "
                     "with the method's own λ·D(F_s, F_t) terms on unlabelled target batches (pruned weights "
                     "stay zero; no target label is read); its gain is over source-only's `+ft`, the same "
                     "recovery for a model without terms.")
    return "\n".join(lines) + "\n"


def measurements_csv(measurements: list[Measurement]) -> str:
    """One CSV line per (task, seed, method, variant)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(asdict(measurements[0])))
    writer.writeheader()
    writer.writerows(asdict(m) for m in measurements)
    return buffer.getvalue()


def accuracy_size_plot(rows: list[Row], path: Path) -> None:
    """Target accuracy against size on disk, one line per method through its variants."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dalib.bench.atomic import save_figure_atomic

    fig, ax = plt.subplots(figsize=(7, 4.5))
    try:
        for method in dict.fromkeys(r.method for r in rows):
            mine = sorted((r for r in rows if r.method == method), key=lambda r: r.size_bytes)
            ax.plot([r.size_bytes for r in mine], [r.acc for r in mine], marker="o", label=method)
            for r in mine:
                ax.annotate(r.variant, (r.size_bytes, r.acc), fontsize=6, xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("size on disk (bytes, log scale)")
        ax.set_ylabel("target accuracy (%)")
        ax.set_title("Compressed models: target accuracy vs size (no target label used)", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        save_figure_atomic(fig, path)
    finally:
        plt.close(fig)
