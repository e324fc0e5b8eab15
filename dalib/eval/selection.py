"""Model selection from stored per-epoch records (see ../shared/PROTOCOLS.md).

Only ``oracle`` reads target labels; tables built with it say so.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch.nn import functional as F

from dalib.errors import DalibError
from dalib.eval.metrics import Predictions
from dalib.eval.scores import dev_risk, iwv_risk, snd_score
from dalib.eval.validation_weights import validation_weights_batch

Epoch = dict[str, Any]


def _stored_score(epoch: Epoch, name: str) -> float:
    """The epoch's stored unsupervised score ``name`` (``iwv``, ``dev`` or ``snd``)."""
    try:
        return float(epoch["scores"][name])
    except KeyError:
        raise DalibError(f"run records have no {name!r} score; rerun them with this dalib version") from None


# protocol → (utility of an epoch, higher is better; one-line description). ``last`` picks the
# final epoch and compares hyper-parameter settings by their last-epoch source-val accuracy.
PROTOCOLS: dict[str, tuple[Callable[[Epoch], float], str]] = {
    "last": (lambda e: e["source_val_acc"], "last epoch (no target labels)"),
    "source-val": (lambda e: e["source_val_acc"], "best source-val accuracy (no target labels)"),
    "entropy": (lambda e: -e["target_entropy"], "lowest mean target prediction entropy (no target labels)"),
    "iwv": (lambda e: -_stored_score(e, "iwv"), "lowest importance-weighted source-val risk, IWV (no target labels)"),
    "dev": (lambda e: -_stored_score(e, "dev"), "lowest deep embedded validation risk, DEV (no target labels)"),
    "snd": (lambda e: _stored_score(e, "snd"), "highest soft neighbourhood density, SND (no target labels)"),
    "oracle": (lambda e: e["target_acc"], "ORACLE: best target accuracy (uses target labels)"),
}


def utility(epoch: Epoch, protocol: str) -> float:
    """How good the protocol finds an epoch (higher is better); compares hyper-parameters too."""
    return PROTOCOLS[protocol][0](epoch)


def check_protocol(name: str) -> None:
    """Raise a one-line error for an unknown protocol."""
    if name not in PROTOCOLS:
        raise DalibError(f"unknown selection protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")


def select_epoch(epochs: list[Epoch], protocol: str) -> Epoch:
    """The epoch record the protocol picks (ties go to the later epoch)."""
    check_protocol(protocol)
    if not epochs:
        raise DalibError("run has no epoch records; rerun it")
    if len(epochs) == 1 or protocol == "last":  # one epoch (e.g. shallow methods): nothing to select
        return epochs[-1]
    return epochs[max(range(len(epochs)), key=lambda i: (utility(epochs[i], protocol), i))]


def describe(protocol: str) -> str:
    """Human-readable description of a protocol, for table titles."""
    check_protocol(protocol)
    return PROTOCOLS[protocol][1]


def uses_target_labels(protocol: str) -> bool:
    """Whether the protocol needs target labels (only ``oracle``)."""
    return protocol == "oracle"


def unsupervised_scores(val: Predictions, target: Predictions, max_target: int = 2000) -> dict[str, float]:
    """Per-epoch scores for IWV, DEV and SND from source-val and (unlabelled) target outputs.

    Weights ``w_i = p_t/p_s`` at the source-val points come from the cross-fitted domain
    classifier of `dalib.eval.validation_weights` on the bottleneck features (``val.features``
    ``(n_v, d)``, ``target.features`` ``(n_t, d)``); ``l_i`` is the source-val cross-entropy.
    As published, both IWV (``mean(w * l)``) and DEV use the raw weights.  At most
    ``max_target`` target samples (the first ones, a fixed subset) enter the weights and SND, to
    bound the cost.
    """
    return unsupervised_scores_batch([(val, target)], max_target)[0]


def unsupervised_scores_batch(pairs: list[tuple[Predictions, Predictions]],
                              max_target: int = 2000) -> list[dict[str, float]]:
    """`unsupervised_scores` of several runs' (source-val, target) outputs of one epoch (the runs
    of a vectorised batch): their validation weights are fitted together."""
    losses = [F.cross_entropy(v.logits, v.labels, reduction="none").double().numpy() for v, _ in pairs]
    weights = validation_weights_batch([(v.features.double().numpy(), t.features[:max_target].double().numpy())
                                        for v, t in pairs])
    return [{"iwv": iwv_risk(loss, w), "dev": dev_risk(loss, w),
             "snd": snd_score(torch.softmax(t.logits[:max_target].double(), 1).numpy())}
            for loss, w, (_, t) in zip(losses, weights, pairs)]
