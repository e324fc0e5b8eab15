"""Negative-transfer report of a bench folder (see ../shared/PROTOCOLS.md, "Transfer").

Per task and method, under one selection protocol: the transfer gain over source-only
(paired by seed, mean ± std), flagged as negative transfer only when the seeds support it
(see `flags_negative_transfer`), the negative-transfer gap NTG = err_T(method) − err_T(target-only)
on the held-out target half, and the proxy A-distance on the inputs and on the adapted features.
Under a protocol that reads target labels (``oracle``) every title and file name says ORACLE.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from scipy.stats import t as student_t

from dalib.bench.mixing import RunEntry, row_label
from dalib.bench.tables import choose_hparams, non_default_settings
from dalib.eval.selection import describe, select_epoch, uses_target_labels
from dalib.eval.transfer import is_negative_transfer, negative_transfer_gap, transfer_gain

SOURCE_ONLY, TARGET_ONLY = "source_only", "target_only"

#: Fewest paired seeds whose gains may flag negative transfer: one seed has no spread to compare with.
MIN_SEEDS_FOR_NT = 2


ORACLE_LABEL = "ORACLE (selection uses target labels)"


def oracle_title(protocol: str, sep: str = " — ") -> str:
    """The prefix of every title under ``protocol``: ``ORACLE_LABEL + sep`` when it reads target labels."""
    return f"{ORACLE_LABEL}{sep}" if uses_target_labels(protocol) else ""


def artefact_name(stem: str, protocol: str, suffix: str) -> str:
    """File name of a report artefact: ``stem.suffix`` under ``last``, ``stem-PROTOCOL.suffix``
    under another honest protocol, ``stem-ORACLE.suffix`` under one that reads target labels,
    so no protocol overwrites another's files."""
    tag = "" if protocol == "last" else "-ORACLE" if uses_target_labels(protocol) else f"-{protocol}"
    return f"{stem}{tag}{suffix}"


def flags_negative_transfer(gain_mean: float, gain_std: float | None, seeds: int) -> bool:
    """Negative transfer is flagged when at least ``MIN_SEEDS_FOR_NT`` = 2 paired seeds give a mean
    gain below 0 by more than its sample std (ddof = 1): ``seeds >= 2 and ḡ + s < 0``.

    With n paired seeds the rule is a one-sided paired t-test, t = ḡ·√n / s < −√n, at level
    `nt_test_level` (n) (0.20 for n = 2, 0.11 for n = 3, 0.045 for n = 5). One seed never flags.
    """
    return seeds >= MIN_SEEDS_FOR_NT and gain_std is not None and is_negative_transfer(gain_mean, gain_std)


def nt_test_level(seeds: int) -> float:
    """One-sided p-value at the flagging threshold t = −√n: P(T_{n−1} > √n) for Student's t."""
    return float(student_t.sf(math.sqrt(seeds), seeds - 1))


@dataclass
class TransferRow:
    """One (task, method) line of the report; accuracies and gains in %, ``gain_std`` None for one seed."""

    task: str
    method: str
    seeds: int
    acc: float
    gain_mean: float
    gain_std: float | None
    negative: bool
    ntg: float | None
    pad_input: float | None
    pad_adapted: float | None

    @property
    def too_few_seeds(self) -> bool:
        """Whether the row has too few paired seeds to flag negative transfer at all."""
        return self.seeds < MIN_SEEDS_FOR_NT


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.fmean(vals) if vals else None


def transfer_rows(records: list[dict[str, Any]], protocol: str) -> list[TransferRow]:
    """Compute every (task, row) line; rows without a source-only run are skipped.

    Rows are the table's (`dalib.bench.mixing.row_label`): a one-off ``--hp`` run is its own
    row, and a grid row keeps, per task, the grid point `choose_hparams` picks under the
    protocol — so the report compares exactly what the table shows.
    """
    by: dict[tuple[str, str], dict[int, dict[str, Any]]] = defaultdict(dict)
    order: list[tuple[str, str]] = []
    baseline: dict[str, str] = {}  # row → the source-only row trained with the same profile overrides
    records, _ = choose_hparams(records, protocol)
    for rec in records:
        entry = RunEntry.of_record(rec)
        key = (rec.get("task_name", rec["task"]), entry.row)
        if key not in by:
            order.append(key)
        by[key][rec["seed"]] = rec
        baseline[entry.row] = row_label(SOURCE_ONLY, tuple(h for h in entry.hparams if h[0] == "profile"))
    rows = []
    for task, method in order:
        base_row = baseline[method]
        if rec_is_reference(method) or method == base_row or (task, base_row) not in by:
            continue
        runs, base = by[(task, method)], by[(task, base_row)]
        seeds = sorted(set(runs) & set(base))
        if not seeds:
            continue
        pick = {s: select_epoch(runs[s]["epochs"], protocol) for s in seeds}
        acc = [100 * pick[s]["target_acc"] for s in seeds]
        base_acc = [100 * select_epoch(base[s]["epochs"], protocol)["target_acc"] for s in seeds]
        gain, std = transfer_gain(acc, base_acc)  # std None for one seed
        ntg = None
        target_only = by.get((task, row_label(TARGET_ONLY, ())), {})
        held = [pick[s].get("target_heldout_acc") for s in seeds if s in target_only]
        if target_only and held and all(h is not None for h in held):
            ref = [100 * select_epoch(target_only[s]["epochs"], protocol)["target_heldout_acc"]
                   for s in seeds if s in target_only]
            ntg = negative_transfer_gap(statistics.fmean(100 * h for h in held), statistics.fmean(ref))  # type: ignore[operator]
        rows.append(TransferRow(task, method, len(seeds), statistics.fmean(acc), gain, std,
                                flags_negative_transfer(gain, std, len(seeds)), ntg,
                                _mean([runs[s].get("pad_input") for s in seeds]),
                                _mean([runs[s].get("pad_adapted") for s in seeds])))
    return rows


