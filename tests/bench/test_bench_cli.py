"""`dalib bench`, `dalib table` and `dalib data` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dalib.cli import main


def test_bench_writes_tables_and_records_and_resumes(tmp_path, capsys):
    out = tmp_path / "b"
    args = ["bench", "--dataset", "rotated-digits", "--methods", "dann", "--seeds", "0,1",
            "--tasks", "R02R30,R302R0", "--epochs", "2", "--out", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "selection protocol: last" in text and "no target labels" in text
    records = sorted((out / "runs").rglob("*.json"))
    assert len(records) == 3 * 2 * 2  # source_only and the target-only reference are added beside dann
    rec = json.loads(records[0].read_text())
    assert rec["dataset"] == "rotated-digits" and len(rec["epochs"]) == 2
    table = (out / "table.md").read_text()
    assert "| source_only |" in table and "| dann |" in table and "R0→R30" in table and "Avg" in table
    assert " ± " in table and "2 seed(s)" in table and "target_only" not in table
    heldout = (out / "table-heldout.md").read_text()
    assert "held-out 50% of the target" in heldout and "| target_only |" in heldout
    tex = (out / "table.tex").read_text()
    assert "\\begin{tabular}" in tex and "R0$\\to$R30" in tex and "\\textbf{" in tex and "source\\_only" in tex
    csv_lines = (out / "table.csv").read_text().splitlines()
    assert csv_lines[1].startswith("method,R0→R30 mean,R0→R30 std")
    mtimes = [p.stat().st_mtime_ns for p in records]
    assert main(args) == 0  # second run: every record exists, nothing is retrained
    assert [p.stat().st_mtime_ns for p in records] == mtimes
    assert "[1/12]" not in capsys.readouterr().out


def test_table_under_oracle_is_labelled(tmp_path, capsys):
    out = tmp_path / "b"
    main(["bench", "--methods", "source_only", "--seeds", "0", "--tasks", "R02R90", "--epochs", "2", "--out", str(out)])
    assert main(["table", str(out), "--select", "oracle"]) == 0
    assert (out / "table-ORACLE.md").read_text().startswith("**ORACLE")
    assert "ORACLE" in (out / "table-ORACLE.csv").read_text().splitlines()[0]


def test_table_of_source_val_accuracy(tmp_path, capsys):
    out = tmp_path / "b"
    main(["bench", "--methods", "source_only", "--seeds", "0", "--tasks", "R02R90", "--epochs", "2", "--out", str(out)])
    rec = json.loads(next((out / "runs").rglob("source_only/seed0.json")).read_text())
    capsys.readouterr()
    assert main(["table", str(out), "--metric", "source-val"]) == 0
    table = (out / "table-source-val-acc.md").read_text()
    # kills: the target accuracy under the source-val title, the target-only line kept (it has no source)
    assert "source-val accuracy" in table and "target_only" not in table
    assert f"| source_only | {100 * rec['epochs'][-1]['source_val_acc']:.1f} |" in table
    assert rec["epochs"][-1]["source_val_acc"] != rec["epochs"][-1]["target_acc"]
    assert main(["table", str(out), "--metric", "target-val"]) == 2
    assert "expected target" in capsys.readouterr().err


def test_hp_override_reaches_the_term(tmp_path):
    out = tmp_path / "b"
    main(["bench", "--methods", "dann", "--seeds", "0", "--tasks", "R02R30", "--epochs", "1",
          "--hp", "dann.weight=0.25", "--out", str(out)])
    rec = json.loads(next((out / "runs").rglob("dann,*/seed0.json")).read_text())
    assert rec["hparams"] == [["dann", "weight", 0.25]]
    assert rec["epochs"][0]["losses"]["lambda/dann"] == pytest.approx(0.25)


def test_data_list_and_verify(data_root, capsys):
    assert main(["data", "list", "--data-root", str(data_root)]) == 0
    text = capsys.readouterr().out
    assert "| office-caltech10-surf | features | amazon (958), caltech10 (1123), dslr (157), webcam (295) | 10 | found |" in text
    assert "| rotated-digits | embedded |" in text
    assert main(["data", "verify", "office-caltech10-surf", "--data-root", str(data_root)]) == 0
    assert "4 files checked, 0 missing, 0 with a wrong sha256" in capsys.readouterr().out


def test_methods_lists_defaults():
    from dalib.method_costs import RELATIVE_STEP_TIME

    # a fresh process: the listing must not depend on modules a test imported before
    proc = subprocess.run([sys.executable, "-m", "dalib.cli", "methods"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "| l2sp | regulariser | " in text and "| 0.01 | constant | part=backbone |" in text
    cost = RELATIVE_STEP_TIME["dann"]
    assert f"| dann | adversarial | {cost:g}× | 1 | constant | lam_max=1.0, gamma=10.0, hidden=256, depth=2, dropout=0.5 |" in text
    assert "| constant | estimator=unbiased, kernel=gaussian, bandwidth=median, multipliers=" in text
    assert f"| mcd | adversarial | {RELATIVE_STEP_TIME['mcd']:g}× | 1 | constant | k=4 |" in text
    assert "| entropy | self-training |" in text and "shallow_coral_svm" in text


def test_table_rebuilt_under_every_protocol_from_the_store(tmp_path):
    from dalib.eval.selection import PROTOCOLS

    out = tmp_path / "b"
    main(["bench", "--methods", "dann", "--seeds", "0,1", "--tasks", "R02R30", "--epochs", "3", "--out", str(out)])
    dann_avg = {}
    for protocol in PROTOCOLS:
        assert main(["table", str(out), "--select", protocol]) == 0
        name = {"last": "table", "oracle": "table-ORACLE"}.get(protocol, f"table-{protocol}")
        text = (out / f"{name}.md").read_text()
        assert f"selection: {protocol}" in text and ("ORACLE" in text) == (protocol == "oracle")
        assert (out / f"{name}-heldout.md").is_file() and (out / f"{name}.tex").is_file()
        row = next(line for line in text.splitlines() if line.startswith("| dann |"))
        dann_avg[protocol] = float(row.split("|")[-2].strip(" *"))
    # the oracle picks the best target epoch of every run, so no honest protocol beats it
    assert all(dann_avg["oracle"] >= v for v in dann_avg.values())


def test_one_off_hp_runs_get_their_own_rows(tmp_path, capsys):
    # the issue: a one-off --hp bench into a folder of default runs turned it into a "grid", and
    # `dalib table` picked a setting per task. Now each setting is its own labelled row.
    out = tmp_path / "b"
    base = ["bench", "--methods", "dann", "--seeds", "0", "--tasks", "R02R30,R302R0", "--epochs", "1",
            "--no-target-only", "--out", str(out)]
    assert main(base) == 0
    assert main([*base[:-2], "--tasks", "R02R30", "--hp", "dann.weight=0.3", "--out", str(out)]) == 0
    # a profile field set with --hp is the row's own setting, not a difference between rows
    # (kills: comparing every profile field across the folder's runs)
    assert main([*base[:-2], "--tasks", "R02R30", "--hp", "profile.lr=0.003", "--out", str(out)]) == 0
    # the bench writes the folder's whole table, as `dalib table` does (kills: a table of only the
    # runs of the last command, which dropped the stored dann row)
    bench_table = (out / "table.md").read_text()
    assert main(["table", str(out)]) == 0
    table = (out / "table.md").read_text()
    assert bench_table == table
    rows = [line.split(" |")[0].lstrip("| ") for line in table.splitlines() if line.startswith("| ")][1:]
    assert rows == ["source_only", "source_only [profile.lr=0.003]", "dann", "dann [dann.weight=0.3]",
                    "dann [profile.lr=0.003]"]
    weighted = next(line for line in table.splitlines() if line.startswith("| dann [dann.weight=0.3] |"))
    assert weighted.endswith("| – | – |")  # run on R0→R30 only: no R30→R0 cell borrowed from the defaults
    assert "chosen" not in table
