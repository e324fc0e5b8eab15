"""Negative-transfer report of a bench folder (see ../shared/PROTOCOLS.md, "Transfer").

Per task and method, under one selection protocol: the transfer gain over source-only
(paired by seed, mean ± std, flagged as negative transfer when the mean is below 0 by more
than its std), the negative-transfer gap NTG = err_T(method) − err_T(target-only) on the
held-out target half, and the proxy A-distance on the inputs and on the adapted features.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from dalib.eval.selection import describe, select_epoch, uses_target_labels
from dalib.eval.transfer import is_negative_transfer, negative_transfer_gap, transfer_gain

SOURCE_ONLY, TARGET_ONLY = "source_only", "target_only"


@dataclass
class TransferRow:
    """One (task, method) line of the report; accuracies and gains in %."""

    task: str
    method: str
    acc: float
    gain_mean: float
    gain_std: float
    negative: bool
    ntg: float | None
    pad_input: float | None
    pad_adapted: float | None


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.fmean(vals) if vals else None


def transfer_rows(records: list[dict[str, Any]], protocol: str) -> list[TransferRow]:
    """Compute every (task, method) row; methods without a source-only run are skipped."""
    by: dict[tuple[str, str], dict[int, dict[str, Any]]] = defaultdict(dict)
    order: list[tuple[str, str]] = []
    for rec in records:
        key = (rec.get("task_name", rec["task"]), rec["method"])
        if key not in by:
            order.append(key)
        by[key][rec["seed"]] = rec
    rows = []
    for task, method in order:
        if method in (SOURCE_ONLY, TARGET_ONLY) or (task, SOURCE_ONLY) not in by:
            continue
        runs, base = by[(task, method)], by[(task, SOURCE_ONLY)]
        seeds = sorted(set(runs) & set(base))
        if not seeds:
            continue
        pick = {s: select_epoch(runs[s]["epochs"], protocol) for s in seeds}
        acc = [100 * pick[s]["target_acc"] for s in seeds]
        base_acc = [100 * select_epoch(base[s]["epochs"], protocol)["target_acc"] for s in seeds]
        gain, std = transfer_gain(acc, base_acc)
        ntg = None
        target_only = by.get((task, TARGET_ONLY), {})
        held = [pick[s].get("target_heldout_acc") for s in seeds if s in target_only]
        if target_only and held and all(h is not None for h in held):
            ref = [100 * select_epoch(target_only[s]["epochs"], protocol)["target_heldout_acc"]
                   for s in seeds if s in target_only]
            ntg = negative_transfer_gap(statistics.fmean(100 * h for h in held), statistics.fmean(ref))  # type: ignore[operator]
        rows.append(TransferRow(task, method, statistics.fmean(acc), gain, std, is_negative_transfer(gain, std), ntg,
                                _mean([runs[s].get("pad_input") for s in seeds]),
                                _mean([runs[s].get("pad_adapted") for s in seeds])))
    return rows


def _fmt(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def report_markdown(records: list[dict[str, Any]], protocol: str, rows: list[TransferRow],
                    plots: list[str]) -> str:
    """The report: title with dataset, protocol and seeds, a summary per method, the rows."""
    dataset = records[0]["dataset"] if records else ""
    seeds = len({r["seed"] for r in records})
    oracle = "ORACLE (selection uses target labels) — " if uses_target_labels(protocol) else ""
    lines = [f"# {oracle}Negative-transfer report: {dataset}", "",
             f"Selection: **{protocol}** — {describe(protocol)}; {seeds} seed(s). Gains are target accuracy "
             "minus source-only accuracy (percentage points, paired by seed); **NT** marks negative "
             "transfer (mean gain below 0 by more than its std). NTG = err_T(method) − err_T(target-only) "
             "on the held-out target half (positive: the source data hurt compared with the target's own "
             "labels). PAD = proxy A-distance (0: indistinguishable, 2: separable) on the inputs and on "
             "the adapted features; a negative PAD means no linear domain classifier beats chance. On "
             "inputs z-scored per domain (e.g. SURF) each domain has mean exactly 0, so the mean of a "
             "random half mirrors the other half's and the held-out error lands above 0.5: read "
             "negative input PADs as 0.", "", "## Summary per method", "",
             "| method | mean gain | tasks with NT | tasks |", "|---|---|---|---|"]
    methods = list(dict.fromkeys(r.method for r in rows))
    for m in methods:
        mine = [r for r in rows if r.method == m]
        lines.append(f"| {m} | {statistics.fmean(r.gain_mean for r in mine):+.1f} | "
                     f"{sum(r.negative for r in mine)} | {len(mine)} |")
    lines += ["", "## Per task", "",
              "| task | method | acc (%) | gain | NT | NTG | PAD inputs | PAD adapted |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.task} | {r.method} | {r.acc:.1f} | {r.gain_mean:+.1f} ± {r.gain_std:.1f} | "
                     f"{'**NT**' if r.negative else ''} | {_fmt(r.ntg)} | {_fmt(r.pad_input, 2)} | "
                     f"{_fmt(r.pad_adapted, 2)} |")
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"
