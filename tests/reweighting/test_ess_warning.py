"""The low-ESS warning: its exact text and category."""

import warnings

import numpy as np

from dalib.reweighting import LowESSWarning
from dalib.reweighting.ess import check_ess


def fit_like(w: np.ndarray) -> float:
    """Stands in for an estimator's ``fit``, which calls check_ess directly."""
    return check_ess(w, "KMM")


# Kills: the warning's text changed (where it points, stacklevel 3 = the code that called
# ``fit``, is not asserted: mutmut's trampolines add frames under `make mutation`).
def test_low_ess_warning_text():
    w = np.r_[10.0, np.zeros(19)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ess = fit_like(w)
    assert ess == 1.0
    (warning,) = caught
    assert warning.category is LowESSWarning
    assert str(warning.message) == (
        "KMM: effective sample size 1.0 is below 10% of n_s=20; the weights are dominated by a few "
        "source points (try a wider kernel, stronger clipping, or check that the domains overlap)")
