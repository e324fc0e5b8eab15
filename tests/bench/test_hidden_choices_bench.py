"""The new hyper-parameters through the bench: ``--hp`` reaches the discriminator, the profile's
lr-decay constants reach the trainer, and tables state every non-default shared setting."""

from __future__ import annotations

import dataclasses

import pytest
from torch import nn

import dalib.bench.run as bench_run
from dalib.bench.config import BenchConfig
from dalib.bench.plan import plan_bench
from dalib.bench.profiles import profile_for
from dalib.bench.report import report_markdown, transfer_rows
from dalib.bench.run import RunOptions, execute
from dalib.bench.store import ResultsStore, store_path
from dalib.bench.tables import build_table, non_default_settings, to_csv, to_latex, to_markdown
from dalib.cli import main
from dalib.data.catalog import load_dataset
from dalib.data.tasks import select_tasks
from dalib.errors import DalibError
from dalib.models import Classifier, build_backbone
from dalib.train.objective import Objective
from dalib.train.trainer import TrainConfig, Trainer


def _task():
    return select_tasks(load_dataset("rotated-digits"), ["R02R30"])[0]


# Kills: ``--hp dann.dropout=0`` dropped between the config and the run (the run building its
# terms with the registered defaults), or DANN ignoring it.
def test_hp_dann_dropout_zero_reaches_the_discriminator(monkeypatch):
    config = BenchConfig.from_mapping({"methods": "dann", "seeds": "0", "tasks": "R02R30", "epochs": "1",
                                       "hp": ["dann.dropout=0", "dann.depth=1", "profile.iters_per_epoch=1"],
                                       "target_only": False})
    assert ("dann", "dropout", 0.0) in config.hp and ("dann", "depth", 1) in config.hp
    spec = next(s for s in plan_bench(config).specs if s.method == "dann")
    built = []
    real = bench_run.build_terms
    monkeypatch.setattr(bench_run, "build_terms", lambda *a, **k: built.append(real(*a, **k)) or built[-1])
    record = execute(spec, _task(), RunOptions())
    disc = built[0][0].discrepancy.discriminator
    assert [m.p for m in disc if isinstance(m, nn.Dropout)] == [0.0]
    assert sum(isinstance(m, nn.Linear) for m in disc) == 2
    assert record["method"] == "dann" and ["dann", "dropout", 0.0] in record["hparams"]


@pytest.mark.parametrize("item,fragment", [
    ("dann.dropout=1.5", "dann refuses it (domain discriminator: dropout must be a number in [0, 1), got 1.5)"),
    ("cdan.depth=-1", "cdan refuses it (domain discriminator: depth must be an integer ≥ 0"),
    ("dan.kernel=cauchy", "dan refuses it (dan: unknown kernel 'cauchy'; choose one of gaussian, laplacian)"),
    ("jan.bandwidth=max", "jan refuses it (unknown kernel bandwidth rule 'max'; choose one of median, mean)"),
    ("profile.lr_beta=-1", "--hp profile.lr_beta=-1: expected a number ≥ 0"),
])
def test_bad_new_values_are_refused_before_the_first_run(item, fragment):
    with pytest.raises(DalibError) as err:
        BenchConfig.from_mapping({"methods": item.split(".")[0] if not item.startswith("profile") else "dann",
                                  "hp": [item]})
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_new_names_and_values_pass_the_checks():
    config = BenchConfig.from_mapping({"methods": "dann,cdan_e,dan,jan",
                                       "hp": ["dann.dropout=0", "cdan_e.hidden=64", "dan.kernel=laplacian",
                                              "jan.bandwidth=mean", "profile.lr_alpha=5"],
                                       "grid": ["dann.depth=1,3"]})
    assert ("dan", "kernel", "laplacian") in config.hp and ("profile", "lr_alpha", 5.0) in config.hp
    assert config.grid == (("dann", "depth", (1, 3)),)


# lr(p) = lr·(1 + α·p)^−β at p = 0.5 for α = 4, β = 0.5: 0.01·3^−0.5. Kills: set_lr ignoring
# the config's α or β (the fixed 10 and 0.75 give 0.01·6^−0.75).
def test_lr_decay_constants_reach_set_lr():
    model = Classifier(build_backbone("mlp", 4, hidden=(4,)), 3, 8)
    trainer = Trainer(model, Objective([]), TrainConfig(lr=0.01, lr_alpha=4.0, lr_beta=0.5))
    assert trainer.set_lr(0.5) == pytest.approx(0.01 * 3 ** -0.5, rel=1e-12)
    assert [g["lr"] for g in trainer.optimizer.param_groups] == \
        pytest.approx([0.01 * 3 ** -0.5] * len(trainer.optimizer.param_groups), rel=1e-12)
    default = Trainer(model, Objective([]), TrainConfig(lr=0.01))
    assert default.set_lr(0.5) == pytest.approx(0.01 * 6 ** -0.75, rel=1e-12)
    with pytest.raises(DalibError, match="needs α ≥ 0 and β ≥ 0"):
        TrainConfig(lr_beta=-0.5)


