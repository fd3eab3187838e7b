"""Grad-CAM (Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep Networks via
Gradient-based Localization").

The class score's gradient with respect to a late feature map, averaged over space, weights
that map's channels; the ReLU of the weighted sum shows which regions raised the score.

The layer is found automatically: a model may name it (``model.cam_layer``, as the small CNN
does), torchvision families have known good layers (ResNet's ``layer4``, MobileNet's and
EfficientNet's ``features``, GoogLeNet's ``inception5b``), and any other network uses its last
``Conv2d``. For Vision Transformers the tokens entering the last encoder block are used (the
output of its first layer norm, ``encoder.layers[-1].ln_1``, as pytorch-grad-cam does): the
classifier reads only the class token, so the last block's *output* patch tokens get no
gradient, while its input tokens reach the class token through that block's attention. The
``(B, 1 + H*W, C)`` tokens are reshaped to ``(B, C, H, W)`` after dropping the class token,
which gives a coarse (14x14 at 224 px) but meaningful map.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

KNOWN_LAYERS = ("cam_layer", "layer4", "inception5b", "features", "encoder.layers")


def find_target_layer(model) -> Any:
    """The module whose output Grad-CAM explains (see the module docstring)."""
    from torch import nn

    cam = getattr(model, "cam_layer", None)
    if isinstance(cam, nn.Module):
        return cam
    for name in KNOWN_LAYERS[1:]:
        module = model
        try:
            for part in name.split("."):
                module = getattr(module, part)
        except AttributeError:
            continue
        if name == "encoder.layers" and isinstance(module, nn.Sequential) and len(module):
            last = module[-1]
            return getattr(last, "ln_1", last)
        if isinstance(module, nn.Module) and any(isinstance(m, nn.Conv2d)
                                                 for m in module.modules()):
            return module
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("Grad-CAM needs a convolutional layer or a Vision Transformer; this "
                         "model has neither.")
    return convs[-1]


def _as_map(act):
    """(B, C, H, W) feature map from a conv output or ViT tokens (B, 1 + H*W, C)."""
    if act.dim() == 4:
        return act
    if act.dim() == 3:
        n = act.shape[1]
        side = int(math.isqrt(n - 1))
        if side * side == n - 1:
            tokens = act[:, 1:, :]
        else:
            side = int(math.isqrt(n))
            if side * side != n:
                raise ValueError(f"cannot arrange {n} tokens as a square grid for Grad-CAM")
            tokens = act
        b, _, c = tokens.shape
        return tokens.transpose(1, 2).reshape(b, c, side, side)  # (B, C, H, W)
    raise ValueError(f"Grad-CAM cannot use a layer output of shape {tuple(act.shape)}")


def grad_cam(model, x, class_index: int | None = None, layer=None
             ) -> tuple[np.ndarray, int, np.ndarray]:
    """Grad-CAM of one input ``x`` (1, 3, H, W).

    Returns ``(heatmap float32 (H, W) in [0, 1] at the input's size, class index,
    probabilities)``. The model is put in eval mode; gradients flow even when its
    parameters are frozen (the input requires grad).
    """
    import torch
    import torch.nn.functional as F

    layer = layer if layer is not None else find_target_layer(model)
    captured: dict[str, Any] = {}

    def hook(module, args, output):
        out = output[0] if isinstance(output, (tuple, list)) else output
        out.retain_grad()
        captured["act"] = out

    handle = layer.register_forward_hook(hook)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad(), torch.inference_mode(False):
            inp = x.detach().clone().requires_grad_(True)
            logits = model(inp)
            probs = logits.detach().float().softmax(dim=1)[0]
            if class_index is None:
                class_index = int(probs.argmax())
            if not 0 <= class_index < logits.shape[1]:
                raise ValueError(f"class index {class_index} is outside 0..{logits.shape[1] - 1}")
            model.zero_grad(set_to_none=True)
            logits[0, class_index].backward()
            act = captured["act"]
            grad = act.grad
            fmap, gmap = _as_map(act.detach()), _as_map(grad.detach())
            weights = gmap.mean(dim=(2, 3), keepdim=True)        # (1, C, 1, 1)
            cam = F.relu((weights * fmap).sum(dim=1, keepdim=True))  # (1, 1, h, w)
            cam = F.interpolate(cam.float(), size=tuple(x.shape[-2:]), mode="bilinear",
                                align_corners=False)[0, 0]
            peak = float(cam.max())
            cam = cam / peak if peak > 0 else torch.zeros_like(cam)
    finally:
        handle.remove()
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return cam.cpu().numpy().astype(np.float32), int(class_index), probs.cpu().numpy()


def jet(values: np.ndarray) -> np.ndarray:
    """A jet-like colormap: values in [0, 1] -> uint8 RGB (blue, cyan, yellow, red)."""
    v = np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0)
    r = np.clip(1.5 - np.abs(4.0 * v - 3.0), 0.0, 1.0)
    g = np.clip(1.5 - np.abs(4.0 * v - 2.0), 0.0, 1.0)
    b = np.clip(1.5 - np.abs(4.0 * v - 1.0), 0.0, 1.0)
    return (np.stack([r, g, b], axis=-1) * 255.0 + 0.5).astype(np.uint8)


def resize_heatmap(heatmap: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize of a float heatmap to (height, width)."""
    from PIL import Image

    h = np.asarray(heatmap, dtype=np.float32)
    if h.shape == (height, width):
        return h
    img = Image.fromarray(h, mode="F").resize((width, height), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)


def overlay(image_rgb_uint8: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a jet-coloured heatmap over an RGB uint8 image (resized to the image if needed)."""
    img = np.asarray(image_rgb_uint8)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = img[:, :, :3].astype(np.float32)
    h = resize_heatmap(heatmap, img.shape[1], img.shape[0])
    colour = jet(h).astype(np.float32)
    out = (1.0 - alpha) * img + alpha * colour
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
