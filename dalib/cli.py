"""Command line: ``dalib data list|verify``, ``dalib bench``, ``dalib table``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from dalib.errors import DalibError
from dalib.finetune.command import add_parser as add_finetune_parser
from dalib.yaml_file import read_mapping


def _csv(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _parse_value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_hparams(items: list[str]) -> tuple[tuple[str, str, Any], ...]:
    """``term.name=value`` strings → sorted (term, name, value) triples."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        term, dot, name = key.partition(".")
        if not sep or not dot or not term or not name:
            raise DalibError(f"bad --hp {item!r}; write TERM.NAME=VALUE, e.g. dann.weight=0.3")
        out.append((term, name, _parse_value(value)))
    return tuple(sorted(out))


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


def _hp_targets(method: str, weights: str) -> list[str]:
    """Which ``--hp TERM.`` prefixes apply to a run: its terms, ``weights``, or ``shallow``."""
    if method.startswith("shallow_"):
        return ["shallow"]
    return [*method.split("+"), "profile", *(["weights"] if weights else [])]


def parse_grid(items: list[str]) -> list[tuple[str, str, list[Any]]]:
    """``TERM.NAME=v1,v2`` (a term's hyper-parameter) or ``NAME=v1,v2`` (a training setting
    such as lr or epochs) → (term or "profile", name, values)."""
    from dalib.bench.profiles import Profile

    out = []
    for item in items:
        key, sep, values = item.partition("=")
        term, dot, name = key.rpartition(".") if "." in key else ("profile", "", key)
        if not sep or not values or not name:
            raise DalibError(f"bad --grid {item!r}; write NAME=V1,V2 or TERM.NAME=V1,V2, e.g. dann.weight=0.1,1")
        if term == "profile" and name not in Profile.__dataclass_fields__:
            raise DalibError(f"--grid {name} is not a training setting; use one of "
                             f"{', '.join(Profile.__dataclass_fields__)} or TERM.NAME")
        out.append((term, name, [_parse_value(v) for v in _csv(values)]))
    return out


def grid_settings(grid: list[tuple[str, str, list[Any]]], targets: list[str]) -> list[tuple[tuple[str, str, Any], ...]]:
    """Every combination of the grid's values that applies to a run with these targets."""
    from itertools import product

    axes = [[(t, n, v) for v in values] for t, n, values in grid if t in targets]
    return [tuple(combo) for combo in product(*axes)]