# The profile's lr_alpha / lr_beta reach the trainer of a bench run: with 2 epochs of 1 step the
# second epoch's step runs at p = 1/2. Kills: run.py building TrainConfig without them.
def test_profile_lr_decay_constants_reach_a_bench_run():
    config = BenchConfig.from_mapping({"methods": "source_only", "seeds": "0", "tasks": "R02R30", "epochs": "2",
                                       "profile": ["iters_per_epoch=1", "lr_alpha=4", "lr_beta=0.5"],
                                       "target_only": False})
    spec = plan_bench(config).specs[0]
    epochs = execute(spec, _task(), RunOptions())["epochs"]
    lr = profile_for("rotated-digits").lr
    assert [e["lr"] for e in epochs] == pytest.approx([lr, lr * 3 ** -0.5], rel=1e-12)


# Kills: the title not naming the shared non-default profile fields; a row's own --hp profile
# field repeated there (it is in the row label); comparing with `Profile()` instead of the
# dataset's profile (rotated-digits' hidden=256 and bottleneck 128 would be listed as changes).
def test_tables_and_report_state_every_non_default_setting(tmp_path):
    out = tmp_path / "b"
    assert main(["bench", "--methods", "source_only,dann", "--seeds", "0", "--tasks", "R02R30", "--epochs", "1",
                 "--profile", "iters_per_epoch=2", "--profile", "lr_alpha=4", "--hp", "profile.lr_beta=0.5",
                 "--no-target-only", "--out", str(out)]) == 0
    expected = "non-default settings: profile.epochs=1, profile.iters_per_epoch=2, profile.lr_alpha=4.0"
    text = (out / "table.md").read_text()
    title = text.splitlines()[0]
    assert title.endswith(f"{expected}**") and "lr_beta" not in title
    assert "| dann [profile.lr_beta=0.5] |" in text
    assert expected in (out / "table.csv").read_text().splitlines()[0]
    assert "profile.lr\\_alpha=4.0" in to_latex(build_table(_records(out), "last"))
    report = report_markdown(_records(out), "last", transfer_rows(_records(out), "last"), [])
    assert ("Non-default settings of every run: profile.epochs=1, profile.iters_per_epoch=2, "
            "profile.lr_alpha=4.0 (a row's own `--hp` values are in its name).") in report


def test_a_table_at_the_dataset_profile_states_nothing():
    default = dataclasses.asdict(profile_for("rotated-digits"))
    records = [{"key": f"rotated-digits/R02R30/{m}/seed0", "dataset": "rotated-digits", "task": "R02R30",
                "method": m, "seed": 0, "hparams": [], "fingerprint": "f" + m, "setting": {"profile": default},
                "epochs": [{"epoch": 1, "source_val_acc": 0.5, "target_acc": 0.5, "target_entropy": 1.0}]}
               for m in ("source_only", "dann")]
    assert non_default_settings(records) == ""
    table = build_table(records, "last")
    assert "non-default" not in to_markdown(table) and "non-default" not in to_csv(table)
    records[1]["setting"] = {"profile": {**default, "dropout": 0.0}}
    assert non_default_settings(records) == "profile.dropout=0.0"


def _records(out):
    with ResultsStore(store_path(out), create=False) as store:
        return store.records()


@pytest.mark.parametrize("cells, said", [
    ({"dann": {"A→W": [0.4, 0.5]}, "mcd": {"A→W": [0.45]}}, "mean ± std over 1–2 (per cell) seed(s)"),
    ({"dann": {"A→W": [0.4, 0.5]}, "mcd": {"A→W": [0.45, 0.5]}}, "mean ± std over 2 seed(s)"),
])
def test_the_table_title_gives_the_seed_range_when_cells_differ(cells, said):
    """Kills a title that states the largest seed count for every row (a 1-seed row added later)."""
    from dalib.bench.tables import Table

    assert Table("d", "last", list(cells), ["A→W"], cells).title.endswith(said)
