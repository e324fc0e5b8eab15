"""Subspace Alignment against scikit-learn's PCA (Fernando et al., ICCV 2013, Algorithm 1).

Bases are compared through sign-free quantities: the projector P Pᵀ onto each PCA subspace, and
the embeddings multiplied back by P_tᵀ (``Z_s P_tᵀ = (X_s − μ_s) Π_s Π_t`` and
``Z_t P_tᵀ = (X_t − μ_t) Π_t`` with Π = P Pᵀ).
"""

import numpy as np
import pytest
from sklearn.decomposition import PCA

from dalib.shallow import SubspaceAlignment


def data(seed=0):
    rng = np.random.default_rng(seed)
    Xs = rng.standard_normal((40, 5)) * np.array([4.0, 3.0, 2.0, 1.0, 0.5]) + 1.0
    Xt = (rng.standard_normal((35, 5)) * np.array([0.5, 3.5, 1.0, 4.5, 2.0])) @ np.linalg.qr(
        rng.standard_normal((5, 5)))[0] - 2.0
    return Xs, Xt


def pca_projector(X, k):
    C = PCA(n_components=k, svd_solver="full").fit(X).components_
    return C.T @ C


# Kills: PCA of uncentred data, the trailing instead of the leading components, M = P_tᵀ P_s,
# the source embedded with P_t or without M, the target centred with the source mean, the default
# k not min(100, d, n_s, n_t).
@pytest.mark.parametrize("center", [True, False])
def test_embeddings_match_pca_projectors(center):
    Xs, Xt = data()
    sa = SubspaceAlignment(k=2, center=center).fit(Xs, Xt)
    Pi_s, Pi_t = pca_projector(Xs, 2), pca_projector(Xt, 2)
    np.testing.assert_allclose(sa.P_s_ @ sa.P_s_.T, Pi_s, atol=1e-10)
    np.testing.assert_allclose(sa.P_t_ @ sa.P_t_.T, Pi_t, atol=1e-10)
    mu_s, mu_t = (Xs.mean(0), Xt.mean(0)) if center else (0.0, 0.0)
    new_s, new_t = Xs[:6] + 0.3, Xt[:6] - 0.3
    np.testing.assert_allclose(sa.transform(new_s, "source") @ sa.P_t_.T, (new_s - mu_s) @ Pi_s @ Pi_t, atol=1e-10)
    np.testing.assert_allclose(sa.transform(new_t, "target") @ sa.P_t_.T, (new_t - mu_t) @ Pi_t, atol=1e-10)
    assert SubspaceAlignment().fit(Xs[:4], Xt).k_ == 4 and SubspaceAlignment().fit(Xs, Xt[:3]).k_ == 3
