"""Every bad input to the shallow adapters gives this exact one-line message.

Exact text: the checks pass the method's, the matrix's and the argument's names into the message;
a message that loses any of them no longer tells the user what to fix.
"""

from __future__ import annotations

import numpy as np
import pytest

from dalib.errors import DalibError
from dalib.shallow import CORAL, JDA, MEDA, TCA, ShallowDAClassifier, SubspaceAlignment, make_classifier

RNG = np.random.default_rng(0)
XS, XT = RNG.standard_normal((12, 3)), RNG.standard_normal((10, 3))
YS = np.arange(12) % 2


CASES = {
    "jda labels": (lambda: JDA().fit(XS, XT),
                   "JDA needs source labels; call fit(X_s, X_t, y_s) with y_s given"),
    "wrapper labels": (lambda: ShallowDAClassifier().fit(XS, None, XT),
                       "ShallowDAClassifier needs source labels; call fit(X_s, y_s, X_t) with y_s given"),
    # the classifiers take the labels second: the adapters' order gets a line naming the swap
    "wrapper order": (lambda: ShallowDAClassifier().fit(XS, XT, YS),
                      "ShallowDAClassifier.fit takes (X_s, y_s, X_t), but y_s has shape (10, 3) and X_t (12,): "
                      "were y_s and X_t swapped?"),
    "meda order": (lambda: MEDA().fit(XS, XT, YS),
                   "MEDA.fit takes (X_s, y_s, X_t), but y_s has shape (10, 3) and X_t (12,): were y_s and X_t swapped?"),
    "label count": (lambda: JDA().fit(XS, XT, YS[:-1]),
                    "y_s has 11 labels but X_s has 12 rows; pass one label per source row"),
    "label nan": (lambda: JDA().fit(XS, XT, np.where(YS > 0, np.nan, 0.0)),
                  "y_s contains NaN or inf; drop unlabeled source rows before fitting"),
    "k zero": (lambda: TCA(k=0).fit(XS, XT), "k=0 is not a positive integer; pass k >= 1 or k=None"),
    "k bool": (lambda: SubspaceAlignment(k=True).fit(XS, XT),
               "k=True is not a positive integer; pass k >= 1 or k=None"),
    "k float": (lambda: JDA(k=2.0).fit(XS, XT, YS), "k=2.0 is not a positive integer; pass k >= 1 or k=None"),
    "k large": (lambda: JDA(k=4).fit(XS, XT, YS),
                "k=4 is larger than the feature dimension (3); pass k <= 3 or k=None"),
    "k large sa": (lambda: SubspaceAlignment(k=4).fit(XS, XT),
                   "k=4 is larger than the feature dimension / sample count (3); pass k <= 3 or k=None"),
    "k large tca": (lambda: TCA(k=23).fit(XS, XT),
                    "k=23 is larger than the number of stacked samples (22); pass k <= 22 or k=None"),
    "coral singular": (lambda: CORAL(reg=0.0).fit(np.c_[XS, XS[:, :1]], np.c_[XT, XT[:, :1]]),
                       "source covariance is singular (rank-deficient data); use reg > 0 or more samples"),
    "coral reg": (lambda: CORAL(reg=-1.0).fit(XS, XT), "reg=-1.0 is invalid; pass a finite reg >= 0"),
    "coral reg nan": (lambda: CORAL(reg=np.nan).fit(XS, XT), "reg=nan is invalid; pass a finite reg >= 0"),
    "jda reg": (lambda: JDA(reg=0.0).fit(XS, XT, YS), "reg=0.0 is invalid; pass a finite reg > 0"),
    "jda reg inf": (lambda: JDA(reg=np.inf).fit(XS, XT, YS), "reg=inf is invalid; pass a finite reg > 0"),
    "jda n_iter": (lambda: JDA(n_iter=0).fit(XS, XT, YS), "n_iter=0 is invalid; pass an integer n_iter >= 1"),
    "jda n_iter bool": (lambda: JDA(n_iter=True).fit(XS, XT, YS),
                        "n_iter=True is invalid; pass an integer n_iter >= 1"),
    "jda n_iter float": (lambda: JDA(n_iter=2.0).fit(XS, XT, YS),
                         "n_iter=2.0 is invalid; pass an integer n_iter >= 1"),
    "tca kernel": (lambda: TCA(kernel="poly").fit(XS, XT),
                   "kernel='poly' is not supported; use 'linear' or 'rbf'"),
    "tca mu": (lambda: TCA(mu=0.0).fit(XS, XT), "mu=0.0 is invalid; pass a finite mu > 0"),
    "tca mu inf": (lambda: TCA(mu=np.inf).fit(XS, XT), "mu=inf is invalid; pass a finite mu > 0"),
    "tca gamma": (lambda: TCA(kernel="rbf", gamma=0.0).fit(XS, XT),
                  "gamma=0.0 is invalid; pass gamma > 0 or None"),
    "not fitted": (lambda: SubspaceAlignment().transform(XS),
                   "SubspaceAlignment is not fitted; call fit(X_s, X_t) before transform"),
    "domain": (lambda: CORAL().fit(XS, XT).transform(XS, "test"),
               "domain='test' is not valid; pass domain='source' or domain='target'"),
    "features": (lambda: CORAL().fit(XS, XT).transform(XS[:, :2]),
                 "X has 2 features but the adapter was fitted on 3; pass data in the fitted feature space"),
    "transform X": (lambda: CORAL().fit(XS, XT).transform(XS[:, 0]),
                    "X has shape (12,), expected (n, d); use X.reshape(-1, 1) for a single feature"),
    "classifier": (lambda: make_classifier("rf"),
                   "unknown classifier 'rf'; use one of 1nn, linear_svm or an estimator"),
    "adapter": (lambda: ShallowDAClassifier("nope").fit(XS, YS, XT),
                "unknown adapter 'nope'; use one of coral, sa, tca, jda, gfk, none"),
    "predict before fit": (lambda: ShallowDAClassifier().predict(XT),
                           "ShallowDAClassifier is not fitted; call fit(X_s, y_s, X_t) before predict"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_message_is_exact(case):
    call, expected = CASES[case]
    with pytest.raises(DalibError) as err:
        call()
    assert str(err.value) == expected


def test_labels_as_a_column_are_not_taken_for_a_swap():
    # kills: the swap check firing on either sign alone (a (n, 1) label column is accepted)
    column = (np.arange(12) % 2)[:, None]
    assert ShallowDAClassifier().fit(XS, column, XT).predict(XT).shape == (10,)
    assert MEDA(k=2, n_neighbors=3, n_iter=1).fit(XS, column, XT).labels_.shape == (10,)
