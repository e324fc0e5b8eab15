"""The negative-transfer report on constructed records."""

from __future__ import annotations

import math

import pytest

from dalib.bench.report import artefact_name, nt_test_level, report_markdown, transfer_rows


def _rec(method, seed, accs, heldout=None, task="A2B", pad=(1.5, 0.8)):
    epochs = [{"epoch": i + 1, "source_val_acc": 0.5 + 0.01 * i, "target_acc": a, "target_entropy": 1.0,
               "target_heldout_acc": heldout if heldout is not None else a} for i, a in enumerate(accs)]
    return {"dataset": "toy", "task": task, "task_name": "A→B", "method": method, "seed": seed,
            "epochs": epochs, "pad_input": pad[0], "pad_adapted": pad[1]}


@pytest.fixture
def records():
    recs = []
    for seed, (so, bad, good, to) in enumerate([(0.60, 0.50, 0.70, 0.90), (0.62, 0.52, 0.71, 0.92),
                                               (0.61, 0.49, 0.69, 0.91)]):
        recs += [_rec("source_only", seed, [0.3, so]), _rec("hurts", seed, [0.9, bad]),
                 _rec("helps", seed, [0.2, good]), _rec("target_only", seed, [0.5, to])]
    return recs


def test_constructed_negative_transfer_is_flagged(records):
    rows = {r.method: r for r in transfer_rows(records, "last")}
    assert set(rows) == {"hurts", "helps"}
    hurts, helps = rows["hurts"], rows["helps"]
    # paired gains −10, −10, −12 pp: mean −10.667, sample std √(4/3) = 1.155 → ḡ + s < 0 with n = 3
    # (kills "never flag" and a seed minimum above 3)
    assert hurts.gain_mean == pytest.approx(-10.667, abs=1e-3) and hurts.negative and hurts.seeds == 3
    assert hurts.gain_std == pytest.approx(math.sqrt(4 / 3), abs=1e-9)
    assert helps.gain_mean == pytest.approx(9.0, abs=1e-9) and not helps.negative
    # NTG = err(method) − err(target-only) on the held-out half = acc(target-only) − acc(method)
    assert hurts.ntg == pytest.approx(91.0 - 50.333, abs=1e-3)
    assert hurts.pad_input == pytest.approx(1.5) and hurts.pad_adapted == pytest.approx(0.8)


def test_gain_within_noise_is_not_flagged(records):
    for rec in records:
        if rec["method"] == "hurts":
            rec["epochs"][-1]["target_acc"] = {0: 0.58, 1: 0.65, 2: 0.59}[rec["seed"]]
    row = next(r for r in transfer_rows(records, "last") if r.method == "hurts")
    # mixed paired gains −2, +3, −2 pp: mean −0.333 < 0 but std 2.887 > 0.333 (kills "flag any mean < 0")
    assert row.gain_mean == pytest.approx(-1 / 3, abs=1e-9) and row.gain_std == pytest.approx(math.sqrt(25 / 3))
    assert not row.negative


def test_one_seed_never_flags_negative_transfer_and_says_so(records):
    one = [r for r in records if r["seed"] == 0]  # hurts: 50 vs 60 → gain −10 pp from a single seed
    row = next(r for r in transfer_rows(one, "last") if r.method == "hurts")
    # the old rule saw std = 0 and flagged any negative gain (kills dropping the n ≥ 2 requirement)
    assert row.gain_mean == pytest.approx(-10.0) and row.gain_std is None and row.seeds == 1
    assert row.too_few_seeds and not row.negative
    text = report_markdown(one, "last", transfer_rows(one, "last"), [])
    assert "| **NT** |" not in text and "| A→B | hurts | 1 | 50.0 | -10.0 | n=1: too few seeds |" in text
    assert "too few seeds (n=1) to flag negative transfer on 2 of 2 rows" in text


def test_two_seeds_use_the_sample_std(records):
    two = [r for r in records if r["seed"] in (0, 1)]
    for rec in two:
        if rec["method"] == "hurts":  # paired gains −3 and −0.5 pp: mean −1.75
            rec["epochs"][-1]["target_acc"] = {0: 0.57, 1: 0.615}[rec["seed"]]
    row = next(r for r in transfer_rows(two, "last") if r.method == "hurts")
    # sample std (ddof = 1) = 2.5/√2 = 1.768 > 1.75: not flagged; the population std 1.25 would flag it
    # (kills ddof = 0)
    assert row.gain_std == pytest.approx(2.5 / math.sqrt(2)) and not row.negative
    for rec in two:
        if rec["method"] == "hurts":  # gains −3 and −1 pp: mean −2, std √2 = 1.414 → flagged with n = 2
            rec["epochs"][-1]["target_acc"] = {0: 0.57, 1: 0.61}[rec["seed"]]
    row = next(r for r in transfer_rows(two, "last") if r.method == "hurts")
    assert row.gain_std == pytest.approx(math.sqrt(2)) and row.negative  # kills a seed minimum of 3


