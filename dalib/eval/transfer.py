"""Transfer gain, negative transfer and the proxy A-distance (see ../shared/PROTOCOLS.md).

Accuracies may be fractions or percentages; every function returns values in the units it was
given.
"""

from __future__ import annotations

import math

import numpy as np
from threadpoolctl import threadpool_limits

from dalib.errors import DalibError
from dalib.checks import as_pair, as_vector

#: :func:`proxy_a_distance` subsamples each domain to at most this many points.
PAD_MAX_PER_DOMAIN = 2000


def _finite(x: object, name: str) -> float:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DalibError(f"{name}={x!r} is not a number; pass a float") from None
    if not math.isfinite(v):
        raise DalibError(f"{name} is {v}; pass a finite number (check the run that produced it)")
    return v


def transfer_gain(method_accs: list[float], source_only_accs: list[float]) -> tuple[float, float | None]:
    """Transfer gain of a method over source-only, as ``(mean, std)`` over seeds.

    ``method_accs`` and ``source_only_accs`` are per-seed target accuracies, paired by index (seed
    ``k`` of the method against seed ``k`` of source-only, same selection protocol).  Per-seed gain
    ``g_k = acc_k(method) - acc_k(source-only)``; returns ``(mean(g), std(g, ddof=1))``, with
    ``std = None`` for a single seed (a sample std needs two; 0 would claim certainty and make
    any negative gain look like negative transfer).  Positive = the adaptation helped.
    """
    m = as_vector(method_accs, "method_accs")
    s = as_vector(source_only_accs, "source_only_accs")
    if m.size != s.size:
        raise DalibError(
            f"method_accs has {m.size} seeds but source_only_accs has {s.size}; "
            "run both with the same seeds"
        )
    g = m - s
    return float(g.mean()), (float(g.std(ddof=1)) if g.size > 1 else None)


def is_negative_transfer(mean: float, std: float) -> bool:
    """Whether a task shows negative transfer: the mean gain is below 0 by more than its std,
    i.e. ``mean < 0 and -mean > std`` (``mean``, ``std`` from :func:`transfer_gain`)."""
    mu = _finite(mean, "mean")
    sd = _finite(std, "std")
    if sd < 0:
        raise DalibError(f"std={sd} is negative; pass a standard deviation (>= 0)")
    return mu < 0 and -mu > sd


def negative_transfer_gap(acc_method: float, acc_target_only: float) -> float:
    """Negative-transfer gap (Wang, Dai, Póczos & Carbonell, CVPR 2019).

    ``NTG = err_T(method) - err_T(target-only) = acc_target_only - acc_method`` (both accuracies
    on the same held-out target half, same units).  Positive NTG: the source data hurt compared
    with training on the target's own labels.
    """
    return _finite(acc_target_only, "acc_target_only") - _finite(acc_method, "acc_method")


def _halves(X: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Seeded subsample to at most PAD_MAX_PER_DOMAIN rows, split 50/50 into (train, test)."""
    idx = rng.permutation(X.shape[0])[:PAD_MAX_PER_DOMAIN]
    half = idx.size // 2
    return X[idx[half:]], X[idx[:half]]


def proxy_a_distance(features_s: np.ndarray, features_t: np.ndarray, random_state: int = 0) -> float:
    """Proxy A-distance (Ben-David, Blitzer, Crammer & Pereira, NIPS 2007; Ganin et al., JMLR 2016).

    ``features_s`` ``(n_s, d)``, ``features_t`` ``(n_t, d)``, each with ``n >= 2``.  Each domain is
    subsampled (seeded by ``random_state``) to at most ``PAD_MAX_PER_DOMAIN = 2000`` points and
    split 50/50 into train and held-out halves.  A linear domain classifier -- logistic regression
    (``C=1.0``, ``class_weight='balanced'``) on features standardised with the train halves'
    statistics -- is fitted on the train halves; ``eps`` is its held-out **balanced** error (mean
    of the source and target error rates, which equals the plain error for equal sizes and keeps
    chance at 0.5 when ``n_s != n_t``).  Returns ``PAD = 2 (1 - 2 eps)``: ~0 for indistinguishable
    domains, 2 for linearly separable ones.  Reported raw, not clipped: for indistinguishable
    domains ``eps`` fluctuates around 0.5, so small negative values are sampling noise (read as 0).
    """
    from sklearn.linear_model import LogisticRegression  # imported by the runs, not by planning
    from sklearn.preprocessing import StandardScaler

    Xs, Xt = as_pair(features_s, features_t, ("features_s", "features_t"), min_samples=2)
    rng = np.random.default_rng(random_state)
    (s_tr, s_te), (t_tr, t_te) = _halves(Xs, rng), _halves(Xt, rng)
    X_tr = np.vstack([s_tr, t_tr])
    y_tr = np.r_[np.zeros(len(s_tr), dtype=int), np.ones(len(t_tr), dtype=int)]
    with threadpool_limits(limits=1, user_api="blas"):
        scaler = StandardScaler().fit(X_tr)
        clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000, random_state=random_state)
        clf.fit(scaler.transform(X_tr), y_tr)
        err_s = float(np.mean(clf.predict(scaler.transform(s_te)) != 0))
        err_t = float(np.mean(clf.predict(scaler.transform(t_te)) != 1))
    eps = 0.5 * (err_s + err_t)
    return 2.0 * (1.0 - 2.0 * eps)
