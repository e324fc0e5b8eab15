"""Every bad input gives a one-line DalibError naming the problem and the fix."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from dalib.alignment.base import Discrepancy
from dalib.data.catalog import load_dataset
from dalib.data.domain import check_compatible, tensor_domain
from dalib.data.folder import image_folder_domain, load_image_folders
from dalib.data.root import require_data_root
from dalib.errors import DalibError
from dalib.models import Classifier, build_backbone
from dalib.train.objective import Objective, Term
from dalib.alignment.schedules import constant
from dalib.train.trainer import TrainConfig, Trainer


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def _image_root(tmp_path, layout):
    for domain, classes in layout.items():
        for cls in classes:
            (tmp_path / domain / cls).mkdir(parents=True)
            Image.new("RGB", (8, 8), (10, 20, 30)).save(tmp_path / domain / cls / "a.jpg")
    return tmp_path


def test_missing_dataset_folder_names_path_and_env_var(tmp_path):
    with pytest.raises(DalibError) as err:
        load_dataset("office-caltech10-surf", tmp_path)
    msg = _one_line(err)
    assert str(tmp_path / "office_caltech10_surf") in msg and "DALIB_DATA" in msg


def test_missing_data_root(monkeypatch, tmp_path):
    monkeypatch.setenv("DALIB_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DalibError) as err:
        require_data_root()
    assert str(tmp_path / "nowhere") in _one_line(err) and "DALIB_DATA" in str(err.value)


def test_missing_domain_folder(tmp_path):
    root = _image_root(tmp_path, {"amazon": ["cup"]})
    with pytest.raises(DalibError) as err:
        image_folder_domain(root, "webcam")
    assert str(root / "webcam") in _one_line(err)


def test_unknown_domain_name():
    with pytest.raises(DalibError) as err:
        load_dataset("rotated-digits", None, ["rot45"])
    assert "rot45" in _one_line(err) and "rot30" in str(err.value)


def test_class_sets_that_differ_are_listed(tmp_path):
    root = _image_root(tmp_path, {"a": ["bike", "cup", "mug"], "b": ["bike", "cup", "pen"]})
    with pytest.raises(DalibError) as err:
        load_image_folders(root)
    msg = _one_line(err)
    assert "only in a: ['mug']" in msg and "only in b: ['pen']" in msg


def test_unreadable_image_names_the_file(tmp_path):
    root = _image_root(tmp_path, {"a": ["bike"], "b": ["bike"]})
    bad = root / "a" / "bike" / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    domain = image_folder_domain(root, "a", image_size=8)
    with pytest.raises(DalibError) as err:
        [domain.dataset[i] for i in range(len(domain))]
    assert str(bad) in _one_line(err)


def test_feature_dimension_mismatch():
    a = tensor_domain("a", "A", ["x", "y"], np.zeros((4, 3)), np.array([0, 1, 0, 1]))
    b = tensor_domain("b", "B", ["x", "y"], np.zeros((4, 5)), np.array([0, 1, 0, 1]))
    with pytest.raises(DalibError) as err:
        check_compatible([a, b])
    assert "(3,)" in _one_line(err) and "(5,)" in str(err.value)


def test_model_input_dimension_mismatch():
    model = Classifier(build_backbone("mlp", 3, hidden=(4,)), 2, 4)
    with pytest.raises(DalibError) as err:
        model(torch.zeros(2, 5))
    assert "(n, 3)" in _one_line(err)


def test_labels_out_of_range():
    with pytest.raises(DalibError) as err:
        tensor_domain("a", "A", ["x", "y", "z"], np.zeros((3, 2)), np.array([0, 1, 3]))
    assert "[0, 3]" in _one_line(err) and "[0, 2]" in str(err.value)


def test_nan_features_rejected():
    with pytest.raises(DalibError) as err:
        tensor_domain("a", "A", ["x"], np.array([[np.nan]]), np.array([0]))
    assert "NaN" in _one_line(err)


class _Explodes(Discrepancy):
    def forward(self, f_s, f_t, **_):
        return f_s.sum() * float("nan")


def test_nan_loss_stops_and_names_step_and_terms(make_domain):
    src, tgt = make_domain("src"), make_domain("tgt", seed=1)
    model = Classifier(build_backbone("mlp", 5, hidden=(8,)), 3, 4)
    obj = Objective([Term("boom", _Explodes(4, 3), 1.0, constant)])
    with pytest.raises(DalibError) as err:
        Trainer(model, obj, TrainConfig(epochs=1, batch_size=16)).fit(src, src, tgt)
    msg = _one_line(err)
    assert "step 0" in msg and "boom=nan" in msg and "task=" in msg


def test_cli_prints_one_line_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "dalib.cli", "bench", "--dataset", "office-caltech10-surf",
         "--data-root", str(tmp_path / "missing"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("dalib: error:") and "DALIB_DATA" in proc.stderr


def test_unknown_method_lists_choices(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "dalib.cli", "bench", "--methods", "dnn", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "dann" in proc.stderr and proc.stderr.count("\n") == 1
