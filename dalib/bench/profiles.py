"""Per-dataset default model and optimisation settings used by `dalib bench`.

Every method of a table runs with the same profile, so rows differ only in their
alignment terms. Values were chosen on source-val accuracy of source-only runs, never on
target labels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from dalib.data.user_path import reference_layout
from dalib.errors import DalibError
from dalib.models.trunk import parse_trunk, refuse_minilm_cut, validate_trunk
from dalib.train.precision import check_precision


@dataclass(frozen=True)
class Profile:
    """Backbone and training settings for one dataset.

    ``hidden`` and ``dropout`` configure the ``mlp`` backbone; ``weights`` is a local
    state-dict file the backbone starts from (never downloaded); ``backbone_lr_mult`` scales
    the backbone's learning rate relative to the new layers (layer-wise fine-tuning);
    ``augment`` names a training-batch augmentation of `AUGMENTATIONS` ("" for none).
    ``trunk`` runs image backbones as a cached trunk (`dalib.bench.trunk_run`): "" the plain
    path, ``frozen`` / ``top:N`` / ``full``; with a trunk, images are read at ``image_size`` px
    (0: the backbone's own resolution) and ``frozen`` / ``top:N`` cache ``views`` views per
    image (view 0 the centre crop). ``lr_alpha`` and ``lr_beta`` are α and β of the learning-rate
    decay lr·(1 + α·p)^−β over training progress p (DANN's 10 and 0.75; `dalib.train.schedules`).
    ``target_classes`` k > 0 runs the partial-set protocol: the target keeps only its samples of
    the first k classes (`dalib.data.tasks.partial_target`); 0 keeps every class.
    ``precision`` is the training precision, ``fp32`` or ``bf16`` (bfloat16 operands in the
    linear layers' products; `dalib.train.precision`).
    """

    backbone: str = "mlp"
    hidden: tuple[int, ...] = (512,)
    dropout: float = 0.5
    weights: str = ""
    backbone_lr_mult: float = 1.0
    augment: str = ""
    bottleneck_dim: int = 256
    epochs: int = 20
    iters_per_epoch: int | None = None
    batch_size: int = 32
    lr: float = 0.01
    lr_alpha: float = 10.0
    lr_beta: float = 0.75
    weight_decay: float = 5e-4
    optimizer: str = "sgd"
    trunk: str = ""
    image_size: int = 0
    views: int = 10
    target_classes: int = 0
    precision: str = "fp32"

    def __post_init__(self) -> None:
        check_precision(self.precision)
        validate_trunk(self.trunk)
        if self.backbone == "minilm":
            refuse_minilm_cut(parse_trunk(self.trunk))
        if self.backbone == "mlp" and self.trunk:
            raise DalibError(f"trunk {self.trunk!r} needs a backbone with blocks to cut, and this profile's is an MLP "
                             "on feature vectors; use trunk '', or an image dataset / backbone=resnet18 / "
                             "efficientnet_lite0, or a MiniLM token dataset (amazon-sentiment-tokens)")
        if not (self.image_size == 0 or self.image_size >= 32) or self.views < 1:
            raise DalibError(f"profile image_size={self.image_size}, views={self.views}: a trunk needs "
                             "image_size ≥ 32 px (0 for the backbone's own) and views ≥ 1")

    def with_overrides(self, **changes: Any) -> "Profile":
        """A copy with the given fields replaced (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def applied_backbone_lr_mult(self) -> float:
        """The backbone's learning-rate multiplier the trainer uses: ``backbone_lr_mult`` for a
        backbone that starts pretrained (a ``weights`` file, or one of `PRETRAINED_BACKBONES`),
        1.0 for a randomly initialised one, which has nothing to preserve."""
        pretrained = bool(self.weights) or self.backbone in PRETRAINED_BACKBONES
        return self.backbone_lr_mult if pretrained else 1.0


PRETRAINED_BACKBONES = ("minilm",)  # load their own pretrained weights when built


PROFILES: dict[str, Profile] = {
    "rotated-digits": Profile(hidden=(256,), bottleneck_dim=128, epochs=30, batch_size=32),
    # a fixed 50 steps per epoch: with one pass per epoch the 125-sample dslr source got only
    # 60 steps and its source-val accuracy was still rising at the last epoch
    "office-caltech10-surf": Profile(hidden=(256,), bottleneck_dim=128, epochs=20, iters_per_epoch=50),
    # CPU-sized: ResNet-18 on 64-px images decoded once, randomly initialised (all layers at
    # lr); pass --hp profile.weights=FILE to start from pretrained weights, and the backbone
    # then learns at 0.1× the head's rate (`Profile.applied_backbone_lr_mult`)
    "office-caltech10-images": Profile(backbone="resnet18", bottleneck_dim=256, epochs=10, iters_per_epoch=30,
                                       backbone_lr_mult=0.1, augment="flip_crop"),
    # frozen MiniLM sentence embeddings (384-d) → MLP; 500 steps
    "amazon-sentiment": Profile(hidden=(256,), bottleneck_dim=128, epochs=10, iters_per_epoch=50),
    # full fine-tuning of MiniLM, CPU-sized: 2 × 100 steps of 16 reviews, Adam with the encoder
    # at 0.1× the new layers' rate
    "amazon-sentiment-tokens": Profile(backbone="minilm", bottleneck_dim=256, epochs=2, iters_per_epoch=100,
                                       batch_size=16, lr=2e-4, weight_decay=0.0, optimizer="adam",
                                       backbone_lr_mult=0.1),
}
PROFILES["amazon-sentiment-tokens-headtail"] = PROFILES["amazon-sentiment-tokens"]  # same reviews, other truncation


IMAGE_FOLDER_PROFILE = "office-caltech10-images"  # the profile a folder of your own images gets


def profile_for(dataset: str) -> Profile:
    """The dataset's profile; a folder of your own images (`dalib.data.user_path`) gets the
    profile of `IMAGE_FOLDER_PROFILE`, anything else the generic default."""
    if dataset in PROFILES:
        return PROFILES[dataset]
    return PROFILES[IMAGE_FOLDER_PROFILE] if reference_layout(dataset) == "images" else Profile()
