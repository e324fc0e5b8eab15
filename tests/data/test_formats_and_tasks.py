"""Feature-file formats, the embedded digits, task names and the source split."""

from __future__ import annotations

import numpy as np
import scipy.io
import scipy.sparse

from dalib.data.catalog import load_dataset
from dalib.data.features import load_feature_file, surf_preprocess
from dalib.data.tasks import all_tasks, select_tasks, split_source


def test_mat_orientation_sparse_and_one_based(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((7, 3))
    y = np.array([1, 2, 3, 1, 2, 3, 1])
    scipy.io.savemat(tmp_path / "a.mat", {"X": scipy.sparse.csc_matrix(x.T), "Y": y[None, :]})
    xs, ys = load_feature_file(tmp_path / "a.mat", "X", "Y", label_offset=1)
    np.testing.assert_allclose(xs, x)
    assert ys.tolist() == (y - 1).tolist()


def test_npz_and_csv(tmp_path):
    x = np.arange(12.0).reshape(4, 3)
    y = np.array([0, 1, 0, 1])
    np.savez(tmp_path / "a.npz", x=x, y=y)
    xs, ys = load_feature_file(tmp_path / "a.npz", "x", "y")
    np.testing.assert_array_equal(xs, x)
    np.savetxt(tmp_path / "a.csv", np.column_stack([x, y]), delimiter=",", header="f1,f2,f3,label", comments="")
    xc, yc = load_feature_file(tmp_path / "a.csv")
    np.testing.assert_array_equal(xc, x)
    assert yc.tolist() == y.tolist()


def test_surf_preprocess_matches_matlab_definition():
    x = np.array([[1.0, 3.0], [2.0, 2.0], [0.0, 4.0]])
    r = x / x.sum(1, keepdims=True)
    expected = (r - r.mean(0)) / r.std(0, ddof=0)
    np.testing.assert_allclose(surf_preprocess(x), expected)


def test_rotated_digits_domains_are_disjoint_and_rotated():
    domains = load_dataset("rotated-digits")
    assert [d.name for d in domains] == ["rot0", "rot30", "rot60", "rot90"]
    assert sum(len(d) for d in domains) == 1797
    for d in domains:
        assert d.num_classes == 10 and sorted(np.unique(d.labels.numpy())) == list(range(10))
    x0 = domains[0].tensors[0].numpy().reshape(-1, 8, 8)
    x90 = domains[3].tensors[0].numpy().reshape(-1, 8, 8)
    # column mass of upright digits is spread like row mass of 90°-rotated ones
    assert np.abs(x0.mean((0, 1)) - x90.mean((0, 2))).max() < 0.08
    assert np.abs(x0.mean((0, 1)) - x0.mean((0, 2))).max() > 0.08


def test_every_ordered_pair_is_a_task():
    domains = load_dataset("rotated-digits")
    tasks = all_tasks(domains)
    assert len(tasks) == 12 and tasks[0].name == "R0→R30" and tasks[0].ascii_name == "R02R30"
    assert [t.name for t in select_tasks(domains, ["R902R0", "R0→R60"])] == ["R90→R0", "R0→R60"]


def test_source_split_is_stratified_80_20_and_seeded():
    d = load_dataset("rotated-digits")[0]
    train, val = split_source(d, seed=3)
    assert len(train) + len(val) == len(d) and abs(len(val) - 0.2 * len(d)) <= 1
    assert np.abs(np.bincount(val.labels.numpy()) - 0.2 * np.bincount(d.labels.numpy())).max() <= 1
    again, _ = split_source(d, seed=3)
    other, _ = split_source(d, seed=4)
    assert again.tensors[0].equal(train.tensors[0]) and not other.tensors[0].equal(train.tensors[0])
