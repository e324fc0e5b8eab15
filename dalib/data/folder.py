"""Office-31-style image folders: ``root/<domain>/<class>/<image>``."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from dalib.data.domain import Domain, check_compatible
from dalib.errors import DalibError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".gif", ".tif", ".tiff", ".webp"}
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def default_transform(image_size: int = 224) -> Callable[[Image.Image], torch.Tensor]:
    """Resize the short side to ``image_size``, centre-crop, tensor (3, s, s), ImageNet-normalise."""
    from torchvision import transforms  # imported when used: torchvision pulls in torch._dynamo (~1 s)

    return transforms.Compose([
        transforms.Resize(image_size), transforms.CenterCrop(image_size),
        transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


class ImageFiles(Dataset):
    """Images read lazily from ``paths`` with class indices ``labels``; yields (transform(img), y)."""

    def __init__(self, paths: list[Path], labels: list[int], transform: Callable[[Image.Image], torch.Tensor]):
        self.paths, self.labels, self.transform = paths, labels, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(read_image(self.paths[i])), self.labels[i]


def read_image(path: Path) -> Image.Image:
    """Open ``path`` as RGB; an unreadable or corrupt file raises a one-line error naming it."""
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError) as err:
        raise DalibError(f"unreadable image {path} ({type(err).__name__}); remove or replace the file") from None


def list_classes(domain_dir: Path) -> list[str]:
    """Sorted class sub-folder names of one domain folder."""
    if not domain_dir.is_dir():
        raise DalibError(f"domain folder not found: {domain_dir}; check --data-root / DALIB_DATA")
    classes = sorted(p.name for p in domain_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DalibError(f"domain folder {domain_dir} has no class sub-folders; expected <domain>/<class>/<image>")
    return classes


def image_folder_domain(root: Path, name: str, short: str | None = None,
                        transform: Callable[[Image.Image], torch.Tensor] | None = None,
                        image_size: int = 224) -> Domain:
    """The domain ``root/name``: one sub-folder per class (sorted names = class indices)."""
    domain_dir = Path(root) / name
    classes = list_classes(domain_dir)
    paths: list[Path] = []
    labels: list[int] = []
    for idx, cls in enumerate(classes):
        files = sorted(p for p in (domain_dir / cls).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        paths += files
        labels += [idx] * len(files)
    dataset = ImageFiles(paths, labels, transform or default_transform(image_size))
    return Domain(name, short or name[0].upper(), classes, dataset, torch.tensor(labels, dtype=torch.long))


def load_image_folders(root: Path, domains: list[str] | None = None,
                       image_size: int = 224) -> list[Domain]:
    """Every domain folder under ``root`` (or those named), checked to share one class set."""
    root = Path(root)
    if not root.is_dir():
        raise DalibError(f"image root not found: {root}; check --data-root / DALIB_DATA")
    names = domains or sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(names) < 2:
        raise DalibError(f"{root} holds {len(names)} domain folder(s); a transfer task needs at least two")
    loaded = [image_folder_domain(root, n, image_size=image_size) for n in names]
    check_compatible(loaded)
    return loaded
