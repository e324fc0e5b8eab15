"""Every bad option of bench / table / finetune: one line naming it and the accepted form, exit 2,
no traceback, and nothing run (the output folder is never created)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dalib.cli import main

MINIMAL = ["--methods", "dann", "--seeds", "0", "--tasks", "R02R30", "--epochs", "1"]

# (extra `dalib bench` arguments, a fragment the one-line message must hold)
BENCH = [
    (["--seeds", "a,b"], "--seeds a,b: expected a comma list of distinct integers ≥ 0, e.g. --seeds 0,1,2"),
    (["--profile", "lrr=1"], "--profile lrr=1: the profile has no field 'lrr'; fields: backbone"),
    (["--profile", "lr=-1"], "--profile lr=-1: expected a number > 0"),
    (["--profile", "trunk=top:x"], "--profile trunk=top:x: unknown trunk 'top:x'"),
    (["--profile", "lr"], "--profile lr: expected FIELD=VALUE"),
    (["--seeds", "0-2"], "--seeds 0-2: expected a comma list of distinct integers ≥ 0, e.g. --seeds 0,1,2"),
    (["--seeds", ","], "--seeds : expected distinct integers ≥ 0"),
    (["--seeds", "0,0"], "--seeds 0,0: expected distinct integers ≥ 0"),
    (["--seeds", "-1"], "--seeds -1: expected distinct integers ≥ 0"),
    (["--hp", "dann.weight=abc"], "--hp dann.weight=abc: expected a finite number"),
    (["--hp", "profile.lr=abc"], "--hp profile.lr=abc: expected a finite number"),
    (["--hp", "dnn.weight=0.3"], "--hp dnn.weight=0.3: no run of this bench has a term 'dnn'; terms here: dann, profile"),
    (["--hp", "dann.wieght=0.3"], "dann has no hyper-parameter 'wieght'; it takes weight, lam_max, gamma, hidden"),
    (["--hp", "dann=0.3"], "--hp dann=0.3: expected TERM.NAME=VALUE"),
    (["--hp", "dann.weight"], "--hp dann.weight: expected TERM.NAME=VALUE"),
    (["--hp", "dann.weight="], "--hp dann.weight=: expected TERM.NAME=VALUE"),
    (["--hp", "dann.weight=-1"], "--hp dann.weight=-1: λ must be a number ≥ 0"),
    (["--hp", "dann.weight=nan"], "--hp dann.weight=nan: expected a finite number"),
    (["--hp", "dann.weight=0.3", "--hp", "dann.weight=0.5"], "dann.weight is given twice"),
    (["--hp", "dann.hidden=1.5"], "--hp dann.hidden=1.5: expected an integer"),
    (["--hp", "dan.estimator=foo", "--methods", "dan"], "dan with dan.estimator=foo: dan refuses it"),
    (["--hp", "profile.lrr=0.1"], "profile has no hyper-parameter 'lrr'; it takes backbone"),
    (["--hp", "profile.epochs=0"], "--hp profile.epochs=0: expected an integer ≥ 1"),
    (["--hp", "profile.epochs=1.5"], "--hp profile.epochs=1.5: expected an integer"),
    (["--hp", "profile.backbone=resnet"], "--hp profile.backbone=resnet: expected one of mlp, lenet"),
    (["--hp", "profile.optimizer=rmsprop"], "expected sgd or adam"),
    (["--hp", "profile.weights=missing.pt"], "the path of an existing state-dict file"),
    (["--hp", "profile.hidden=abc"], "--hp profile.hidden=abc: expected integers joined by '/'"),
    (["--hp", "profile.dropout=1"], "--hp profile.dropout=1: expected a number in [0, 1)"),
    (["--hp", "profile.iters_per_epoch=0"], "expected an integer ≥ 1 or none"),
    (["--hp", "weights.B=10"], "no run of this bench has a term 'weights'"),
    (["--weights", "kmm", "--hp", "weights.B=abc"], "--hp weights.B=abc: expected a finite number"),
    (["--weights", "kmm,kliep", "--hp", "weights.B=10"], "kliep has no hyper-parameter 'B'"),
    (["--hp", "shallow.reg=1"], "no run of this bench has a term 'shallow'"),
    (["--methods", "shallow_coral_1nn", "--hp", "shallow.k=3"], "shallow_coral_1nn has no hyper-parameter 'k'"),
    (["--grid", "dnn.weight=0.1,1"], "--grid dnn.weight=0.1,1: no run of this bench has a term 'dnn'"),
    (["--grid", "lrr=0.1,1"], "--grid lrr=0.1,1: profile has no hyper-parameter 'lrr'"),
    (["--grid", "dann.weight="], "--grid dann.weight=: expected TERM.NAME=V1,V2"),
    (["--grid", "dann.weight=0.1,abc"], "--grid dann.weight=abc: expected a finite number"),
    (["--grid", "dann.weight=0.1,,1"], "an empty value"),
    (["--grid", "dann.weight=0.1,0.1"], "a value is listed twice"),
    (["--grid", "dann.weight=0.1,1", "--hp", "dann.weight=0.3"], "dann.weight is set twice"),
    (["--grid", "lr=0.01,0"], "--grid lr=0.01,0: expected a number > 0"),
    (["--epochs", "0"], "--epochs 0: expected an integer ≥ 1"),
    (["--epochs", "x"], "--epochs=x: expected an integer"),
    (["--workers", "0"], "--workers 0: expected an integer ≥ 1"),
    (["--threads", "two"], "--threads=two: expected an integer"),
    (["--backend", "dask"], "--backend 'dask': expected one of local, ray"),
    (["--ray-address", "auto"], "--ray-address: only with --backend ray"),
    (["--select", "best"], "--select 'best': expected one of last, source-val"),
    (["--methods", "dnn"], "--methods dnn: method 'dnn' has unknown ['dnn']; did you mean dann? available:"),
    (["--methods", "DANN"], "method 'DANN' has unknown ['DANN']; did you mean dann? available:"),
    (["--methods", ","], "--methods: expected at least one method"),
    (["--methods", "dann,dann"], "--methods dann,dann: a method is listed twice"),
    (["--methods", "shallow_pca_1nn"], "--methods shallow_pca_1nn: unknown shallow method"),
    (["--weights", "kmmm"], "--weights 'kmmm': expected a comma list of kmm, kliep, discriminative"),
    (["--reweight-every", "2"], "--reweight-every 2: expected an integer ≥ 0, and > 0 only together with --weights"),
    (["--weights", "kmm", "--reweight-every", "-1"], "--reweight-every -1: expected an integer ≥ 0"),
    (["--dataset", "nope"], "--dataset nope: unknown dataset 'nope'"),
    (["--data-root", "/no/such/folder"], "--data-root /no/such/folder: no such folder"),
    (["--device", "tpu"], "--device 'tpu': expected cpu, cuda, cuda:N or mps"),
    (["--device", "cuda:99"], "--device cuda:99: this machine has"),
    (["--plugin", "missing_plugin.py"], "--plugin missing_plugin.py: plugin file not found"),
    (["--tasks", "X2Y"], "--tasks X2Y: unknown task 'X2Y'; available: R02R30"),
    (["--tasks", "R02R30,R02R30"], "--tasks R02R30,R02R30: a task is listed twice"),
    (["--no-such-flag"], "unrecognized arguments: --no-such-flag; see `dalib --help`"),
]


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dalib: error: ") and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("extra, fragment", BENCH, ids=[" ".join(a) for a, _ in BENCH])
def test_bad_bench_option(tmp_path, capsys, extra, fragment):
    out = tmp_path / "out"
    assert main(["bench", *MINIMAL, *extra, "--out", str(out)]) == 2
    assert fragment in _one_line(capsys)
    assert not out.exists()  # refused before the first run


BAD_FILES = [
    ("seeds: [a]\n", "expected a comma list of distinct integers"),
    ("hp: {dann.weight: abc}\n", "--hp dann.weight=abc: expected a finite number"),
    ("grid: {dnn.weight: [0.1, 1]}\n", "no run of this bench has a term 'dnn'"),
    ("workers: [1, 2]\n", "--workers=1/2: expected an integer"),
    ("target_only: maybe\n", "--target-only=maybe: expected true or false"),
    ("methods: {dann: 1}\n", "--methods: expected a comma list"),
    ("datset: rotated-digits\n", "unknown bench option(s) ['datset']"),
    ("seeds: [0\n", "is not valid YAML"),
    ("- dann\n", "must hold a mapping of bench options"),
]


@pytest.mark.parametrize("text, fragment", BAD_FILES, ids=[t.strip() for t, _ in BAD_FILES])
def test_bad_config_file(tmp_path, capsys, text, fragment):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(text)
    out = tmp_path / "out"
    assert main(["bench", "--config", str(cfg), "--out", str(out)]) == 2
    assert fragment in _one_line(capsys)
    assert not out.exists()


def test_missing_config_file_and_out_that_is_a_file(tmp_path, capsys):
    assert main(["bench", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "config file not found" in _one_line(capsys)
    (tmp_path / "f").write_text("")
    assert main(["bench", *MINIMAL, "--out", str(tmp_path / "f")]) == 2
    assert "expected the path of a folder" in _one_line(capsys)


def test_broken_plugin_is_one_line(tmp_path, capsys):
    plugin = tmp_path / "broken.py"
    plugin.write_text("def oops(:\n")
    assert main(["bench", *MINIMAL, "--plugin", str(plugin), "--out", str(tmp_path / "out")]) == 2
    assert f"--plugin {plugin}: importing it failed (SyntaxError" in _one_line(capsys)


def test_a_trunk_on_feature_vectors_is_refused_before_any_data_loads(tmp_path, capsys, monkeypatch):
    import dalib.data.catalog as catalog

    def no_loading(*_args, **_kwargs):
        raise AssertionError("the bench loaded data before refusing the profile")

    monkeypatch.setattr(catalog, "load_dataset", no_loading)
    assert main(["bench", *MINIMAL, "--profile", "trunk=top:1", "--out", str(tmp_path / "out")]) == 2
    assert "trunk 'top:1' needs a backbone with blocks to cut" in _one_line(capsys)
    assert not (tmp_path / "out").exists()


def test_a_minilm_cut_past_its_six_layers_is_refused_before_any_data_loads(tmp_path, capsys, monkeypatch):
    import dalib.data.catalog as catalog

    monkeypatch.setattr(catalog, "load_dataset", lambda *a, **k: pytest.fail("data loaded before the refusal"))
    args = ["bench", "--dataset", "amazon-sentiment-tokens", "--methods", "source_only", "--seeds", "0",
            "--tasks", "K2E", "--profile", "trunk=top:7", "--out", str(tmp_path / "out")]
    assert main(args) == 2
    assert "trunk top:7 asks for 7 layers but MiniLM has 6; use top:1 … top:6" in _one_line(capsys)
    assert not (tmp_path / "out").exists()  # no empty results store left behind


def test_bad_table_options(tmp_path, capsys):
    assert main(["table", str(tmp_path / "nope")]) == 2
    assert "no such folder; pass the --out folder" in _one_line(capsys)
    assert main(["table", str(tmp_path), "--select", "best"]) == 2
    assert "--select 'best': expected one of" in _one_line(capsys)
    assert main(["table", str(tmp_path)]) == 2
    assert "no results store at" in _one_line(capsys)


EXPERIMENT = "dataset: rotated-digits\nbackbone: lenet\npretrain: {domains: [rot0]}\nkshot: {domain: rot30, strategies: [scratch]}\n"
BAD_EXPERIMENTS = [
    (EXPERIMENT + "pretrian: {}\n", "unknown key(s) ['pretrian']"),
    (EXPERIMENT.replace("[scratch]", "[scrach]"), "kshot.strategies ['scrach']: expected names from scratch"),
    (EXPERIMENT.replace("kshot: {", "kshot: {k: abc, "), "kshot.k=abc: expected an integer"),
    (EXPERIMENT.replace("backbone: lenet", "backbone: lenett"), "backbone 'lenett': expected one of mlp"),
    (EXPERIMENT.replace("backbone: lenet\n", ""), "lacks 'backbone'"),
    (EXPERIMENT + "adaptation: {task: R02R30, methods: [dnn]}\n", "method 'dnn' has unknown ['dnn']"),
    (EXPERIMENT + "adaptation: {task: R02R30, methods: [dann], profile: {epochz: 1}}\n",
     "adaptation.profile has unknown field(s) ['epochz']"),
    (EXPERIMENT + "multitask: {settings: [joint]}\n", "multitask.settings ['joint']: expected names from single"),
    (EXPERIMENT.replace("pretrain: {domains: [rot0]}", "pretrain: [rot0]"), "pretrain must be a mapping"),
]


@pytest.mark.parametrize("text, fragment", BAD_EXPERIMENTS, ids=range(len(BAD_EXPERIMENTS)))
def test_bad_finetune_experiment(tmp_path, capsys, text, fragment):
    exp = tmp_path / "ft.yaml"
    exp.write_text(text)
    out = tmp_path / "out"
    assert main(["finetune", str(exp), "--out", str(out)]) == 2
    assert fragment in _one_line(capsys)
    assert not out.exists()


def test_bad_finetune_options(tmp_path, capsys):
    exp = tmp_path / "ft.yaml"
    exp.write_text(EXPERIMENT)
    assert main(["finetune", str(tmp_path / "nope.yaml")]) == 2
    assert "experiment file not found" in _one_line(capsys)
    assert main(["finetune", str(exp), "--weights", str(tmp_path / "w.pt")]) == 2
    assert "--weights" in _one_line(capsys)
    assert main(["finetune", str(exp), "--data-root", str(tmp_path / "nowhere")]) == 2
    assert "--data-root" in _one_line(capsys)


def test_real_process_prints_one_line_before_any_run(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "dalib.cli", "bench", *MINIMAL, "--hp", "profile.lr=abc",
                           "--out", str(out)], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "dalib: error: --hp profile.lr=abc: expected a finite number\n"
    assert not out.exists()
