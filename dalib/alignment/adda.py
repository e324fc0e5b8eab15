"""ADDA: adversarial discriminative domain adaptation (Tzeng, Hoffman, Saenko & Darrell, CVPR 2017)."""

from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dalib.alignment.adversarial import DomainDiscriminator, domain_adversarial_loss
from dalib.alignment.base import Discrepancy
from dalib.alignment.registry import register
from dalib.errors import DalibError
from dalib.update_steps import StepBatch, UpdateStep


@register("adda", family="adversarial", weight=1.0, pretrain=0.5, hidden=500, depth=2, dropout=0.0)
class ADDA(Discrepancy):
    """ADDA: a target encoder, initialised from the source one, trained to fool a domain discriminator.

    Stage 1 (progress p < ``pretrain``): the whole model is trained on the usual objective
    (source cross-entropy, plus any single-step terms), which makes it the source encoder M_s
    and classifier h. Stage 2, at the first step with p ≥ ``pretrain``: M_s is copied into this
    term and frozen (no gradient, eval mode); the model's own encoder becomes the target
    encoder M_t, starting from M_s, and h stays fixed. Each stage-2 iteration runs

    * discriminator — min over D of ½·[mean_i BCE(D(M_s(x_i^s)), 1) + mean_j BCE(D(M_t(x_j^t)), 0)];
    * target encoder — min over M_t of λ·mean_j BCE(D(M_t(x_j^t)), 1), the inverted-label GAN loss.

    D is a `DomainDiscriminator` (paper: two hidden layers of 500, no dropout). The model that is
    evaluated after stage 2 is M_t + h, on source-val and target alike. Every step uses the
    trainer's optimizer and learning-rate schedule (the paper uses Adam). ``forward(f_s, f_t)``
    returns the discriminator loss on given features (f_s (n_s, d), f_t (n_t, d)).
    """

    multi_step = True
    needs_model = True

    def __init__(self, feature_dim: int, num_classes: int, model: nn.Module, pretrain: float = 0.5,
                 hidden: int = 500, depth: int = 2, dropout: float = 0.0) -> None:
        super().__init__(feature_dim, num_classes)
        if not 0.0 < pretrain < 1.0:
            raise DalibError(f"adda: pretrain (the fraction of training spent on source pre-training) must be "
                             f"in (0, 1), got {pretrain}")
        self.pretrain = pretrain
        self.discriminator = DomainDiscriminator(feature_dim, hidden, depth, dropout)
        self.source_encoder = copy.deepcopy(model).requires_grad_(False).eval()
        self.register_buffer("adapting", torch.zeros((), dtype=torch.bool))

    def train(self, mode: bool = True) -> "ADDA":
        """Train mode for the discriminator; the frozen source encoder always stays in eval mode."""
        super().train(mode)
        self.source_encoder.eval()
        return self

    def forward(self, f_s: Tensor, f_t: Tensor, *, logits_s: Tensor | None = None,
                logits_t: Tensor | None = None, y_s: Tensor | None = None,
                w_s: Tensor | None = None, progress: float = 0.0) -> Tensor:
        return domain_adversarial_loss(self.discriminator, f_s, f_t)

    def update_steps(self, batch: StepBatch) -> Sequence[UpdateStep]:
        if batch.progress < self.pretrain:
            def pretrain() -> tuple[Tensor, dict[str, Tensor]]:
                f_s, z_s, f_t, z_t = batch.forward()
                return batch.objective(f_s, z_s, f_t, z_t, batch.ws)

            return [UpdateStep("pretrain", pretrain, ("features", "head", "term"))]
        if not self.adapting:
            self.source_encoder.load_state_dict(batch.model.state_dict())
            self.adapting.fill_(True)

        def discriminate() -> tuple[Tensor, dict[str, Tensor]]:
            with torch.no_grad():
                f_s = self.source_encoder(batch.xs)[0]
                f_t = batch.model(batch.xt)[0]
            loss = self(f_s, f_t)
            return loss, {"adda/discriminator": loss.detach()}

        def confuse() -> tuple[Tensor, dict[str, Tensor]]:
            d_t = self.discriminator(batch.model(batch.xt)[0]).squeeze(1)
            loss = F.binary_cross_entropy_with_logits(d_t, torch.ones_like(d_t))
            return batch.lam * loss, {"adda": loss.detach()}

        return [UpdateStep("discriminator", discriminate, ("term",)),
                UpdateStep("target_encoder", confuse, ("features",))]
