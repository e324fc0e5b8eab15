"""Predictions, accuracy and prediction entropy of a classifier on a domain."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from dalib.data.domain import Domain
from dalib.data.sampling import iterate_in_order


@dataclass
class Predictions:
    """Model outputs on every sample of a domain: features (n, d), logits (n, C), labels (n,)."""

    features: Tensor
    logits: Tensor
    labels: Tensor

    @property
    def accuracy(self) -> float:
        """Fraction of samples whose arg-max logit equals the label."""
        return float((self.logits.argmax(1) == self.labels).float().mean())

    @property
    def mean_entropy(self) -> float:
        """mean_i H(softmax(z_i)) = −mean_i Σ_c p_ic log p_ic (nats)."""
        return float(prediction_entropy(self.logits).mean())


def prediction_entropy(logits: Tensor) -> Tensor:
    """Per-sample Shannon entropy (n,) of softmax(logits)."""
    logp = torch.log_softmax(logits, dim=1)
    return -(logp.exp() * logp).sum(1)


@torch.no_grad()
def predict(model: nn.Module, domain: Domain, batch_size: int = 1024,
            device: str | torch.device | None = None, num_workers: int = 0) -> Predictions:
    """Run ``model`` (returning ``(features, logits)``) in eval mode over all of ``domain``, on
    ``device`` (default: the device of the model's parameters, the CPU if it has none)."""
    if device is None:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training = model.training
    model.eval()
    feats, logits, labels = [], [], []
    for x, y in iterate_in_order(domain, batch_size, num_workers):
        f, z = model(x.to(device))
        feats.append(f.cpu())
        logits.append(z.cpu())
        labels.append(torch.as_tensor(y))
    model.train(was_training)
    return Predictions(torch.cat(feats), torch.cat(logits), torch.cat(labels))
