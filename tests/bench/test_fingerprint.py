"""Run fingerprints: a record is reused only for the same setting, and tables never mix settings."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from pathlib import Path

from dalib.bench.fingerprint import dataset_identity, fingerprint, run_setting
from dalib.bench.profiles import PROFILES, profile_for
from dalib.bench.run import RunSpec
from dalib.bench.store import ResultsStore, store_path
from dalib.bench.tables import non_default_settings
from dalib.cli import main

ONE_RUN = ["bench", "--methods", "source_only", "--seeds", "0", "--tasks", "R02R30", "--no-target-only"]
PLUGIN = '''
from dalib.alignment import Discrepancy, register


@register("fp_probe_loss", weight={weight})
class Probe(Discrepancy):
    """Squared distance of the feature means."""

    def forward(self, f_s, f_t, **_):
        return (f_s.mean(0) - f_t.mean(0)).pow(2).sum()
'''


def _spec(**changes):
    spec = RunSpec("rotated-digits", "R02R30", "dann", 0, profile_for("rotated-digits"))
    return dataclasses.replace(spec, **changes)


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dalib: error:") and "Traceback" not in err
    return err


def test_fingerprint_is_the_sha256_of_the_canonical_setting():
    setting = run_setting(_spec(), dataset_identity("rotated-digits"))
    canonical = json.dumps(setting, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert fingerprint(setting) == hashlib.sha256(canonical.encode()).hexdigest()
    assert setting["terms"]["dann"] == {"class": "dalib.alignment.adversarial.DANN", "schedule": "constant",
                                        "weight": 1.0, "lam_max": 1.0, "gamma": 10.0, "hidden": 256, "depth": 2,
                                        "dropout": 0.5}
    assert setting["profile"]["epochs"] == 30 and setting["device"] == "cpu" and setting["plugins"] == {}


def test_every_component_changes_the_fingerprint(monkeypatch, tmp_path):
    data = dataset_identity("rotated-digits")
    base = fingerprint(run_setting(_spec(), data))
    assert fingerprint(run_setting(_spec(), data)) == base  # deterministic
    changed = [_spec(profile=profile_for("rotated-digits").with_overrides(epochs=1)),  # --epochs
               _spec(hparams=(("profile", "dropout", 0.1),)),                          # a profile field
               _spec(hparams=(("dann", "weight", 0.5),)),                              # λ
               _spec(device="cuda")]
    assert len({base, *(fingerprint(run_setting(s, data)) for s in changed)}) == 5
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"one")
    with_file = _spec(hparams=(("profile", "weights", str(weights)),))
    first = run_setting(with_file, data)
    assert first["profile"]["weights"] == "sha256:" + hashlib.sha256(b"one").hexdigest()
    weights.write_bytes(b"two")  # the same path, other weights: another fingerprint
    assert fingerprint(run_setting(with_file, data)) != fingerprint(first)
    from dalib.alignment.registry import REGISTRY  # a plugin that changes a term's default λ

    monkeypatch.setitem(REGISTRY, "dann", dataclasses.replace(REGISTRY["dann"], weight=0.3))
    assert run_setting(_spec(), data)["terms"]["dann"]["weight"] == 0.3
    assert fingerprint(run_setting(_spec(), data)) != base


def test_changed_epochs_are_refused_not_reused(tmp_path, capsys):
    out = tmp_path / "b"
    assert main([*ONE_RUN, "--epochs", "2", "--out", str(out)]) == 0
    record = next((out / "runs").rglob("seed0.json"))
    before = record.read_text()
    capsys.readouterr()
    assert main([*ONE_RUN, "--epochs", "1", "--out", str(out)]) == 2
    err = _error(capsys)
    assert "profile.epochs is 2 in 1 stored run(s) but 1 in 1 new run(s)" in err and "use a new --out" in err
    assert record.read_text() == before  # nothing reused, nothing overwritten
    assert main([*ONE_RUN, "--epochs", "2", "--out", str(out)]) == 0  # the same setting still resumes
    assert "resuming: 1 of 1 runs already finished" in capsys.readouterr().out


def test_changed_dataset_profile_is_refused(tmp_path, capsys, monkeypatch):
    out = tmp_path / "b"
    assert main([*ONE_RUN, "--epochs", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    monkeypatch.setitem(PROFILES, "rotated-digits", dataclasses.replace(PROFILES["rotated-digits"], dropout=0.2))
    assert main([*ONE_RUN, "--epochs", "1", "--out", str(out)]) == 2
    assert "profile.dropout is 0.5 in 1 stored run(s) but 0.2 in 1 new run(s)" in _error(capsys)


def test_edited_plugin_is_refused(tmp_path, capsys):
    plugin = tmp_path / "probe.py"
    plugin.write_text(PLUGIN.format(weight=1.0))
    args = ["bench", "--plugin", str(plugin), "--methods", "fp_probe_loss", "--seeds", "0", "--tasks", "R02R30",
            "--epochs", "1", "--no-target-only", "--out", str(tmp_path / "b")]
    assert main(args) == 0
    stored = json.loads(next((tmp_path / "b" / "runs").rglob("fp_probe_loss/seed0.json")).read_text())
    assert stored["setting"]["plugins"] == {"probe.py": hashlib.sha256(plugin.read_bytes()).hexdigest()}
    capsys.readouterr()
    plugin.write_text(PLUGIN.format(weight=0.3))  # the user edits the default λ
    assert main(args) == 2
    err = _error(capsys)
    assert "fp_probe_loss: plugins.probe.py is" in err and "1 stored run(s)" in err


def _put(store: ResultsStore, key: str, epochs: int, fp: str | None) -> None:
    setting = None if fp is None else {"dataset": {"catalog": {"name": "toy"}}, "versions": {"dalib": "0.1.0"},
                                       "profile": {"epochs": epochs}}
    store.put({"key": key, "dataset": "toy", "task": key.split("/")[1], "task_name": key.split("/")[1],
               "method": "dann", "seed": 0, "hparams": [], "fingerprint": fp, "setting": setting,
               "epochs": [{"epoch": 1, "source_val_acc": 0.5, "target_acc": 0.5, "target_entropy": 1.0}]})


def test_table_refuses_a_folder_that_mixes_settings(tmp_path, capsys):
    with ResultsStore(store_path(tmp_path)) as store:
        _put(store, "toy/A2B/dann/seed0", 30, "a")
        _put(store, "toy/B2A/dann/seed0", 1, "b")  # another task, run later with --epochs 1
    assert main(["table", str(tmp_path)]) == 2
    assert "dann: profile.epochs is 30 in 1 run(s) but 1 in 1 run(s)" in _error(capsys)


def test_v1_store_is_migrated_and_its_runs_are_flagged(tmp_path, capsys):
    path = store_path(tmp_path)
    with ResultsStore(path) as store:
        _put(store, "toy/A2B/dann/seed0", 30, None)
    conn = sqlite3.connect(path)  # make it a v1 file: no fingerprint columns
    for column in ("fingerprint", "setting", "grid"):
        conn.execute(f"ALTER TABLE runs DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    assert main(["table", str(tmp_path)]) == 0
    assert "1 run(s) were stored by a dalib without run fingerprints" in Path(tmp_path / "table.md").read_text()
    with ResultsStore(path, create=False) as store:
        assert store.settings() == [{"key": "toy/A2B/dann/seed0", "method": "dann", "hparams": [], "grid": [],
                                     "fingerprint": None, "setting": None}]


def test_shallow_run_on_a_cached_trunk_is_identified_by_the_trunk():
    """A shallow method on cached-trunk features depends on the backbone, weights, trunk, size and
    views that made them. Kills: a shallow fingerprint without the profile (the lite0 frozen and
    the plain-pixel svm runs would share one)."""
    data = dataset_identity("rotated-digits")
    plain = _spec(method="shallow_none_svm")
    cached = _spec(method="shallow_none_svm", hparams=(("profile", "backbone", "resnet18"), ("profile", "trunk", "frozen")))
    more_views = _spec(method="shallow_none_svm", hparams=(("profile", "backbone", "resnet18"),
                                                           ("profile", "trunk", "frozen"), ("profile", "views", 3)))
    settings = [run_setting(s, data) for s in (plain, cached, more_views)]
    assert settings[0]["input_trunk"] is None and settings[1]["input_trunk"]["trunk"] == "frozen"
    assert len({fingerprint(s) for s in settings}) == 3
    # the training-only profile fields (lr) do not touch a shallow run
    assert fingerprint(run_setting(_spec(method="shallow_none_svm", hparams=(("profile", "lr", 0.5),)), data)) \
        == fingerprint(settings[0])


def test_minilm_runs_are_identified_by_the_bundled_weights(monkeypatch):
    """A MiniLM run (profile weights "") starts from the bundled model.safetensors, so its sha256 is
    in the fingerprint. Kills: swapped MiniLM weights reusing the old runs' records."""
    import dalib.text.cache as text_cache

    data = dataset_identity("amazon-sentiment-tokens")
    spec = _spec(dataset="amazon-sentiment-tokens", method="source_only",
                 profile=profile_for("amazon-sentiment-tokens").with_overrides(trunk="top:2"))
    monkeypatch.setattr(text_cache, "weights_sha256", lambda: "a" * 64)
    first = run_setting(spec, data)
    assert first["profile"]["weights"] == "sha256:" + "a" * 64
    record = {"key": "k", "dataset": spec.dataset, "method": "source_only", "hparams": [], "fingerprint": fingerprint(first), "setting": first}
    assert non_default_settings([record]) == "profile.trunk=top:2"  # the bundled weights are the default
    monkeypatch.setattr(text_cache, "weights_sha256", lambda: "b" * 64)
    assert fingerprint(run_setting(spec, data)) != fingerprint(first)


