"""JDA against the paper's eigenproblem built by hand (Long et al., ICCV 2013, eq. 3, 5, 6-7).

The reference writes every MMD matrix entry by entry, solves the non-symmetric eigenproblem
``(Xᵀ M X + λI)⁻¹ Xᵀ H X`` with ``scipy.linalg.eig``, and predicts the pseudo-labels with a
brute-force 1-NN, so it shares no code with the library.  The data has a class-conditional shift
(each target class moves differently), where the class terms of JDA change the projection: JDA
without them (i.e. linear TCA iterated) fails these tests.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from dalib.shallow import JDA

K, REG = 2, 1.0


def class_shifted(seed: int = 0, per_class: int = 15, d: int = 5):
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.standard_normal((3, d))
    moves = 2.0 * rng.standard_normal((3, d))  # a different shift per class
    y_s = np.repeat(np.arange(3), per_class)
    y_t = np.repeat(np.arange(3), per_class)
    X_s = centres[y_s] + rng.standard_normal((3 * per_class, d))
    X_t = centres[y_t] + moves[y_t] + rng.standard_normal((3 * per_class, d)) + 1.0
    return X_s, y_s, X_t


def mmd_matrix(y_s, y_t, n_t):
    """Σ_c M_c, entry by entry: M_0 from the domains (eq. 3), M_c from classes (eq. 5); only M_0
    while the target has no pseudo-labels (``y_t=None``)."""
    n_s = len(y_s)
    n = n_s + n_t
    dom = ["s"] * n_s + ["t"] * n_t
    M = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if dom[i] == dom[j]:
                M[i, j] = 1.0 / (n_s * n_s) if dom[i] == "s" else 1.0 / (n_t * n_t)
            else:
                M[i, j] = -1.0 / (n_s * n_t)
    if y_t is None:
        return M
    labels = np.r_[y_s, y_t]
    for c in np.unique(y_s):
        ns_c, nt_c = np.sum(y_s == c), np.sum(y_t == c)
        if ns_c == 0 or nt_c == 0:
            continue
        for i in range(n):
            for j in range(n):
                if labels[i] != c or labels[j] != c:
                    continue
                if dom[i] == dom[j]:
                    M[i, j] += 1.0 / (ns_c * ns_c) if dom[i] == "s" else 1.0 / (nt_c * nt_c)
                else:
                    M[i, j] -= 1.0 / (ns_c * nt_c)
    return M


def solve(X, M):
    """k leading eigenvectors of (Xᵀ M̂ X + λI)⁻¹ Xᵀ H X, M̂ = M/‖M‖_F, scaled to Aᵀ B A = I."""
    n, d = X.shape
    H = np.eye(n) - np.ones((n, n)) / n
    B = X.T @ (M / np.linalg.norm(M)) @ X + REG * np.eye(d)
    vals, vecs = linalg.eig(np.linalg.solve(B, X.T @ H @ X))
    order = np.argsort(-vals.real)
    vals, vecs = vals.real[order], vecs.real[:, order]
    assert vals[K - 1] - vals[K] > 1e-3 * vals[0]  # the k-dimensional subspace is well defined
    A = vecs[:, :K]
    return A / np.sqrt(np.einsum("ik,ij,jk->k", A, B, A)), B


def nearest_labels(Z_train, y_train, Z_query):
    dist = ((Z_query[:, None, :] - Z_train[None, :, :]) ** 2).sum(-1)
    return y_train[np.argmin(dist, axis=1)]


def rows_unit(X):
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def reference_jda(X_s, y_s, X_t, n_iter, normalize):
    X = np.vstack([X_s, X_t])
    if normalize:
        X = rows_unit(X)
    pseudo, history = None, []
    for _ in range(n_iter):
        A, B = solve(X, mmd_matrix(y_s, pseudo, len(X_t)))
        Z = X @ A
        if normalize:
            Z = rows_unit(Z)
        pseudo = nearest_labels(Z[: len(X_s)], y_s, Z[len(X_s):])
        history.append(A)
    return history, pseudo, B


def projector(A):
    Q, _ = np.linalg.qr(A)
    return Q @ Q.T


# Kills: JDA without the class-conditional terms (TCA), M_c from the source labels on both sides,
# 1/n_c instead of 1/n_c² (or the wrong domain's n_c), missing Frobenius scaling of M, H missing
# its 1/n, the ridge on the wrong side, the k smallest instead of largest eigenvalues, pseudo-labels
# not fed back, rows not normalised before or after the projection.
# seed 7: normalising the round-1 embedding changes 7 of its 45 pseudo-labels
@pytest.mark.parametrize(("normalize", "seed"), [(False, 0), (True, 7)])
def test_projection_and_pseudo_labels_match_the_paper(normalize, seed):
    X_s, y_s, X_t = class_shifted(seed)
    model = JDA(k=K, reg=REG, n_iter=2, normalize=normalize).fit(X_s, X_t, y_s)
    (A1, A2), pseudo, B = reference_jda(X_s, y_s, X_t, 2, normalize)
    # the class-conditional terms of round 2 move the subspace away from round 1 (TCA)
    assert np.linalg.norm(projector(A2) - projector(A1)) > 0.1
    np.testing.assert_allclose(projector(model.A_), projector(A2), atol=1e-6)
    np.testing.assert_allclose(model.A_.T @ B @ model.A_, np.eye(K), atol=1e-8)  # documented scaling
    np.testing.assert_array_equal(model.pseudo_labels_, pseudo)
    X_new = X_t[:4] + 0.1
    Z = (rows_unit(X_new) if normalize else X_new) @ model.A_
    np.testing.assert_allclose(model.transform(X_new, "target"), rows_unit(Z) if normalize else Z)


# Kills: round 1 already using class terms (it has no target labels yet: paper Algorithm 1), or
# the first round seeded with source labels for the target.
def test_first_round_is_linear_tca():
    X_s, y_s, X_t = class_shifted(seed=1)
    model = JDA(k=K, reg=REG, n_iter=1, normalize=False).fit(X_s, X_t, y_s)
    (A1,), pseudo, _ = reference_jda(X_s, y_s, X_t, 1, False)
    np.testing.assert_allclose(projector(model.A_), projector(A1), atol=1e-6)
    np.testing.assert_array_equal(model.pseudo_labels_, pseudo)
