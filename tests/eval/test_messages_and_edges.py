"""Selection and transfer helpers: exact error messages, protocol signs by value, edge cases.

(New file beside the eval tests: exact one-line messages name the argument and the fix; a check
that drops or re-cases the argument name fails here.)
"""

from __future__ import annotations

import math

import pytest

from dalib.errors import DalibError
from dalib.eval.selection import PROTOCOLS, describe, select_epoch, uses_target_labels, utility
from dalib.eval.scores import snd_score
from dalib.eval.transfer import is_negative_transfer, negative_transfer_gap, proxy_a_distance, transfer_gain


def epoch(i: int, **scores: float) -> dict:
    return {"index": i, "source_val_acc": 0.5, "target_entropy": 1.0, "target_acc": 0.5, "scores": scores}


# Kills: a score read from another key, divided instead of multiplied by its sign (which reverses
# the order of positive risks), or the sign dropped.
def test_score_utilities_by_value():
    assert utility(epoch(0, iwv=2.0), "iwv") == -2.0 and utility(epoch(0, dev=0.5), "dev") == -0.5
    assert utility(epoch(0, snd=3.0), "snd") == 3.0
    runs = [epoch(0, iwv=0.5, dev=0.5, snd=1.0), epoch(1, iwv=2.0, dev=2.0, snd=0.5)]
    assert select_epoch(runs, "iwv")["index"] == 0 and select_epoch(runs, "dev")["index"] == 0
    assert select_epoch(runs, "snd")["index"] == 0


# Kills: the single-epoch shortcut taken for two epochs, the last epoch returned regardless.
def test_two_epochs_are_compared():
    first_better = [dict(epoch(0), source_val_acc=0.9), dict(epoch(1), source_val_acc=0.1)]
    assert select_epoch(first_better, "source-val")["index"] == 0
    assert select_epoch(first_better, "last")["index"] == 1
    assert select_epoch(first_better[:1], "oracle")["index"] == 0


def test_descriptions_and_label_use():
    for name, (_, text) in PROTOCOLS.items():
        assert describe(name) == text
    assert [p for p in PROTOCOLS if uses_target_labels(p)] == ["oracle"]
    assert describe("oracle").startswith("ORACLE")


SELECTION = {
    "missing score": (lambda: select_epoch([epoch(0), epoch(1)], "iwv"),
                      "run records have no 'iwv' score; rerun them with this dalib version"),
    "protocol": (lambda: select_epoch([epoch(0)], "best"),
                 "unknown selection protocol 'best'; choose one of last, source-val, entropy, iwv, dev, snd, "
                 "oracle"),
    "describe": (lambda: describe("best"),
                 "unknown selection protocol 'best'; choose one of last, source-val, entropy, iwv, dev, snd, "
                 "oracle"),
    "no epochs": (lambda: select_epoch([], "last"), "run has no epoch records; rerun it"),
    "gain seeds": (lambda: transfer_gain([0.5, 0.6], [0.5]),
                   "method_accs has 2 seeds but source_only_accs has 1; run both with the same seeds"),
    "gain method": (lambda: transfer_gain([math.nan], [0.5]),
                    "method_accs contains NaN or inf; check the values that produced it"),
    "gain source": (lambda: transfer_gain([0.5], []),
                    "source_only_accs has shape (0,), expected a non-empty (n,); flatten it with .ravel()"),
    "mean": (lambda: is_negative_transfer("x", 0.1), "mean='x' is not a number; pass a float"),
    "std": (lambda: is_negative_transfer(-0.1, math.inf),
            "std is inf; pass a finite number (check the run that produced it)"),
    "std negative": (lambda: is_negative_transfer(-0.1, -0.2),
                     "std=-0.2 is negative; pass a standard deviation (>= 0)"),
    "gap target": (lambda: negative_transfer_gap(0.5, None), "acc_target_only=None is not a number; pass a float"),
    "pad source rows": (lambda: proxy_a_distance([[0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]),
                        "features_s has shape (1, 2) but needs at least 2 sample(s) and one feature; pass more rows"),
    "pad target rows": (lambda: proxy_a_distance([[0.0, 1.0], [1.0, 0.0]], [[0.0, 1.0]]),
                        "features_t has shape (1, 2) but needs at least 2 sample(s) and one feature; pass more rows"),
    "pad features": (lambda: proxy_a_distance([[0.0], [1.0]], [[0.0, 1.0], [1.0, 0.0]]),
                     "features_s has 1 features but features_t has 2; source and target must share one feature space"),
    "snd shape": (lambda: snd_score([0.5, 0.5]),
                  "target_probs has shape (2,), expected (n, d); use X.reshape(-1, 1) for a single feature"),
    "gap method": (lambda: negative_transfer_gap(math.nan, 0.5),
                   "acc_method is nan; pass a finite number (check the run that produced it)"),
}


@pytest.mark.parametrize("case", sorted(SELECTION))
def test_message_is_exact(case):
    call, expected = SELECTION[case]
    with pytest.raises(DalibError) as err:
        call()
    assert str(err.value) == expected


# Kills: PAD demanding 3 rows per domain (2 is the documented minimum: one train and one held-out
# point each).
def test_pad_accepts_two_rows_per_domain():
    assert proxy_a_distance([[0.0], [1.0]], [[5.0], [6.0]]) == 2.0
