"""Views of an image and the on-disk cache of a frozen trunk prefix (`dalib.finetune.trunk_cache`)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torchvision import transforms

from dalib.data import folder
from dalib.data.folder import default_transform, image_folder_domain
from dalib.data.views import ViewRecipe, crop_box, one_view, render_views
from dalib.finetune.trunk_cache import cached_trunk, centre_features, image_domain, prefix_outputs
from dalib.models import Classifier, build_backbone
from dalib.models.trunk import TrunkCut

S = 32  # px: the smallest input a ResNet takes, to keep every forward cheap


@pytest.fixture
def images(tmp_path, monkeypatch):
    """An image folder domain root/toy/<a|b|c>/<i>.png (3 classes × 2 images of different sizes);
    caches go to tmp_path/cache."""
    monkeypatch.setenv("DALIB_CACHE", str(tmp_path / "cache"))
    gen = torch.Generator().manual_seed(0)
    for c, cls in enumerate("abc"):
        (tmp_path / "toy" / cls).mkdir(parents=True)
        for i, (w, h) in enumerate([(48, 36), (37, 52)]):
            pixels = torch.randint(0, 256, (h, w, 3), generator=gen, dtype=torch.uint8).numpy()
            Image.fromarray(pixels).save(tmp_path / "toy" / cls / f"{i}.png")
    return image_folder_domain(tmp_path, "toy")


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return build_backbone("resnet18", 0)


class TinyNet(nn.Module):
    """A backbone that lists trunk blocks, small enough to build many caches quickly: stem (conv,
    BatchNorm with non-trivial running statistics, ReLU), two conv blocks, head (pool + flatten)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.arch, self.feature_dim = "tiny", 6
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.BatchNorm2d(4), nn.ReLU())
        self.block1 = nn.Sequential(nn.Conv2d(4, 5, 3), nn.ReLU())
        self.block2 = nn.Sequential(nn.Conv2d(5, 6, 3), nn.ReLU())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.stem[1].running_mean.uniform_(-1, 1)
        self.stem[1].running_var.uniform_(0.5, 2)

    def trunk_blocks(self) -> list[tuple[str, nn.Module]]:
        return [("stem", self.stem), ("block1", self.block1), ("block2", self.block2), ("head", self.head)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _, block in self.trunk_blocks():
            x = block(x)
        return x


def test_view_zero_is_the_centre_crop_and_random_views_follow_the_seed(images):
    image = folder.read_image(images.dataset.paths[1])
    recipe = ViewRecipe(S, 4)
    views = render_views(image, recipe, 1)
    # kills: a random view in position 0, or another resize than folder.default_transform
    assert views.shape == (4, 3, S, S) and torch.allclose(views[0], default_transform(S)(image), atol=1e-6)
    assert torch.equal(render_views(image, recipe, 1), views)  # the same (seed, index): the same pixels
    other_index, other_seed = render_views(image, recipe, 2), render_views(image, ViewRecipe(S, 4, seed=1), 1)
    assert torch.equal(other_index[0], views[0]) and not torch.equal(other_index[1:], views[1:])
    assert not torch.equal(other_seed[1:], views[1:])


def test_crop_boxes_are_torchvisions_random_resized_crop():
    # torchvision draws from the global generator, crop_box from its own: seeded alike they must
    # agree box for box, including the fallback of an image too thin for any crop (10 × 1000).
    # kills: swapped h / w, the scale applied to a side instead of the area, a uniform (not
    # log-uniform) aspect ratio, offsets drawn in another order
    recipe = ViewRecipe(S, 2, scale=(0.3, 0.9), ratio=(0.7, 1.4))
    for seed in range(40):
        for height, width in [(300, 400), (37, 52), (10, 1000)]:
            torch.manual_seed(seed)
            expected = transforms.RandomResizedCrop.get_params(torch.empty(3, height, width),
                                                               list(recipe.scale), list(recipe.ratio))
            assert crop_box(height, width, recipe, torch.Generator().manual_seed(seed)) == tuple(expected)


def test_one_view_keeps_the_view_its_generator_draws():
    x = torch.arange(5 * 3 * 2, dtype=torch.float32).view(5, 3, 2)
    picked = one_view(x, torch.Generator().manual_seed(7))
    k = torch.randint(0, 3, (5,), generator=torch.Generator().manual_seed(7))
    # kills: always view 0, one view for the whole batch
    assert picked.shape == (5, 1, 2) and torch.equal(picked[:, 0], x[torch.arange(5), k]) and len(set(k.tolist())) > 1


@pytest.mark.parametrize("cut", [TrunkCut("frozen"), TrunkCut("top", 2)])
def test_cached_path_gives_the_uncached_logits_on_every_view(images, resnet, cut):
    # kills: the prefix run in train mode (batch BatchNorm statistics), views stored in the wrong
    # rows, the suffix starting one block early or late
    recipe = ViewRecipe(S, 3)
    (domain,), trunk = cached_trunk([images], resnet.train(), cut, recipe, dtype=np.float32, say=lambda _: None)
    assert resnet.training  # building the cache restored the backbone's mode
    torch.manual_seed(1)
    full = Classifier(resnet, 3, 8).eval()
    cached = Classifier(trunk, 3, 8).eval()
    cached.load_state_dict({k: v for k, v in full.state_dict().items() if not k.startswith("backbone.")}, strict=False)
    for i in (0, 5):
        x_views, _ = domain.dataset[i]
        views = render_views(folder.read_image(images.dataset.paths[i]), recipe, i)
        with torch.no_grad():
            expected = full(views)[1]
            got = torch.cat([cached(x_views[k:k + 1][None])[1] for k in range(3)])
        assert torch.allclose(got, expected, atol=1e-5, rtol=0)


def test_float16_activations_stay_close(images):
    recipe, tiny = ViewRecipe(S, 2), TinyNet()
    half, _ = prefix_outputs(images, tiny, TrunkCut("top", 1), recipe, say=lambda _: None)
    single, _ = prefix_outputs(images, tiny, TrunkCut("top", 1), recipe, np.float32, say=lambda _: None)
    assert half.dtype == np.float16 and single.dtype == np.float32 and single.shape[:2] == (6, 2)
    assert np.allclose(half, single, rtol=1e-3, atol=1e-3 * np.abs(single).max())


def test_every_key_part_misses_and_the_same_key_hits(images, tmp_path):
    lines: list[str] = []
    tiny, recipe, cut = TinyNet(), ViewRecipe(S, 2), TrunkCut("top", 1)

    def hit(domain=images, backbone=tiny, cut=cut, recipe=recipe, dtype=None):
        return prefix_outputs(domain, backbone, cut, recipe, dtype, say=lines.append)[1]

    assert not hit() and hit()
    assert lines[0].startswith("trunk cache: toy, 6 images × 2 views at 32 px") and "6/6 images" in lines[-1]
    changed = TinyNet()
    with torch.no_grad():
        changed.stem[1].running_mean[0] += 0.1  # a buffer, not a parameter
    Image.new("RGB", (40, 40)).save(tmp_path / "toy" / "c" / "2.png")
    grown = image_folder_domain(tmp_path, "toy")
    for other in (dict(backbone=changed), dict(cut=TrunkCut("top", 2)), dict(recipe=ViewRecipe(40, 2)),
                  dict(recipe=ViewRecipe(S, 3)), dict(recipe=ViewRecipe(S, 2, scale=(0.5, 1.0))),
                  dict(recipe=ViewRecipe(S, 2, ratio=(1.0, 1.0))), dict(recipe=ViewRecipe(S, 2, seed=3)),
                  dict(recipe=ViewRecipe(S, 2, mean=(0.5, 0.5, 0.5))), dict(recipe=ViewRecipe(S, 2, std=(0.5,) * 3)),
                  dict(dtype=np.float32), dict(domain=grown)):
        assert not hit(**other) and hit(**other), other
    path = images.dataset.paths[3]
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # an edited image
    assert not hit() and hit()


def test_a_rebuilt_cache_is_bit_identical_and_a_damaged_file_is_a_miss(images, tmp_path):
    recipe, tiny = ViewRecipe(S, 3), TinyNet()
    first, _ = prefix_outputs(images, tiny, TrunkCut("frozen"), recipe, say=lambda _: None)
    (file,) = (tmp_path / "cache" / "trunk").glob("*.npy")
    file.write_bytes(b"damaged")
    again, hit = prefix_outputs(images, tiny, TrunkCut("frozen"), recipe, say=lambda _: None)
    assert not hit and np.array_equal(first, again) and first.shape == (6, 3, 6)
    centre = centre_features(images, tiny, recipe, say=lambda _: None)
    assert torch.equal(centre.tensors[0], torch.from_numpy(first[:, 0])) and torch.equal(centre.labels, images.labels)


@pytest.mark.parametrize("mean, std", [(folder.IMAGENET_MEAN, folder.IMAGENET_STD), ((0.5,) * 3, (0.25,) * 3)])
def test_the_full_path_sees_the_centre_view_with_the_recipes_normalisation(images, mean, std):
    # kills: full-path images left with the ImageNet mean / std when the backbone expects another
    recipe = ViewRecipe(S, 1, mean=mean, std=std)
    x = image_domain(images, recipe).tensors[0]
    for i, path in enumerate(images.dataset.paths):
        assert torch.allclose(x[i], render_views(folder.read_image(path), recipe, i)[0], atol=1e-5, rtol=0)


def test_progress_lines_count_images_and_rate(images):
    lines: list[str] = []
    prefix_outputs(images, TinyNet(), TrunkCut("frozen"), ViewRecipe(S, 1), say=lines.append)
    done = lines[-1].split(": ")[1]
    assert done.startswith("6/6 images, ") and math.isfinite(float(done.split(", ")[1].split()[0]))
