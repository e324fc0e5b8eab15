"""TCA against the paper's eigenproblem built by hand (Pan et al., IEEE TNN 2011, eq. 8-9).

The reference writes K, L (entries 1/n_s², 1/n_t², −1/(n_s n_t)) and H = I − 11ᵀ/n explicitly and
solves the non-symmetric eigenproblem (K L K + μI)⁻¹ K H K with ``scipy.linalg.eig``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from dalib.shallow import TCA


def pair(seed: int = 0):
    rng = np.random.default_rng(seed)
    Xs = rng.standard_normal((14, 3)) * np.array([2.0, 1.0, 0.5])
    Xt = rng.standard_normal((11, 3)) * np.array([1.0, 2.0, 0.5]) + np.array([2.0, -1.0, 0.0])
    return Xs, Xt


def kernel_by_hand(X, kind, gamma):
    n = len(X)
    K = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            K[i, j] = X[i] @ X[j] if kind == "linear" else np.exp(-gamma * np.sum((X[i] - X[j]) ** 2))
    return K


def reference_components(K, n_s, n_t, mu, k):
    n = n_s + n_t
    src = np.arange(n) < n_s
    L = np.where(src[:, None] & src[None, :], 1.0 / n_s**2,
                 np.where(~src[:, None] & ~src[None, :], 1.0 / n_t**2, -1.0 / (n_s * n_t)))
    H = np.eye(n) - np.ones((n, n)) / n
    B = K @ L @ K + mu * np.eye(n)
    vals, vecs = linalg.eig(np.linalg.solve(B, K @ H @ K))
    order = np.argsort(-vals.real)
    vals, vecs = vals.real[order], vecs.real[:, order]
    assert vals[k - 1] - vals[k] > 1e-3 * vals[0]
    W = vecs[:, :k]
    return W / np.sqrt(np.einsum("ik,ij,jk->k", W, B, W)), B


def projector(A):
    Q, _ = np.linalg.qr(A)
    return Q @ Q.T


# Kills: L without the cross term or with 1/n instead of 1/n², the centring's 1/n dropped, μ on
# the wrong side of the eigenproblem, the smallest instead of the largest eigenvalues, the RBF
# width default 1/(d·var) changed (1/var, d·var, std), rows not normalised with normalize=True,
# out-of-sample rows embedded against the wrong data.
@pytest.mark.parametrize(("kind", "gamma", "normalize"), [("linear", None, False), ("rbf", None, False),
                                                          ("rbf", 0.3, True)])
def test_components_match_the_paper(kind, gamma, normalize):
    Xs, Xt = pair()
    tca = TCA(k=2, mu=0.5, kernel=kind, gamma=gamma, normalize=normalize).fit(Xs, Xt)
    X = np.vstack([Xs, Xt])
    if normalize:
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
    g = 1.0 / (X.shape[1] * X.var()) if gamma is None else gamma
    if kind == "rbf":
        assert tca.gamma_ == pytest.approx(g, rel=1e-12)
    K = kernel_by_hand(X, kind, g)
    W, B = reference_components(K, 14, 11, 0.5, 2)
    np.testing.assert_allclose(projector(tca.W_), projector(W), atol=1e-6)
    np.testing.assert_allclose(tca.W_.T @ B @ tca.W_, np.eye(2), atol=1e-8)
    new = np.array([[0.3, -1.0, 2.0]])
    row = new / np.linalg.norm(new) if normalize else new
    k_new = np.array([row[0] @ x if kind == "linear" else np.exp(-g * np.sum((row[0] - x) ** 2)) for x in X])
    np.testing.assert_allclose(tca.transform(new, "source"), k_new[None, :] @ tca.W_, atol=1e-10)
    Zs, Zt = tca.fit_transform(Xs, Xt)
    np.testing.assert_allclose(np.vstack([Zs, Zt]), K @ tca.W_, atol=1e-9)


# Kills: a constant input (zero variance) given a zero or infinite RBF width.
def test_constant_input_gets_unit_rbf_width():
    X = np.ones((5, 2))
    assert TCA(k=1, kernel="rbf").fit(X, X).gamma_ == 1.0
