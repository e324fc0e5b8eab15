"""`dalib finetune EXPERIMENT.yaml`: the model-based transfer experiment (see `experiment`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dalib.yaml_file import read_mapping


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``finetune`` sub-command."""
    p = sub.add_parser("finetune", help="pretrain, then k-shot fine-tuning strategies, adaptation and multi-task "
                                         "(one YAML experiment; resumes finished runs)")
    p.add_argument("experiment", help="YAML file, e.g. experiments/finetune_office_caltech10_images.yaml")
    p.add_argument("--out", help="output folder (default: the file's 'out', else runs/finetune)")
    p.add_argument("--weights", help="start from this local state-dict file (e.g. ImageNet ResNet-18) instead of "
                                      "pre-training; never downloaded")
    p.add_argument("--data-root", help="folder holding the datasets (default: DALIB_DATA, then ../shared/data)")
    p.set_defaults(func=cmd_finetune)


def cmd_finetune(args: argparse.Namespace) -> None:
    from dalib.data.root import find_data_root
    from dalib.finetune.experiment import run_experiment

    cfg = read_mapping(args.experiment, "experiment", "stages: dataset, backbone, pretrain and kshot sections")
    out = Path(args.out or cfg.get("out", "runs/finetune"))
    weights = Path(args.weights) if args.weights else None
    print(run_experiment(cfg, out, find_data_root(args.data_root), weights=weights), end="")
    print(f"report written to {out / 'report.md'}")
