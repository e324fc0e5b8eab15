"""Unsupervised model-selection scores from one evaluated epoch (see ../shared/PROTOCOLS.md).

Every score takes numpy arrays for a single epoch and returns a float; the selection protocols
(``iwv``, ``dev``, ``snd``) pick the epoch with the best score (lowest risk, highest SND).
Neither function reads target labels.

Weights for ``iwv`` / ``dev`` come from `dalib.eval.validation_weights` (cross-fitted, not
renormalised: DEV's control variate ``eta * (mean(w) - 1)`` is identically zero for weights forced
to mean 1, which would make ``dev`` the same protocol as ``iwv``).
"""

from __future__ import annotations

import numpy as np

from dalib.errors import DalibError
from dalib.checks import as_matrix, as_vector


def _losses_and_weights(val_losses: object, val_weights: object) -> tuple[np.ndarray, np.ndarray]:
    loss = as_vector(val_losses, "val_losses")
    w = as_vector(val_weights, "val_weights")
    if loss.shape != w.shape:
        raise DalibError(
            f"val_losses has {loss.size} entries but val_weights has {w.size}; pass one weight per loss"
        )
    if np.any(w < 0):
        raise DalibError("val_weights has negative entries; importance weights must be >= 0")
    return loss, w


def iwv_risk(val_losses: np.ndarray, val_weights: np.ndarray) -> float:
    """Importance-weighted validation risk (Sugiyama, Krauledat & Müller, JMLR 2007).

    ``risk = mean_i(w_i * l_i)`` over the source-val set, with ``val_losses`` ``l`` of shape
    ``(n_v,)`` (per-sample loss, e.g. cross-entropy) and ``val_weights`` ``w`` ``(n_v,)``, ``w >= 0``
    (density ratio ``p_t/p_s`` at each source-val point).  An estimate of the target risk;
    **lower is better**.
    """
    loss, w = _losses_and_weights(val_losses, val_weights)
    return float(np.mean(w * loss))


def dev_risk(val_losses: np.ndarray, val_weights: np.ndarray) -> float:
    """Deep embedded validation risk (You, Wang, Cao, Long & Wang, ICML 2019).

    With ``l`` = ``val_losses`` ``(n_v,)`` and ``w`` = ``val_weights`` ``(n_v,)``, ``w >= 0``:
    ``L = w * l``; ``eta = -Cov(L, w) / Var(w)`` (both with ``ddof=1``, so the ratio matches the
    paper's estimator); ``risk = mean(L) + eta * mean(w) - eta``.  ``w`` is a control variate
    with known mean ``E_s[w] = 1``, so the risk stays unbiased and has lower variance than
    :func:`iwv_risk` when ``L`` and ``w`` are correlated.  If ``Var(w) = 0`` (constant weights,
    or ``n_v = 1``) then ``eta = 0`` and the risk is ``mean(L)``.  **Lower is better.**
    """
    loss, w = _losses_and_weights(val_losses, val_weights)
    weighted = w * loss
    if w.size < 2:
        return float(weighted.mean())
    dw = w - w.mean()
    var_w = float(np.dot(dw, dw)) / (w.size - 1)
    if var_w <= np.finfo(np.float64).eps * float(np.mean(w * w)):
        return float(weighted.mean())
    cov = float(np.dot(weighted - weighted.mean(), dw)) / (w.size - 1)
    eta = -cov / var_w
    return float(weighted.mean() + eta * w.mean() - eta)


def snd_score(target_probs: np.ndarray, tau: float = 0.05, chunk_rows: int | None = None) -> float:
    """Soft neighbourhood density (Saito, Kim, Teterwak, Sclaroff, Darrell & Saenko, ICCV 2021).

    ``target_probs`` ``(n_t, C)``: softmax outputs on the target (rows sum to 1, ``n_t >= 2``).
    Rows are L2-normalised to ``f_i``; ``s_ij = <f_i, f_j> / tau`` for ``j != i``;
    ``q_i = softmax_j(s_ij)`` over the other ``n_t - 1`` points; ``SND = mean_i H(q_i)`` with
    ``H(q) = -sum_j q_j log q_j`` (nats).  **Higher is better**: points whose neighbourhood is
    dense (many near neighbours in prediction space, e.g. confident predictions grouped by class)
    score high.  Ranges over ``[0, log(n_t - 1)]``; ``K`` equal one-hot clusters of ``m`` points
    score ``~ log(m - 1)``, and identical rows (a collapsed model) score the maximum
    ``log(n_t - 1)`` -- a known blind spot of SND, so compare epochs of one run, not degenerate
    models.  Rows are processed in chunks of ``chunk_rows`` (default: ~4M similarities per chunk,
    ~32 MB), so memory is ``O(n_t)`` per row, not ``O(n_t^2)``.
    """
    P = as_matrix(target_probs, "target_probs")
    if not (np.isfinite(tau) and tau > 0):
        raise DalibError(f"tau={tau} is invalid; pass a positive temperature such as 0.05")
    n = P.shape[0]
    if n < 2:
        raise DalibError("target_probs has fewer than 2 rows; SND needs at least 2 target samples")
    if np.any(P < 0) or not np.allclose(P.sum(1), 1.0, atol=1e-3):
        raise DalibError("target_probs rows are not probability vectors; apply softmax to the logits first")
    F = P / np.linalg.norm(P, axis=1, keepdims=True)
    step = max(1, (1 << 22) // n) if chunk_rows is None else int(chunk_rows)
    if step < 1:
        raise DalibError(f"chunk_rows={chunk_rows} is invalid; pass a positive integer or None")
    total = 0.0
    for start in range(0, n, step):
        rows = np.arange(start, min(start + step, n))
        S = F[rows] @ F.T
        S *= 1.0 / tau
        diag = (np.arange(rows.size), rows)
        S[diag] = -np.inf
        S -= S.max(axis=1, keepdims=True)
        E = np.exp(S)  # 0 on the diagonal
        S[diag] = 0.0  # avoid 0 * -inf below
        Z = E.sum(axis=1)
        # H(q_i) = log Z_i - sum_j q_ij s_ij  with q_ij = E_ij / Z_i (shifted s_ij)
        total += float(np.sum(np.log(Z) - np.einsum("ij,ij->i", E, S) / Z))
    return total / n

