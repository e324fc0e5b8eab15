"""`dalib compress RUN_DIR`: the command behind the CLI (`dalib.compress.experiment` does the work)."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from dalib.bench.atomic import write_text_atomic
from dalib.bench.store import stored_records
from dalib.compress.experiment import compress_runs, table_rows
from dalib.compress.report import STEM, accuracy_size_plot, markdown, measurements_csv
from dalib.compress.variants import plan_variants
from dalib.data.catalog import get_spec, load_dataset
from dalib.data.root import find_data_root
from dalib.data.tasks import select_tasks
from dalib.errors import DalibError


def _list(text: str | None, cast: type = str) -> list | None:
    if not text:
        return None
    try:
        return [cast(v.strip()) for v in text.split(",") if v.strip()]
    except ValueError:
        raise DalibError(f"cannot read {text!r} as a comma-separated list of {cast.__name__}s") from None


def cmd_compress(args: argparse.Namespace) -> None:
    """Re-train the chosen runs of ``args.dir``, compress them and write compress.md / .csv / _accuracy_vs_size.png."""
    import dalib.text  # noqa: F401  (registers the text representations the runs' datasets may need)
    from dalib.plugins import load_plugins

    load_plugins(args.plugin)
    out = Path(args.dir)
    records = stored_records(out)
    datasets = sorted({r["dataset"] for r in records})
    if len(datasets) > 1:
        raise DalibError(f"{out} holds runs of several datasets ({', '.join(datasets)}); compress one bench folder per dataset")
    variants = plan_variants(_list(args.prune, float) or [], args.prune_kind, _list(args.quantize) or [],
                             args.distill or "", args.recover)
    spec = get_spec(datasets[0])
    root = None if spec.kind == "embedded" else find_data_root(args.data_root)
    tasks = {t.ascii_name: t for t in select_tasks(load_dataset(spec.name, root), None)}
    torch.set_num_threads(args.threads)
    measurements = compress_runs(records, tasks, variants, methods=_list(args.methods), task_names=_list(args.tasks),
                                 seeds=_list(args.seeds, int), recover_steps=args.recover,
                                 distill_steps=args.distill_steps, repeats=args.repeats,
                                 say=lambda line: print(line, flush=True), recover_lr_mult=args.recover_lr_mult,
                                 temperature=args.temperature, alpha=args.alpha)
    rows = table_rows(measurements)
    text = markdown(rows, measurements, args.recover)
    dest = Path(args.out) if args.out else out
    dest.mkdir(parents=True, exist_ok=True)
    write_text_atomic(dest / f"{STEM}.md", text)
    write_text_atomic(dest / f"{STEM}.csv", measurements_csv(measurements))
    accuracy_size_plot(rows, dest / f"{STEM}_accuracy_vs_size.png")
    print(text)
    print(f"wrote {dest / STEM}.md, {STEM}.csv and {STEM}_accuracy_vs_size.png")
