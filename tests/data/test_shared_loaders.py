"""Loaders on the real shared data: counts, shapes, label ranges, checksums."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dalib.data.catalog import load_dataset

EXPECTED = {
    "office-caltech10-surf": ({"amazon": 958, "caltech10": 1123, "dslr": 157, "webcam": 295}, 800, 10),
    "mnist-usps": ({"mnist": 2000, "usps": 1800}, 256, 10),
    "coil20": ({"coil1": 720, "coil2": 720}, 1024, 20),
    "amazon-review-400": ({"books": 2000, "dvd": 1999, "elec": 1998, "kitchen": 1999}, 400, 2),
    "msrc-voc2007": ({"msrc": 1269, "voc2007": 1530}, 240, 6),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_feature_datasets(data_root, name):
    counts, dim, classes = EXPECTED[name]
    domains = load_dataset(name, data_root)
    assert {d.name: len(d) for d in domains} == counts
    for d in domains:
        x, y = d.tensors
        assert x.shape == (counts[d.name], dim) and x.dtype == torch.float32
        assert int(y.min()) == 0 and int(y.max()) == classes - 1
        assert len(torch.unique(y)) == classes
        assert torch.isfinite(x).all()


def test_surf_preprocessing_zscores_each_domain(data_root):
    for d in load_dataset("office-caltech10-surf", data_root):
        x = d.tensors[0].double().numpy()
        used = x.std(0) > 0
        np.testing.assert_allclose(x.mean(0), 0, atol=1e-5)
        np.testing.assert_allclose(x.std(0)[used], 1, atol=1e-4)


def test_surf_class_counts_match_provenance(data_root):
    amazon = load_dataset("office-caltech10-surf", data_root, ["A"])[0]
    assert np.bincount(amazon.labels.numpy()).tolist() == [92, 82, 94, 99, 100, 100, 99, 100, 94, 98]


def test_office_caltech_images(data_root):
    domains = load_dataset("office-caltech10-images", data_root, image_size=32)
    assert {d.name: len(d) for d in domains} == {"amazon": 958, "caltech10": 1123, "dslr": 157, "webcam": 295}
    webcam = domains[3]
    assert webcam.class_names[0] == "backpack" and webcam.num_classes == 10
    x, y = webcam.dataset[len(webcam) - 1]
    assert x.shape == (3, 32, 32) and y == 9
    # same per-class counts as the SURF labels (the two share one sample order)
    assert np.bincount(webcam.labels.numpy()).tolist() == [29, 21, 31, 27, 27, 30, 43, 30, 27, 30]


def test_partial_feature_files(data_root):
    dec = load_dataset("office-caltech10-decaf-partial", data_root)
    assert [(d.name, tuple(d.tensors[0].shape)) for d in dec] == [("dslr", (157, 4096)), ("webcam", (295, 4096))]
    goo = load_dataset("office-caltech10-googlenet-partial", data_root)  # labels stored 1 × n
    assert [len(d) for d in goo] == [958, 157, 295]
