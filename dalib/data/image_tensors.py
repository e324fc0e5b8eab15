"""Decode-and-resize once: an image-folder domain as an in-memory image tensor, cached on disk.

Decoding JPEGs dominates small-image training; `image_tensor_domain` decodes each image once,
stores the resized uint8 pixels as ``.npy`` and afterwards loads them in a fraction of a second.
`random_flip_crop` is the matching on-tensor training augmentation.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from dalib.data import folder
from dalib.data.array_cache import load_array, save_array, writable_cache_dir
from dalib.data.domain import Domain
from dalib.data.views import one_view
from dalib.errors import DalibError

_FORMAT = "resize-short-side+center-crop uint8 (n,3,s,s) v1"  # part of the cache key


def image_tensor_domain(domain: Domain, image_size: int, cache_dir: Path | None = None) -> Domain:
    """``domain`` (an image folder, dataset `folder.ImageFiles`) as an in-memory image-tensor domain.

    Every image is decoded once: resize the short side to ``image_size``, centre-crop, kept as uint8
    (n, 3, s, s) in ``cache_dir/<name>-<s>px-<key>.npy`` (default ``$DALIB_CACHE/images``, see `dalib.data.array_cache`); the key hashes
    the image paths, sizes and mtimes and ``image_size``, so edited folders are decoded again. The
    returned domain's TensorDataset holds x (n, 3, s, s) float32 normalised with the ImageNet mean/std
    (exactly `folder.default_transform(s)` of each image) and the same labels, names and classes.
    """
    if not isinstance(domain.dataset, folder.ImageFiles):
        raise DalibError(f"domain {domain.name!r} is not an image folder (dataset {type(domain.dataset).__name__}); "
                         "load it with image_folder_domain and convert it before subsetting")
    if image_size < 1:
        raise DalibError(f"image_size must be a positive number of pixels, got {image_size}")
    paths = domain.dataset.paths
    directory = writable_cache_dir("images", cache_dir)
    stats = [(str(Path(p).resolve()), Path(p).stat()) for p in paths]
    digest = hashlib.sha256(f"{_FORMAT}|{image_size}".encode())
    for name, st in stats:
        digest.update(f"|{name}|{st.st_size}|{st.st_mtime_ns}".encode())
    stem = re.sub(r"[^\w.-]", "_", domain.name)
    cache = directory / f"{stem}-{image_size}px-{digest.hexdigest()[:24]}.npy"
    pixels = load_array(cache, (len(paths), 3, image_size, image_size), np.uint8)
    if pixels is None:
        pixels = _decode(paths, image_size)
        save_array(cache, pixels)
    mean = torch.tensor(folder.IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(folder.IMAGENET_STD).view(3, 1, 1)
    x = torch.from_numpy(pixels).to(torch.float32).div_(255).sub_(mean).div_(std)  # as ToTensor + Normalize
    return Domain(domain.name, domain.short, list(domain.class_names), ImageTensors(x, domain.labels, paths),
                  domain.labels, domain.texts)


class ImageTensors(TensorDataset):
    """Decoded images (x, y) that remember their files (``paths``), so a cached trunk can
    re-read them at another resolution (`dalib.finetune.trunk_cache`)."""

    def __init__(self, x: Tensor, y: Tensor, paths: list[Path]) -> None:
        super().__init__(x, y)
        self.paths = list(paths)


def random_flip_crop(x: Tensor, pad: int = 4, generator: torch.Generator | None = None) -> Tensor:
    """Training augmentation of an image batch x (n, c, h, w) → (n, c, h, w), on x's device.

    Each image is flipped left–right with probability 0.5, reflect-padded by ``pad`` pixels on every
    side and cropped back to h × w at a uniformly random offset (a shift of up to ±pad pixels).
    ``generator`` (a CPU `torch.Generator`) makes the draws reproducible.
    """
    if x.dim() != 4 or not 0 <= pad < min(x.shape[2:]):
        raise DalibError(f"random_flip_crop expects images (n, c, h, w) with 0 ≤ pad < h, w; got shape "
                         f"{tuple(x.shape)} and pad={pad}")
    n, _, h, w = x.shape
    flip = (torch.rand(n, generator=generator) < 0.5).to(x.device)
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if pad == 0:
        return x
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    dy, dx = torch.randint(0, 2 * pad + 1, (2, n), generator=generator).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (n, 1, h, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (n, 1, 1, w)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, chans, rows, cols]


def _decode(paths: list[Path], image_size: int) -> np.ndarray:
    """uint8 (n, 3, s, s): each image resized (short side) and centre-cropped as `default_transform` does."""
    from torchvision import transforms  # imported when used: torchvision pulls in torch._dynamo (~1 s)

    resize_crop = transforms.Compose([transforms.Resize(image_size), transforms.CenterCrop(image_size)])
    out = np.empty((len(paths), 3, image_size, image_size), dtype=np.uint8)
    for i, path in enumerate(paths):
        out[i] = np.asarray(resize_crop(folder.read_image(path))).transpose(2, 0, 1)
    return out


def flip_crop(x: Tensor, generator: torch.Generator) -> Tensor:
    """The trainer's ``augment`` form of `random_flip_crop` with a ±4-pixel shift."""
    return random_flip_crop(x, 4, generator)


AUGMENTATIONS = {"flip_crop": flip_crop, "views": one_view}  # views: one cached view per sample


def get_augmentation(name: str):
    """The training augmentation called ``name`` ("" means none → None)."""
    if not name:
        return None
    try:
        return AUGMENTATIONS[name]
    except KeyError:
        raise DalibError(f"unknown augmentation {name!r}; choose from {', '.join(AUGMENTATIONS)}") from None
