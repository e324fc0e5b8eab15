"""Augmented views of an image, fixed once per image, and the domain that holds them.

A cached trunk (`dalib.finetune.trunk_cache`) runs a frozen network once per view instead of
once per training step. `render_views` draws the V views of one image: view 0 is the centre crop
(resize the short side to s, centre-crop s × s, exactly `folder.default_transform`), views
1 … V−1 are random-resized crops with a random horizontal flip, drawn by a generator seeded
from the recipe's seed and the image's index, so the same recipe always gives the same pixels.
`views_domain` holds per-image arrays (n, V, *shape); `one_view` is the training augmentation
that keeps one view per sample.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from dalib.data.domain import Domain
from dalib.data.folder import IMAGENET_MEAN, IMAGENET_STD
from dalib.errors import DalibError


@dataclass(frozen=True)
class ViewRecipe:
    """How the V views of an image are drawn and normalised.

    ``image_size`` s: every view is s × s; ``views`` V ≥ 1 (view 0 = centre crop); ``scale``
    (lo, hi): the crop's area as a fraction of the image, ``ratio`` (lo, hi): its aspect ratio
    w/h, both sampled as torchvision's RandomResizedCrop (area uniform, log-ratio uniform);
    ``seed`` fixes every random view; ``mean`` / ``std``: per-channel input normalisation
    (x − mean) / std of pixels in [0, 1].
    """

    image_size: int = 224
    views: int = 10
    scale: tuple[float, float] = (0.25, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    seed: int = 0
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self) -> None:
        lo, hi = self.scale
        if self.image_size < 1 or self.views < 1:
            raise DalibError(f"views need image_size ≥ 1 and views ≥ 1, got image_size={self.image_size}, "
                             f"views={self.views}")
        if not 0 < lo <= hi <= 1 or not 0 < self.ratio[0] <= self.ratio[1]:
            raise DalibError(f"view crop scale {self.scale} / ratio {self.ratio} must satisfy 0 < lo ≤ hi (≤ 1 "
                             "for the scale); e.g. scale=(0.25, 1.0), ratio=(0.75, 1.333)")

    def describe(self) -> str:
        """Every field, as text (part of a cache key)."""
        return (f"s={self.image_size}|V={self.views}|scale={self.scale}|ratio={self.ratio}|seed={self.seed}"
                f"|mean={self.mean}|std={self.std}|flip=0.5")


def image_seed(seed: int, index: int) -> int:
    """The 63-bit seed of image ``index``'s random views: sha256("seed:index")."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{index}".encode()).digest()[:8], "big") >> 1


def crop_box(height: int, width: int, recipe: ViewRecipe, generator: torch.Generator) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a random-resized crop, as torchvision's RandomResizedCrop draws it.

    Up to 10 tries of area A·U(scale) and aspect exp(U(log ratio)), w = round(√(area·aspect)),
    h = round(√(area / aspect)), accepted when it fits, at a uniform offset; else the largest
    centred crop whose aspect is clamped to ``ratio``.
    """
    area = height * width
    log_lo, log_hi = math.log(recipe.ratio[0]), math.log(recipe.ratio[1])
    for _ in range(10):
        target = area * float(torch.empty(()).uniform_(*recipe.scale, generator=generator))
        aspect = math.exp(float(torch.empty(()).uniform_(log_lo, log_hi, generator=generator)))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (), generator=generator))
            left = int(torch.randint(0, width - w + 1, (), generator=generator))
            return top, left, h, w
    aspect = width / height
    if aspect < recipe.ratio[0]:
        w, h = width, round(width / recipe.ratio[0])
    elif aspect > recipe.ratio[1]:
        h, w = height, round(height * recipe.ratio[1])
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def render_views(image: Image.Image, recipe: ViewRecipe, index: int) -> Tensor:
    """The V normalised views of one RGB image: (V, 3, s, s) float32.

    View 0: resize the short side to s (bilinear, antialiased), centre-crop s × s. View k ≥ 1:
    `crop_box` resized to s × s, flipped left–right with probability ½, all drawn from a
    generator seeded with `image_seed(recipe.seed, index)`. Each view is (pixels/255 − mean)/std.
    """
    s = recipe.image_size
    from torchvision.transforms import functional as TF  # imported when used: torchvision pulls in torch._dynamo (~1 s)

    crops = [TF.center_crop(TF.resize(image, s), [s, s])]
    generator = torch.Generator().manual_seed(image_seed(recipe.seed, index))
    for _ in range(recipe.views - 1):
        top, left, h, w = crop_box(image.height, image.width, recipe, generator)
        crop = TF.resized_crop(image, top, left, h, w, [s, s], antialias=True)
        flip = bool(torch.rand((), generator=generator) < 0.5)
        crops.append(TF.hflip(crop) if flip else crop)
    pixels = torch.stack([TF.pil_to_tensor(c) for c in crops]).to(torch.float32).div_(255)
    mean = torch.tensor(recipe.mean).view(1, 3, 1, 1)
    std = torch.tensor(recipe.std).view(1, 3, 1, 1)
    return pixels.sub_(mean).div_(std)


class ViewsDataset(Dataset):
    """Per-sample arrays of V views: item i is (views[i] (V, *shape), labels[i])."""

    def __init__(self, views: Tensor, labels: Tensor) -> None:
        if views.dim() < 2 or len(views) != len(labels):
            raise DalibError(f"views of shape {tuple(views.shape)} do not match {len(labels)} labels; "
                             "expected (n, V, *shape)")
        self.views, self.labels = views, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.views[i], self.labels[i]


def views_domain(domain: Domain, views: Tensor) -> Domain:
    """``domain`` (same name, classes, labels, texts) with its samples replaced by ``views``
    (n, V, *shape). It is not an in-memory `TensorDataset` domain: consumers of raw inputs
    (input-space PAD, shallow methods) do not mistake V stacked views for one input."""
    return Domain(domain.name, domain.short, list(domain.class_names), ViewsDataset(views, domain.labels),
                  domain.labels, domain.texts)


def one_view(x: Tensor, generator: torch.Generator) -> Tensor:
    """Training augmentation of cached views: x (b, V, *shape) → (b, 1, *shape), view k_i ~ U{0 … V−1}
    for sample i, drawn from ``generator`` (a CPU `torch.Generator`)."""
    if x.dim() < 3:
        raise DalibError(f"one_view expects cached views (b, V, *shape), got shape {tuple(x.shape)}; "
                         "use it only with a cached trunk")
    pick = torch.randint(0, x.shape[1], (len(x),), generator=generator).to(x.device)
    return x[torch.arange(len(x), device=x.device), pick].unsqueeze(1)
