"""Per-package mutation score of the last ``make mutation`` run (not a test module).

Reads mutmut's verdicts from ``mutants/dalib/<package>/*.py.meta`` and the equivalent mutants
listed in ``tests/MUTATION.md`` (every ``dalib....__mutmut_N`` name in its "Equivalent" section),
and prints, per package: mutants, killed (timeouts count as killed, as in mutmut's own score),
survived, no tests, equivalent, not run, and the kill rate over the non-equivalent mutants that ran.
Usage: ``python tests/mutation_summary.py [ROOT]`` with ROOT the folder holding ``mutants/``.
"""

from __future__ import annotations

import collections
import json
import re
import sys
from pathlib import Path

KILLED = {1, 3, 36, -24, 24, 152, 255}  # mutmut: killed, or timed out
SURVIVED, NO_TESTS = {0}, {5, 33}


def equivalent_names(notes: Path) -> set[str]:
    text = notes.read_text(encoding="utf-8")
    section = text.split("## Equivalent", 1)[1].split("\n## ", 1)[0] if "## Equivalent" in text else ""
    return set(re.findall(r"dalib\.[\w.ǁ]+__mutmut_\d+", section))


def main(root: Path) -> None:
    equivalent = equivalent_names(Path(__file__).with_name("MUTATION.md"))
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for meta in sorted((root / "mutants" / "dalib").glob("*/*.py.meta")):
        package = meta.parent.name
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if code in KILLED:
                verdict = "killed"
            elif code is None:
                verdict = "not run"
            elif name in equivalent:
                verdict = "equivalent"
            elif code in SURVIVED:
                verdict = "survived"
            elif code in NO_TESTS:
                verdict = "no tests"
            else:
                verdict = "survived"  # suspicious or crashed: not a kill
            counts[package][verdict] += 1
    print(f"{'package':12} {'mutants':>7} {'killed':>7} {'survived':>8} {'no tests':>8} {'equiv':>6} "
          f"{'not run':>7} {'kill rate':>9}")
    for package, c in sorted(counts.items()):
        ran = c["killed"] + c["survived"] + c["no tests"]
        rate = f"{100 * c['killed'] / ran:8.1f}%" if ran else "      n/a"
        print(f"{package:12} {sum(c.values()):7} {c['killed']:7} {c['survived']:8} {c['no tests']:8} "
              f"{c['equivalent']:6} {c['not run']:7} {rate}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