def cmd_bench(args: argparse.Namespace) -> None:
    from dalib.bench.grid import GridSource, run_grid, task_names
    from dalib.bench.profiles import profile_for
    from dalib.bench.run import RunOptions, RunSpec
    from dalib.bench.shallow_run import is_shallow, parse_shallow
    from dalib.data.catalog import get_spec
    from dalib.data.root import find_data_root
    from dalib.eval.selection import check_protocol, describe
    from dalib.methods import SOURCE_ONLY, TARGET_ONLY, resolve_method
    from dalib.plugins import load_plugins
    from dalib.reweighting import WEIGHT_ESTIMATORS

    load_plugins(args.plugin)
    check_protocol(args.select)
    spec = get_spec(args.dataset)
    root = None if spec.kind == "embedded" else find_data_root(args.data_root)
    methods = _csv(args.methods)
    for m in methods:
        parse_shallow(m) if is_shallow(m) else resolve_method(m)
    if SOURCE_ONLY not in methods:
        methods.insert(0, SOURCE_ONLY)
    if args.target_only and TARGET_ONLY not in methods:
        methods.append(TARGET_ONLY)
    seeds = [int(s) for s in _csv(args.seeds)]
    source = GridSource(spec.name, str(root) if root else None, tuple(str(Path(p).resolve()) for p in args.plugin))
    tasks = task_names(source, _csv(args.tasks) if args.tasks else None)
    profile = profile_for(spec.name).with_overrides(epochs=args.epochs)
    hparams = parse_hparams(args.hp)
    chosen_weights = _csv(args.weights) if args.weights else []
    for w in chosen_weights:
        if w not in WEIGHT_ESTIMATORS:
            raise DalibError(f"unknown --weights {w!r}; choose from {', '.join(WEIGHT_ESTIMATORS)}")

    def weightings(method: str) -> list[str]:
        """Each deep method runs unweighted and once per chosen weight estimator."""
        return [""] if is_shallow(method) else ["", *chosen_weights]

    grid = parse_grid(args.grid)
    specs = [RunSpec(spec.name, t, m, s, profile,
                     tuple(sorted(h for h in hparams if h[0] in _hp_targets(m, w)) + list(g)),
                     args.device, w, args.reweight_every if w else 0)
             for m in methods for w in weightings(m)
             for g in grid_settings(grid, _hp_targets(m, w))
             for t in tasks for s in seeds]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log_root = str(out / "tensorboard") if args.tensorboard else None
    weighted = f" (+ weights {', '.join(chosen_weights)})" if chosen_weights else ""
    print(f"dalib bench: {spec.name}, {len(tasks)} tasks × {len(methods)} methods{weighted} × {len(seeds)} seeds "
          f"= {len(specs)} runs → {out}" + (f"; TensorBoard: tensorboard --logdir {log_root}" if log_root else ""))
    start = time.perf_counter()

    def progress(rec: dict[str, Any], done: int, total: int) -> None:
        acc = 100 * rec["epochs"][-1]["target_acc"]
        print(f"  [{done}/{total}] {rec['task_name']} {rec['method']} seed {rec['seed']}: "
              f"last-epoch target acc {acc:.1f}% ({rec['seconds']:.1f}s)", flush=True)

    options = RunOptions(log_root=log_root, progress_bar=args.progress, threads=args.threads)
    records = run_grid(source, specs, out, options, args.workers, progress,
                       backend=args.backend, ray_address=args.ray_address)
    wall = time.perf_counter() - start
    _write_tables(records, args.select, out, tasks)
    print(f"selection protocol: {args.select} — {describe(args.select)}")
    print(f"wall time: {wall:.1f}s for {len(specs)} runs ({args.workers} worker(s))")


def _write_tables(records: list[dict[str, Any]], protocol: str, out: Path, tasks: list[str] | None = None) -> None:
    from dalib.bench.tables import build_table, to_csv, to_latex, to_markdown
    from dalib.eval.selection import uses_target_labels

    stem = "table" if protocol == "last" else f"table-{protocol}"
    if uses_target_labels(protocol):
        stem = "table-ORACLE"
    metrics = ["target_acc"]
    if any(r["method"] == "target_only" for r in records):
        metrics.append("target_heldout_acc")
    for metric in metrics:
        name = stem if metric == "target_acc" else f"{stem}-heldout"
        table = build_table(records, protocol, tasks, metric)
        (out / f"{name}.md").write_text(to_markdown(table))
        (out / f"{name}.csv").write_text(to_csv(table))
        (out / f"{name}.tex").write_text(to_latex(table))
        print(to_markdown(table))
        print(f"wrote {out / name}.md, .csv and .tex")


def _stored_records(folder: str) -> list[dict[str, Any]]:
    from dalib.bench.store import ResultsStore, store_path

    with ResultsStore(store_path(Path(folder)), create=False) as store:
        records = store.records()
    if not records:
        raise DalibError(f"no finished runs in {folder}; run `dalib bench --out {folder}` first")
    return records


def cmd_report(args: argparse.Namespace) -> None:
    from dalib.bench.plots import gain_heatmap, pad_vs_gain
    from dalib.bench.report import report_markdown, transfer_rows
    from dalib.eval.selection import check_protocol

    check_protocol(args.select)
    out = Path(args.dir)
    records = _stored_records(args.dir)
    rows = transfer_rows(records, args.select)
    if not rows:
        raise DalibError(f"{out} has no method runs beside source-only runs of the same tasks and seeds")
    plots = ["gain_heatmap.png", "pad_vs_gain.png"]
    gain_heatmap(rows, out / plots[0])
    pad_vs_gain(rows, out / plots[1])
    if args.tsne != "none":
        plots.append(_tsne(records, args, out))
    stem = "report-ORACLE" if args.select == "oracle" else "report"
    text = report_markdown(records, args.select, rows, plots)
    (out / f"{stem}.md").write_text(text)
    print(text)
    print(f"wrote {out / stem}.md and {', '.join(plots)}")


