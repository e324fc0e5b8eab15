"""The shortcuts of CORAL's covariance powers and the PCA bases against their direct computations."""

import numpy as np
import pytest

from dalib.shallow._kernels import covariance_power, pca_basis


def _direct_power(X, reg, power):
    C = np.cov(X, rowvar=False) + reg * np.eye(X.shape[1])
    w, V = np.linalg.eigh(C)
    return (V * w ** power) @ V.T


# Kills: cov with n instead of n − 1, a missing reg^p·(I − VVᵀ) part outside the data's span, the
# power applied to S instead of S²/(n − 1), and a lost mean subtraction (rows shifted by 3).
@pytest.mark.parametrize("n, d", [(12, 30), (60, 30), (31, 30)])
@pytest.mark.parametrize("power", [0.5, -0.5])
def test_covariance_power_equals_the_eigendecomposition(n, d, power):
    X = np.random.default_rng(n).normal(size=(n, d)) @ np.diag(np.linspace(0.1, 3, d)) + 3.0
    np.testing.assert_allclose(covariance_power(X, 0.7, power, "test"), _direct_power(X, 0.7, power),
                               rtol=1e-9, atol=1e-11)


def _projector(P):
    return P @ P.T


# Kills: eigenvectors of the smallest eigenvalues, a missing 1/√w (columns not unit length), an
# uncentred Gram matrix, and a wrong branch for n < d; k above the rank falls back to the SVD.
@pytest.mark.parametrize("n, d, k", [(20, 50, 5), (200, 50, 7), (20, 50, 20)])
def test_pca_basis_spans_the_svd_subspace(n, d, k):
    X = np.random.default_rng(d + k).normal(size=(n, d)) * np.linspace(5, 0.5, d) + 2.0
    P = pca_basis(X, k)
    _, _, Vt = np.linalg.svd(X - X.mean(0), full_matrices=False)
    assert P.shape == (d, k)
    np.testing.assert_allclose(P.T @ P, np.eye(k), atol=1e-9)
    if k < n - 1:  # the top-k subspace is unique
        np.testing.assert_allclose(_projector(P), _projector(Vt[:k].T), atol=1e-8)
    else:  # k = n reaches past the rank n − 1 of the centred rows: the SVD's basis
        np.testing.assert_allclose(_projector(P[:, :n - 1]), _projector(Vt[:n - 1].T), atol=1e-8)
