"""Compression of adapted models: pruning, int8 quantisation and distillation, measured on the target.

`prune` (magnitude pruning), `quantize` (torch.ao int8), `distill` (soft targets at temperature
T), `measure` (size on disk, latency), `variants` (what `dalib compress` builds from a run),
`experiment` (re-train stored runs and measure every variant), `report` (table, CSV, plot) and
`command` (the CLI). Nothing here is imported by ``import dalib``.
"""
