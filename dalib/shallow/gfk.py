"""Geodesic Flow Kernel (GFK).

Gong, Shi, Sha & Grauman, "Geodesic Flow Kernel for Unsupervised Domain Adaptation",
CVPR 2012, Sec. 3 (the geodesic flow and the closed form of its kernel).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from dalib.checks import as_pair
from dalib.shallow._kernels import DomainAdapter, Domain, FloatArray, pca_basis, resolve_k, sym_power

# Below this sin θ a principal direction of P_t lies in P_s; its complement direction is
# undefined, but every term that uses it carries a factor that vanishes with θ.
_TINY_SINE = 1e-12


def geodesic_weights(theta: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(λ₁, λ₂, λ₃)`` of the closed-form kernel for principal angles ``theta`` (k,), each of shape (k,)::

        λ₁ = ∫₀¹ cos²(tθ) dt        = ½ (1 + sin 2θ / 2θ)
        λ₂ = −∫₀¹ cos(tθ) sin(tθ) dt = ½ (cos 2θ − 1) / 2θ = −sin²θ / 2θ
        λ₃ = ∫₀¹ sin²(tθ) dt        = ½ (1 − sin 2θ / 2θ)

    with the limits (1, 0, 0) at θ = 0 (λ₂ is evaluated as −sin²θ / 2θ, which keeps its
    ≈ −θ/2 for tiny θ where ``cos 2θ − 1`` cancels to 0).
    """
    two = 2.0 * theta
    safe = np.where(two > 0, two, 1.0)
    sinc = np.where(two > 0, np.sin(two) / safe, 1.0)
    lam1 = 0.5 * (1.0 + sinc)
    lam2 = -np.sin(theta) ** 2 / safe
    lam3 = 0.5 * (1.0 - sinc)
    return lam1, lam2, lam3


class GFK(DomainAdapter):
    """Embed both domains with the geodesic flow kernel between their PCA subspaces.

    ``P_s``, ``P_t`` (D × k, orthonormal) are the top-``k`` PCA bases of each domain and
    ``R_s`` (D × (D−k)) an orthonormal complement of ``P_s``. With the SVDs
    ``P_sᵀ P_t = U₁ Γ Vᵀ`` and ``R_sᵀ P_t = −U₂ Σ Vᵀ`` (``Γ = diag(cos θᵢ)``,
    ``Σ = diag(sin θᵢ)``, ``θᵢ`` the principal angles), the geodesic on the Grassmannian from
    span(P_s) (t = 0) to span(P_t) (t = 1) is ``Φ(t) = P_s U₁ Γ(t) − R_s U₂ Σ(t)`` with
    ``Γ(t) = diag(cos tθᵢ)``, ``Σ(t) = diag(sin tθᵢ)``, and the kernel is::

        G = ∫₀¹ Φ(t) Φ(t)ᵀ dt
          = [P_s U₁, R_s U₂] [[Λ₁, Λ₂], [Λ₂, Λ₃]] [P_s U₁, R_s U₂]ᵀ,
        Λ₁ = diag(½(1 + sin 2θᵢ / 2θᵢ)),  Λ₂ = diag(½(cos 2θᵢ − 1) / 2θᵢ),
        Λ₃ = diag(½(1 − sin 2θᵢ / 2θᵢ))

    (see :func:`geodesic_weights`). ``R_s`` is never formed: ``R_s U₂ Σ = −(I − P_s P_sᵀ) P_t V``,
    whose columns are orthogonal with norms ``sin θᵢ`` (which give θᵢ = atan2(sin θᵢ, cos θᵢ),
    accurate for small angles).

    ``transform(X)`` returns ``Z = X B F`` with ``B = [P_s U₁, R_s U₂]`` (D × 2k) and ``F`` the
    symmetric square root of the 2k × 2k middle matrix, so ``Z Zᵀ = X G Xᵀ``: Euclidean
    distances and inner products of ``Z`` are those under ``G``, ``‖z − z'‖² = (x − x')ᵀ G
    (x − x')``, and ``Z`` is an isometric copy of ``X G^{1/2}`` in 2k coordinates. 1-NN on
    ``Z`` is therefore "GFK + 1NN" of the paper (nearest neighbour under the kernel distance).
    Rows are not centred (the same ``G`` maps both domains, as in the authors' code, which
    expects per-domain z-scored input); the PCA bases come from centred data.

    Parameters
    ----------
    k: subspace dimension ``d``; ``None`` means ``min(30, D, n_s, n_t)`` (30: the Office-Caltech10
        SURF protocol of the published GFK+1NN row). An explicit ``k`` above that limit raises.

    Attributes
    ----------
    P_s_, P_t_: (D, k) PCA bases. theta_: (k,) principal angles in [0, π/2], ascending.
    basis_: (D, 2k) ``B``. root_: (2k, 2k) ``F``. G_ (property): the (D, D) kernel ``B F² Bᵀ``.
    """

    def __init__(self, k: int | None = None) -> None:
        self.k = k

    def fit(self, X_s: ArrayLike, X_t: ArrayLike, y_s: ArrayLike | None = None) -> "GFK":
        """Compute both PCA bases, the principal angles and the kernel factors; ``y_s`` is ignored."""
        Xs, Xt = as_pair(X_s, X_t, min_samples=2)
        D = Xs.shape[1]
        k = resolve_k(self.k, 30, min(D, Xs.shape[0], Xt.shape[0]), "feature dimension / sample count")
        P_s, P_t = pca_basis(Xs, k), pca_basis(Xt, k)
        U1, cosines, Vt = np.linalg.svd(P_s.T @ P_t)
        PtV = P_t @ Vt.T
        residual = PtV - P_s @ (P_s.T @ PtV)  # (I − P_s P_sᵀ) P_t V = −R_s U₂ Σ
        sines = np.linalg.norm(residual, axis=0)
        theta = np.arctan2(sines, np.clip(cosines, 0.0, 1.0))
        R_sU2 = -residual / np.where(sines > _TINY_SINE, sines, np.inf)
        lam1, lam2, lam3 = geodesic_weights(theta)
        middle = np.block([[np.diag(lam1), np.diag(lam2)], [np.diag(lam2), np.diag(lam3)]])
        self.P_s_, self.P_t_, self.theta_ = P_s, P_t, theta
        self.basis_ = np.hstack([P_s @ U1, R_sU2])
        self.root_ = sym_power(middle, 0.5, "GFK's kernel core")
        self.k_ = k
        self.n_features_in_ = D
        return self

    @property
    def G_(self) -> FloatArray:
        """The (D, D) geodesic flow kernel ``G = B F F Bᵀ`` (symmetric PSD, rank ≤ 2k)."""
        BF = self.basis_ @ self.root_
        return BF @ BF.T

    def _transform(self, X: FloatArray, domain: Domain) -> FloatArray:
        return X @ self.basis_ @ self.root_
