"""The median heuristic of the KMM / KLIEP kernel width against scipy's pdist."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from dalib.errors import DalibError
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


# Kills: the bound on max_points (2 is the smallest subsample with a pair) tightened or dropped
# (max_points=1 would take the median of no distances), its message.
def test_subsample_of_two_points_is_the_smallest():
    xs, xt = np.array([[0.0, 0.0], [5.0, 5.0]]), np.array([[3.0, 4.0]])
    got = median_heuristic_sigma(xs, xt, max_points=2, random_state=0)
    pair = np.vstack([xs, xt])[np.random.default_rng(0).choice(3, 2, replace=False)]
    assert got == pytest.approx(np.linalg.norm(pair[0] - pair[1]), rel=1e-12)
    with pytest.raises(DalibError, match="max_points=1; a median of pairwise distances needs at least 2 points"):
        median_heuristic_sigma(xs, xt, max_points=1)
