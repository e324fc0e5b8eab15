"""Subspace Alignment."""

from __future__ import annotations

import numpy as np
import pytest

from dalib.errors import DalibError
from dalib.shallow import SubspaceAlignment


def _shared_subspace_pair(d: int = 12, k: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Both domains live in the same k-dim subspace of R^d, with different spreads/means."""
    rng = np.random.default_rng(seed)
    B = np.linalg.qr(rng.standard_normal((d, k)))[0]
    Zs = rng.standard_normal((300, k)) * np.array([5.0, 3.0, 2.0, 1.0])
    Zt = rng.standard_normal((250, k)) * np.array([1.0, 4.0, 2.5, 6.0]) + 3.0
    return Zs @ B.T, Zt @ B.T


def test_aligned_source_basis_equals_target_basis_on_shared_subspace() -> None:
    Xs, Xt = _shared_subspace_pair()
    sa = SubspaceAlignment(k=4).fit(Xs, Xt)
    # P_s M = P_s P_sᵀ P_t reproduces P_t exactly (signs/rotations included) ...
    np.testing.assert_allclose(sa.P_s_ @ sa.M_, sa.P_t_, atol=1e-10)
    # ... M is orthogonal (a pure change of basis between the two subspaces) ...
    np.testing.assert_allclose(sa.M_ @ sa.M_.T, np.eye(4), atol=1e-10)
    # ... and the aligned source coordinates are the target-basis coordinates.
    Zs, Zt = sa.fit_transform(Xs, Xt)
    np.testing.assert_allclose(Zs, (Xs - Xs.mean(0)) @ sa.P_t_, atol=1e-9)
    np.testing.assert_allclose(Zt, (Xt - Xt.mean(0)) @ sa.P_t_, atol=1e-9)


def test_full_dimension_alignment_is_exact_and_bases_orthonormal() -> None:
    rng = np.random.default_rng(1)
    Xs, Xt = rng.standard_normal((80, 6)), rng.standard_normal((70, 6)) @ rng.standard_normal((6, 6))
    sa = SubspaceAlignment(k=6).fit(Xs, Xt)
    for P in (sa.P_s_, sa.P_t_):
        np.testing.assert_allclose(P.T @ P, np.eye(6), atol=1e-10)
    np.testing.assert_allclose(sa.P_s_ @ sa.M_, sa.P_t_, atol=1e-10)


def test_default_k_is_capped_and_shapes() -> None:
    rng = np.random.default_rng(2)
    Xs, Xt = rng.standard_normal((50, 8)), rng.standard_normal((40, 8))
    sa = SubspaceAlignment().fit(Xs, Xt)
    assert sa.k_ == 8
    Zs, Zt = sa.fit_transform(Xs, Xt)
    assert Zs.shape == (50, 8) and Zt.shape == (40, 8)
    assert SubspaceAlignment(k=3).fit(Xs, Xt).transform(Xs[:5], "source").shape == (5, 3)


def test_center_false_projects_raw_rows() -> None:
    rng = np.random.default_rng(3)
    Xs, Xt = rng.standard_normal((30, 5)) + 2.0, rng.standard_normal((30, 5))
    sa = SubspaceAlignment(k=2, center=False).fit(Xs, Xt)
    np.testing.assert_allclose(sa.transform(Xt), Xt @ sa.P_t_)
    np.testing.assert_allclose(sa.transform(Xs, "source"), Xs @ sa.P_s_ @ sa.M_)


def test_bad_input_raises() -> None:
    rng = np.random.default_rng(4)
    Xs, Xt = rng.standard_normal((30, 5)), rng.standard_normal((30, 5))
    with pytest.raises(DalibError, match="larger than"):
        SubspaceAlignment(k=6).fit(Xs, Xt)
    with pytest.raises(DalibError, match="positive integer"):
        SubspaceAlignment(k=0).fit(Xs, Xt)
    with pytest.raises(DalibError, match="features"):
        SubspaceAlignment().fit(Xs, Xt[:, :4])
    Xt[0, 0] = np.nan
    with pytest.raises(DalibError, match="NaN"):
        SubspaceAlignment().fit(Xs, Xt)
