"""Result tables: rows = methods, columns = tasks + Avg, cells = mean ± std over seeds (%)."""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from dalib.eval.selection import describe, select_epoch, uses_target_labels, utility

SOURCE_ONLY, TARGET_ONLY = "source_only", "target_only"


@dataclass
class Table:
    """Accuracies ``cells[method][task]`` (one value per seed, in %) plus what produced them."""

    dataset: str
    protocol: str
    methods: list[str]
    tasks: list[str]
    cells: dict[str, dict[str, list[float]]]
    metric: str = "target_acc"
    chosen: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def title(self) -> str:
        seeds = max((len(v) for row in self.cells.values() for v in row.values()), default=0)
        oracle = "ORACLE (selection uses target labels) — " if uses_target_labels(self.protocol) else ""
        return (f"{oracle}{self.dataset}: {METRICS[self.metric]} (%), selection: {self.protocol} — "
                f"{describe(self.protocol)}; mean ± std over {seeds} seed(s)")

    def mean(self, method: str, task: str) -> float | None:
        vals = self.cells.get(method, {}).get(task, [])
        return statistics.fmean(vals) if vals else None

    def average(self, method: str) -> float | None:
        """Avg column: mean over tasks of the per-task means (None if a task is missing)."""
        means = [self.mean(method, t) for t in self.tasks]
        return None if any(m is None for m in means) else statistics.fmean(means)  # type: ignore[arg-type]


METRICS = {
    "target_acc": "accuracy on all target samples",
    "target_heldout_acc": "accuracy on the held-out 50% of the target, with the target-only reference line",
}


def build_table(records: list[dict[str, Any]], protocol: str, task_order: list[str] | None = None,
                metric: str = "target_acc") -> Table:
    """Select an epoch per run under ``protocol`` and collect its ``metric`` (see METRICS).

    Target-only runs are evaluated on the held-out target half only, so they appear in
    ``target_heldout_acc`` tables and never in ``target_acc`` ones.
    """
    if metric == "target_acc":
        records = [r for r in records if r["method"] != TARGET_ONLY]
    records, chosen = choose_hparams(records, protocol)
    cells: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    methods: list[str] = []
    tasks: list[str] = list(task_order or [])
    names: dict[str, str] = {}
    for rec in sorted(records, key=lambda r: r["seed"]):
        m, t = rec["method"], rec["task"]
        names[t] = rec.get("task_name", t)
        if m not in methods:
            methods.append(m)
        if t not in tasks:
            tasks.append(t)
        cells[m][t].append(100.0 * select_epoch(rec["epochs"], protocol)[metric])
    methods = sorted(methods, key=lambda m: (m != SOURCE_ONLY, m == TARGET_ONLY, methods.index(m)))
    by_method = {m: {names.get(t, t): cells[m][t] for t in tasks} for m in methods}
    shown = {m: {names.get(t, t): v for t, v in per_task.items()} for m, per_task in chosen.items()}
    return Table(records[0]["dataset"] if records else "", protocol, methods,
                 [names.get(t, t) for t in tasks], by_method, metric, shown)


def _hp_text(rec: dict[str, Any]) -> str:
    return ", ".join(f"{t}.{k}={v}" for t, k, v in rec.get("hparams", [])) or "defaults"


def choose_hparams(records: list[dict[str, Any]], protocol: str
                   ) -> tuple[list[dict[str, Any]], dict[str, dict[str, str]]]:
    """Keep, per (method, task), the hyper-parameter setting the protocol prefers.

    A setting's score is the mean over its seeds of the protocol's utility at the epoch the
    protocol selects (for ``last``: the last epoch's source-val accuracy); ties go to the
    first setting in sorted order. Returns the kept records and, where there was a choice,
    ``chosen[method][task]`` = the chosen setting as text.
    """
    groups: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for rec in records:
        groups[(rec["method"], rec["task"])][_hp_text(rec)].append(rec)
    kept: list[dict[str, Any]] = []
    chosen: dict[str, dict[str, str]] = defaultdict(dict)
    for (method, task), settings in groups.items():
        if len(settings) == 1:
            kept += next(iter(settings.values()))
            continue
        def score(hp: str) -> float:
            return statistics.fmean(utility(select_epoch(r["epochs"], protocol), protocol) for r in settings[hp])
        best = max(sorted(settings), key=score)
        kept += settings[best]
        chosen[method][task] = best
    return kept, dict(chosen)


