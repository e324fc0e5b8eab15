"""The cached trunk inside `dalib bench` runs and k-shot fine-tuning (`dalib.bench.trunk_run`)."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from dalib.bench.profiles import Profile
from dalib.bench.run import RunOptions, RunSpec, execute
from dalib.cli import main
from dalib.data.folder import image_folder_domain
from dalib.data.image_tensors import image_tensor_domain
from dalib.data.tasks import Task
from dalib.errors import DalibError
from dalib.finetune.fewshot import FewShotConfig, run_kshot
from dalib.finetune.strategies import STRATEGIES
from dalib.models import build_backbone
from dalib.models.trunk import CachedTrunk
from dalib.models.vision import save_weights

PROFILE = Profile(backbone="resnet18", image_size=32, views=3, epochs=2, iters_per_epoch=3, batch_size=8,
                  bottleneck_dim=16, augment="flip_crop", backbone_lr_mult=0.1)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """root/<src|tgt>/<c0|c1|c2>/<i>.png: 3 classes × 5 images per domain, random pixels."""
    root = tmp_path_factory.mktemp("images")
    gen = torch.Generator().manual_seed(0)
    for domain in ("src", "tgt"):
        for cls in ("c0", "c1", "c2"):
            (root / domain / cls).mkdir(parents=True)
            for i in range(5):
                pixels = torch.randint(0, 256, (36 + i, 44 - i, 3), generator=gen, dtype=torch.uint8).numpy()
                Image.fromarray(pixels).save(root / domain / cls / f"{i}.png")
    return root


@pytest.fixture
def task(folders, tmp_path, monkeypatch):
    monkeypatch.setenv("DALIB_CACHE", str(tmp_path / "cache"))
    return Task(*(image_tensor_domain(image_folder_domain(folders, d), 32) for d in ("src", "tgt")))


def _run(task, method="dann", **changes):
    holder: dict = {}
    record = execute(RunSpec("toy", "S2T", method, 0, PROFILE.with_overrides(**changes)), task, RunOptions(),
                     keep_model=holder)
    return record, holder.get("model")


def test_a_frozen_run_reproduces_itself_exactly(task, capsys, tmp_path):
    # kills: random crops or per-step views drawn from an OS-seeded generator
    first, model = _run(task, trunk="frozen")
    assert "trunk cache: src, 15 images × 3 views at 32 px" in capsys.readouterr().out
    second, _ = _run(task, trunk="frozen")
    assert "trunk cache" not in capsys.readouterr().out  # the second run hits the cache
    for file in (tmp_path / "cache" / "trunk").glob("*.npy"):
        file.unlink()
    third, _ = _run(task, trunk="frozen")  # rebuilds the cache
    assert first["epochs"] == second["epochs"] == third["epochs"] and first["pad_adapted"] == third["pad_adapted"]
    assert isinstance(model.backbone, CachedTrunk) and not list(model.backbone.parameters())
    assert first["profile"]["augment"] == "views" and first["profile"]["backbone_lr_mult"] == 1.0
    assert first["pad_input"] is None  # stacked views are not one input


def test_top_n_trains_the_last_blocks_at_the_backbone_rate_and_full_trains_images(task):
    record, model = _run(task, trunk="top:1")
    assert [n for n, _ in model.backbone.stages()] == ["layer4", "head"]
    assert record["profile"]["augment"] == "views" and record["profile"]["backbone_lr_mult"] == 0.1
    full, model = _run(task, trunk="full", views=1)
    assert full["profile"]["augment"] == "flip_crop" and not isinstance(model.backbone, CachedTrunk)
    assert full["pad_input"] is not None and len(full["epochs"]) == 2


def test_shallow_methods_read_the_centre_view_features(task):
    record, _ = _run(task, "shallow_coral_1nn", trunk="top:2")
    assert record["n_target"] == 15 and 0 <= record["epochs"][0]["target_acc"] <= 1


def test_kshot_strategies_on_a_cached_trunk_and_the_ones_it_refuses(task, tmp_path):
    torch.manual_seed(0)
    save_weights(build_backbone("resnet18", 0), tmp_path / "w.pt")
    cfg = FewShotConfig(k=2, epochs=1, iters_per_epoch=2, batch_size=6, trunk="top:1", image_size=32, views=2)
    for name in ("layerwise", "gradual", "feature_extraction"):
        record = run_kshot(STRATEGIES[name], "resnet18", tmp_path / "w.pt", task.target, 0, cfg)
        assert record["n_train"] == 6 and record["config"]["trunk"] == "top:1"
    with pytest.raises(DalibError, match="'scratch' trains a random backbone.*use trunk full"):
        run_kshot(STRATEGIES["scratch"], "resnet18", None, task.target, 0, cfg)
    frozen = FewShotConfig(k=2, trunk="frozen")
    with pytest.raises(DalibError, match="'l2sp' trains the backbone, which trunk frozen keeps fixed"):
        run_kshot(STRATEGIES["l2sp"], "resnet18", tmp_path / "w.pt", task.target, 0, frozen)


def test_a_trunk_needs_the_image_files(make_domain):
    flat = make_domain("flat")
    with pytest.raises(DalibError, match="does not know its image files"):
        _run(Task(flat, flat), trunk="frozen")


def test_profiles_refuse_bad_trunk_settings():
    with pytest.raises(DalibError, match="unknown trunk 'top:0'"):
        PROFILE.with_overrides(trunk="top:0")
    with pytest.raises(DalibError, match="image_size ≥ 32 px"):
        PROFILE.with_overrides(image_size=16)


def test_bench_command_runs_a_frozen_trunk(folders, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DALIB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    assert main(["bench", "--dataset", str(folders), "--methods", "dann", "--seeds", "0", "--epochs", "1",
                 "--no-target-only", "--out", str(out), "--hp", "profile.backbone=resnet18",
                 "--hp", "profile.trunk=frozen", "--hp", "profile.image_size=32", "--hp", "profile.views=2",
                 "--hp", "profile.iters_per_epoch=2"]) == 0
    assert "trunk cache: src" in capsys.readouterr().out
    assert "| dann [profile.backbone=resnet18" in (out / "table.md").read_text()


def test_finetune_experiment_runs_kshot_and_adaptation_on_a_trunk(folders, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DALIB_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    save_weights(build_backbone("resnet18", 0), tmp_path / "w.pt")
    config = tmp_path / "exp.yaml"
    config.write_text(f"dataset: {folders}\nbackbone: resnet18\nimage_size: 32\ntrunk: top:1\nviews: 2\n"
                      "kshot: {domain: tgt, k: 2, seeds: [0], strategies: [layerwise], epochs: 1, iters_per_epoch: 2, "
                      "batch_size: 6}\n"
                      "adaptation: {task: S2T, methods: [source_only], seeds: [0], "
                      "profile: {epochs: 1, iters_per_epoch: 2, batch_size: 8}}\n")
    assert main(["finetune", str(config), "--out", str(tmp_path / "out"), "--weights", str(tmp_path / "w.pt")]) == 0
    printed = capsys.readouterr().out
    assert "(trunk top:1)" in printed and "trunk cache: tgt" in printed
    assert (tmp_path / "out" / "kshot" / "layerwise-top1-seed0.json").is_file()  # a trunk never reuses plain runs
    assert (tmp_path / "out" / "adapt" / "source_only-top1-seed0.json").is_file()


def test_report_reruns_a_trunk_run_for_the_tsne_from_any_folder(folders, tmp_path, monkeypatch):
    """A bench on a folder of your own, named by a relative path, with a frozen cached trunk.
    Kills: the t-SNE re-run feeding raw images to a model that reads cached views, and records
    that keep the relative dataset path (the report then fails from another folder)."""
    monkeypatch.setenv("DALIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(folders.parent)
    profile = ["--profile", "backbone=resnet18", "--profile", "image_size=32", "--profile", "views=2",
               "--profile", "trunk=frozen", "--profile", "epochs=1", "--profile", "iters_per_epoch=2",
               "--profile", "batch_size=8", "--profile", "bottleneck_dim=16"]
    out = tmp_path / "bench"
    assert main(["bench", "--dataset", folders.name, "--methods", "source_only,dann", "--tasks", "S2T",
                 "--seeds", "0", "--no-target-only", "--out", str(out), *profile]) == 0
    monkeypatch.chdir(tmp_path)
    assert main(["report", str(out)]) == 0
    assert (out / "tsne.png").stat().st_size > 0
