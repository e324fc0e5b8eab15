"""Result tables: rows = settings, columns = tasks + Avg, cells = mean ± std over seeds (%).

A row is one setting (`dalib.bench.mixing.row_label`): a method label, with its one-off
overrides in brackets, or a grid over which the protocol selects per task (the chosen
points are listed under the table). Runs whose settings would mix in one table are refused
with one line (`dalib.bench.mixing.find_mixing`). The title names every profile field that all
rows share with a value other than the dataset's profile (`non_default_settings`: what
``--profile`` or ``--epochs`` changed), so no non-default setting goes unstated.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from dalib.bench.environment import environments
from dalib.bench.fingerprint import canonical_json, weights_identity
from dalib.bench.mixing import RunEntry, find_mixing, grid_choice
from dalib.bench.values import format_value
from dalib.errors import DalibError
from dalib.eval.selection import describe, select_epoch, uses_target_labels, utility

SOURCE_ONLY, TARGET_ONLY = "source_only", "target_only"


@dataclass
class Table:
    """Accuracies ``cells[row][task]`` (one value per seed, in %) plus what produced them.

    ``methods`` are the row labels; ``chosen[row][task]`` the grid point selected per task;
    ``unchecked`` counts runs stored without a fingerprint (an older dalib), whose settings
    could not be compared; ``non_default`` lists the shared non-default profile fields
    (`non_default_settings`); ``environments`` the distinct machines and library versions the
    runs were trained with (`dalib.bench.environment`).
    """

    dataset: str
    protocol: str
    methods: list[str]
    tasks: list[str]
    cells: dict[str, dict[str, list[float]]]
    metric: str = "target_acc"
    chosen: dict[str, dict[str, str]] = field(default_factory=dict)
    unchecked: int = 0
    non_default: str = ""
    environments: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        counts = sorted({len(v) for row in self.cells.values() for v in row.values()})
        seeds = "0" if not counts else str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]} (per cell)"
        oracle = "ORACLE (selection uses target labels) — " if uses_target_labels(self.protocol) else ""
        return (f"{oracle}{self.dataset}: {METRICS[self.metric]} (%), selection: {self.protocol} — "
                f"{describe(self.protocol)}; mean ± std over {seeds} seed(s)"
                + (f"; non-default settings: {self.non_default}" if self.non_default else ""))

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
    "source_val_acc": "source-val accuracy (the held-out 20% of the source: compare settings on it, no target labels)",
}


def build_table(records: list[dict[str, Any]], protocol: str, task_order: list[str] | None = None,
                metric: str = "target_acc") -> Table:
    """Select an epoch per run under ``protocol`` and collect its ``metric`` (see METRICS).

    Target-only runs are evaluated on the held-out target half only, so they appear in
    ``target_heldout_acc`` tables and never in ``target_acc`` or ``source_val_acc`` ones (they
    train on no source). Raises a one-line `DalibError` when the records mix settings.
    """
    if metric in ("target_acc", "source_val_acc"):
        records = [r for r in records if not _is_reference(r["method"])]
    problem = find_mixing([RunEntry.of_record(r) for r in records])
    if problem:
        raise DalibError(f"these runs were made with different settings and would mix in one table — {problem}; "
                         "keep one setting per bench folder (--out)")
    records, chosen = choose_hparams(records, protocol)
    cells: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    labels: list[str] = []  # method labels in order of appearance; a row's variants follow its plain row
    row_label: dict[str, str] = {}
    tasks: list[str] = list(task_order or [])
    names: dict[str, str] = {}
    for rec in sorted(records, key=lambda r: r["seed"]):
        m, t = RunEntry.of_record(rec).row, rec["task"]
        names[t] = rec.get("task_name", t)
        row_label[m] = rec["method"]
        if rec["method"] not in labels:
            labels.append(rec["method"])
        if t not in tasks:
            tasks.append(t)
        cells[m][t].append(100.0 * select_epoch(rec["epochs"], protocol)[metric])
    methods = sorted(row_label, key=lambda m: (not _is_source_only(m), _is_reference(m),
                                               labels.index(row_label[m]), m != row_label[m], m))
    by_method = {m: {names.get(t, t): cells[m][t] for t in tasks} for m in methods}
    shown = {m: {names.get(t, t): v for t, v in per_task.items()} for m, per_task in chosen.items()}
    return Table(records[0]["dataset"] if records else "", protocol, methods,
                 [names.get(t, t) for t in tasks], by_method, metric, shown,
                 sum(r.get("fingerprint") is None for r in records), non_default_settings(records),
                 environments(records))


def non_default_settings(records: list[dict[str, Any]]) -> str:
    """``profile.NAME=V, …`` for each profile field of the runs' settings (their fingerprint's
    ``profile``) that differs from the dataset's profile (`dalib.bench.profiles.profile_for`)
    and that a run's own ``--hp`` / ``--grid`` does not set (those are in its row label);
    fields in `Profile` order, "" when every shared field has its default. ``weights`` compare
    as the fingerprint holds them (`weights_identity`), so the bundled MiniLM a ``minilm``
    profile starts from is its default, not a setting."""
    from dalib.bench.profiles import profile_for

    defaults: dict[str, dict[str, Any]] = {}
    found: dict[str, Any] = {}
    for rec in records:
        entry = RunEntry.of_record(rec)
        given = (entry.setting or {}).get("profile") or {}
        if rec["dataset"] not in defaults:
            default_profile = dataclasses.asdict(profile_for(rec["dataset"]))
            defaults[rec["dataset"]] = {**default_profile, "weights": weights_identity(default_profile)}
        default = defaults[rec["dataset"]]
        own = {n for t, n, _ in entry.hparams if t == "profile"}
        for name, value in given.items():
            if name not in own and name in default and canonical_json(value) != canonical_json(default[name]):
                found[name] = value
    order = list(next(iter(defaults.values()), {}))
    return ", ".join(f"profile.{n}={format_value(found[n])}" for n in order if n in found)


def _is_source_only(row: str) -> bool:
    return row == SOURCE_ONLY or row.startswith(f"{SOURCE_ONLY} ")


def _is_reference(row: str) -> bool:
    """Whether a row (or method label) is the target-only reference line, which is never "best"."""
    return row == TARGET_ONLY or row.startswith((f"{TARGET_ONLY} ", f"{TARGET_ONLY}+"))


def choose_hparams(records: list[dict[str, Any]], protocol: str
                   ) -> tuple[list[dict[str, Any]], dict[str, dict[str, str]]]:
    """Keep, per (grid row, task), the grid point the protocol prefers; other runs are all kept.

    Only runs launched as a grid (``record["grid"]`` names their axes) are selected over; a
    grid point's score is the mean over its seeds of the protocol's utility at the epoch the
    protocol selects (for ``last``: the last epoch's source-val accuracy); ties go to the
    first point in sorted order. Returns the kept records and ``chosen[row][task]`` = the
    chosen point as text.
    """
    groups: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    kept: list[dict[str, Any]] = []
    for rec in records:
        entry = RunEntry.of_record(rec)
        if entry.grid:
            groups[(entry.row, rec["task"])][grid_choice(entry.hparams, entry.grid)].append(rec)
        else:
            kept.append(rec)
    chosen: dict[str, dict[str, str]] = defaultdict(dict)
    for (method, task), settings in groups.items():
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
    rivals = [m for m in table.methods if not _is_reference(m)]  # the reference line is never "best"
    best = {t: max((table.mean(m, t) or -1.0) for m in rivals) for t in table.tasks}
    best_avg = max((table.average(m) or -1.0) for m in rivals)
    lines = [f"**{table.title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for m, row in zip(table.methods, _rows(table)):
        cells = row[1:-1]
        bold = not _is_reference(m) and len(rivals) > 1
        cells = [f"**{c}**" if bold and table.mean(m, t) == best[t] else c for c, t in zip(cells, table.tasks)]
        avg = f"**{row[-1]}**" if bold and table.average(m) == best_avg else row[-1]
        lines.append("| " + " | ".join([m, *cells, avg]) + " |")
    if table.chosen:
        lines += ["", f"Hyper-parameters chosen per task under `{table.protocol}`:", ""]
        lines += [f"- {m}, {t}: {hp}" for m, per_task in table.chosen.items() for t, hp in per_task.items()]
    if table.unchecked:
        lines += ["", f"Note: {table.unchecked} run(s) were stored by a dalib without run fingerprints; "
                  "their settings could not be checked against the others."]
    if len(table.environments) == 1:
        lines += ["", f"Environment: {table.environments[0]}."]
    elif table.environments:
        lines += ["", f"Note: these runs were trained in {len(table.environments)} environments; a re-run "
                  "reproduces a run's numbers bit for bit only in its own (elsewhere they differ at float "
                  "rounding):", ""] + [f"- {env}" for env in table.environments]
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
    rivals = [m for m in table.methods if not _is_reference(m)]
    best = {t: max((table.mean(m, t) or -1.0) for m in rivals) for t in table.tasks}
    best_avg = max((table.average(m) or -1.0) for m in rivals)
    cols = "l" + "c" * (len(table.tasks) + 1)
    lines = [f"% {table.title}", "\\begin{table}[t]", "\\centering",
             f"\\caption{{{_latex_escape(table.title)}}}", f"\\begin{{tabular}}{{{cols}}}", "\\toprule",
             " & ".join(["Method", *(_latex_escape(t) for t in table.tasks), "Avg"]) + " \\\\", "\\midrule"]
    for m, row in zip(table.methods, _rows(table)):
        bold = not _is_reference(m) and len(rivals) > 1
        cells = [f"\\textbf{{{_latex_escape(c)}}}" if bold and table.mean(m, t) == best[t] else _latex_escape(c)
                 for c, t in zip(row[1:-1], table.tasks)]
        avg = f"\\textbf{{{row[-1]}}}" if bold and table.average(m) == best_avg else row[-1]
        lines.append(" & ".join([_latex_escape(m), *cells, avg]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"