def rec_is_reference(row: str) -> bool:
    """Whether a row is the source-only baseline or the target-only reference (not a method)."""
    return row.partition(" ")[0] in (SOURCE_ONLY, TARGET_ONLY)


def _fmt(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _gain(row: TransferRow) -> str:
    """``mean ± std``, without ± for one seed (PROTOCOLS.md, "Reporting")."""
    return f"{row.gain_mean:+.1f}" + ("" if row.gain_std is None else f" ± {row.gain_std:.1f}")


def _nt_cell(row: TransferRow) -> str:
    return "**NT**" if row.negative else f"n={row.seeds}: too few seeds" if row.too_few_seeds else ""


def nt_rule_text(rows: list[TransferRow]) -> str:
    """The negative-transfer rule as the report states it, with its test level for the rows' seed
    counts and a note naming the rows with too few seeds to flag anything."""
    counts = sorted({r.seeds for r in rows if not r.too_few_seeds})
    levels = ", ".join(f"p = {nt_test_level(n):.3f} for n = {n}" for n in counts)
    text = (f"**NT** marks negative transfer: over n ≥ {MIN_SEEDS_FOR_NT} paired seeds the mean gain is below 0 "
            "by more than its sample std (ḡ + s < 0), i.e. the one-sided paired t statistic "
            "t = ḡ·√n/s is below −√n"
            + (f" ({levels})." if levels else "."))
    for n in sorted({r.seeds for r in rows if r.too_few_seeds}):
        few = sum(r.seeds == n for r in rows)
        text += (f" Note: too few seeds (n={n}) to flag negative transfer on {few} of {len(rows)} rows: one seed "
                 f"has no spread to weigh a gain against, so those rows are never flagged; run ≥ "
                 f"{MIN_SEEDS_FOR_NT} seeds.")
    return text


def report_markdown(records: list[dict[str, Any]], protocol: str, rows: list[TransferRow],
                    plots: list[str]) -> str:
    """The report: title with dataset, protocol and seeds, a summary per method, the rows."""
    dataset = records[0]["dataset"] if records else ""
    seeds = len({r["seed"] for r in records})
    settings = non_default_settings(records)
    lines = [f"# {oracle_title(protocol)}Negative-transfer report: {dataset}", "",
             f"Selection: **{protocol}** — {describe(protocol)}; {seeds} seed(s). Gains are target accuracy "
             "minus source-only accuracy (percentage points, paired by seed, mean ± sample std). "
             f"{nt_rule_text(rows)} NTG = err_T(method) − err_T(target-only) "
             "on the held-out target half (positive: the source data hurt compared with the target's own "
             "labels). PAD = proxy A-distance (0: indistinguishable, 2: separable) on the inputs and on "
             "the adapted features; a negative PAD means no linear domain classifier beats chance. On "
             "inputs z-scored per domain (e.g. SURF) each domain has mean exactly 0, so the mean of a "
             "random half mirrors the other half's and the held-out error lands above 0.5: read "
             "negative input PADs as 0. PAD inputs is – where the inputs are not one float vector per "
             "sample (a cached trunk's stacked views, token ids).", "",
             *([f"Non-default settings of every run: {settings} (a row's own `--hp` values are in its name).", ""]
               if settings else []),
             "## Summary per method", "",
             "| method | mean gain | tasks with NT | tasks with too few seeds | tasks |", "|---|---|---|---|---|"]
    methods = list(dict.fromkeys(r.method for r in rows))
    for m in methods:
        mine = [r for r in rows if r.method == m]
        lines.append(f"| {m} | {statistics.fmean(r.gain_mean for r in mine):+.1f} | "
                     f"{sum(r.negative for r in mine)} | {sum(r.too_few_seeds for r in mine)} | {len(mine)} |")
    lines += ["", "## Per task", "",
              "| task | method | seeds | acc (%) | gain | NT | NTG | PAD inputs | PAD adapted |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.task} | {r.method} | {r.seeds} | {r.acc:.1f} | {_gain(r)} | {_nt_cell(r)} | "
                     f"{_fmt(r.ntg)} | {_fmt(r.pad_input, 2)} | {_fmt(r.pad_adapted, 2)} |")
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"
