"""Grad-CAM layer choice (CNNs and Vision Transformers) and the overlay colormap."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.vision.gradcam import find_target_layer, grad_cam, jet, overlay
from playground.vision.models import build_model


def test_resnet_uses_layer4_and_frozen_models_still_explain():
    model = build_model("resnet18", 3, transfer="linear_probe", image_size=64)
    assert find_target_layer(model) is model.layer4
    heat, index, probs = grad_cam(model, torch.randn(1, 3, 64, 64))
    assert heat.shape == (64, 64) and heat.min() >= 0 and heat.max() <= 1
    assert 0 <= index < 3 and probs.shape == (3,) and abs(probs.sum() - 1) < 1e-5
    assert all(p.grad is None for p in model.parameters())  # no gradients left behind


def test_vision_transformer_tokens_are_reshaped():
    from torchvision.models import VisionTransformer

    torch.manual_seed(0)
    vit = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                            hidden_dim=16, mlp_dim=32, num_classes=4)
    torch.nn.init.normal_(vit.heads.head.weight)  # torchvision starts it at zero: no gradient
    assert find_target_layer(vit) is vit.encoder.layers[-1].ln_1
    heat, index, _ = grad_cam(vit, torch.randn(1, 3, 32, 32), class_index=1)
    assert index == 1 and heat.shape == (32, 32) and heat.dtype == np.float32
    assert heat.std() > 0  # a 4x4 token grid upsampled, not a constant


def test_small_cnn_names_its_layer_and_other_nets_use_the_last_conv():
    model = build_model("small_cnn", 3, image_size=32)
    assert find_target_layer(model) is model.cam_layer
    plain = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(),
                                torch.nn.Conv2d(4, 5, 3), torch.nn.AdaptiveAvgPool2d(1),
                                torch.nn.Flatten())
    assert find_target_layer(plain) is plain[2]
    with pytest.raises(ValueError, match="convolutional"):
        find_target_layer(torch.nn.Linear(3, 2))


def test_jet_and_overlay():
    colours = jet(np.array([0.0, 0.5, 1.0]))
    assert colours[0, 2] > 100 and colours[0, 0] == 0      # low: blue
    assert colours[1, 1] == 255                            # middle: green-ish
    assert colours[2, 0] > 100 and colours[2, 2] == 0      # high: red
    image = np.full((10, 20, 3), 200, np.uint8)
    heat = np.zeros((5, 5), np.float32)
    heat[2, 2] = 1.0
    out = overlay(image, heat, alpha=0.5)
    assert out.shape == (10, 20, 3) and out.dtype == np.uint8
    assert not np.array_equal(out[5, 10], out[0, 0])
    gray = overlay(np.full((4, 4), 10, np.uint8), np.ones((4, 4), np.float32), alpha=1.0)
    assert tuple(gray[0, 0]) == tuple(jet(np.array(1.0)))
