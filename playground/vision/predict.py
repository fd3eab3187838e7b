"""Classify images with a trained run: top-k predictions and Grad-CAM explanations.

:class:`ImagePredictor` rebuilds the model from ``run.json`` (no pretrained download: the run's
own checkpoint follows) through :mod:`playground.core.loader`, loads ``best.safetensors`` (or
``last``) and keeps the model in eval
mode with its eval transform cached, so a warm prediction costs one decode, one resize and one
forward pass under ``torch.inference_mode``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from playground.core import loader
from playground.core.loader import ModelCache
from playground.vision.data import as_rgb_array, build_transforms, load_image
from playground.vision.gradcam import grad_cam, overlay, resize_heatmap

__all__ = ["ImagePredictor", "overlay"]

CHECKPOINTS = loader.CHECKPOINTS
BATCH = 32  # images per forward pass when many are classified at once


def _is_single(images: Any) -> bool:
    if isinstance(images, (str, os.PathLike, Image.Image, bytes)):
        return True
    return isinstance(images, np.ndarray) and images.ndim in (2, 3) and images.dtype != object


class ImagePredictor:
    """A trained image classifier, ready to predict."""

    def __init__(self, model, labels: Sequence[str], cfg, device: str = "cpu",
                 run_dir: str | os.PathLike | None = None,
                 checkpoint_path: str | os.PathLike | None = None) -> None:
        import torch

        self.device = torch.device(device) if isinstance(device, str) else device
        self.model = model.to(self.device).eval()
        self.labels = list(labels)
        self.cfg = cfg
        self.image_size = int(cfg.image_size)
        self.transform = build_transforms(cfg, train=False)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, device: Any = "cpu",
                 checkpoint: str = "best", *, cache: ModelCache | None = None
                 ) -> ImagePredictor:
        """Load a finished (or stopped) image run; ``checkpoint`` is ``best`` or ``last``.

        ``best`` falls back to ``last`` when no best checkpoint was written. Loaded through
        :func:`playground.core.loader.load`: reused from the shared model cache until the
        checkpoint changes on disk.
        """
        return loader.load(run_dir, "image", cls.from_spec, device=device,
                           checkpoint=checkpoint, cache=cache)

    @classmethod
    def from_spec(cls, spec: loader.RunSpec, device: Any) -> ImagePredictor:
        """Build the predictor of an opened image run (see :mod:`playground.core.loader`)."""
        from playground.core import schema
        from playground.vision.config import ImageTrainConfig
        from playground.vision.models import build_model

        cfg = schema.from_dict(ImageTrainConfig, spec.config)
        labels = spec.run.class_labels()
        model = loader.build_model(spec, lambda: build_model(
            cfg.model, len(labels), pretrained=cfg.pretrained, transfer="fine_tune",
            dropout=cfg.dropout, image_size=cfg.image_size, load_pretrained=False), device)
        return cls(model, labels, cfg, device, run_dir=spec.path, checkpoint_path=spec.checkpoint)

    # ------------------------------------------------------------------------------------------
    def _load(self, image: Any) -> Image.Image:
        return load_image(image)

    def _tensor(self, img: Image.Image):
        return self.transform(img)

    def predict(self, images: Any, top_k: int = 5) -> list[list[tuple[str, float]]]:
        """Top-k ``(label, probability)`` per image, most probable first.

        ``images``: paths, PIL images or uint8 arrays (or one of them). A file that cannot be
        decoded raises :class:`ImageDecodeError` naming it.
        """
        import torch

        items = [images] if _is_single(images) else list(images)
        k = max(1, min(int(top_k), len(self.labels)))
        out: list[list[tuple[str, float]]] = []
        for start in range(0, len(items), BATCH):
            chunk = items[start:start + BATCH]
            batch = torch.stack([self._tensor(self._load(im)) for im in chunk]).to(self.device)
            with torch.inference_mode():
                probs = self.model(batch).float().softmax(dim=1)
                values, indices = probs.topk(k, dim=1)
            values, indices = values.cpu().numpy(), indices.cpu().numpy()
            out += [[(self.labels[j], float(v)) for j, v in zip(row_i, row_v, strict=True)]
                    for row_i, row_v in zip(indices, values, strict=True)]
        return out

    def probabilities(self, image: Any) -> np.ndarray:
        """The full probability vector of one image."""
        import torch

        x = self._tensor(self._load(image))[None].to(self.device)
        with torch.inference_mode():
            return self.model(x).float().softmax(dim=1)[0].cpu().numpy()

    def gradcam(self, image: Any, class_index: int | None = None) -> tuple[np.ndarray, int]:
        """Grad-CAM heatmap (float32 (H, W) in [0, 1] at the image's own size) and the class
        it explains (the top prediction unless ``class_index`` is given)."""
        img = self._load(image)
        x = self._tensor(img)[None].to(self.device)
        heat, index, _ = grad_cam(self.model, x, class_index)
        return resize_heatmap(heat, img.width, img.height), index

    def explain(self, image: Any, top_k: int = 5, alpha: float = 0.45
                ) -> dict[str, Any]:
        """Predictions, heatmap and overlay of one image in one pass (what the tab shows)."""
        img = self._load(image)
        x = self._tensor(img)[None].to(self.device)
        heat, index, probs = grad_cam(self.model, x, None)
        heat = resize_heatmap(heat, img.width, img.height)
        order = np.argsort(-probs)[: max(1, min(top_k, len(self.labels)))]
        rgb = np.asarray(img)
        return {"predictions": [(self.labels[i], float(probs[i])) for i in order],
                "class_index": index, "heatmap": heat, "image": rgb,
                "overlay": overlay(rgb, heat, alpha)}


def image_array(source: Any) -> np.ndarray:
    """Any accepted image input as uint8 (H, W, 3)."""
    if isinstance(source, np.ndarray):
        return as_rgb_array(source)
    return np.asarray(load_image(source))
