"""Decode-once image tensors: values, labels, the on-disk cache, and the tensor augmentation."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from torch.nn import functional as F

from dalib.data import folder
from dalib.data.folder import default_transform, image_folder_domain
from dalib.data.image_tensors import image_tensor_domain, random_flip_crop
from dalib.errors import DalibError


@pytest.fixture
def tiny_folder(tmp_path):
    """root/toy/<a|b>/<i>.png: 2 classes × 3 RGB images of different sizes."""
    gen = torch.Generator().manual_seed(0)
    for c, cls in enumerate("ab"):
        (tmp_path / "toy" / cls).mkdir(parents=True)
        for i, (w, h) in enumerate([(40, 30), (25, 50), (33, 33)]):
            pixels = torch.randint(0, 256, (h, w, 3), generator=gen, dtype=torch.uint8).numpy()
            Image.fromarray(pixels).save(tmp_path / "toy" / cls / f"{i}.png")
    return tmp_path


def test_image_tensor_domain_matches_default_transform_and_caches(tiny_folder, tmp_path, monkeypatch):
    domain = image_folder_domain(tiny_folder, "toy")
    cache = tmp_path / "cache"
    tensors = image_tensor_domain(domain, 16, cache_dir=cache)
    x, y = tensors.tensors
    assert x.shape == (6, 3, 16, 16) and x.dtype == torch.float32
    assert torch.equal(y, domain.labels) and tensors.class_names == ["a", "b"] and tensors.name == "toy"
    # default_transform resizes the PIL image in uint8 before ToTensor, so the cached uint8 pixels lose
    # nothing: the values agree with the lazy image-folder pipeline up to float rounding.
    for i, path in enumerate(domain.dataset.paths):
        expected = default_transform(16)(folder.read_image(path))
        assert torch.allclose(x[i], expected, atol=1e-6, rtol=0)
    assert len(list(cache.glob("*.npy"))) == 1

    def no_decoding(path):
        raise AssertionError(f"decoded {path} although it is cached")

    monkeypatch.setattr(folder, "read_image", no_decoding)
    assert torch.equal(image_tensor_domain(domain, 16, cache_dir=cache).tensors[0], x)


def test_image_tensor_domain_rejects_in_memory_domains(make_domain, tmp_path):
    with pytest.raises(DalibError, match="not an image folder"):
        image_tensor_domain(make_domain("feats"), 16, cache_dir=tmp_path)


def test_random_flip_crop_shape_and_content():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    out = random_flip_crop(x, pad=2, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    for o, xi in zip(out, x):  # each output is an 8×8 window of the reflect-padded (maybe flipped) image
        windows = [F.pad(v[None], (2, 2, 2, 2), mode="reflect")[0, :, i:i + 8, j:j + 8]
                   for v in (xi, xi.flip(-1)) for i in range(5) for j in range(5)]
        assert any(torch.equal(o, w) for w in windows)
    flipped = random_flip_crop(x, pad=0, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(f, xi) or torch.equal(f, xi.flip(-1)) for f, xi in zip(flipped, x))
    with pytest.raises(DalibError, match="pad"):
        random_flip_crop(x, pad=8)


def test_office_caltech_webcam_at_32px(data_root, tmp_path):
    domain = image_folder_domain(data_root / "office_caltech10_images", "webcam")
    tensors = image_tensor_domain(domain, 32, cache_dir=tmp_path)
    x, y = tensors.tensors
    assert x.shape == (295, 3, 32, 32) and torch.equal(y, domain.labels) and tensors.num_classes == 10
    assert torch.isfinite(x).all()
