"""Defaults of the shallow adapters and the shared helpers (roots, row norms, MMD columns, labels)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from dalib.errors import DalibError
from dalib.shallow import (CORAL, JDA, TCA, IdentityAdapter, ShallowDAClassifier, SubspaceAlignment,
                           make_classifier)
from dalib.shallow._kernels import (check_labels, kernel, l2_normalize_rows, mmd_vectors, sym_power,
                                    top_generalized_eigvecs)

RNG = np.random.default_rng(0)


# Kills: changed constructor defaults (the papers' settings the docstrings promise) and the
# default k caps (100 for JDA and SA, 30 for TCA).
def test_defaults():
    assert CORAL().get_params() == {"reg": 1.0}
    assert JDA().get_params() == {"k": None, "reg": 1.0, "n_iter": 10, "normalize": True}
    assert TCA().get_params() == {"k": None, "mu": 1.0, "kernel": "linear", "gamma": None, "normalize": False}
    assert SubspaceAlignment().get_params() == {"k": None, "center": True}
    assert ShallowDAClassifier().get_params() == {"adapter": "none", "classifier": "1nn"}
    svm = make_classifier("linear_svm").get_params()
    assert (svm["C"], svm["dual"], svm["max_iter"]) == (1.0, True, 20000)
    assert make_classifier("1nn").get_params()["n_neighbors"] == 1
    wide_s, wide_t = RNG.standard_normal((110, 105)), RNG.standard_normal((120, 105))
    assert SubspaceAlignment().fit(wide_s, wide_t).k_ == 100
    y = np.arange(110) % 2
    assert JDA(n_iter=1).fit(wide_s, wide_t, y).k_ == 100
    assert JDA(n_iter=1).fit(wide_s[:, :7], wide_t[:, :7], y).k_ == 7


# Kills: the negative-power singularity test loosened or tightened, tiny negative eigenvalues of a
# PSD matrix not clipped before the square root (NaN), the root of the wrong power.
def test_symmetric_powers():
    A = RNG.standard_normal((4, 4))
    C = A @ A.T + 0.5 * np.eye(4)
    R = sym_power(C, 0.5, "C")
    np.testing.assert_allclose(R @ R, C, atol=1e-10)
    np.testing.assert_allclose(sym_power(C, -0.5, "C") @ R, np.eye(4), atol=1e-10)
    Q = np.linalg.qr(RNG.standard_normal((4, 4)))[0]
    singular = (Q * [3.0, 1.0, 0.0, -1e-13]) @ Q.T  # PSD up to rounding: one eigenvalue just below 0
    root = sym_power(singular, 0.5, "S")
    assert np.all(np.isfinite(root))
    np.testing.assert_allclose(root @ root, singular, atol=1e-10)
    with pytest.raises(DalibError, match="^S is singular"):
        sym_power(singular, -0.5, "S")
    sym_power(np.diag([1.0, 2e-12]), -0.5, "D")  # 2e-12 relative: still invertible
    with pytest.raises(DalibError, match="^D is singular"):
        sym_power(np.diag([1.0, 1e-12]), -0.5, "D")


# Kills: zero rows divided by zero (NaN) or not left at zero.
def test_row_normalisation_keeps_zero_rows():
    X = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_array_equal(l2_normalize_rows(X), [[0.6, 0.8], [0.0, 0.0]])


# Kills: a class column added although the class is missing from the target pseudo-labels (or
# from the source), columns not normalised by the class counts, the marginal column's signs.
def test_mmd_columns_skip_classes_missing_from_either_domain():
    y_s, y_t = np.array([0, 0, 1, 2]), np.array([0, 2, 2, 3])
    E = mmd_vectors(4, 4, y_s, y_t)
    assert E.shape == (8, 3)  # marginal, class 0, class 2 (1 has no target, 3 no source)
    np.testing.assert_allclose(E[:, 0], [0.25] * 4 + [-0.25] * 4)
    np.testing.assert_allclose(E[:, 1], [0.5, 0.5, 0, 0, -1, 0, 0, 0])
    np.testing.assert_allclose(E[:, 2], [0, 0, 0, 1, 0, -0.5, -0.5, 0])
    assert mmd_vectors(3, 2).shape == (5, 1) and mmd_vectors(3, 2, y_s[:3]).shape == (5, 1)


# Kills: NaN labels accepted for float labels, integer labels refused, labels left 2-D.
def test_label_checks():
    assert check_labels(None, 3, required=False, method="m") is None
    np.testing.assert_array_equal(check_labels([[1], [2], [3]], 3, True, "m"), [1, 2, 3])
    np.testing.assert_array_equal(check_labels(np.array([1.0, 2.0]), 2, True, "m"), [1.0, 2.0])
    np.testing.assert_array_equal(check_labels(np.array(["a", "b"]), 2, True, "m"), ["a", "b"])


# Kills: the identity adapter returning its input object (callers may modify the result), the
# wrapper's classes_ not the sorted source classes, an adapter instance fitted in place.
def test_identity_copy_and_wrapper_bookkeeping():
    X = RNG.standard_normal((5, 2))
    Z = IdentityAdapter().fit(X, X).transform(X, "source")
    np.testing.assert_array_equal(Z, X)
    assert Z is not X and not np.shares_memory(Z, X)
    proto = CORAL()
    model = ShallowDAClassifier(proto).fit(X, np.array([2, 0, 2, 1, 0]), X)
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    assert model.adapter_ is not proto and not hasattr(proto, "A_")


# Kills: the minimum sample counts raised (one row per domain is enough for the identity
# adapter and the wrapper, two for the covariance and subspace methods), default k below 1.
def test_smallest_inputs():
    X = RNG.standard_normal((2, 3))
    IdentityAdapter().fit(X[:1], X[1:])
    ShallowDAClassifier("none").fit(X[:1], [0], X[1:])
    for adapter in (CORAL(), SubspaceAlignment(), TCA()):
        adapter.fit(X, X + 1.0)
    JDA(n_iter=1).fit(X, X + 1.0, [0, 1])
    for make in (lambda: SubspaceAlignment().fit(X[:1], X), lambda: JDA().fit(X, X[:1], [0, 1])):
        with pytest.raises(DalibError, match=r"needs at least 2 sample\(s\)"):
            make()
    one = RNG.standard_normal((5, 1))
    assert SubspaceAlignment().fit(one, one).k_ == 1 and JDA(n_iter=1).fit(one, one, [0, 1, 0, 1, 0]).k_ == 1


# Kills: a classifier instance used unfitted or in place instead of a fitted clone.
def test_wrapper_clones_a_classifier_instance():
    X, y = RNG.standard_normal((20, 2)), np.arange(20) % 2
    proto = LogisticRegression()
    model = ShallowDAClassifier("none", classifier=proto).fit(X, y, X)
    assert isinstance(model.classifier_, LogisticRegression) and model.classifier_ is not proto
    np.testing.assert_array_equal(model.predict(X), LogisticRegression().fit(X, y).predict(X))


# Kills: the singularity test made absolute (1e-12 instead of 1e-12·max eigenvalue).
def test_singularity_threshold_is_relative():
    with pytest.raises(DalibError, match="is singular"):
        sym_power(np.diag([100.0, 1e-10]), -0.5, "D")
    np.testing.assert_allclose(sym_power(np.diag([1e-3, 1e-14]), -0.5, "D"), np.diag([1e-3**-0.5, 1e7]))


# Kills: rounding-negative squared distances not clipped (kernel values above 1), the unknown
# kernel message lost, the leading eigenvectors returned in ascending order.
def test_kernel_and_eigenvector_helpers():
    X = np.random.default_rng(2).normal(size=(6, 3)) * 1e-3 + 1e3  # some expanded distances < 0
    assert kernel(X, X, "rbf", 1e3).max() <= 1.0
    with pytest.raises(DalibError) as err:
        kernel(X, X, "poly", 1.0)
    assert str(err.value) == "unknown kernel 'poly'; use 'linear' or 'rbf'"
    V = top_generalized_eigvecs(np.diag([1.0, 3.0, 2.0]), np.eye(3), 2)
    np.testing.assert_allclose(np.abs(V), [[0, 0], [1, 0], [0, 1]], atol=1e-12)


# Kills: the RBF width default skipped for data with variance below 1, the source count not kept.
def test_tca_width_for_small_variance_and_source_count():
    Xs, Xt = 0.1 * RNG.standard_normal((8, 2)), 0.1 * RNG.standard_normal((6, 2))
    tca = TCA(k=2, kernel="rbf").fit(Xs, Xt)
    X = np.vstack([Xs, Xt])
    assert X.var() < 1 and tca.gamma_ == pytest.approx(1.0 / (2 * X.var()))
    assert tca.n_source_ == 8
