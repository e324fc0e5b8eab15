"""FixMatch-style consistency on the target (Sohn et al., NeurIPS 2020), as a domain-adaptation term."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dalib.alignment.base import Discrepancy
from dalib.alignment.entropy import target_logits
from dalib.alignment.registry import register
from dalib.errors import DalibError
from dalib.update_steps import StepBatch, UpdateStep


def strong_view(x: Tensor, drop: float, noise: float) -> Tensor:
    """x ⊙ m / (1 − ρ) + σ·s·ε: inverted dropout with rate ρ = ``drop`` on every input element
    (m ~ Bernoulli(1 − ρ)), plus Gaussian noise ε ~ N(0, 1) scaled by σ = ``noise`` times the
    batch's per-element standard deviation s (over dim 0). Draws from torch's global RNG (seeded
    per run and saved in checkpoints). x (n, ...) → same shape."""
    out = F.dropout(x, drop, training=True) if drop > 0 else x
    if noise > 0:
        scale = x.std(0, keepdim=True) if len(x) > 1 else torch.ones_like(x[:1])
        out = out + noise * scale * torch.randn_like(x)
    return out


def strong_input(model: nn.Module, x: Tensor, drop: float, noise: float) -> Tensor:
    """The strong view of a model input x (n, ...): `strong_view` of x itself, or, where the
    model's backbone defines ``perturb_input(x, view)``, of the part it names perturbable (the
    MiniLM top layers: the hidden-state channels of packed states, never the attention mask).
    Integer inputs (token ids) have no strong view: one-line error naming the cached-trunk fix."""
    perturb = getattr(getattr(model, "backbone", None), "perturb_input", None)
    if perturb is not None:
        return perturb(x, lambda part: strong_view(part, drop, noise))
    if not x.is_floating_point():
        raise DalibError(f"fixmatch: the strong view perturbs float inputs, got {x.dtype} (token ids?); "
                         "fine-tune on cached states instead (--profile trunk=top:N) or use float features")
    return strong_view(x, drop, noise)


def consistency_loss(weak_logits: Tensor, strong_logits: Tensor, threshold: float) -> Tensor:
    """L_u = (1/n)·Σ_j 1[max_c p_jc ≥ τ]·CE(strong_logits_j, argmax_c p_jc), p = softmax(weak_logits)
    (detached: no gradient through the pseudo-labels); weak and strong logits (n, C), τ = ``threshold``.
    The mean is over all n samples, masked ones counting 0 (FixMatch's normalisation)."""
    with torch.no_grad():
        confidence, pseudo = F.softmax(weak_logits, dim=1).max(1)
        mask = (confidence >= threshold).to(strong_logits.dtype)
    return (mask * F.cross_entropy(strong_logits, pseudo, reduction="none")).mean()


@register("fixmatch", family="self-training", weight=1.0, threshold=0.95, drop=0.3, noise=0.1)
class FixMatch(Discrepancy):
    """FixMatch: a confident prediction on a weak target view labels a strong view of the same sample (Sohn et al., NeurIPS 2020).

    Views: the weak view is the target batch as the data layer gives it (with the profile's
    ``augment`` when set; for a cached trunk, the cached view drawn for the sample); the strong
    view is `strong_input` of it — feature dropout (``drop`` ρ = 0.3) and Gaussian noise
    (``noise`` σ = 0.1 batch stds, `strong_view`) on the model's input: the feature vector, the
    cached trunk features, or the pixels; on MiniLM's packed states only the hidden channels (the
    attention mask is kept, so no token is masked or unmasked). (The paper's RandAugment + Cutout
    on images is not used.) One step over all parameters minimises the usual objective + λ·`consistency_loss`(weak, strong) with
    τ = ``threshold`` 0.95 and λ = 1, the paper's defaults. It has no ``forward``: the loss
    needs the model's output on a new view, which only its update step can compute.
    """

    multi_step = True

    def __init__(self, feature_dim: int, num_classes: int, threshold: float = 0.95, drop: float = 0.3,
                 noise: float = 0.1) -> None:
        super().__init__(feature_dim, num_classes)
        if not 0.0 < threshold <= 1.0:
            raise DalibError(f"fixmatch: threshold τ must be in (0, 1], got {threshold}")
        if not 0.0 <= drop < 1.0 or noise < 0:
            raise DalibError(f"fixmatch: drop={drop}, noise={noise}; the strong view needs 0 ≤ drop < 1 "
                             "and noise ≥ 0")
        self.threshold, self.drop, self.noise = threshold, drop, noise

    def update_steps(self, batch: StepBatch) -> Sequence[UpdateStep]:
        def step() -> tuple[Tensor, dict[str, Tensor]]:
            f_s, z_s, f_t, z_t = batch.forward()
            loss, parts = batch.objective(f_s, z_s, f_t, z_t, batch.ws)
            _, strong = batch.model(strong_input(batch.model, batch.xt, self.drop, self.noise))
            u = consistency_loss(z_t, target_logits(strong, self.num_classes, "fixmatch"), self.threshold)
            return loss + batch.lam * u, {**parts, "fixmatch": u.detach()}

        return [UpdateStep("consistency", step, ("features", "head", "term"))]
