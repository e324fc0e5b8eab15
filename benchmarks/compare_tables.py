"""Cell-by-cell comparison of two bench folders of the same grid (a script, not a test).

    python benchmarks/compare_tables.py DIR_A DIR_B [--select last]

For two runs of one grid that should agree within the seeds' noise — another precision
(``--profile precision=bf16``), another machine, vectorised against single runs, another dalib
version — prints how many runs ended with the same target accuracy, how many cell means
(mean over seeds, %, one decimal) moved, the largest move, every cell whose means differ by more
than the larger of the two cells' seed std, and each row's average in both folders. Cells are
those of ``dalib table`` under ``--select`` (accuracy on all target samples; the target-only
reference on its held-out half).
"""

from __future__ import annotations

import argparse
import statistics

from dalib.bench.store import stored_records
from dalib.bench.tables import Table, build_table


def tables(records: list[dict], protocol: str) -> list[Table]:
    return [build_table(records, protocol), build_table(records, protocol, metric="target_heldout_acc")]


def std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help="the reference bench folder (its --out)")
    parser.add_argument("b", help="the bench folder compared with it")
    parser.add_argument("--select", default="last", help="selection protocol of both tables (default: last)")
    args = parser.parse_args()
    records_a, records_b = stored_records(args.a), stored_records(args.b)  # each folder read once
    runs_a = {r["key"]: r["epochs"][-1]["target_acc"] for r in records_a}
    runs_b = {r["key"]: r["epochs"][-1]["target_acc"] for r in records_b}
    common = sorted(runs_a.keys() & runs_b.keys())
    print(f"{len(common)} runs in both folders ({len(runs_a)} in A, {len(runs_b)} in B); "
          f"{sum(runs_a[k] == runs_b[k] for k in common)} end with the same target accuracy")
    moved, largest, beyond, rows = 0, 0.0, [], []
    for ta, tb in zip(tables(records_a, args.select), tables(records_b, args.select)):
        for method in ta.methods:
            if method not in tb.methods or (ta.metric == "target_heldout_acc" and method != "target_only"):
                continue
            for task in ta.tasks:
                va, vb = ta.cells[method].get(task, []), tb.cells[method].get(task, [])
                if not va or not vb:
                    continue
                ma, mb = statistics.fmean(va), statistics.fmean(vb)
                moved += round(ma, 1) != round(mb, 1)
                largest = max(largest, abs(ma - mb))
                if abs(ma - mb) > max(std(va), std(vb)):
                    beyond.append(f"{method} {task}: {ma:.1f} ± {std(va):.1f} -> {mb:.1f} ± {std(vb):.1f}")
            rows.append((method, ta.average(method), tb.average(method)))
    print(f"cell means that moved at one decimal: {moved}; largest move {largest:.2f} points")
    print(f"cells apart by more than their seeds' std: {len(beyond)}")
    for line in beyond:
        print(f"  {line}")
    print("row averages (A -> B):")
    for method, avg_a, avg_b in rows:
        if avg_a is not None and avg_b is not None:
            print(f"  {method:14s} {avg_a:5.2f} -> {avg_b:5.2f} ({round(avg_b - avg_a, 2) + 0.0:+.2f})")  # no -0.00


if __name__ == "__main__":
    main()
