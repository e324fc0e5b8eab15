"""Command line: ``dalib data``, ``bench``, ``table``, ``report``, ``methods``, ``finetune``.

Building the parser imports no sub-command's code, so ``dalib --help`` starts in a few
milliseconds; each ``cmd_*`` imports what it needs. Every `DalibError` — a bad option, a
usage error of the parser itself — is printed as one line with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from dalib.errors import DalibError


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one-line `DalibError`s (exit 2, no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise DalibError(f"{message}; see `{self.prog} --help`")


def cmd_data_list(args: argparse.Namespace) -> None:
    from dalib.data.catalog import CATALOG, domain_sizes
    from dalib.data.root import find_data_root
    from dalib.data.verify import files_present

    root = find_data_root(args.data_root)
    print(f"data root: {root or '(none: pass --data-root or set DALIB_DATA)'}")
    print("| dataset | kind | domains (samples) | classes | files |")
    print("|---|---|---|---|---|")
    for spec in CATALOG.values():
        found = files_present(spec, root)
        if found:
            domains = ", ".join(f"{name} ({n})" for name, n in domain_sizes(spec.name, root))
        else:
            domains = ", ".join(d.name for d in spec.domains)
        status = "found" if found else "missing"
        print(f"| {spec.name} | {spec.kind} | {domains} | {len(spec.class_names)} | {status} |")


def cmd_data_verify(args: argparse.Namespace) -> None:
    from dalib.data.catalog import get_spec
    from dalib.data.root import find_data_root
    from dalib.data.verify import verify

    spec = get_spec(args.name)
    report = verify(spec, find_data_root(args.data_root))
    for rel in report.missing:
        print(f"MISSING  {rel}")
    for rel in report.mismatched:
        print(f"MISMATCH {rel}")
    print(f"{spec.name}: {report.checked} files checked, {len(report.missing)} missing, "
          f"{len(report.mismatched)} with a wrong sha256")
    if not report.ok:
        raise DalibError(f"dataset {spec.name!r} failed verification; replace the files listed above")


def cmd_data_check(args: argparse.Namespace) -> None:
    from dalib.data.path_check import check_path

    report = check_path(args.path, args.x_key, args.y_key)
    print("\n".join(report.lines()))
    if not report.ok:
        raise DalibError(f"{args.path} has {len(report.problems)} problem(s), listed above; fix them before `dalib bench`")


def cmd_bench(args: argparse.Namespace) -> None:
    """Validate every option (`BenchConfig`), then plan, run or resume, and write the tables."""
    from dalib.bench.config import BenchConfig
    from dalib.bench.mixing import RunEntry, grid_choice
    from dalib.bench.plan import plan_bench, run_bench
    from dalib.bench.store import stored_records
    from dalib.eval.selection import describe
    from dalib.progress import say

    config = BenchConfig.from_cli(args)
    plan = plan_bench(config)
    methods = [m for m in config.run_methods if m != "target_only"]
    log_root = f"{config.out}/tensorboard" if config.tensorboard else None
    weighted = f" (+ weights {', '.join(config.weights)})" if config.weights else ""
    reference = " (+ the target-only reference)" if len(methods) < len(config.run_methods) else ""
    added = " (source_only added: every table has it)" if "source_only" not in config.methods else ""
    grid = "".join(f" × {len(values)} {term}.{name}" for term, name, values in config.grid)
    print(f"dalib bench: {config.dataset}, {len(plan.tasks)} tasks × {len(methods)} methods{added}{weighted}{reference}"
          f"{grid} × {len(config.seeds)} seeds = {len(plan.specs)} runs → {config.out}"
          + (f"; TensorBoard: tensorboard --logdir {log_root}" if log_root else ""))
    start = time.perf_counter()

    trained = []

    def progress(rec: dict[str, Any], done: int, total: int) -> None:
        trained.append(rec["key"])
        acc = 100 * rec["epochs"][-1]["target_acc"]
        entry = RunEntry.of_record(rec)
        point = f" [{grid_choice(entry.hparams, entry.grid)}]" if entry.grid else ""
        batch = len(rec.get("batch") or ())
        seconds = f"{rec['seconds']:.1f}s" + (f": 1/{batch} of its vectorised batch's {rec['seconds'] * batch:.1f}s"
                                              if batch > 1 else "")
        say(f"  [{done}/{total}] {rec['task_name']} {entry.row}{point} seed {rec['seed']}: "
            f"last-epoch target acc {acc:.1f}% ({seconds})")

    run_bench(plan, progress)
    wall = time.perf_counter() - start
    # the tables cover every run of the folder (earlier --hp rows too), like `dalib table DIR`
    _write_tables(stored_records(str(config.out)), config.select, Path(config.out), plan.tasks)
    print(f"selection protocol: {config.select} — {describe(config.select)}")
    resumed = len(plan.specs) - len(trained)
    print(f"wall time: {wall:.1f}s for {len(trained)} runs trained" + (f" ({resumed} resumed)" if resumed else "")
          + f" ({config.workers} worker(s))")


TABLE_SUFFIX = {"target_acc": "", "target_heldout_acc": "-heldout", "source_val_acc": "-source-val-acc"}


def _write_tables(records: list[dict[str, Any]], protocol: str, out: Path, tasks: list[str] | None = None,
                  source_val: bool = False) -> None:
    """The target tables (``table…``, and ``…-heldout`` beside a target-only line), or with
    ``source_val`` only the source-val accuracy table (``…-source-val-acc``)."""
    from dalib.bench.atomic import write_text_atomic
    from dalib.bench.report import artefact_name
    from dalib.bench.tables import build_table, to_csv, to_latex, to_markdown

    stem = artefact_name("table", protocol, "")  # table, table-PROTOCOL or table-ORACLE
    if source_val:
        metrics = ["source_val_acc"]
    else:
        metrics = ["target_acc"] + (["target_heldout_acc"] if any(r["method"] == "target_only" for r in records) else [])
    for metric in metrics:
        name = stem + TABLE_SUFFIX[metric]
        table = build_table(records, protocol, tasks, metric)
        write_text_atomic(out / f"{name}.md", to_markdown(table))
        write_text_atomic(out / f"{name}.csv", to_csv(table))
        write_text_atomic(out / f"{name}.tex", to_latex(table))
        print(to_markdown(table))
        print(f"wrote {out / name}.md, .csv and .tex")


def cmd_report(args: argparse.Namespace) -> None:
    """Write the report, its plots and a t-SNE plot, each atomically; names and titles say ORACLE
    under a protocol that reads target labels, so they never overwrite the honest files."""
    from dalib.bench.atomic import write_text_atomic
    from dalib.bench.plots import gain_heatmap, pad_vs_gain
    from dalib.bench.report import artefact_name, report_markdown, transfer_rows
    from dalib.bench.store import stored_records
    from dalib.eval.selection import check_protocol
    from dalib.plugins import load_plugins

    load_plugins(args.plugin)
    check_protocol(args.select)
    out = Path(args.dir)
    records = stored_records(args.dir)
    rows = transfer_rows(records, args.select)
    if not rows:
        raise DalibError(f"{out} has no method runs beside source-only runs of the same tasks and seeds")
    tsne = [] if args.tsne == "none" else [_tsne(records, args, out)]  # the re-run may fail: before other files
    plots = [artefact_name("gain_heatmap", args.select, ".png"), artefact_name("pad_vs_gain", args.select, ".png")]
    gain_heatmap(rows, out / plots[0], args.select)
    pad_vs_gain(rows, out / plots[1], args.select)
    plots += tsne
    name = artefact_name("report", args.select, ".md")
    text = report_markdown(records, args.select, rows, plots)
    write_text_atomic(out / name, text)
    print(text)
    print(f"wrote {out / name} and {', '.join(plots)}")


def _tsne(records: list[dict[str, Any]], args: argparse.Namespace, out: Path) -> str:
    """Re-execute one stored run (seeded, so the same model) and plot its features with t-SNE."""
    from dalib.bench.plots import tsne_plot
    from dalib.bench.report import artefact_name, oracle_title
    from dalib.bench.run import spec_of, train_model
    from dalib.bench.shallow_names import is_shallow
    from dalib.data.catalog import get_spec, load_dataset
    from dalib.data.root import find_data_root
    from dalib.data.tasks import select_tasks
    from dalib.eval.metrics import predict

    deep = [r for r in records if not is_shallow(r["method"]) and r["method"] != "target_only"]
    if args.tsne:
        chosen = [r for r in deep if r["key"] == args.tsne]
    else:
        from dalib.methods import REGISTRY  # by default, a run whose terms are loaded (no --plugin needed)

        runnable = [r for r in deep if r["method"] != "source_only"
                    and all(part in REGISTRY for part in r["method"].split("+"))]
        chosen = sorted(runnable, key=lambda r: (r["seed"], r["key"]))[:1]
        unloaded = sorted({r["method"] for r in deep if r["method"] != "source_only"} - {r["method"] for r in runnable})
        if not chosen and unloaded:
            raise DalibError(f"the t-SNE re-runs one stored run, but the terms of {', '.join(unloaded)} are defined by "
                             "a plugin that is not loaded; pass `dalib report DIR --plugin FILE` (or --tsne none)")
    if not chosen:
        raise DalibError(f"no deep run with key {args.tsne!r} in {out}; pass a key from runs/ or --tsne none")
    record = chosen[0]
    spec = get_spec(record["dataset"])
    root = None if spec.kind == "embedded" else find_data_root(args.data_root)
    tasks = {t.ascii_name: t for t in select_tasks(load_dataset(spec.name, root), None)}
    batch = record.get("batch") or [record["key"]]
    if len(batch) > 1:  # a vectorised run: its numbers are those of its whole batch, re-run together
        from dalib.bench.vector_run import train_in_batch

        by_key = {r["key"]: r for r in records}
        missing = [k for k in batch if k not in by_key]
        if missing:
            raise DalibError(f"{record['key']} was trained in a vectorised batch with {missing[0]}, which is not in "
                             f"{out}; pass --tsne KEY of another run, or --tsne none")
        print(f"re-running {record['key']} with the {len(batch) - 1} runs trained beside it, for the t-SNE plot "
              "(--tsne none skips it)", flush=True)
        model, rerun, task = train_in_batch([spec_of(by_key[k]) for k in batch],
                                            [tasks[by_key[k]["task"]] for k in batch], record["key"])
    else:
        print(f"re-running {record['key']} for the t-SNE plot (--tsne none skips it)", flush=True)
        model, rerun, task = train_model(spec_of(record), tasks[record["task"]])
    if rerun["epochs"][-1]["target_acc"] != record["epochs"][-1]["target_acc"]:
        raise DalibError(f"re-executing {record['key']} did not reproduce its stored accuracy; "
                         "was it run with another dalib version or device?")
    f_s, f_t = predict(model, task.source).features.numpy(), predict(model, task.target).features.numpy()
    name = artefact_name("tsne", args.select, ".png")
    title = oracle_title(args.select, sep="\n") + f"{record['task_name']} {record['method']} seed {record['seed']}"
    tsne_plot(f_s, f_t, title, out / name)
    return name


def cmd_methods(args: argparse.Namespace) -> None:
    from dalib.bench.hparams import term_params
    from dalib.bench.shallow_names import shallow_methods
    from dalib.methods import REGISTRY  # dalib.methods registers every built-in term (l2sp and bss too)
    from dalib.plugins import load_plugins

    from dalib.method_costs import RELATIVE_STEP_TIME, SOURCE_ONLY_STEPS_PER_S

    load_plugins(args.plugin)
    print("| method | family | cost | default λ | λ schedule | hyper-parameters | loss |\n"
          "|---|---|---|---|---|---|---|")
    print(f"| source_only | – | 1× ({SOURCE_ONLY_STEPS_PER_S} steps/s) | – | – | – | cross-entropy on the source only |")
    for name, entry in sorted(REGISTRY.items()):
        # every keyword `--hp` can set: the registered defaults and the constructor's own
        keywords = term_params(name)
        params = ", ".join(f"{k}={p.default}" for k, p in keywords.items() if k != "weight") or "–"
        cost = f"{RELATIVE_STEP_TIME[name]:g}×" if name in RELATIVE_STEP_TIME else "not measured"
        loss = entry.description.replace("|", "\\|")  # a '|' of the docstring would end the table cell
        print(f"| {name} | {entry.family} | {cost} | {entry.weight:g} | {entry.schedule} | {params} | {loss} |")
    print("\ncost: time per training step ÷ source-only's on Office-Caltech10 SURF A→W, one thread "
          "(benchmarks/method_cost.py).")
    print("\nCombine deep methods with '+', e.g. dann+mcc. Shallow methods: " + ", ".join(shallow_methods()))


def cmd_table(args: argparse.Namespace) -> None:
    from dalib.bench.store import stored_records
    from dalib.eval.selection import PROTOCOLS

    if args.select not in PROTOCOLS:
        raise DalibError(f"--select {args.select!r}: expected one of {', '.join(PROTOCOLS)}")
    if not Path(args.dir).is_dir():
        raise DalibError(f"{args.dir}: no such folder; pass the --out folder of a `dalib bench`")
    if args.metric not in ("target", "source-val"):
        raise DalibError(f"--metric {args.metric!r}: expected target (accuracy on the target) or source-val "
                         "(accuracy on the source's held-out 20%, to compare settings without target labels)")
    _write_tables(stored_records(args.dir), args.select, Path(args.dir), source_val=args.metric == "source-val")


def cmd_finetune(args: argparse.Namespace) -> None:
    from dalib.finetune.command import cmd_finetune as run

    run(args)


def build_parser() -> argparse.ArgumentParser:
    """The `dalib` parser; it imports no sub-command's code (each ``cmd_*`` imports its own)."""
    parser = _Parser(prog="dalib", description="Domain adaptation benchmarks.")
    sub = parser.add_subparsers(dest="command", required=True)
    data = sub.add_parser("data", help="list, check or verify datasets")
    data = data.add_subparsers(dest="data_command", required=True)
    p = data.add_parser("list", help="datasets, domains, classes, counts and whether files were found")
    p.add_argument("--data-root")
    p.set_defaults(func=cmd_data_list)
    p = data.add_parser("check", help="domains, classes, counts and problems of a folder of your own data")
    p.add_argument("path", help="root/<domain>/<class>/<image>, root/<domain>.npz|.mat|.csv or root/<domain>.csv|.jsonl")
    p.add_argument("--x-key", help="name of the feature array in .npz/.mat files (default: found)")
    p.add_argument("--y-key", help="name of the label array in .npz/.mat files (default: found)")
    p.set_defaults(func=cmd_data_check)
    p = data.add_parser("verify", help="check the sha256 of every file of a dataset")
    p.add_argument("name")
    p.add_argument("--data-root")
    p.set_defaults(func=cmd_data_verify)

    # Only the flags given reach BenchConfig (SUPPRESS): its field defaults, a --config file,
    # then the flags, in that order; every value is converted and checked there, not here.
    p = sub.add_parser("bench", help="run methods × tasks × seeds and print the table",
                       argument_default=argparse.SUPPRESS)
    p.add_argument("--config", help="a YAML file of bench options named as these flags (experiments/*.yaml); "
                   "flags override it, --hp/--grid/--plugin add to it")
    p.add_argument("--dataset", help="a catalog name (`dalib data list`; default rotated-digits)")
    p.add_argument("--methods", help="comma list (default source_only,dann); combine terms with '+'; "
                   "shallow_<adapter>_<classifier> for shallow ones (`dalib methods` lists all)")
    p.add_argument("--seeds", help="comma list of integers ≥ 0 (default 0,1,2)")
    p.add_argument("--tasks", help="comma list like A2W,W2A (default: every ordered pair)")
    p.add_argument("--out", help="output folder, one setting per folder (default runs/bench)")
    p.add_argument("--select", help="last (default) | source-val | entropy | iwv | dev | snd | oracle (uses target labels)")
    p.add_argument("--workers", help="runs in parallel, local processes or Ray tasks (default 1)")
    p.add_argument("--threads", help="torch/BLAS threads per run (default 1: the same numbers on every backend)")
    p.add_argument("--backend", help="local (default) processes, or ray (pip install 'dalib[ray]'; "
                   "ray.init() locally unless --ray-address)")
    p.add_argument("--ray-address", help="address of a running Ray cluster for --backend ray")
    p.add_argument("--epochs", help="override the dataset profile's epochs")
    p.add_argument("--profile", action="append",
                   help="FIELD=VALUE of the model/optimiser profile for every run of this bench, e.g. "
                        "trunk=frozen, backbone=efficientnet_lite0, weights=imagenet (no row label; "
                        "YAML: profile: {trunk: frozen})")
    p.add_argument("--hp", action="append", help="TERM.NAME=VALUE, e.g. dann.weight=0.3, profile.lr=0.003 or "
                   "shallow.reg=1 (tuples as 512/256); such runs get their own table rows")
    p.add_argument("--grid", action="append",
                   help="hyper-parameter grid, chosen per task by the selection protocol: "
                        "TERM.NAME=V1,V2 (e.g. dann.weight=0.1,1,10) or NAME=V1,V2 (lr=0.01,0.003)")
    p.add_argument("--plugin", action="append", help="a .py file that registers new losses")
    p.add_argument("--weights", help="comma list of instance-weight estimators (kmm, kliep, discriminative): "
                   "each deep method also runs with source weights w_i = p_t(x)/p_s(x)")
    p.add_argument("--reweight-every", help="re-estimate the weights on the learned features every K epochs "
                   "(default 0: once, on the inputs)")
    p.add_argument("--device", help="cpu (default), cuda, cuda:N or mps")
    p.add_argument("--vectorize", help="auto (default): runs that differ only in task and seed train as one "
                   "vectorised model, up to 18 per batch on the CPU, 128 on a GPU; N: at most N per batch; "
                   "off: every run alone")
    p.add_argument("--tensorboard", action="store_true", help="write a TensorBoard run directory per run")
    p.add_argument("--progress", action="store_true", help="show a progress bar for every run's steps")
    p.add_argument("--no-target-only", dest="target_only", action="store_false",
                   help="skip the target-only reference runs (trained on half of the labelled target)")
    p.add_argument("--data-root", help="folder holding the datasets (default: DALIB_DATA, then ../shared/data)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("report", help="negative-transfer report with plots for a bench folder")
    p.add_argument("dir", help="the --out folder of a `dalib bench`")
    p.add_argument("--select", default="last",
                   help="selection protocol of the gains (as for `dalib table`; default last; oracle is labelled)")
    p.add_argument("--tsne", default="", help="run key to plot with t-SNE (default: first adapted run; 'none' to skip)")
    p.add_argument("--plugin", action="append", default=[],
                   help="a .py file that registers new losses (as for `dalib bench`), to re-run its methods for t-SNE")
    p.add_argument("--data-root", help="folder holding the datasets, for the t-SNE re-run (default: DALIB_DATA, "
                                        "then ../shared/data)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("methods", help="registered methods with their family, cost, default λ and hyper-parameters")
    p.add_argument("--plugin", action="append", default=[], help="a .py file that registers new losses")
    p.set_defaults(func=cmd_methods)

    p = sub.add_parser("finetune", help="pretrain, then k-shot fine-tuning strategies, adaptation and multi-task "
                                         "(one YAML experiment; resumes finished runs)")
    p.add_argument("experiment", help="YAML file, e.g. experiments/finetune_office_caltech10_images.yaml")
    p.add_argument("--out", help="output folder (default: the file's 'out', else runs/finetune)")
    p.add_argument("--weights", help="start from this local state-dict file (e.g. ImageNet ResNet-18) instead of "
                                      "pre-training; never downloaded")
    p.add_argument("--data-root", help="folder holding the datasets (default: DALIB_DATA, then ../shared/data)")
    p.set_defaults(func=cmd_finetune)

    from dalib.compress.options import add_parser as add_compress  # argparse only

    add_compress(sub)

    p = sub.add_parser("table", help="rebuild the table of a bench folder under a selection protocol")
    p.add_argument("dir", help="the --out folder of a `dalib bench`")
    p.add_argument("--select", default="last",
                   help="last (default) | source-val | entropy | iwv | dev | snd | oracle (uses target labels)")
    p.add_argument("--metric", default="target",
                   help="target (default): target accuracy of the selected epoch; source-val: its source-val "
                        "accuracy, the number to compare settings on (table-source-val-acc.md)")
    p.set_defaults(func=cmd_table)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command; a `DalibError` (any bad input) is one line on stderr and exit code 2."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        args.func(args)
    except DalibError as err:
        print(f"dalib: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
