"""Vision backbones: output shapes, stages, and local weight files (save → load, torchvision format, errors)."""

from __future__ import annotations

import pytest
import torch
import torchvision

from dalib.errors import DalibError
from dalib.models import Classifier, build_backbone
from dalib.models.vision import LeNet, TorchvisionBackbone, load_weights, save_weights


@pytest.mark.parametrize("name, size, dim", [("resnet18", 64, 512), ("resnet34", 64, 512),
                                             ("resnet50", 32, 2048), ("vgg16", 32, 4096)])
def test_torchvision_backbone_shapes(name, size, dim):
    torch.manual_seed(0)
    backbone = build_backbone(name, 3 * size * size).eval()
    with torch.no_grad():
        out = backbone(torch.randn(2, 3, size, size))
    assert backbone.feature_dim == dim and out.shape == (2, dim)


@pytest.mark.parametrize("in_dim", [64, 256])
def test_lenet_flat_and_image_inputs(in_dim):
    lenet = build_backbone("lenet", in_dim).eval()
    side = int(in_dim ** 0.5)
    x = torch.randn(3, in_dim)
    assert lenet.feature_dim == 500 and lenet(x).shape == (3, 500)
    assert torch.equal(lenet(x), lenet(x.reshape(3, 1, side, side)))


def test_lenet_wrong_shape_raises():
    with pytest.raises(DalibError, match=r"\(n, 256\) or \(n, 1, 16, 16\)"):
        LeNet(256)(torch.randn(2, 64))
    with pytest.raises(DalibError, match="in_channels and image_size"):
        LeNet(200)


def test_resnet_rejects_flat_features():
    with pytest.raises(DalibError, match=r"\(n, 3, H, W\)"):
        TorchvisionBackbone("resnet18")(torch.randn(2, 512))


def test_resnet_stages_cover_every_parameter_once():
    backbone = TorchvisionBackbone("resnet18")
    stages = backbone.stages()
    assert [n for n, _ in stages] == ["stem", "layer1", "layer2", "layer3", "layer4"]
    assert stages[-1][1] is backbone.net.layer4
    ids = [id(p) for _, stage in stages for p in stage.parameters()]
    assert len(ids) == len(set(ids)) and set(ids) == {id(p) for p in backbone.parameters()}


def test_save_load_reproduces_classifier_logits(tmp_path):
    torch.manual_seed(0)
    model = Classifier(build_backbone("resnet18", 0), num_classes=3).eval()
    path = tmp_path / "model.pt"
    save_weights(model, path)
    torch.manual_seed(1)
    fresh = Classifier(build_backbone("resnet18", 0), num_classes=3).eval()
    load_weights(fresh, path)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x)[1], fresh(x)[1])


def test_torchvision_state_dict_loads_without_fc(tmp_path):
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18-imagenet.pt"
    torch.save(reference.state_dict(), path)
    backbone = build_backbone("resnet18", 0, weights=path)
    assert torch.equal(backbone.net.conv1.weight, reference.conv1.weight)
    assert not any(k.startswith("net.fc.") for k in backbone.state_dict())
    with pytest.raises(DalibError, match=r"unexpected keys: net\.fc\.weight, net\.fc\.bias.*strict_head=False"):
        load_weights(TorchvisionBackbone("resnet18"), path, strict_head=True)


def test_wrong_architecture_file_raises(tmp_path):
    path = tmp_path / "resnet50.pt"
    torch.save({"state_dict": torchvision.models.resnet50(weights=None).state_dict()}, path)
    with pytest.raises(DalibError, match=r"does not fit resnet18: .*unexpected keys.*shape mismatches.*for resnet50"):
        load_weights(TorchvisionBackbone("resnet18"), path)


def test_missing_and_unreadable_files_raise(tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(DalibError, match=f"{missing}.*never downloaded"):
        build_backbone("lenet", 64, weights=missing)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(DalibError, match="unreadable weights file"):
        load_weights(LeNet(64), junk)
