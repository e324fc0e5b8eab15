"""Every bad input to the reweighting estimators gives this exact one-line message.

Exact text: the checks pass the estimator's and the argument's names into the message; a message
that loses either (None, another case, another argument) no longer tells the user what to fix.
"""

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import LinearSVC

from dalib.errors import DalibError
from dalib.reweighting import (KLIEP, KMM, DiscriminativeRatio, ReweightedClassifier, TrAdaBoost,
                               effective_sample_size, estimate_weights)
from dalib.reweighting.weighted import make_weighting

RNG = np.random.default_rng(0)
X, Y = RNG.normal(size=(12, 2)), np.arange(12) % 2
X3 = RNG.normal(size=(4, 3))


def fitted(est, *args):
    return est.fit(*args)


CASES = {
    "estimate unknown": (lambda: estimate_weights("nope", X, X),
                         "unknown weight estimator 'nope'; use one of ['discriminative', 'kliep', 'kmm']"),
    "weighting unknown": (lambda: make_weighting("nope"),
                          "unknown weighting 'nope'; use one of ['discriminative', 'kliep', 'kmm'] or an "
                          "estimator instance"),
    "weighting no fit": (lambda: make_weighting(3),
                         "weighting 3 has no fit(X_s, X_t); pass a name or a weight estimator"),
    "reweighted sample_weight": (lambda: ReweightedClassifier("kmm", KNeighborsClassifier()).fit(X, Y, X),
                                 "KNeighborsClassifier.fit has no sample_weight; pick a base estimator that "
                                 "takes one"),
    "reweighted labels": (lambda: ReweightedClassifier("kmm").fit(X, Y[:-1], X),
                          "y_s has shape (11,) but the features have 12 rows; pass one label per row"),
    "reweighted before fit": (lambda: ReweightedClassifier().predict(X),
                              "ReweightedClassifier.predict called before fit; call fit(X_s, y_s, X_t) first"),
    "reweighted features": (lambda: fitted(ReweightedClassifier("discriminative"), X, Y, X).predict(X3),
                            "X has 3 features but the model was fitted on 2"),
    "reweighted X": (lambda: fitted(ReweightedClassifier("discriminative"), X, Y, X).predict(X[:, 0]),
                     "X has shape (12,), expected (n, d); use X.reshape(-1, 1) for a single feature"),
    "tradaboost sample_weight": (lambda: TrAdaBoost(KNeighborsClassifier()).fit(X, Y, X, Y),
                                 "KNeighborsClassifier.fit has no sample_weight; pick a base estimator that "
                                 "takes one"),
    "tradaboost rounds": (lambda: TrAdaBoost(n_estimators=0).fit(X, Y, X, Y),
                          "TrAdaBoost got n_estimators=0; use at least 1 round"),
    "tradaboost y_s": (lambda: TrAdaBoost().fit(X, Y[:-1], X, Y),
                       "y_s has shape (11,) but the features have 12 rows; pass one label per row"),
    "tradaboost y_t": (lambda: TrAdaBoost().fit(X, Y, X, Y[:-1]),
                       "y_t has shape (11,) but the features have 12 rows; pass one label per row"),
    "tradaboost classes": (lambda: TrAdaBoost().fit(X, np.arange(12) % 3, X, Y),
                           "TrAdaBoost is binary-only but the labels have 3 classes; pass two classes (wrap it "
                           "in one-vs-rest for more)"),
    "tradaboost before fit": (lambda: TrAdaBoost().predict(X),
                              "TrAdaBoost.predict called before fit; call fit(X_s, y_s, X_t, y_t) first"),
    "tradaboost features": (lambda: fitted(TrAdaBoost(n_estimators=1), X, Y, X, Y).predict(X3),
                            "X has 3 features but TrAdaBoost was fitted on 2"),
    "tradaboost X": (lambda: fitted(TrAdaBoost(n_estimators=1), X, Y, X, Y).predict([[np.nan, 1.0]]),
                     "X contains NaN or inf; impute or drop those rows first"),
    "discriminative proba": (lambda: DiscriminativeRatio(LinearSVC()).fit(X, X),
                             "LinearSVC has no predict_proba; pass a probabilistic classifier"),
    "discriminative folds": (lambda: DiscriminativeRatio(cross_fit=13).fit(X, X),
                             "cross_fit=13 needs 2 <= cross_fit <= min(n_s, n_t); use None to disable"),
    "discriminative clip": (lambda: DiscriminativeRatio(clip_min=-1.0).fit(X, X),
                            "clip range [-1.0, 20.0] is invalid; need 0 <= clip_min < clip_max"),
    "discriminative before fit": (lambda: DiscriminativeRatio().density_ratio(X),
                                  "DiscriminativeRatio.density_ratio called before fit; call fit(X_s, X_t) first"),
    "discriminative features": (lambda: fitted(DiscriminativeRatio(), X, X).density_ratio(X3),
                                "X has 3 features but the domain classifier was fitted on 2"),
    "discriminative X": (lambda: fitted(DiscriminativeRatio(), X, X).density_ratio(np.ones((0, 2))),
                         "X has shape (0, 2) but needs at least 1 sample(s) and one feature; pass more rows"),
    "kliep before fit": (lambda: KLIEP().density_ratio(X),
                         "KLIEP.density_ratio called before fit; call fit(X_s, X_t) first"),
    "kliep features": (lambda: fitted(KLIEP(sigma=1.0), X, X).density_ratio(X3),
                       "X has 3 features but KLIEP was fitted on 2"),
    "kliep X": (lambda: fitted(KLIEP(sigma=1.0), X, X).density_ratio(X[:, :, None]),
                "X has shape (12, 2, 1), expected (n, d); use X.reshape(-1, 1) for a single feature"),
    "kliep centres": (lambda: KLIEP(n_centres=0).fit(X, X), "KLIEP got n_centres=0; use at least 1 centre"),
    "kliep sigma": (lambda: KLIEP(sigma=0.0).fit(X, X),
                    "KLIEP got sigma=0.0; the kernel width must be > 0 (or None)"),
    "kliep cv": (lambda: KLIEP(cv=13).fit(X, X),
                 "KLIEP got cv=13 with n_t=12; need 2 <= cv <= n_t (or pass sigma)"),
    "kliep widths": (lambda: KLIEP(width_factors=()).fit(X, X),
                     "KLIEP width_factors must be a non-empty list of positive numbers"),
    "kliep no mass": (lambda: KLIEP(sigma=1e-3).fit(X, X + 100.0),
                      "KLIEP: no kernel centre has mass on the source; increase the kernel width"),
    "kmm B": (lambda: KMM(B=np.inf).fit(X, X), "KMM got B=inf; the weight upper bound B must be finite and > 0"),
    "kmm B zero": (lambda: KMM(B=0.0).fit(X, X), "KMM got B=0.0; the weight upper bound B must be finite and > 0"),
    "kliep zero width": (lambda: KLIEP(width_factors=(1.0, 0.0)).fit(X, X),
                         "KLIEP width_factors must be a non-empty list of positive numbers"),
    "labels nan": (lambda: ReweightedClassifier("kmm").fit(X, np.where(Y > 0, np.nan, 0.0), X),
                   "y_s contains NaN or inf; drop those rows first"),
    "kmm eps": (lambda: KMM(eps=-0.5).fit(X, X), "KMM got eps=-0.5; the sum-band width eps must be >= 0"),
    "kmm infeasible": (lambda: KMM(B=0.5, eps=0.25).fit(X, X),
                       "KMM constraints are infeasible (B=0.5 < 1 - eps=0.75); raise B or eps"),
    "kmm sigma": (lambda: KMM(sigma=-1.0).fit(X, X),
                  "KMM got sigma=-1.0; the kernel width must be > 0 (or None)"),
    "ess empty": (lambda: effective_sample_size([]),
                  "effective_sample_size got an empty weight vector; pass at least one weight"),
    "ess nan": (lambda: effective_sample_size([1.0, np.nan]),
                "effective_sample_size got NaN/inf weights; fix the weight estimator or its inputs"),
    "ess negative": (lambda: effective_sample_size([1.0, -1.0]),
                     "effective_sample_size got negative weights; importance weights must be >= 0"),
    "ess zero": (lambda: effective_sample_size([0.0, 0.0]),
                 "effective_sample_size got all-zero weights; the weight estimator collapsed"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_message_is_exact(case):
    call, expected = CASES[case]
    with pytest.raises(DalibError) as err:
        call()
    assert str(err.value) == expected


def test_bad_option_names_the_estimator_class():
    with pytest.raises(DalibError) as err:
        estimate_weights("kliep", X, X, bogus=1)
    msg = str(err.value)
    assert msg.startswith("bad options for 'kliep': ") and msg.endswith("; see help(dalib.reweighting.KLIEP)")
    assert "bogus" in msg

