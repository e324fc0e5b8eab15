"""The median heuristic of the KMM / KLIEP kernel width against scipy's pdist."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from dalib.reweighting.kmm import median_heuristic_sigma


# Kills: another cap than 1000 points or another seed for the subsample; the fallback 1.0 used
# for a positive median below 1 (med > 1 test) or not used for coincident points (med >= 0), or
# another fallback value.
def test_median_heuristic_matches_pdist():
    rng = np.random.default_rng(0)
    xs, xt = rng.normal(size=(700, 3)), rng.normal(size=(500, 3)) + 0.5
    Z = np.vstack([xs, xt])
    sub = Z[np.random.default_rng(0).choice(1200, 1000, replace=False)]
    assert median_heuristic_sigma(xs, xt) == pytest.approx(np.median(pdist(sub)), rel=1e-12)
    small = 0.01 * xs[:40]
    assert median_heuristic_sigma(small[:20], small[20:]) == pytest.approx(np.median(pdist(small)), rel=1e-12)
    assert median_heuristic_sigma(np.ones((5, 2)), np.ones((4, 2))) == 1.0
