"""Speed of the cached trunk on this machine: cache building (images/s) and training steps/s of
``frozen``, ``top:1`` and ``full``, each as a ratio to ``full``.

    .venv/bin/python benchmarks/trunk_cache.py [--images 32] [--views 2] [--batch 32] [--threads 2]

EfficientNet-Lite0 when it is available, else ResNet-18 (random weights: speed does not depend
on them), at the backbone's own resolution; real Office-Caltech10 webcam images when the shared
data is found, else synthetic ones. A training step = one batch of ``--batch`` through the part
that trains (forward, cross-entropy, backward, SGD), its inputs drawn as the trainer draws them
(one cached view per sample for the cached modes). About 1–3 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image
from torch.nn import functional as F

from dalib.data.catalog import dataset_dir, get_spec
from dalib.data.domain import Domain
from dalib.data.folder import image_folder_domain
from dalib.data.root import find_data_root
from dalib.data.sampling import BatchStream
from dalib.data.views import one_view
from dalib.finetune.trunk_cache import image_domain, prefix_outputs, trunk_inputs, view_recipe
from dalib.models import Classifier, build_backbone
from dalib.models.backbones import BACKBONES
from dalib.models.trunk import TrunkCut


def image_set(n: int, scratch: Path) -> tuple[Domain, str]:
    """``n`` images: the first of webcam (Office-Caltech10) when the shared data exists, else synthetic."""
    root = find_data_root()
    if root is not None and (root / "office_caltech10_images").is_dir():
        webcam = image_folder_domain(dataset_dir(get_spec("office-caltech10-images"), root), "webcam")
        return _first(webcam, n), "office-caltech10 webcam"
    gen = torch.Generator().manual_seed(0)
    for i in range(n):
        (scratch / "toy" / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        pixels = torch.randint(0, 256, (300, 400, 3), generator=gen, dtype=torch.uint8).numpy()
        Image.fromarray(pixels).save(scratch / "toy" / f"c{i % 2}" / f"{i}.jpg")
    return image_folder_domain(scratch, "toy"), "synthetic 400×300 JPEGs"


def _first(domain: Domain, n: int) -> Domain:
    """The first ``n`` images of an image-folder domain, still an image-folder domain."""
    ds = domain.dataset
    files = type(ds)(ds.paths[:n], ds.labels[:n], ds.transform)
    return Domain(domain.name, domain.short, domain.class_names, files, domain.labels[:n])


def steps_per_second(model: torch.nn.Module, domain: Domain, cached: bool, batch: int, steps: int,
                     num_classes: int) -> float:
    """Training steps per second after one warm-up step."""
    stream = BatchStream(domain, batch, torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)
    model.train()
    start = 0.0
    for i in range(steps + 1):
        if i == 1:
            start = time.perf_counter()
        x, y, _ = next(stream)
        x = one_view(x, gen) if cached else x
        loss = F.cross_entropy(model(x)[1], y % num_classes)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--views", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    name = "efficientnet_lite0" if "efficientnet_lite0" in BACKBONES else "resnet18"
    recipe = view_recipe(name, 0, args.views)
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["DALIB_CACHE"] = str(Path(scratch) / "cache")
        images, source = image_set(args.images, Path(scratch))
        print(f"{name}, {recipe.image_size} px, {len(images)} images ({source}) × {recipe.views} views, "
              f"batch {args.batch}, {torch.get_num_threads()} threads")
        torch.manual_seed(0)
        backbone = build_backbone(name, 0)
        rates, domains = {}, {}
        for cut in (TrunkCut("frozen"), TrunkCut("top", 1)):
            start = time.perf_counter()
            prefix_outputs(images, backbone, cut, recipe, say=lambda _: None)
            rates[str(cut)] = len(images) / (time.perf_counter() - start)
        full_domain = image_domain(images, recipe)
        print(f"cache building: frozen {rates['frozen']:.2f} images/s ({rates['frozen'] * recipe.views:.1f} views/s), "
              f"top:1 {rates['top:1']:.2f} images/s")
        steps = {}
        for text, n in (("frozen", 20), ("top:1", 4), ("full", 1)):
            if text == "full":
                model, domain, cached = Classifier(backbone, 2, 256), full_domain, False
            else:
                (domain,), trunk = trunk_inputs([images], backbone, TrunkCut("top", 1) if text == "top:1"
                                                else TrunkCut("frozen"), recipe, say=lambda _: None)
                model, cached = Classifier(trunk, 2, 256), True
            steps[text] = steps_per_second(model, domain, cached, args.batch, n, 2)
        for text, rate in steps.items():
            print(f"steps/s {text:>6}: {rate:8.3f}  ({1 / rate:7.3f} s per step of {args.batch}), "
                  f"{rate / steps['full']:7.1f}× full")
        print(f"cache building vs a full training step: {rates['frozen'] / (args.batch * steps['full']):.1f}× the "
              "images per second (forward in eval mode, no backward)")


if __name__ == "__main__":
    main()
