"""The `dalib compress` options (argparse only: building the parser imports no torch)."""

from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> None:
    from dalib.compress.command import cmd_compress

    cmd_compress(args)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The `compress` sub-command's options."""
    p = sub.add_parser("compress", help="prune, quantise and distil the runs of a bench folder; target accuracy, "
                                        "gain over equally compressed source-only, size and latency")
    p.add_argument("dir", help="the --out folder of a `dalib bench` (method runs beside source_only runs)")
    p.add_argument("--prune", default="", help="sparsities, e.g. 0.5,0.8,0.9 (magnitude pruning)")
    p.add_argument("--prune-kind", default="global", help="global (default) | layer | channel")
    p.add_argument("--recover", type=int, default=0,
                   help="recovery fine-tuning steps after pruning, with the task loss alone and with the method's "
                        "terms (default 0: none)")
    p.add_argument("--quantize", default="", help="int8 (dynamic, Linear layers) and/or int8-static (conv models, "
                                                   "calibrated on unlabelled target inputs), comma-separated")
    p.add_argument("--distill", default="", help="student MLP: hidden width, optionally xBOTTLENECK (e.g. 64x32; "
                                                  "default bottleneck: the teacher's)")
    p.add_argument("--recover-lr-mult", type=float, default=0.1,
                   help="recovery learning rate ÷ the run's (default 0.1; λ(p) restarts over the recovery steps)")
    p.add_argument("--distill-steps", type=int, default=500, help="distillation steps (default 500)")
    p.add_argument("--temperature", type=float, default=2.0, help="distillation temperature T (default 2)")
    p.add_argument("--alpha", type=float, default=0.5,
                   help="distillation weight of the source-label loss; 1 − alpha on the soft targets (default 0.5)")
    p.add_argument("--out", help="folder for compress.md / .csv / _accuracy_vs_size.png (default: DIR; a second "
                                 "call with the same folder replaces them)")
    p.add_argument("--methods", help="methods to compress (default: all in the folder; source_only always)")
    p.add_argument("--tasks", help="tasks, e.g. A2W,D2W (default: all in the folder)")
    p.add_argument("--seeds", help="seeds, e.g. 0,1 (default: all in the folder)")
    p.add_argument("--repeats", type=int, default=20, help="latency: median of this many calls (default 20)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for training and latency (default 1)")
    p.add_argument("--plugin", action="append", default=[], help="a .py file that registers the runs' new losses")
    p.add_argument("--data-root", help="folder holding the datasets (default: DALIB_DATA, then ../shared/data)")
    p.set_defaults(func=_run)
