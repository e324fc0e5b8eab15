"""Transfer Component Analysis."""

from __future__ import annotations

import numpy as np
import pytest

from dalib.errors import DalibError
from dalib.shallow import TCA


def _shifted_gaussians(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Same anisotropic Gaussian; the target is shifted along the first two axes."""
    rng = np.random.default_rng(seed)
    scale = np.array([2.0, 1.5, 3.0, 2.5, 1.0, 2.0])
    Xs = rng.standard_normal((150, 6)) * scale
    Xt = rng.standard_normal((120, 6)) * scale + np.array([4.0, -3.0, 0, 0, 0, 0])
    return Xs, Xt


def _relative_mmd(Zs: np.ndarray, Zt: np.ndarray) -> float:
    """Linear MMD² between domain means, relative to the total variance (scale-free)."""
    gap = np.sum((Zs.mean(0) - Zt.mean(0)) ** 2)
    return float(gap / np.trace(np.cov(np.vstack([Zs, Zt]), rowvar=False)))


def test_shapes_and_out_of_sample_consistency() -> None:
    Xs, Xt = _shifted_gaussians()
    tca = TCA(k=3)
    Zs, Zt = tca.fit_transform(Xs, Xt)
    assert Zs.shape == (150, 3) and Zt.shape == (120, 3)
    assert tca.W_.shape == (270, 3)
    # Fitted rows re-embedded through the kernel against the stacked data give the same rows.
    np.testing.assert_allclose(tca.transform(Xt[:7], "target"), Zt[:7], atol=1e-9)
    assert tca.transform(np.zeros((2, 6))).shape == (2, 3)


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_embedding_reduces_mmd(kernel: str) -> None:
    Xs, Xt = _shifted_gaussians(seed=1)
    Zs, Zt = TCA(k=3, kernel=kernel).fit_transform(Xs, Xt)
    raw, emb = _relative_mmd(Xs, Xt), _relative_mmd(Zs, Zt)
    assert emb < 0.2 * raw, (raw, emb)


def test_default_k_and_normalize_option() -> None:
    Xs, Xt = _shifted_gaussians(seed=2)
    assert TCA().fit(Xs, Xt).k_ == 30
    assert TCA().fit(Xs[:10], Xt[:10]).k_ == 20
    Zs, _ = TCA(k=2, normalize=True).fit_transform(Xs, Xt)
    assert Zs.shape == (150, 2) and np.all(np.isfinite(Zs))


def test_bad_input_raises() -> None:
    Xs, Xt = _shifted_gaussians(seed=3)
    with pytest.raises(DalibError, match="larger than"):
        TCA(k=271).fit(Xs, Xt)
    with pytest.raises(DalibError, match="kernel"):
        TCA(kernel="poly").fit(Xs, Xt)
    with pytest.raises(DalibError, match="mu"):
        TCA(mu=0.0).fit(Xs, Xt)
    with pytest.raises(DalibError, match="gamma"):
        TCA(kernel="rbf", gamma=-1.0).fit(Xs, Xt)
    with pytest.raises(DalibError, match="features"):
        TCA().fit(Xs, Xt[:, :5])
    with pytest.raises(DalibError, match="at least"):
        TCA().fit(Xs[:1], Xt)
    with pytest.raises(DalibError, match="inf"):
        TCA().fit(Xs, np.where(Xt > 5, np.inf, Xt))