def format_cell(values: list[float]) -> str:
    """``mean ± std`` with one decimal (sample std, ddof = 1); no ± for a single seed."""
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.fmean(values):.1f} ± {statistics.stdev(values):.1f}"


def _rows(table: Table) -> list[list[str]]:
    rows = []
    for m in table.methods:
        avg = table.average(m)
        rows.append([m] + [format_cell(table.cells[m].get(t, [])) for t in table.tasks]
                    + ["–" if avg is None else f"{avg:.1f}"])
    return rows


def to_markdown(table: Table) -> str:
    """Markdown table with a title line naming dataset, protocol and seeds; best mean in bold."""
    header = ["method", *table.tasks, "Avg"]
    rivals = [m for m in table.methods if m != TARGET_ONLY]  # the reference line is never "best"
    best = {t: max((table.mean(m, t) or -1.0) for m in rivals) for t in table.tasks}
    best_avg = max((table.average(m) or -1.0) for m in rivals)
    lines = [f"**{table.title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for m, row in zip(table.methods, _rows(table)):
        cells = row[1:-1]
        bold = m != TARGET_ONLY and len(rivals) > 1
        cells = [f"**{c}**" if bold and table.mean(m, t) == best[t] else c for c, t in zip(cells, table.tasks)]
        avg = f"**{row[-1]}**" if bold and table.average(m) == best_avg else row[-1]
        lines.append("| " + " | ".join([m, *cells, avg]) + " |")
    if table.chosen:
        lines += ["", f"Hyper-parameters chosen per task under `{table.protocol}`:", ""]
        lines += [f"- {m}, {t}: {hp}" for m, per_task in table.chosen.items() for t, hp in per_task.items()]
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    """CSV: a comment line with the title, then method, per-task mean/std columns, Avg."""
    buf = io.StringIO()
    buf.write(f"# {table.title}\n")
    writer = csv.writer(buf)
    writer.writerow(["method", *[f"{t} {s}" for t in table.tasks for s in ("mean", "std")], "Avg"])
    for m in table.methods:
        row: list[str] = [m]
        for t in table.tasks:
            vals = table.cells[m].get(t, [])
            row += [f"{statistics.fmean(vals):.2f}" if vals else "",
                    f"{statistics.stdev(vals):.2f}" if len(vals) > 1 else ""]
        avg = table.average(m)
        row.append("" if avg is None else f"{avg:.2f}")
        writer.writerow(row)
    return buf.getvalue()


def _latex_escape(text: str) -> str:
    return (text.replace("\\", "\\textbackslash{}").replace("_", "\\_").replace("&", "\\&")
            .replace("%", "\\%").replace("#", "\\#").replace("→", "$\\to$").replace("±", "$\\pm$"))


def to_latex(table: Table) -> str:
    """A booktabs ``tabular`` with the title as a comment and caption; best mean per column bold."""
    rivals = [m for m in table.methods if m != TARGET_ONLY]
    best = {t: max((table.mean(m, t) or -1.0) for m in rivals) for t in table.tasks}
    best_avg = max((table.average(m) or -1.0) for m in rivals)
    cols = "l" + "c" * (len(table.tasks) + 1)
    lines = [f"% {table.title}", "\\begin{table}[t]", "\\centering",
             f"\\caption{{{_latex_escape(table.title)}}}", f"\\begin{{tabular}}{{{cols}}}", "\\toprule",
             " & ".join(["Method", *(_latex_escape(t) for t in table.tasks), "Avg"]) + " \\\\", "\\midrule"]
    for m, row in zip(table.methods, _rows(table)):
        bold = m != TARGET_ONLY and len(rivals) > 1
        cells = [f"\\textbf{{{_latex_escape(c)}}}" if bold and table.mean(m, t) == best[t] else _latex_escape(c)
                 for c, t in zip(row[1:-1], table.tasks)]
        avg = f"\\textbf{{{row[-1]}}}" if bold and table.average(m) == best_avg else row[-1]
        lines.append(" & ".join([_latex_escape(m), *cells, avg]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"
