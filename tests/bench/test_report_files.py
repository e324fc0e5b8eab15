"""Files written by `dalib report` / `dalib table`: atomic, ORACLE-named, plugins loadable."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from dalib.bench import atomic, plots  # noqa: E402
from dalib.bench.atomic import save_figure_atomic, write_text_atomic  # noqa: E402
from dalib.bench.store import ResultsStore, store_path  # noqa: E402
from dalib.cli import main  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _failing_savefig(self, fh, **kwargs):
    fh.write(PNG + b"half a picture")  # some bytes reach the file, then the writer dies
    raise RuntimeError("disk full")


def test_failed_text_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "report.md"
    write_text_atomic(path, "old report\n")

    def fsync_fails(fd):
        raise OSError("I/O error")  # every byte of the new text is in the temp file by now

    monkeypatch.setattr(atomic.os, "fsync", fsync_fails)
    with pytest.raises(OSError, match="I/O error"):
        write_text_atomic(path, "new report that must never be seen half-written\n")
    # kills writing to ``path`` directly (old text lost) and skipping the temp-file cleanup
    assert path.read_text() == "old report\n" and os.listdir(tmp_path) == ["report.md"]


def test_failed_figure_save_keeps_the_old_png_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "gain_heatmap.png"
    fig = plt.figure(figsize=(1, 1))
    save_figure_atomic(fig, path)
    old = path.read_bytes()
    assert old[:8] == PNG and oct(path.stat().st_mode & 0o777) == oct(0o666 & ~atomic._UMASK)
    monkeypatch.setattr(Figure, "savefig", _failing_savefig)
    with pytest.raises(RuntimeError, match="disk full"):
        save_figure_atomic(fig, path)
    plt.close(fig)
    # kills ``fig.savefig(path)`` in place (a truncated PNG would remain)
    assert path.read_bytes() == old and os.listdir(tmp_path) == ["gain_heatmap.png"]


def _rec(method: str, seed: int, acc: list[float]) -> dict:
    epochs = [{"epoch": i + 1, "source_val_acc": 0.5, "target_acc": a, "target_entropy": 1.0, "scores": {}}
              for i, a in enumerate(acc)]
    return {"key": f"toy/A2B/{method}/seed{seed}", "dataset": "toy", "task": "A2B", "task_name": "A→B",
            "method": method, "seed": seed, "hparams": [], "epochs": epochs, "pad_input": 1.0, "pad_adapted": 0.5}


@pytest.fixture
def bench_dir(tmp_path):
    """A bench folder whose store holds constructed runs: "hurts" is worse than source-only on
    its last epoch and better on its first, so the oracle picks another epoch."""
    out = tmp_path / "b"
    with ResultsStore(store_path(out)) as store:
        for seed in (0, 1):
            store.put(_rec("source_only", seed, [0.5, 0.6 + 0.01 * seed]))
            store.put(_rec("hurts", seed, [0.9, 0.5 - 0.01 * seed]))
    return out


def test_oracle_report_and_tables_never_overwrite_the_honest_files(bench_dir, monkeypatch, capsys):
    titles = {}
    real_save = plots.save_figure_atomic

    def record_title(fig, path):
        titles[path.name] = fig.axes[0].get_title()
        real_save(fig, path)

    monkeypatch.setattr(plots, "save_figure_atomic", record_title)
    assert main(["report", str(bench_dir), "--tsne", "none"]) == 0
    assert main(["table", str(bench_dir)]) == 0
    honest = {p.name: p.read_bytes() for p in bench_dir.iterdir() if p.suffix in (".md", ".png", ".csv", ".tex")}
    assert set(honest) == {"report.md", "gain_heatmap.png", "pad_vs_gain.png", "table.md", "table.csv", "table.tex"}
    assert main(["report", str(bench_dir), "--select", "oracle", "--tsne", "none"]) == 0
    assert main(["table", str(bench_dir), "--select", "oracle"]) == 0
    for name, data in honest.items():
        assert (bench_dir / name).read_bytes() == data, name  # kills the old fixed plot names
    assert not any("ORACLE" in t for name, t in titles.items() if "ORACLE" not in name)
    for name in ("gain_heatmap-ORACLE.png", "pad_vs_gain-ORACLE.png"):
        assert titles[name].startswith("ORACLE (selection uses target labels)"), name
    for name in ("report-ORACLE.md", "table-ORACLE.md", "table-ORACLE.csv", "table-ORACLE.tex"):
        assert "ORACLE (selection uses target labels)" in (bench_dir / name).read_text().splitlines()[0], name
    # two seeds, gains −10 and −12 pp under `last` (flagged); the oracle's epoch 1 gains +30 and +29
    assert "| A→B | hurts | 2 | 49.5 | -11.0 ± 1.4 | **NT** |" in honest["report.md"].decode()
    assert "| A→B | hurts | 2 | 90.0 | +29.5 ± 0.7 |  |" in (bench_dir / "report-ORACLE.md").read_text()


def test_failed_report_leaves_no_partial_png(bench_dir, monkeypatch, capsys):
    assert main(["report", str(bench_dir), "--tsne", "none"]) == 0
    before = {p.name: p.read_bytes() for p in bench_dir.iterdir() if p.is_file()}
    monkeypatch.setattr(Figure, "savefig", _failing_savefig)
    with pytest.raises(RuntimeError, match="disk full"):
        main(["report", str(bench_dir), "--tsne", "none"])
    after = {p.name: p.read_bytes() for p in bench_dir.iterdir() if p.is_file()}
    assert after == before  # no temp file left, no PNG half-written

