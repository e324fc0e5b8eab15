"""Imports run with the flow of ../shared/ARCHITECTURE.md, and the light entry points stay light.

Imports are read from the source with `ast` (also those inside functions), so a lazy import
against the flow is caught as well as a module-level one.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dalib"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """dalib module → the dalib modules (or module.attribute names) it imports anywhere."""
    out: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            out[_module_name(path)].update(n for n in names if n.startswith("dalib."))
    return out


def _layer(module: str) -> str:
    """The top-level part of dalib a module belongs to: ``data``, ``train``, ``errors`` …"""
    return module.split(".")[1]


def _reaches(importer_layer: str) -> dict[str, set[str]]:
    """Module of ``importer_layer`` → the other parts of dalib it imports."""
    return {m: {_layer(n) for n in names} - {importer_layer}
            for m, names in _imports().items() if m.count(".") and _layer(m) == importer_layer}


# (importer, what it may import besides itself); mutation killed: e.g. adding
# `from dalib.train.schedules import inverse_decay` to dalib/alignment/adversarial.py
ALLOWED = {
    # a loss knows no loop (λ schedules live beside the losses); multi-step terms describe their
    # steps with the neutral dalib.update_steps, which the trainer runs
    "alignment": {"errors", "checks", "update_steps"},
    "data": {"errors", "checks"},  # data knows nothing of models, text encoders or training
}
# (importer, what it must not import); mutation killed: `from dalib.alignment.base import
# Discrepancy` back in dalib/train/objective.py
FORBIDDEN = {
    # the loop names no loss and no model; mutation killed: `from dalib.models.multitask import
    # MultiTaskNet` back in dalib/train/multitask.py
    "train": {"alignment", "methods", "bench", "cli", "finetune", "models"},
}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_lower_layers_import_only_what_they_may(layer):
    wrong = {m: sorted(r - ALLOWED[layer]) for m, r in _reaches(layer).items() if r - ALLOWED[layer]}
    assert not wrong, f"imports against the flow: {wrong}"


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_the_loop_names_no_loss(layer):
    wrong = {m: sorted(r & FORBIDDEN[layer]) for m, r in _reaches(layer).items() if r & FORBIDDEN[layer]}
    assert not wrong, f"imports against the flow: {wrong}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_parts_of_dalib():
    """Mutation killed: data/catalog.py importing dalib.text.domains again (text imports data)."""
    imports = _imports()
    modules = set(imports) | {m for names in imports.values() for m in names}
    graph = {m: {n for n in names if n in modules and n != m} for m, names in imports.items()}
    across = [c for c in _cycles(graph) if len({_layer(m) for m in c if m.count(".")}) > 1]
    assert not across, f"import cycles across parts of dalib: {across}"


def _imported_after(statement: str) -> set[str]:
    code = (f"import sys; {statement}; "
            "print(' '.join(m for m in ('torch', 'sklearn', 'ot', 'matplotlib', 'scipy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return set(result.stdout.split())


def test_import_dalib_imports_no_heavy_library():
    """Mutation killed: an eager `from dalib.data.catalog import load_dataset` in dalib/__init__.py."""
    assert _imported_after("import dalib") == set()


def test_method_registry_needs_torch_but_not_pot_sklearn_or_matplotlib():
    """Mutation killed: a module-level `import ot` in dalib/alignment/ot.py."""
    imported = _imported_after("import dalib.methods")
    assert "torch" in imported and not imported & {"ot", "sklearn", "matplotlib"}


def _imported_by_cli(*argv: str) -> set[str]:
    """Heavy libraries loaded by `dalib ARGV` (its output discarded), in a fresh interpreter."""
    code = (f"import contextlib, io, sys\nsys.argv = ['dalib', *{list(argv)!r}]\nfrom dalib.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    try:\n        main()\n    except SystemExit:\n        pass\n"
            "print(' '.join(m for m in ('torch', 'sklearn', 'ot', 'matplotlib', 'scipy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return set(result.stdout.split())


def test_cli_help_and_methods_stay_light():
    """`dalib --help` loads no heavy library; `dalib methods` needs torch (the terms are modules)
    but not scikit-learn, POT or matplotlib. Mutation killed: `cmd_methods` taking the shallow
    names from dalib.bench.shallow_run (which imports scikit-learn) again."""
    assert _imported_by_cli("--help") == set()
    listed = _imported_by_cli("methods")
    assert "torch" in listed and not listed & {"ot", "sklearn", "matplotlib"}


def test_light_shallow_names_match_the_estimators():
    """The names `dalib methods` and option checks use (no scikit-learn import) are exactly the
    adapters and weight estimators that run. Mutation killed: an adapter added to (or dropped
    from) dalib.shallow without the name list following."""
    from dalib.bench import shallow_names
    from dalib.reweighting import WEIGHT_ESTIMATORS
    from dalib.shallow import SHALLOW_METHODS

    assert set(shallow_names.ADAPTERS) == set(SHALLOW_METHODS)
    assert set(shallow_names.WEIGHTINGS) == set(WEIGHT_ESTIMATORS)


FIRST_RUN = """
import sys
import dalib.bench.grid as grid
def first_run(*args, **kwargs):
    print(' '.join(m for m in ('torch', 'sklearn', 'torchvision', 'ot', 'transformers', 'ray', 'matplotlib')
                   if m in sys.modules))
    sys.exit(0)
grid.execute_unit = first_run
from dalib.cli import main
main(['bench', '--dataset', sys.argv[2], '--methods', 'source_only,dann', '--seeds', '0', '--out', sys.argv[1]])
"""


def test_bench_reaches_its_first_run_without_the_runs_libraries(tmp_path):
    """Planning a bench (config checks, data, fingerprints, the store) loads torch and nothing the
    runs import: no scikit-learn, torchvision, POT, transformers, ray or matplotlib (start-up ≤ 1.5 s
    CPU; `benchmarks/run_time_split.py` times it). Mutations killed: `from sklearn.model_selection
    import train_test_split` back at the top of dalib/data/tasks.py, `from torchvision import
    transforms` at the top of dalib/data/folder.py, dalib/bench/grid.py importing dalib.bench.run
    at module level, BenchConfig checking --weights against dalib.reweighting."""
    import numpy as np

    rng = np.random.default_rng(0)
    (tmp_path / "features").mkdir()
    for domain in ("amazon", "webcam"):  # a feature dataset of one's own: one .npz per domain
        np.savez(tmp_path / "features" / f"{domain}.npz", X=rng.normal(size=(40, 6)), y=np.arange(40) % 2)
    out = subprocess.run([sys.executable, "-c", FIRST_RUN, str(tmp_path / "b"), str(tmp_path / "features")],
                         capture_output=True, text=True, timeout=120, check=True).stdout.strip().splitlines()
    assert out[-1].split() == ["torch"]
