"""Joint Distribution Adaptation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from dalib.errors import DalibError
from dalib.shallow import JDA, ShallowDAClassifier


def _toy(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Four Gaussian blobs in 8-D; the target is rotated (0.3 rad in one plane) and shifted."""
    X, y = make_blobs(
        n_samples=400, centers=4, n_features=8, cluster_std=2.0, center_box=(-6, 6), random_state=seed
    )
    rng = np.random.default_rng(seed)
    R = np.eye(8)
    c, s = np.cos(0.3), np.sin(0.3)
    R[:2, :2] = [[c, -s], [s, c]]
    Xt = X[200:] @ R + 10.0 * rng.standard_normal(8) / np.sqrt(8)
    return X[:200], y[:200], Xt, y[200:]


@pytest.mark.parametrize("seed", [1, 3])
def test_jda_beats_no_adaptation_on_shifted_blobs(seed: int) -> None:
    Xs, ys, Xt, yt = _toy(seed)
    base = ShallowDAClassifier("none").fit(Xs, ys, Xt).score(Xt, yt)
    model = ShallowDAClassifier(JDA(k=4)).fit(Xs, ys, Xt)
    acc = model.score(Xt, yt)
    assert acc >= base
    assert acc > 0.8  # chance is 0.25
    # The last round's pseudo-labels come from the same 1-NN on the final embedding.
    np.testing.assert_array_equal(model.adapter_.pseudo_labels_, model.predict(Xt))


def test_shapes_defaults_and_transform() -> None:
    Xs, ys, Xt, _ = _toy(0)
    jda = JDA(n_iter=2)
    Zs, Zt = jda.fit_transform(Xs, Xt, ys)
    assert jda.k_ == 8 and jda.A_.shape == (8, 8)
    assert Zs.shape == (200, 8) and Zt.shape == (200, 8)
    np.testing.assert_allclose(np.linalg.norm(Zt, axis=1), 1.0)  # normalize=True
    Z = JDA(k=3, n_iter=1, normalize=False).fit(Xs, Xt, ys).transform(Xt[:5], "target")
    assert Z.shape == (5, 3)
    assert jda.pseudo_labels_.shape == (200,)


def test_bad_input_raises() -> None:
    Xs, ys, Xt, _ = _toy(0)
    with pytest.raises(DalibError, match="labels"):
        JDA().fit(Xs, Xt)
    with pytest.raises(DalibError, match="one label per"):
        JDA().fit(Xs, Xt, ys[:-1])
    with pytest.raises(DalibError, match="larger than"):
        JDA(k=9).fit(Xs, Xt, ys)
    with pytest.raises(DalibError, match="reg"):
        JDA(reg=0.0).fit(Xs, Xt, ys)
    with pytest.raises(DalibError, match="n_iter"):
        JDA(n_iter=0).fit(Xs, Xt, ys)
    with pytest.raises(DalibError, match="features"):
        JDA().fit(Xs, Xt[:, :7], ys)
    with pytest.raises(DalibError, match="NaN"):
        JDA().fit(np.where(Xs > 3, np.nan, Xs), Xt, ys)
