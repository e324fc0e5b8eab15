"""PNG plots of a negative-transfer report (matplotlib, no display needed).

Each plot is written atomically and its title names the selection protocol, with the ORACLE
prefix when the protocol reads target labels.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402

from dalib.bench.atomic import save_figure_atomic  # noqa: E402
from dalib.bench.report import MIN_SEEDS_FOR_NT, TransferRow, oracle_title  # noqa: E402
from dalib.errors import DalibError  # noqa: E402


def _title(protocol: str, what: str) -> str:
    """``what, selection: PROTOCOL``, under a line with the ORACLE label when the protocol reads target labels."""
    return oracle_title(protocol, sep="\n") + f"{what}, selection: {protocol}"


def _save(fig: plt.Figure, path: Path) -> None:
    try:
        fig.tight_layout()
        save_figure_atomic(fig, path)
    finally:
        plt.close(fig)


def gain_heatmap(rows: list[TransferRow], path: Path, protocol: str) -> None:
    """Tasks × methods heatmap of the mean gain (pp); negative transfer cells are marked NT and
    cells with too few seeds to flag it are marked with their seed count."""
    tasks = list(dict.fromkeys(r.task for r in rows))
    methods = list(dict.fromkeys(r.method for r in rows))
    grid = np.full((len(tasks), len(methods)), np.nan)
    for r in rows:
        grid[tasks.index(r.task), methods.index(r.method)] = r.gain_mean
    lim = max(1.0, float(np.nanmax(np.abs(grid))))
    fig, ax = plt.subplots(figsize=(2.6 + 0.9 * len(methods), 1.4 + 0.45 * len(tasks)))
    im = ax.imshow(grid, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(methods)), methods, rotation=45, ha="right")
    ax.set_yticks(range(len(tasks)), tasks)
    for r in rows:
        i, j = tasks.index(r.task), methods.index(r.method)
        mark = "\nNT" if r.negative else f"\nn={r.seeds}" if r.too_few_seeds else ""
        ax.text(j, i, f"{r.gain_mean:+.1f}{mark}", ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax, label="gain over source-only (pp)")
    few = f"\nn < {MIN_SEEDS_FOR_NT} seeds: too few to flag NT" if any(r.too_few_seeds for r in rows) else ""
    ax.set_title(_title(protocol, "Transfer gain") + few, fontsize=9)
    _save(fig, path)


def pad_vs_gain(rows: list[TransferRow], path: Path, protocol: str) -> None:
    """Scatter of the adapted features' proxy A-distance against the gain, one colour per method."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for m in dict.fromkeys(r.method for r in rows):
        pts = [(r.pad_adapted, r.gain_mean) for r in rows if r.method == m and r.pad_adapted is not None]
        if pts:
            ax.scatter(*zip(*pts), label=m, s=18)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("proxy A-distance of adapted features")
    ax.set_ylabel("gain over source-only (pp)")
    ax.legend(fontsize=7)
    ax.set_title(_title(protocol, "Adapted-feature PAD vs gain"), fontsize=9)
    _save(fig, path)


def tsne_plot(f_s: np.ndarray, f_t: np.ndarray, title: str, path: Path, max_points: int = 600,
              seed: int = 0) -> None:
    """2-D t-SNE of source (blue) and target (red) features, each subsampled to ``max_points``.
    Perplexity 30, lowered to ``(n - 1) / 3`` for ``n < 91`` points in all (t-SNE needs
    perplexity < n; a neighbourhood of a third of a small sample keeps its local structure)."""
    rng = np.random.default_rng(seed)
    f_s = f_s[rng.permutation(len(f_s))[:max_points]]
    f_t = f_t[rng.permutation(len(f_t))[:max_points]]
    n = len(f_s) + len(f_t)
    if n < 4:
        raise DalibError(f"t-SNE needs at least 4 points, got {n}; pass --tsne none")
    perplexity = min(30.0, (n - 1) / 3)
    emb = TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(
        np.vstack([f_s, f_t]))
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(*emb[: len(f_s)].T, s=6, c="tab:blue", label="source")
    ax.scatter(*emb[len(f_s):].T, s=6, c="tab:red", label="target")
    ax.set_title(title, fontsize=9)
    ax.legend()
    ax.set_xticks([])
    ax.set_yticks([])
    _save(fig, path)
