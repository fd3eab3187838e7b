"""The image model registry, head replacement, transfer learning and pretrained weights."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch

from playground.core.errors import ConfigError, WeightsUnavailable
from playground.core.jobs import CollectingContext
from playground.vision.models import (
    REGISTRY,
    build_model,
    count_parameters,
    model_info,
    pretrained_path,
)

TORCHVISION = ["resnet18", "mobilenet_v3_small", "efficientnet_b0", "alexnet", "googlenet",
               "vit_b_16"]


def test_registry_names_follow_torchvision():
    # Builder graphs other tests registered (graph:...) may be present; the built-ins are these
    assert [n for n in REGISTRY.names() if not n.startswith("graph:")] == ["small_cnn", *TORCHVISION]
    assert not REGISTRY.get("small_cnn").pretrained
    assert all(REGISTRY.get(n).pretrained for n in TORCHVISION)
    with pytest.raises(ConfigError, match="Unknown image model 'resnet99'"):
        build_model("resnet99", 3)


@pytest.mark.parametrize("size", [16, 33, 64, 128])
def test_small_cnn_any_size(size):
    torch.manual_seed(0)
    model = build_model("small_cnn", 4, dropout=0.3, image_size=size).eval()
    out = model(torch.randn(2, 3, size, size))
    assert out.shape == (2, 4)
    drops = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert drops and all(d.p == 0.3 for d in drops)


@pytest.mark.parametrize("name", TORCHVISION)
def test_heads_replaced(name):
    size = 224 if name == "vit_b_16" else 64
    info = model_info(name, 7, image_size=size, dropout=0.1)
    assert info["parameters"] > 1_000_000 and info["trainable"] == info["parameters"]
    with torch.device("meta"):
        model = build_model(name, 7, image_size=size, dropout=0.1)
    with torch.device("meta"):
        out = model.eval()(torch.empty(1, 3, size, size))
    assert tuple(out.shape) == (1, 7)


def test_resnet_forward_and_linear_probe():
    model = build_model("resnet18", 3, transfer="linear_probe", image_size=32)
    total, trainable = count_parameters(model)
    assert trainable == 512 * 3 + 3 and total > 11_000_000
    model.train()
    before = model.bn1.running_mean.clone()
    model(torch.randn(4, 3, 32, 32)).sum().backward()
    assert torch.equal(before, model.bn1.running_mean)  # frozen statistics in a linear probe
    assert model.fc[1].weight.grad is not None and model.conv1.weight.grad is None


def test_size_checks():
    with pytest.raises(ConfigError, match="ViT-B/16 needs an image size of exactly 224"):
        build_model("vit_b_16", 3, image_size=64)
    with pytest.raises(ConfigError, match="AlexNet needs images of at least 63"):
        build_model("alexnet", 3, image_size=32)
    with pytest.raises(ConfigError, match="no pretrained weights"):
        build_model("small_cnn", 3, pretrained=True)
    with pytest.raises(ConfigError, match="at least 2 classes"):
        build_model("small_cnn", 1)


def test_googlenet_has_no_aux_logits():
    model = build_model("googlenet", 3, image_size=32)
    assert model.aux1 is None and model.aux2 is None
    assert model.train()(torch.randn(2, 3, 32, 32)).shape == (2, 3)  # plain logits


def test_pretrained_weights_loaded_from_the_torch_cache(monkeypatch):
    import torchvision

    def no_network(*args, **kwargs):
        raise AssertionError("the network must not be used when the file is cached")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    torch.manual_seed(123)
    reference = torchvision.models.resnet18().state_dict()
    path = Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert pretrained_path("resnet18") == path
    path.parent.mkdir(parents=True)
    torch.save(reference, path)
    model = build_model("resnet18", 4, pretrained=True, image_size=32, ctx=CollectingContext())
    state = model.state_dict()
    for key in ("conv1.weight", "layer3.1.conv2.weight", "layer4.0.bn1.running_var"):
        assert torch.equal(state[key], reference[key])
    assert state["fc.1.weight"].shape == (4, 512)  # the head was replaced after loading


def test_missing_pretrained_weights_offline(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(WeightsUnavailable) as info:
        build_model("mobilenet_v3_small", 3, pretrained=True, image_size=32)
    text = str(info.value)
    path = pretrained_path("mobilenet_v3_small")
    assert path.name in text and str(path.parent) in text
    assert not path.exists()


def test_damaged_pretrained_file(monkeypatch):
    path = pretrained_path("resnet18")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsUnavailable, match="could not be read"):
        build_model("resnet18", 3, pretrained=True, image_size=32)


@pytest.mark.parametrize("name", ["small_cnn", "resnet18"])
def test_checkpoint_keys_do_not_depend_on_dropout(name):
    with torch.device("meta"):
        a = build_model(name, 3, dropout=0.0, image_size=32)
        b = build_model(name, 3, dropout=0.5, image_size=32)
    assert list(a.state_dict()) == list(b.state_dict())
