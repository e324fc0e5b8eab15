"""The partial-set protocol: ``--profile target_classes=K`` keeps the target's first K classes."""

from __future__ import annotations

import numpy as np
import pytest

from dalib.bench.fingerprint import dataset_identity, fingerprint, run_setting
from dalib.bench.profiles import profile_for
from dalib.bench.run import RunOptions, RunSpec, execute
from dalib.data.catalog import load_dataset
from dalib.data.tasks import Task, partial_target, select_tasks
from dalib.errors import DalibError


def _task(make_domain) -> Task:
    return Task(make_domain("src", n=60, classes=4), make_domain("tgt", n=40, classes=4, shift=1.0, seed=1))


def test_partial_target_keeps_the_first_k_classes_of_the_target_only(make_domain):
    """Kills a subset by the first K samples instead of classes, by labels ≤ K, and one applied
    to the source as well."""
    task = _task(make_domain)
    partial = partial_target(task, 2)
    y = task.target.labels.numpy()
    assert partial.target.labels.numpy().tolist() == y[y < 2].tolist()
    assert len(partial.target) == 20 and partial.source is task.source
    assert partial_target(task, 0) is task


@pytest.mark.parametrize("k", [4, 5, -1])
def test_partial_target_refuses_a_class_count_outside_1_to_c_minus_1(make_domain, k):
    with pytest.raises(DalibError, match=rf"^target_classes={k}: the partial-set target keeps 1 … 3 of the 4 "
                                         r"classes \(0 keeps all\)$"):
        partial_target(_task(make_domain), k)


def _spec(method: str, target_classes: int) -> RunSpec:
    profile = profile_for("rotated-digits").with_overrides(epochs=1, iters_per_epoch=2, target_classes=target_classes)
    return RunSpec("rotated-digits", "R02R30", method, 0, profile)


@pytest.mark.parametrize("method", ["source_only", "shallow_none_lr"])
def test_a_partial_set_run_trains_on_all_source_classes_and_scores_the_partial_target(method):
    """Kills a profile field that never reaches the run (deep or shallow), and a fingerprint
    that does not tell a partial-set run from a full one (the store would mix them)."""
    task = select_tasks(load_dataset("rotated-digits"), ["R02R30"])[0]
    record = execute(_spec(method, 3), task, RunOptions())
    y = task.target.labels.numpy()
    assert record["n_target"] == int(np.sum(y < 3)) < len(y)
    identity = dataset_identity("rotated-digits")
    assert fingerprint(run_setting(_spec(method, 3), identity)) != fingerprint(run_setting(_spec(method, 0), identity))


@pytest.mark.parametrize("value, message", [
    ("-1", r"^--profile target_classes=-1: expected an integer ≥ 0 \(the partial-set target keeps its first K "
           r"classes; 0: all\)$"),
])
def test_a_bad_target_class_count_is_refused_by_the_option_check(value, message):
    from dalib.bench.config import BenchConfig

    with pytest.raises(DalibError, match=message):
        BenchConfig(profile=(("target_classes", value),))


def test_too_many_target_classes_are_refused_before_any_run(tmp_path):
    """Kills the class-count check left to the first run (after the store is created)."""
    from dalib.bench.config import BenchConfig
    from dalib.bench.plan import plan_bench

    config = BenchConfig(methods="source_only", seeds="0", tasks="R02R30", out=str(tmp_path / "b"),
                         hp=("profile.target_classes=10",))
    with pytest.raises(DalibError, match=r"^target_classes=10: the partial-set target keeps 1 … 9 of the 10 classes"):
        plan_bench(config)
    assert not (tmp_path / "b").exists()