def _tsne(records: list[dict[str, Any]], args: argparse.Namespace, out: Path) -> str:
    """Re-execute one stored run (seeded, so the same model) and plot its features with t-SNE."""
    from dalib.bench.plots import tsne_plot
    from dalib.bench.run import spec_of, train_model
    from dalib.bench.shallow_run import is_shallow
    from dalib.data.catalog import get_spec, load_dataset
    from dalib.data.root import find_data_root
    from dalib.data.tasks import select_tasks
    from dalib.eval.metrics import predict

    deep = [r for r in records if not is_shallow(r["method"]) and r["method"] != "target_only"]
    if args.tsne:
        chosen = [r for r in deep if r["key"] == args.tsne]
    else:
        chosen = sorted((r for r in deep if r["method"] != "source_only"), key=lambda r: (r["seed"], r["key"]))[:1]
    if not chosen:
        raise DalibError(f"no deep run with key {args.tsne!r} in {out}; pass a key from runs/ or --tsne none")
    record = chosen[0]
    spec = get_spec(record["dataset"])
    root = None if spec.kind == "embedded" else find_data_root(args.data_root)
    task = select_tasks(load_dataset(spec.name, root), [record["task"]])[0]
    model, rerun = train_model(spec_of(record), task)
    if rerun["epochs"][-1]["target_acc"] != record["epochs"][-1]["target_acc"]:
        raise DalibError(f"re-executing {record['key']} did not reproduce its stored accuracy; "
                         "was it run with another dalib version or device?")
    f_s, f_t = predict(model, task.source).features.numpy(), predict(model, task.target).features.numpy()
    tsne_plot(f_s, f_t, f"{record['task_name']} {record['method']} seed {record['seed']}", out / "tsne.png")
    return "tsne.png"


def cmd_methods(args: argparse.Namespace) -> None:
    from dalib.alignment.registry import REGISTRY
    from dalib.bench.shallow_run import shallow_methods
    from dalib.plugins import load_plugins

    load_plugins(args.plugin)
    print("| method | default λ | λ schedule | hyper-parameters | loss |\n|---|---|---|---|---|")
    print("| source_only | – | – | – | cross-entropy on the source only |")
    for name, entry in sorted(REGISTRY.items()):
        params = ", ".join(f"{k}={v}" for k, v in entry.defaults.items()) or "–"
        print(f"| {name} | {entry.weight:g} | {entry.schedule} | {params} | {entry.description} |")
    print("\nCombine deep methods with '+', e.g. dann+mcc. Shallow methods: " + ", ".join(shallow_methods()))


