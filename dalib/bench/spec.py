"""What a bench run is (`RunSpec`), how it executes (`RunOptions`), and whether it can train in a
vectorised batch (`vectorizable`), without the code that runs it.

Planning a grid (configs, fingerprints, the results store) needs only these; `dalib.bench.run`
executes a spec and imports the trainer, the models and scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dalib.bench.profiles import Profile
from dalib.bench.values import format_value

if TYPE_CHECKING:
    from dalib.data.tasks import Task


@dataclass(frozen=True)
class RunSpec:
    """What a run is; ``key`` names its record file.

    ``grid_axes`` names the ``TERM.NAME`` of ``hparams`` that come from a ``--grid`` (tables
    select over them per task); the others are one-off settings. Everything else that
    changes the numbers (dataset files, term defaults, plugin code, versions) is in the
    record's fingerprint (`dalib.bench.fingerprint`), which the results store compares.
    ``vectorized`` runs it in a batch of runs trained as one model (`dalib.bench.vector_run`):
    the same run, equal to its single run up to float rounding, so it is part of the fingerprint.
    """

    dataset: str
    task: str
    method: str
    seed: int
    profile: Profile
    hparams: tuple[tuple[str, str, Any], ...] = ()
    device: str = "cpu"
    weights: str = ""
    reweight_every: int = 0
    grid_axes: tuple[str, ...] = ()
    vectorized: bool = False

    @property
    def label(self) -> str:
        """The table row: the method, plus ``+w:<estimator>`` for instance-weighted runs."""
        if not self.weights:
            return self.method
        every = f"@{self.reweight_every}ep" if self.reweight_every else ""
        return f"{self.method}+w:{self.weights}{every}"

    @property
    def key(self) -> str:
        """``dataset/task/label[,TERM.NAME=V…][,grid:TERM.NAME=V…]/seedN``; a folder dataset
        of your own counts by its last path part."""
        hp = "".join(f",{'grid:' if f'{t}.{k}' in self.grid_axes else ''}{t}.{k}={format_value(v)}"
                     for t, k, v in self.hparams)
        return f"{Path(self.dataset).name}/{self.task}/{self.label}{hp}/seed{self.seed}"

    def overrides(self) -> dict[str, dict[str, Any]]:
        """Hyper-parameter overrides grouped by term name."""
        out: dict[str, dict[str, Any]] = {}
        for term, name, value in self.hparams:
            out.setdefault(term, {})[name] = value
        return out


@dataclass
class RunOptions:
    """Execution settings that do not change a run's numbers' identity."""

    log_root: str | None = None
    progress_bar: bool = False
    threads: int = 1
    announce: bool = True  # a line when a vectorised batch starts (the bench's log; off with log=None)


def vectorizable(spec: RunSpec, task: Task) -> str | None:
    """None when ``spec`` can train in a vectorised batch, else why not (a short phrase):
    deep methods of single-step terms on the MLP of in-memory features or on a frozen cached
    trunk, without instance weights."""
    from dalib.bench.shallow_names import is_shallow
    from dalib.methods import resolve_method

    if is_shallow(spec.method):
        return "a shallow method"
    if spec.weights:
        return "instance weights"
    prof = spec.profile.with_overrides(**spec.overrides().get("profile", {}))
    if prof.trunk not in ("", "frozen"):
        return f"trunk {prof.trunk}"
    if not prof.trunk and (prof.backbone != "mlp" or task.source.tensors is None or task.target.tensors is None):
        return f"backbone {prof.backbone} on data read from files"
    for entry in resolve_method(spec.method).entries:
        cls = entry.cls
        if getattr(cls, "multi_step", False):
            return f"{entry.name} runs its own update steps"
        if getattr(cls, "needs_model", False):
            return f"{entry.name} holds the model"
        if not getattr(cls, "vectorizable", True):
            return f"{entry.name} sets vectorizable = False"
    return None