def test_precision_left_out_at_its_default_still_counts_when_settings_are_compared():
    """fp32 is left out of a setting (older folders keep their fingerprint), but a comparison
    names it: within a row (the bench's refusal) as fp32, not null; across rows a table of fp32
    source-only and bf16 DANN is refused. Kills: the default left unfilled in either check."""
    from dalib.bench.mixing import RunEntry, find_mixing

    def entry(method: str, precision: str | None) -> RunEntry:
        profile = {"epochs": 20, **({"precision": precision} if precision else {})}
        setting = {"dataset": {"catalog": {"name": "toy"}}, "versions": {"dalib": "0.3.0"}, "profile": profile}
        return RunEntry(f"toy/A2B/{method}/seed0", method, (), (), fingerprint(setting), setting)

    within = find_mixing([entry("dann", None), entry("dann", None), entry("dann", "bf16")])
    assert within is not None and 'profile.precision is "fp32" in 2 run(s) but "bf16" in 1 run(s)' in within
    across = find_mixing([entry("source_only", None), entry("dann", "bf16")])
    assert across is not None and across.startswith("profile.precision is ")
    assert {'"fp32"', '"bf16"'} <= set(across.replace(" in ", " ").split())
    assert find_mixing([entry("source_only", None), entry("dann", None)]) is None