def cmd_table(args: argparse.Namespace) -> None:
    from dalib.eval.selection import check_protocol

    check_protocol(args.select)
    _write_tables(_stored_records(args.dir), args.select, Path(args.dir))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dalib", description="Domain adaptation benchmarks.")
    sub = parser.add_subparsers(dest="command", required=True)
    data = sub.add_parser("data", help="list or verify datasets").add_subparsers(dest="data_command", required=True)
    p = data.add_parser("list", help="datasets, domains, classes, counts and whether files were found")
    p.add_argument("--data-root")
    p.set_defaults(func=cmd_data_list)
    p = data.add_parser("verify", help="check the sha256 of every file of a dataset")
    p.add_argument("name")
    p.add_argument("--data-root")
    p.set_defaults(func=cmd_data_verify)

    p = sub.add_parser("bench", help="run methods × tasks × seeds and print the table")
    p.add_argument("--config", help="a YAML file of bench options (experiments/*.yaml); flags override it")
    p.add_argument("--dataset", default="rotated-digits")
    p.add_argument("--methods", default="source_only,dann",
                   help="comma list; combine terms with '+'; shallow_<coral|sa|tca|jda|none>_<1nn|svm> for shallow ones")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--tasks", help="comma list like A2W,W2A (default: every ordered pair)")
    p.add_argument("--out", default="runs/bench")
    p.add_argument("--select", default="last", help="last | source-val | entropy | iwv | dev | snd | oracle (uses target labels)")
    p.add_argument("--workers", type=int, default=1, help="runs in parallel (local processes or Ray tasks)")
    p.add_argument("--threads", type=int, default=1, help="torch/BLAS threads per run (1: the same numbers on every backend)")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="local processes, or Ray (pip install 'dalib[ray]'; ray.init() locally unless --ray-address)")
    p.add_argument("--ray-address", help="address of a running Ray cluster for --backend ray")
    p.add_argument("--epochs", type=int, help="override the dataset profile's epochs")
    p.add_argument("--hp", action="append", default=[], help="TERM.NAME=VALUE, e.g. dann.weight=0.3 or shallow.reg=1")
    p.add_argument("--grid", action="append", default=[],
                   help="hyper-parameter grid, chosen per task by the selection protocol: "
                        "TERM.NAME=V1,V2 (e.g. dann.weight=0.1,1,10) or NAME=V1,V2 (lr=0.01,0.003)")
    p.add_argument("--plugin", action="append", default=[], help="a .py file that registers new losses")
    p.add_argument("--weights", help="comma list of instance-weight estimators (kmm, kliep, discriminative): "
                   "each deep method also runs with source weights w_i = p_t(x)/p_s(x)")
    p.add_argument("--reweight-every", type=int, default=0,
                   help="re-estimate the weights on the learned features every K epochs (0: once, on the inputs)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--tensorboard", action="store_true", help="write a TensorBoard run directory per run")
    p.add_argument("--progress", action="store_true", help="show a progress bar for every run's steps")
    p.add_argument("--no-target-only", dest="target_only", action="store_false",
                   help="skip the target-only reference runs (trained on half of the labelled target)")
    p.add_argument("--data-root")
    p.set_defaults(func=cmd_bench)
    parser.bench_parser = p  # type: ignore[attr-defined]  (main() loads --config into its defaults)

    p = sub.add_parser("report", help="negative-transfer report with plots for a bench folder")
    p.add_argument("dir")
    p.add_argument("--select", default="last")
    p.add_argument("--tsne", default="", help="run key to plot with t-SNE (default: first adapted run; 'none' to skip)")
    p.add_argument("--data-root")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("methods", help="registered methods with their default λ and hyper-parameters")
    p.add_argument("--plugin", action="append", default=[], help="a .py file that registers new losses")
    p.set_defaults(func=cmd_methods)

    add_finetune_parser(sub)

    p = sub.add_parser("table", help="rebuild the table of a bench folder under a selection protocol")
    p.add_argument("dir")
    p.add_argument("--select", default="last")
    p.set_defaults(func=cmd_table)
    return parser


def load_config(path: str) -> dict[str, Any]:
    """A YAML experiment file → `dalib bench` option defaults (keys as the long options, with _)."""
    config = read_mapping(path, "config", "bench options, e.g. 'dataset: office-caltech10-surf'")
    config = {k.replace("-", "_"): v for k, v in config.items()}
    for key in ("methods", "seeds", "tasks", "weights"):
        if isinstance(config.get(key), list):
            config[key] = ",".join(str(v) for v in config[key])
    for key in ("hp", "plugin"):
        if key in config and not isinstance(config[key], list):
            config[key] = [config[key]]
    return config


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if getattr(args, "config", None):
            bench = parser.bench_parser  # type: ignore[attr-defined]
            config = load_config(args.config)
            known = {a.dest for a in bench._actions}
            unknown = sorted(set(config) - known)
            if unknown:
                raise DalibError(f"{args.config}: unknown options {unknown}; use `dalib bench --help` names")
            bench.set_defaults(**config)
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
