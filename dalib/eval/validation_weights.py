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
import torch

from dalib.checks import as_pair
from dalib.errors import DalibError
from dalib.eval.logistic import LogisticProblems, fit_logistic, probabilities, standardised

#: Weights from :func:`validation_weights` are clipped to ``[0, WEIGHT_CLIP_MAX]``.
WEIGHT_CLIP_MAX = 20.0
#: Inverse L2 strengths ``C`` tried for the logistic domain classifier (smallest wins ties).
C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
GROUP = 4  # runs solved together by `validation_weights_batch`


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
    return validation_weights_batch([(val_features, target_features)], folds, random_state)[0]


def _pooled(val_features: np.ndarray, target_features: np.ndarray, folds: int,
            random_state: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(X, y, fold of each row, K) of one pair: source-val rows (y = 0) then target rows (y = 1)."""
    from sklearn.model_selection import StratifiedKFold  # imported by the runs, not by planning

    Xv, Xt = as_pair(val_features, target_features, ("val_features", "target_features"))
    k = min(int(folds), Xv.shape[0], Xt.shape[0])
    if k < 2:
        raise DalibError(f"cross-fitting needs folds >= 2 and at least 2 source-val and 2 target points "
                         f"(got folds={folds}, n_v={Xv.shape[0]}, n_t={Xt.shape[0]}); pass more samples")
    X = np.vstack([Xv, Xt])
    y = np.r_[np.zeros(Xv.shape[0], dtype=int), np.ones(Xt.shape[0], dtype=int)]
    fold = np.empty(len(X), dtype=np.int64)
    for i, (_, held) in enumerate(StratifiedKFold(n_splits=k, shuffle=True, random_state=random_state).split(X, y)):
        fold[held] = i
    return X, y, fold, k


def validation_weights_batch(pairs: list[tuple[np.ndarray, np.ndarray]], folds: int = 5,
                             random_state: int = 0) -> list[np.ndarray]:
    """`validation_weights` of several (val_features, target_features) pairs — the runs of a
    vectorised batch at one epoch — with every run's K folds × ``C_GRID`` logistic regressions
    solved together (`dalib.eval.logistic`), each ``C`` warm-started from the previous one's
    solution (the optimum is unique, so only the path to it changes)."""
    pooled = [_pooled(xv, xt, folds, random_state) for xv, xt in pairs]
    out: list[np.ndarray | None] = [None] * len(pooled)
    # runs of one K and feature size, by length, in groups of at most 4: rows are padded to the
    # longest run of a group, and more than 4 runs at once gained nothing on SURF batches
    def kind(i: int) -> tuple[int, int]:  # (K, d): what runs solved together must share
        return pooled[i][3], pooled[i][0].shape[1]

    groups: list[list[int]] = []
    for i in sorted(range(len(pooled)), key=lambda i: (*kind(i), len(pooled[i][0]))):
        if groups and len(groups[-1]) < GROUP and kind(groups[-1][0]) == kind(i):
            groups[-1].append(i)
        else:
            groups.append([i])
    for members in groups:
        for i, w in zip(members, _weights_of_group([pooled[i] for i in members], pooled[members[0]][3])):
            out[i] = w
    return out  # type: ignore[return-value]


def _weights_of_group(pooled: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]], k: int) -> list[np.ndarray]:
    """The weights of runs with the same K and feature dimension (rows padded to the longest run)."""
    n_max, d = max(len(p[0]) for p in pooled), pooled[0][0].shape[1]
    R = len(pooled)
    X = torch.zeros(R, n_max, d, dtype=torch.float64)
    y = torch.zeros(R, n_max, dtype=torch.float64)
    fold = torch.full((R, n_max), -1, dtype=torch.long)
    for r, (Xr, yr, fr, _) in enumerate(pooled):
        X[r, :len(Xr)], y[r, :len(yr)], fold[r, :len(fr)] = torch.from_numpy(Xr), torch.from_numpy(yr), torch.from_numpy(fr)
    valid = fold >= 0
    train = ((fold[:, None, :] != torch.arange(k)[None, :, None]) & valid[:, None, :]).double()  # (R, K, n)
    mean, std, basis, spectrum = standardised(X, train, valid)
    oof = torch.empty(len(C_GRID), R, n_max, dtype=torch.float64)
    theta = None
    for j, C in enumerate(C_GRID):
        problems = LogisticProblems(X, y, train, mean, std, basis, spectrum, torch.full((R, k), C, dtype=torch.float64))
        theta = fit_logistic(problems, theta)
        oof[j] = probabilities(problems, theta).gather(1, fold.clamp_min(0)[:, None, :])[:, 0]
    P = oof.clamp(1e-12, 1.0 - 1e-12)
    log_loss = (-(y * torch.log(P) + (1 - y) * torch.log1p(-P)) * valid).sum(2) / valid.sum(1)  # (|C|, R)
    best = log_loss.argmin(0)  # ties: the first, i.e. the smallest C
    n_src, n_tgt = (train * (1 - y)[:, None, :]).sum(2), (train * y[:, None, :]).sum(2)  # (R, K) outside each fold
    weights = []
    for r, (Xr, yr, fr, _) in enumerate(pooled):
        n_v = int((yr == 0).sum())
        q = P[best[r], r, :n_v]
        prior = (n_src[r] / n_tgt[r])[fold[r, :n_v]]
        weights.append(np.clip((q / (1.0 - q) * prior).numpy(), 0.0, WEIGHT_CLIP_MAX))
    return weights
