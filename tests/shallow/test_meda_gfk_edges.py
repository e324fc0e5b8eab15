"""MEDA and GFK at the edges of their arguments, the k caps, the covariance root of rank-deficient
data, the training A-distance against its definition, and the graph without a Laplacian."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.svm import LinearSVC

from dalib.errors import DalibError
from dalib.shallow import CORAL, GFK, MEDA
from dalib.shallow._kernels import covariance_power
from dalib.shallow.meda import cosine_knn_laplacian, fixed_system, training_a_distance

RNG = np.random.default_rng(0)
XS, XT, YS = RNG.standard_normal((12, 4)), RNG.standard_normal((10, 4)) + 0.5, np.arange(12) % 2


def test_meda_defaults_are_the_papers():
    # kills: a changed default (T = 10 rounds, p = 10 neighbours, η = 0.1, λ = 10, ρ = 1, RBF)
    assert MEDA().get_params() == {"gamma": 0.5, "k": None, "kernel": "rbf", "manifold_weight": 1.0,
                                   "mmd_weight": 10.0, "mu": None, "n_iter": 10, "n_neighbors": 10, "reg": 0.1}


@pytest.mark.parametrize("params", [
    {"mmd_weight": 0.0},        # kills `value <= 0` for the weights that may be 0
    {"manifold_weight": 0.0},   # kills manifold_weight marked positive
    {"n_neighbors": 1},         # kills `2 <= p` and `1 < p`
    {"kernel": "linear"},       # kills the name of the linear kernel changed in the check
    {"mu": 0.0}, {"mu": 1.0},   # kills the closed interval [0, 1] opened at either end
])
def test_meda_accepts_the_edges_of_its_ranges(params):
    model = MEDA(**{"k": 2, "n_neighbors": 3, "n_iter": 2, **params}).fit(XS, YS, XT)
    assert np.isfinite(model.beta_).all()


@pytest.mark.parametrize("params, message", [
    ({"gamma": 0.0}, "gamma=0.0 is invalid; pass a finite gamma > 0"),
    ({"mmd_weight": True}, "mmd_weight=True is invalid; pass a finite mmd_weight >= 0"),
    ({"reg": "0.1"}, "reg='0.1' is invalid; pass a finite reg > 0"),
    ({"reg": float("inf")}, "reg=inf is invalid; pass a finite reg > 0"),
    ({"n_iter": 2.0}, "n_iter=2.0 is invalid; pass an integer n_iter >= 1"),
    ({"n_neighbors": 3.0}, "n_neighbors=3.0 is invalid; pass an integer 1 <= n_neighbors < 22 (the samples)"),
    ({"mu": True}, "mu=True is invalid; pass a number in [0, 1], or None to estimate it"),
])
def test_meda_refuses_values_outside_its_ranges(params, message):
    # kills: gamma allowed to be 0 (an all-ones RBF kernel), `or` → `and` in the type checks
    # (booleans, strings and floats passed on as numbers or counts)
    with pytest.raises(DalibError) as err:
        MEDA(**params).fit(XS, YS, XT)
    assert str(err.value) == message


def test_meda_refuses_a_single_source_row():
    # kills: MEDA fitted on one source row (the k-NN graph and the A-distance need two)
    with pytest.raises(DalibError, match=r"^X_s has shape \(1, 4\) but needs at least 2 sample"):
        MEDA().fit(XS[:1], YS[:1], XT)


def test_meda_k_is_capped_by_every_limit():
    # kills: the cap of the default k (20) without the dimension, the source or the target count
    wide_s, wide_t = RNG.standard_normal((30, 25)), RNG.standard_normal((26, 25))
    y = np.arange(30) % 2
    for Xs, Xt, want in ((wide_s, wide_t, 20), (wide_s[:, :6], wide_t[:, :6], 6),
                         (wide_s[:7], wide_t, 7), (wide_s, wide_t[:9], 9)):
        assert MEDA(n_iter=1, n_neighbors=3).fit(Xs, y[:len(Xs)], Xt).gfk_.k_ == want


def test_a_graph_row_without_positive_degree_is_refused_not_nan():
    # 6 + 6 rows in 3-D with the default 10 neighbours: a row's nearest rows sum to a cosine
    # below −1, and D^{-1/2} would be NaN (MEDA used to return NaN coefficients and predict 0)
    Xs, Xt = np.random.default_rng(0).standard_normal((2, 6, 3))
    with pytest.raises(DalibError) as err:
        MEDA().fit(Xs, np.arange(6) % 2, Xt)
    assert str(err.value) == ("MEDA: 1 of 12 rows have a degree <= 0 in the cosine 10-NN graph (the cosines to "
                              "themselves and their nearest rows sum to <= 0), so its Laplacian is undefined; "
                              "pass a smaller n_neighbors, or manifold_weight=0 to drop the manifold term")
    # the named fixes work; kills the Laplacian built even when its weight is 0
    assert np.isfinite(MEDA(manifold_weight=0.0).fit(Xs, np.arange(6) % 2, Xt).beta_).all()
    assert np.isfinite(MEDA(n_neighbors=2).fit(Xs, np.arange(6) % 2, Xt).beta_).all()
    Z = np.array([[1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]])  # row 0: 1 − 1 − 1 < 0
    with pytest.raises(DalibError, match=r"^MEDA: 1 of 3 rows have a degree <= 0 in the cosine 2-NN graph"):
        cosine_knn_laplacian(Z, 2)
    # kills the bound moved: a zero row (degree 0) is refused, an orthogonal row (degree 1) is not
    with pytest.raises(DalibError, match=r"^MEDA: 1 of 4 rows have a degree <= 0 in the cosine 1-NN graph"):
        cosine_knn_laplacian(np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 1.0]]), 1)
    L = cosine_knn_laplacian(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]), 1).toarray()
    np.testing.assert_allclose(L, [[0.0, 0.0, 0.0], [0.0, 0.5, -0.5], [0.0, -0.5, 0.5]], atol=1e-15)


def test_training_a_distance_is_two_times_one_minus_twice_the_training_error():
    # kills: another C, seed or iteration cap of the linear SVM than the documented LinearSVC(C=1)
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((12, 6)), rng.standard_normal((10, 6)) * 0.3 + 0.3
    X, y = np.vstack([a, b]), np.r_[np.zeros(12), np.ones(10)]
    errors = [1.0 - LinearSVC(C=C, random_state=0, max_iter=10000).fit(X, y).score(X, y) for C in (1.0, 2.0)]
    assert errors[0] != errors[1]  # these samples tell C = 1 from C = 2 (6 and 5 of 22 rows wrong)
    assert training_a_distance(a, b) == pytest.approx(2.0 * (1.0 - 2.0 * errors[0]), abs=1e-12)


def test_gfk_default_k_is_capped_by_the_target_count_and_two_rows_suffice():
    # kills: the target count missing from the cap, the default 30 changed, and min_samples 2
    # raised or dropped
    Xs, Xt = RNG.standard_normal((45, 40)), RNG.standard_normal((35, 40))
    assert GFK().fit(Xs, Xt).k_ == 30
    assert GFK().fit(Xs, Xt[:12]).k_ == 12
    assert GFK(k=1).fit(Xs[:2], Xt[:2]).k_ == 1
    with pytest.raises(DalibError, match=r"^X_t has shape \(1, 40\) but needs at least 2 sample"):
        GFK().fit(Xs, Xt[:1])


def test_covariance_root_of_rank_deficient_data_without_ridge_is_refused():
    # kills: the low-rank SVD path taken at reg = 0 (a 0 ** −½ division instead of the error),
    # and the name of CORAL's target covariance dropped from its message
    few = RNG.standard_normal((3, 5))
    with pytest.raises(DalibError, match=r"^C is singular \(rank-deficient data\); use reg > 0 or more samples$"):
        covariance_power(few, 0.0, -0.5, "C")
    with pytest.raises(DalibError, match=r"^source covariance is singular"):
        CORAL(reg=0.0).fit(few, RNG.standard_normal((10, 5)))
    # the low-rank path with a ridge equals the dense eigendecomposition
    dense = np.linalg.eigh(np.cov(few, rowvar=False) + 0.5 * np.eye(5))
    want = (dense[1] * dense[0] ** -0.5) @ dense[1].T
    np.testing.assert_allclose(covariance_power(few, 0.5, -0.5, "C"), want, atol=1e-12)


def test_fixed_system_without_a_graph_is_the_plain_system():
    # kills: the manifold term added whenever its weight is positive, even without a Laplacian
    K = RNG.standard_normal((5, 5))
    mask = np.array([1.0, 1.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(fixed_system(K, mask, None, 1.0, 0.1), mask[:, None] * K + 0.1 * np.eye(5))


def test_meda_predict_names_its_input():
    # kills: the name of predict's input dropped from the input checks
    model = MEDA(k=2, n_neighbors=3, n_iter=1).fit(XS, YS, XT)
    with pytest.raises(DalibError) as err:
        model.predict(np.full((2, 4), np.nan))
    assert str(err.value) == "X contains NaN or inf; impute or drop those rows first"