def test_nt_rule_level_is_the_one_sided_paired_t_test():
    # ḡ + s < 0 ⇔ t = ḡ√n/s < −√n; P(T_{n−1} > √n) in closed form for 1 and 2 degrees of freedom:
    # Cauchy: ½ − atan(x)/π; t_2: ½(1 − x/√(x² + 2)). Kills df = n and a threshold of t < −1.
    assert nt_test_level(2) == pytest.approx(0.5 - math.atan(math.sqrt(2)) / math.pi, rel=1e-9)
    assert nt_test_level(3) == pytest.approx(0.5 * (1 - math.sqrt(3) / math.sqrt(5)), rel=1e-9)


def test_report_states_the_test_level_for_its_seed_count(records):
    text = report_markdown(records, "last", transfer_rows(records, "last"), [])
    assert "(p = 0.113 for n = 3)" in text and "to flag negative transfer on" not in text


def test_artefact_names_keep_protocols_apart():
    assert artefact_name("report", "last", ".md") == "report.md"
    assert artefact_name("gain_heatmap", "entropy", ".png") == "gain_heatmap-entropy.png"
    assert artefact_name("tsne", "oracle", ".png") == "tsne-ORACLE.png"


def test_protocol_changes_the_selected_epoch(records):
    rows = {r.method: r for r in transfer_rows(records, "oracle")}
    assert rows["hurts"].acc == pytest.approx(90.0)  # the oracle picks epoch 1 for "hurts"


def test_markdown_names_protocol_and_marks_oracle(records):
    text = report_markdown(records, "last", transfer_rows(records, "last"), ["gain_heatmap.png"])
    assert "Selection: **last**" in text and "| A→B | hurts |" in text and "**NT**" in text
    assert "![gain_heatmap.png](gain_heatmap.png)" in text
    oracle = report_markdown(records, "oracle", transfer_rows(records, "oracle"), [])
    assert oracle.startswith("# ORACLE")


PROBE_PLUGIN = """from dalib.alignment import Discrepancy, register


@register("report_probe_loss", weight=1.0)
class Probe(Discrepancy):
    def forward(self, f_s, f_t, **_):
        return (f_s.mean(0) - f_t.mean(0)).pow(2).sum()
"""


def test_report_command_loads_plugins_writes_markdown_plots_and_reproduces_the_tsne_run(tmp_path, capsys):
    from dalib import plugins
    from dalib.alignment.registry import REGISTRY
    from dalib.cli import main

    plugin = tmp_path / "probe_loss.py"
    plugin.write_text(PROBE_PLUGIN)
    out = tmp_path / "b"
    try:
        assert main(["bench", "--plugin", str(plugin), "--methods", "report_probe_loss", "--seeds", "0,1",
                     "--tasks", "R02R30", "--epochs", "2", "--no-target-only", "--out", str(out)]) == 0
        REGISTRY.pop("report_probe_loss")  # as in a fresh process: the plugin method is not registered
        plugins._LOADED.discard(str(plugin.resolve()))
        assert main(["report", str(out)]) == 2 and "report_probe_loss" in capsys.readouterr().err
        # re-executes the plugin method's seed-0 run and checks its stored accuracy
        assert main(["report", str(out), "--plugin", str(plugin)]) == 0
    finally:
        REGISTRY.pop("report_probe_loss", None)
        plugins._LOADED.discard(str(plugin.resolve()))
    text = (out / "report.md").read_text()
    assert "| R0→R30 | report_probe_loss | 2 |" in text and "Selection: **last**" in text
    for name in ("gain_heatmap.png", "pad_vs_gain.png", "tsne.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_one_off_hp_runs_are_their_own_rows_against_their_own_baseline(records):
    """A ``--hp`` run is its own report row (as in the table), and a run with profile overrides is
    compared with the source-only run trained with the same overrides.

    Kills grouping by method name (the two dann settings would overwrite each other per seed) and
    comparing a ``profile.*`` row with the plain source-only row.
    """
    extra = []
    for seed in range(3):
        extra += [dict(_rec("hurts", seed, [0.2, 0.80]), hparams=[["hurts", "weight", 0.3]]),
                  dict(_rec("source_only", seed, [0.2, 0.40]), hparams=[["profile", "lr", 0.1]]),
                  dict(_rec("helps", seed, [0.2, 0.45]), hparams=[["profile", "lr", 0.1]])]
    rows = {r.method: r for r in transfer_rows(records + extra, "last")}
    assert set(rows) == {"hurts", "helps", "hurts [hurts.weight=0.3]", "helps [profile.lr=0.1]"}
    assert rows["hurts"].gain_mean == pytest.approx(-10.667, abs=1e-3)           # unchanged by the --hp runs
    assert rows["hurts [hurts.weight=0.3]"].gain_mean == pytest.approx(19.0, abs=1e-9)  # 80 vs 61 (plain source-only)
    assert rows["helps [profile.lr=0.1]"].gain_mean == pytest.approx(5.0, abs=1e-9)     # 45 vs 40 (same profile)
