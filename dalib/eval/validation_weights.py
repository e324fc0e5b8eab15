"""Cross-fitted density ratio ``w = p_t / p_s`` at the source-val points, for IWV and DEV.

IWV (Sugiyama et al., JMLR 2007) and DEV (You et al., ICML 2019) weight each source-val loss by
``w(x) = p_t(x) / p_s(x)``, estimated with a domain classifier (Bickel et al., ICML 2007).  A
classifier scored on the points it was fitted on memorises them: with source and target drawn
from one distribution (true ``w = 1``), ``n_v = 60`` source-val points and ``d = 128``, in-sample
weights averaged 0.07.  You et al. therefore fit their discriminator on a split that excludes the
points it weights; here every point gets its probability from a classifier that never saw it
(K-fold cross-fitting), and the regularisation is chosen by the held-out log-loss of those same
out-of-fold probabilities, so an uninformative classifier shrinks to the prior (``w = 1``)
instead of producing noise.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from dalib.checks import as_pair
from dalib.errors import DalibError

#: Weights from :func:`validation_weights` are clipped to ``[0, WEIGHT_CLIP_MAX]``.
WEIGHT_CLIP_MAX = 20.0
#: Inverse L2 strengths ``C`` tried for the logistic domain classifier (smallest wins ties).
C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


def _out_of_fold_target_probs(X: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
                              Cs: tuple[float, ...]) -> np.ndarray:
    """``P[j, i] = p(target | X_i)`` from the classifier with ``C = Cs[j]`` fitted on the folds
    that exclude point ``i`` (features standardised with those folds' statistics)."""
    P = np.empty((len(Cs), X.shape[0]))
    for train, held in folds:
        scaler = StandardScaler().fit(X[train])
        X_train, X_held = scaler.transform(X[train]), scaler.transform(X[held])
        for j, C in enumerate(Cs):
            clf = LogisticRegression(C=C, max_iter=1000).fit(X_train, y[train])
            P[j, held] = clf.predict_proba(X_held)[:, list(clf.classes_).index(1)]
    return np.clip(P, 1e-12, 1.0 - 1e-12)


def validation_weights(val_features: np.ndarray, target_features: np.ndarray, folds: int = 5,
                       random_state: int = 0) -> np.ndarray:
    """Cross-fitted density ratio ``w_i = p_t(x_i) / p_s(x_i)`` at each source-val point.

    ``val_features`` ``(n_v, d)`` (source-val) and ``target_features`` ``(n_t, d)`` -> ``(n_v,)``.
    The pooled sample (labels 0 = source-val, 1 = target) is split into ``K = min(folds, n_v,
    n_t)`` stratified folds (``StratifiedKFold(K, shuffle=True, random_state)``).  For fold ``k``
    and each ``C`` in ``C_GRID``, an L2 logistic regression fitted on the other folds (features
    standardised with their mean and std) gives ``q_C(x) = p(t | x)`` on fold ``k``.  ``C*``
    minimises the out-of-fold log-loss ``-mean_i [y_i log q_C(x_i) + (1-y_i) log(1-q_C(x_i))]``
    over all pooled points (ties: the smallest ``C``).  By Bayes' rule with the priors of the
    folds that fitted it,

        ``w_i = q_C*(x_i) / (1 - q_C*(x_i)) * n_v^(-k) / n_t^(-k)``,

    where ``n_v^(-k)``, ``n_t^(-k)`` count source-val and target points outside fold ``k``; then
    clipped to ``[0, WEIGHT_CLIP_MAX]`` = ``[0, 20]``.  ``E_s[w] = 1`` for the true ratio, and the
    weights are **not** renormalised: DEV's control variate ``eta * (mean(w) - 1)`` needs them
    raw.  A classifier with no signal is shrunk to the prior, so indistinguishable domains give
    ``w ~ 1`` (mean 1.00 at ``n_v = 60``, ``d = 128``).  Needs ``n_v, n_t >= 2``.
    """
    Xv, Xt = as_pair(val_features, target_features, ("val_features", "target_features"))
    k = min(int(folds), Xv.shape[0], Xt.shape[0])
    if k < 2:
        raise DalibError(f"cross-fitting needs folds >= 2 and at least 2 source-val and 2 target points "
                         f"(got folds={folds}, n_v={Xv.shape[0]}, n_t={Xt.shape[0]}); pass more samples")
    X = np.vstack([Xv, Xt])
    y = np.r_[np.zeros(Xv.shape[0], dtype=int), np.ones(Xt.shape[0], dtype=int)]
    splits = list(StratifiedKFold(n_splits=k, shuffle=True, random_state=random_state).split(X, y))
    with threadpool_limits(limits=1, user_api="blas"):
        P = _out_of_fold_target_probs(X, y, splits, C_GRID)
    log_loss = -(y * np.log(P) + (1 - y) * np.log1p(-P)).mean(axis=1)
    q = P[int(np.argmin(log_loss))]
    w = np.empty(Xv.shape[0])
    for train, held in splits:
        src = held[held < Xv.shape[0]]
        prior = np.sum(y[train] == 0) / np.sum(y[train] == 1)
        w[src] = q[src] / (1.0 - q[src]) * prior
    return np.clip(w, 0.0, WEIGHT_CLIP_MAX)
