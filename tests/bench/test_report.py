"""The negative-transfer report on constructed records."""

from __future__ import annotations

import pytest

from dalib.bench.report import report_markdown, transfer_rows


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
    assert hurts.gain_mean == pytest.approx(-10.667, abs=1e-3) and hurts.negative
    assert helps.gain_mean == pytest.approx(9.0, abs=1e-9) and not helps.negative
    # NTG = err(method) − err(target-only) on the held-out half = acc(target-only) − acc(method)
    assert hurts.ntg == pytest.approx(91.0 - 50.333, abs=1e-3)
    assert hurts.pad_input == pytest.approx(1.5) and hurts.pad_adapted == pytest.approx(0.8)


def test_gain_within_noise_is_not_flagged(records):
    for rec in records:
        if rec["method"] == "hurts":
            rec["epochs"][-1]["target_acc"] = {0: 0.58, 1: 0.65, 2: 0.59}[rec["seed"]]
    row = next(r for r in transfer_rows(records, "last") if r.method == "hurts")
    assert row.gain_mean < 0 and abs(row.gain_mean) < row.gain_std and not row.negative


def test_protocol_changes_the_selected_epoch(records):
    rows = {r.method: r for r in transfer_rows(records, "oracle")}
    assert rows["hurts"].acc == pytest.approx(90.0)  # the oracle picks epoch 1 for "hurts"


def test_markdown_names_protocol_and_marks_oracle(records):
    text = report_markdown(records, "last", transfer_rows(records, "last"), ["gain_heatmap.png"])
    assert "Selection: **last**" in text and "| A→B | hurts |" in text and "**NT**" in text
    assert "![gain_heatmap.png](gain_heatmap.png)" in text
    oracle = report_markdown(records, "oracle", transfer_rows(records, "oracle"), [])
    assert oracle.startswith("# ORACLE")


def test_report_command_writes_markdown_plots_and_reproduces_the_tsne_run(tmp_path, capsys):
    from dalib.cli import main

    out = tmp_path / "b"
    assert main(["bench", "--methods", "dann", "--seeds", "0,1", "--tasks", "R02R30", "--epochs", "2",
                 "--out", str(out)]) == 0
    assert main(["report", str(out)]) == 0  # re-executes dann seed 0 and checks its stored accuracy
    text = (out / "report.md").read_text()
    assert "| R0→R30 | dann |" in text and "Selection: **last**" in text
    for name in ("gain_heatmap.png", "pad_vs_gain.png", "tsne.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
