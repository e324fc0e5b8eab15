"""IWV / DEV / SND / validation weights: exact one-line messages and the edge cases of each formula.

(Each message must name the argument and the fix; a check that drops or re-cases the name fails.)
"""

import warnings

import numpy as np
import pytest

from dalib.errors import DalibError
from dalib.eval.scores import dev_risk, iwv_risk, snd_score
from dalib.eval.validation_weights import WEIGHT_CLIP_MAX, validation_weights

UNIFORM = np.ones((3, 2)) / 2
MESSAGES = {
    "losses": (lambda: iwv_risk([np.nan, 1.0], [1.0, 1.0]),
               "val_losses contains NaN or inf; check the values that produced it"),
    "weights": (lambda: dev_risk([1.0, 1.0], [np.inf, 1.0]),
                "val_weights contains NaN or inf; check the values that produced it"),
    "sizes": (lambda: iwv_risk([1.0, 2.0], [1.0]),
              "val_losses has 2 entries but val_weights has 1; pass one weight per loss"),
    "negative": (lambda: dev_risk([1.0, 2.0], [-1.0, 1.0]),
                 "val_weights has negative entries; importance weights must be >= 0"),
    "tau": (lambda: snd_score(UNIFORM, 0.0), "tau=0.0 is invalid; pass a positive temperature such as 0.05"),
    "one row": (lambda: snd_score([[0.5, 0.5]]),
                "target_probs has fewer than 2 rows; SND needs at least 2 target samples"),
    "not probabilities": (lambda: snd_score([[0.7, 0.8], [0.5, 0.5]]),
                          "target_probs rows are not probability vectors; apply softmax to the logits first"),
    "probs nan": (lambda: snd_score([[0.5, np.nan], [0.5, 0.5]]),
                  "target_probs contains NaN or inf; impute or drop those rows first"),
    "chunk": (lambda: snd_score(UNIFORM, chunk_rows=0), "chunk_rows=0 is invalid; pass a positive integer or None"),
    "feature dims": (lambda: validation_weights(np.zeros((5, 3)), np.zeros((5, 2))),
                     "val_features has 3 features but target_features has 2; source and target must share one "
                     "feature space"),
    "no target": (lambda: validation_weights(np.zeros((5, 3)), np.zeros((0, 3))),
                  "target_features has shape (0, 3) but needs at least 1 sample(s) and one feature; pass more rows"),
    "one val point": (lambda: validation_weights(np.zeros((1, 4)), np.zeros((3, 4))),
                      "cross-fitting needs folds >= 2 and at least 2 source-val and 2 target points "
                      "(got folds=5, n_v=1, n_t=3); pass more samples"),
    "one fold": (lambda: validation_weights(np.zeros((6, 4)), np.zeros((3, 4)), folds=1),
                 "cross-fitting needs folds >= 2 and at least 2 source-val and 2 target points "
                 "(got folds=1, n_v=6, n_t=3); pass more samples"),
}


@pytest.mark.parametrize("case", sorted(MESSAGES))
def test_message_is_exact(case):
    call, expected = MESSAGES[case]
    with pytest.raises(DalibError) as err:
        call()
    assert str(err.value) == expected


# Kills: zero weights refused (w <= 0 instead of w < 0); DEV's shortcut taken at n = 2 (the
# control variate is defined there: L = (0.5, 7.5), eta = -Cov(L, w)/Var(w) = -3.5, risk
# 4 - 3.5 * 1.5 + 3.5 = 2.25); all-zero weights (Var = E[w^2] = 0) sent into 0/0 by a strict
# `var < eps * E[w^2]` or by `w / w`; weights constant to 1e-9 relative treated as varying
# (eps / E[w^2] in place of eps * E[w^2] makes eta = 5e8 here).
def test_risk_edge_values():
    assert iwv_risk([1.0, 2.0], [0.0, 1.0]) == 1.0
    assert dev_risk([1.0, 3.0], [0.5, 2.5]) == pytest.approx(2.25, rel=1e-12)
    assert dev_risk([1.0, 2.0, 3.0], [0.0, 0.0, 0.0]) == 0.0
    w = [10.0 - 1e-8, 10.0 + 1e-8]
    assert dev_risk([1.0, 0.0], w) == pytest.approx(0.5 * w[0], rel=1e-12)


# Kills: dropping the tolerance on row sums (fp16 softmax rows sum to 1 +- 5e-4) or widening it
# past 1 (rows summing to 1.5 accepted, see the "not probabilities" message).
def test_snd_accepts_rounded_probabilities():
    assert snd_score([[0.5, 0.5005], [0.3, 0.7]]) == 0.0  # one neighbour each: q = 1, H = 0


def _snd_logsumexp(P: np.ndarray, tau: float) -> float:
    """Definition with a per-row log-sum-exp: H(q_i) = logsumexp_j(s_ij) - sum_j q_ij s_ij."""
    F = P / np.linalg.norm(P, axis=1, keepdims=True)
    total = 0.0
    for i in range(len(P)):
        s = np.delete(F @ F[i], i) / tau
        lse = s.max() + np.log(np.exp(s - s.max()).sum())
        q = np.exp(s - lse)
        total += lse - q @ s
    return total / len(P)


# Kills: the row shift before exp taken with the wrong sign (exp(2/tau) overflows) or by the
# chunk's overall maximum instead of each row's (rows whose nearest neighbour is far underflow
# to Z = 0). tau = 1e-3: similarities up to 1000, and the last two rows' best is 0.
def test_snd_is_stable_at_small_temperature():
    P = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    expected = _snd_logsumexp(P, 1e-3)  # rows 1, 2: H = 0; rows 3, 4: uniform over 3 -> log 3
    assert expected == pytest.approx(np.log(3.0) / 2, rel=1e-12)
    assert snd_score(P, tau=1e-3) == pytest.approx(expected, rel=1e-12)


# Kills: the number of folds not capped by n_t (5 folds with 3 target points warns and changes
# the split) or not passed to StratifiedKFold; folds = 2 or n = 2 refused (k <= 2, k < 3).
def test_folds_are_capped_by_the_smaller_domain():
    rng = np.random.default_rng(0)
    xv, xt = rng.normal(size=(10, 2)), rng.normal(size=(3, 2)) + 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = validation_weights(xv, xt)
    np.testing.assert_array_equal(w, validation_weights(xv, xt, folds=3))
    assert validation_weights(xv, xt[:2]).shape == (10,)
    assert validation_weights(xv, xt, folds=2).shape == (10,)


# Kills: weights left unclipped above WEIGHT_CLIP_MAX = 20. One source-val point sits inside the
# target: its odds p_t/p_s are in the hundreds.
def test_weights_are_clipped_at_the_maximum():
    rng = np.random.default_rng(0)
    xv = np.vstack([rng.normal(0.0, 0.5, size=(39, 1)), [[8.0]]])
    xt = rng.normal(8.0, 0.5, size=(40, 1))
    w = validation_weights(xv, xt)
    assert w[-1] == WEIGHT_CLIP_MAX and w[:-1].max() < 1.0
