"""Model selection from stored per-epoch records (see ../shared/PROTOCOLS.md).

Only ``oracle`` reads target labels; tables built with it say so.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import torch
from torch.nn import functional as F

from dalib.errors import DalibError
from dalib.eval.metrics import Predictions
from dalib.eval.scores import dev_risk, iwv_risk, snd_score, validation_weights
from dalib.reweighting import LowESSWarning

Epoch = dict[str, Any]


def _best(value: Callable[[Epoch], float], higher: bool) -> Callable[[list[Epoch]], int]:
    """Index of the best epoch by ``value``; ties go to the later epoch."""
    sign = 1.0 if higher else -1.0
    return lambda eps: max(range(len(eps)), key=lambda i: (sign * value(eps[i]), i))


def _score(name: str) -> Callable[[Epoch], float]:
    def get(epoch: Epoch) -> float:
        try:
            return float(epoch["scores"][name])
        except KeyError:
            raise DalibError(f"run records have no {name!r} score; rerun them with this dalib version") from None
    return get


# protocol → (function choosing an epoch index, one-line description)
PROTOCOLS: dict[str, tuple[Callable[[list[Epoch]], int], str]] = {
    "last": (lambda eps: len(eps) - 1, "last epoch (no target labels)"),
    "source-val": (_best(lambda e: e["source_val_acc"], True), "best source-val accuracy (no target labels)"),
    "entropy": (_best(lambda e: e["target_entropy"], False),
                "lowest mean target prediction entropy (no target labels)"),
    "iwv": (_best(_score("iwv"), False), "lowest importance-weighted source-val risk, IWV (no target labels)"),
    "dev": (_best(_score("dev"), False), "lowest deep embedded validation risk, DEV (no target labels)"),
    "snd": (_best(_score("snd"), True), "highest soft neighbourhood density, SND (no target labels)"),
    "oracle": (_best(lambda e: e["target_acc"], True), "ORACLE: best target accuracy (uses target labels)"),
}


def check_protocol(name: str) -> None:
    """Raise a one-line error for an unknown protocol."""
    if name not in PROTOCOLS:
        raise DalibError(f"unknown selection protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")


def select_epoch(epochs: list[Epoch], protocol: str) -> Epoch:
    """The epoch record the protocol picks (ties go to the later epoch)."""
    check_protocol(protocol)
    if not epochs:
        raise DalibError("run has no epoch records; rerun it")
    if len(epochs) == 1:  # e.g. shallow methods: nothing to select
        return epochs[0]
    return epochs[PROTOCOLS[protocol][0](epochs)]


def describe(protocol: str) -> str:
    """Human-readable description of a protocol, for table titles."""
    check_protocol(protocol)
    return PROTOCOLS[protocol][1]


def uses_target_labels(protocol: str) -> bool:
    """Whether the protocol needs target labels (only ``oracle``)."""
    return protocol == "oracle"


def unsupervised_scores(val: Predictions, target: Predictions, max_target: int = 2000) -> dict[str, float]:
    """Per-epoch scores for IWV, DEV and SND from source-val and (unlabelled) target outputs.

    Weights w = p_t/p_s at the source-val points come from a domain classifier on the
    bottleneck features; ℓ_i is the source-val cross-entropy. IWV uses w rescaled to mean 1,
    DEV the raw w (its control variate needs them). At most ``max_target`` target
    samples (the first ones, a fixed subset) enter the weights and SND, to bound the cost.
    """
    losses = F.cross_entropy(val.logits, val.labels, reduction="none").double().numpy()
    f_t, z_t = target.features[:max_target].double().numpy(), target.logits[:max_target].double()
    with warnings.catch_warnings():  # a low ESS is expected early in training; not worth a warning per epoch
        warnings.simplefilter("ignore", LowESSWarning)
        weights = validation_weights(val.features.double().numpy(), f_t)
    # IWV on weights rescaled to mean 1 (their raw mean drifts with the domain classifier);
    # DEV on the raw weights: its control variate η·(mean(w) − 1) needs them
    return {"iwv": iwv_risk(losses, weights / max(weights.mean(), 1e-12)), "dev": dev_risk(losses, weights),
            "snd": snd_score(torch.softmax(z_t, 1).numpy())}
