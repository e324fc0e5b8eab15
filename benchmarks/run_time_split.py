"""Where one bench run's time goes: start-up, training steps, per-epoch evaluation, PAD, record.

For each method, one single (not vectorised) run of Office-Caltech10 SURF A→W, seed 0, with the
bench profile (1000 SGD steps, 20 evaluations), split into

* start-up: CPU seconds of a fresh ``dalib bench`` process until its first run starts
  (imports, data loading, config checks, fingerprints; median of 3 subprocesses), beside those
  of a process that only imports torch (the floor; this machine's speed varies by ±25%);
* train: the SGD steps (the run's time minus the parts below);
* eval-acc: the per-epoch predictions, accuracies and entropy (source-val and target);
* eval-scores: the per-epoch IWV / DEV / SND scores (cross-fitted validation weights);
* PAD: the proxy A-distances of the record (inputs and adapted features);
* record: JSON and SQLite writing of the record.

Prints seconds and shares. Usage: python benchmarks/run_time_split.py [--methods source_only,dann,mcc]
[--data-root ../shared/data]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASK = "A2W"
STARTUP = """
import sys, time
import dalib.bench.grid as grid
def first_run(*a, **k):
    print(f"{time.process_time():.3f}", flush=True)
    sys.exit(0)
grid.execute_spec = first_run  # what the serial backend calls for a run (before vectorised units)
grid.execute_unit = first_run
from dalib.cli import main
main(["bench", "--dataset", "office-caltech10-surf", "--methods", "source_only", "--tasks", "A2W",
      "--seeds", "0", "--no-target-only", "--out", sys.argv[1], "--data-root", sys.argv[2], "--workers", "1"])
"""


def startup_cpu(data_root: str) -> float:
    """CPU seconds of a fresh `dalib bench` process until its first run starts."""
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run([sys.executable, "-c", STARTUP, str(Path(out) / "b"), data_root],
                              capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def torch_import_cpu() -> float:
    """CPU seconds of a fresh process that imports torch and nothing else (the floor of start-up)."""
    done = subprocess.run([sys.executable, "-c", "import time, torch; print(time.process_time())"],
                          capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def split(method: str, data_root: str) -> dict[str, float]:
    """Seconds of each part of one single run (see the module docstring)."""
    import json

    import dalib.bench.run as run_module
    import dalib.train.trainer as trainer_module
    from dalib.bench.grid import GridSource, execute_spec
    from dalib.bench.profiles import profile_for
    from dalib.bench.run import RunOptions, RunSpec
    from dalib.bench.store import ResultsStore

    parts = {"eval-acc": 0.0, "eval-scores": 0.0, "PAD": 0.0}

    def timed(module, name, key):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                parts[key] += time.perf_counter() - start
        setattr(module, name, wrapper)
        return original

    saved = [(trainer_module, "predict", timed(trainer_module, "predict", "eval-acc")),
             (trainer_module, "unsupervised_scores", timed(trainer_module, "unsupervised_scores", "eval-scores")),
             (run_module, "domain_distances", timed(run_module, "domain_distances", "PAD"))]
    source = GridSource("office-caltech10-surf", data_root)
    spec = RunSpec("office-caltech10-surf", TASK, method, 0, profile_for("office-caltech10-surf"))
    execute_spec(source, RunSpec(spec.dataset, spec.task, "source_only", 1,
                                 spec.profile.with_overrides(epochs=1)), RunOptions())  # warm caches
    for k in parts:
        parts[k] = 0.0
    start = time.perf_counter()
    record = execute_spec(source, spec, RunOptions())
    total = time.perf_counter() - start
    for module, name, original in saved:
        setattr(module, name, original)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        with ResultsStore(Path(out) / "results.sqlite") as store:
            store.put({**record, "grid": [], "fingerprint": "x", "setting": {}})
        (Path(out) / "r.json").write_text(json.dumps(record))
        parts["record"] = time.perf_counter() - start
    parts["train"] = total - parts["eval-acc"] - parts["eval-scores"] - parts["PAD"]
    return {"train": parts["train"], "eval-acc": parts["eval-acc"], "eval-scores": parts["eval-scores"],
            "PAD": parts["PAD"], "record": parts["record"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="source_only,dann,mcc")
    parser.add_argument("--data-root", default="../shared/data")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    start_cpu = statistics.median(startup_cpu(args.data_root) for _ in range(3))
    floor = statistics.median(torch_import_cpu() for _ in range(3))
    print(f"start-up of `dalib bench` to its first run: {start_cpu:.2f} s CPU (once per bench); "
          f"`import torch` alone: {floor:.2f} s")
    print("| method | train | eval-acc | eval-scores | PAD | record | run total |")
    print("|---|---|---|---|---|---|---|")
    for method in args.methods.split(","):
        parts = split(method, args.data_root)
        total = sum(parts.values())
        cells = " | ".join(f"{v:.2f} s ({100 * v / total:.0f}%)" for v in parts.values())
        print(f"| {method} | {cells} | {total:.2f} s |")


if __name__ == "__main__":
    main()
