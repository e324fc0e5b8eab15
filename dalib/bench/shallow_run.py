"""Runs of shallow (scikit-learn) methods in the same harness: ``shallow_<adapter>_<classifier>``.

``shallow_coral_1nn`` adapts features with `dalib.shallow.CORAL` and classifies with 1-NN;
``shallow_none_svm`` is the unadapted linear-SVM baseline; ``shallow_kmm_lr`` fits a logistic
regression with KMM instance weights (any of `dalib.reweighting.WEIGHT_ESTIMATORS`, with the
``lr`` or ``svm`` classifier, which take ``sample_weight``). ``shallow_meda`` runs the transductive
`dalib.shallow.MEDA` classifier (no separate adapter or classifier; source-val rows are scored
with its learned kernel expansion). ``shallow_tfidf_lr`` is the text baseline: TF-IDF of the raw
texts (``Domain.texts``; vocabulary from source and unlabelled target texts) and logistic
regression. The protocol is the deep one:
fit on the source train split (80%) and all unlabelled target samples; the record has one
"epoch" holding source-val accuracy and target accuracy.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from dalib.data.domain import Domain
from dalib.data.tasks import Task, split_source
from dalib.errors import DalibError
from dalib.reweighting import WEIGHT_ESTIMATORS, ReweightedClassifier, effective_sample_size
from dalib.bench.shallow_names import TFIDF, parse_shallow
from dalib.shallow import MEDA, SHALLOW_METHODS, ShallowDAClassifier, make_classifier

def _classifier(name: str) -> BaseEstimator:
    return LogisticRegression(max_iter=2000) if name == "logistic_regression" else make_classifier(name)


def execute_shallow(method: str, task: Task, seed: int, hparams: dict[str, Any],
                    heldout: np.ndarray | None = None) -> dict[str, Any]:
    """Fit adapter + classifier on (source train, target) and score source-val and target
    (all of it, and the ``heldout`` indices the target-only reference is evaluated on)."""
    adapter_name, clf = parse_shallow(method)
    source_train, source_val = split_source(task.source, seed)
    if method == TFIDF:
        return _execute_tfidf(source_train, source_val, task, hparams, heldout)
    tensors = [d.tensors for d in (source_train, source_val, task.target)]
    if any(t is None for t in tensors):
        raise DalibError(f"shallow method {method!r} needs in-memory features; use a feature dataset")
    (xs, ys), (xv, yv), (xt, yt) = [(t[0].double().numpy(), t[1].numpy()) for t in tensors]  # type: ignore[index]
    start = time.perf_counter()
    extra: dict[str, Any] = {}
    try:
        if adapter_name in WEIGHT_ESTIMATORS:
            weighted = ReweightedClassifier(WEIGHT_ESTIMATORS[adapter_name](**hparams), _classifier(clf))
            weighted.fit(xs, ys, xt)
            val_pred, tgt_pred = weighted.predict(xv), weighted.predict(xt)
            extra["ess_fraction"] = effective_sample_size(weighted.weights_) / len(ys)
        elif adapter_name == "meda":
            meda = MEDA(**hparams).fit(xs, ys, xt)
            val_pred, tgt_pred = meda.predict(xv), meda.labels_
        else:
            model = ShallowDAClassifier(SHALLOW_METHODS[adapter_name](**hparams), _classifier(clf)).fit(xs, ys, xt)
            val_pred = model.classifier_.predict(model.adapter_.transform(xv, domain="source"))
            tgt_pred = model.predict(xt)
    except TypeError as err:
        raise DalibError(f"bad hyper-parameters for {method!r}: {err}") from None
    return _record(val_pred, yv, tgt_pred, yt, heldout, time.perf_counter() - start, len(ys), extra)


def _record(val_pred: np.ndarray, yv: np.ndarray, tgt_pred: np.ndarray, yt: np.ndarray, heldout: np.ndarray | None,
            seconds: float, n_train: int, extra: dict[str, Any]) -> dict[str, Any]:
    """A shallow run's record: one "epoch" with source-val and target accuracy."""
    tgt_acc = float(np.mean(tgt_pred == yt))  # target labels: reporting only
    epoch = {"epoch": 1, "step": 0, "losses": {}, "source_val_acc": float(np.mean(val_pred == yv)),
             "target_acc": tgt_acc, "target_entropy": float("nan"), "lr": 0.0,
             "target_heldout_acc": None if heldout is None else float(np.mean(tgt_pred[heldout] == yt[heldout]))}
    return {"epochs": [epoch], "seconds": seconds, **extra,
            "n_source_train": n_train, "n_source_val": len(yv), "n_target": len(yt)}


def _execute_tfidf(source_train: Domain, source_val: Domain, task: Task, hparams: dict[str, Any],
                   heldout: np.ndarray | None) -> dict[str, Any]:
    from dalib.text.tfidf import TfidfLinear

    if source_train.texts is None or task.target.texts is None or source_val.texts is None:
        raise DalibError(f"{TFIDF} needs raw texts; use a text dataset such as amazon-sentiment")
    start = time.perf_counter()
    try:
        model = TfidfLinear(**hparams).fit(source_train.texts, source_train.labels.numpy(), task.target.texts)
    except TypeError as err:
        raise DalibError(f"bad hyper-parameters for {TFIDF!r}: {err}") from None
    yv, yt = source_val.labels.numpy(), task.target.labels.numpy()
    return _record(model.predict(source_val.texts), yv, model.predict(task.target.texts), yt, heldout,
                   time.perf_counter() - start, len(source_train), {})
