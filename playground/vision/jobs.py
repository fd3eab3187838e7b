"""Small jobs the Image tab runs off the UI thread: data preview, model info, prediction.

Each returns plain data (numbers, strings, uint8 arrays) for the tab to render.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from playground.core import events as ev
from playground.core.errors import ImageDecodeError, PlaygroundError
from playground.core.jobs import JobContext

if TYPE_CHECKING:
    from playground.core.loader import ModelCache

DISPLAY_MAX = 1024  # the longest side of images sent back for display


def preview_job(spec: str, cfg: Any, *, per_class: int = 8, size: int = 64
                ) -> Callable[[JobContext], dict[str, Any]]:
    """Scan/prepare ``spec`` and describe it: title, counts, split, thumbnails, skipped."""

    def job(ctx: JobContext) -> dict[str, Any]:
        from playground.vision.demo import load_data

        prepared = load_data(spec, cfg, ctx, thumbs_per_class=per_class, thumb_size=size)
        return {"spec": spec, "title": prepared.title, "classes": prepared.classes,
                "counts": prepared.counts(), "split": prepared.split,
                "train_images": len(prepared.train),
                "val_images": len(prepared.val) if prepared.val is not None else 0,
                "thumbnails": prepared.thumbnails, "skipped": list(prepared.skipped),
                "description": prepared.description}

    return job


def model_info_job(cfg: Any, num_classes: int = 10) -> Callable[[JobContext], dict[str, Any]]:
    """Title, family, description and parameter counts of ``cfg.model`` as configured."""

    def job(ctx: JobContext) -> dict[str, Any]:
        from playground.vision.models import model_info

        return model_info(cfg.model, max(2, int(num_classes)), pretrained=cfg.pretrained,
                          transfer=cfg.transfer, dropout=cfg.dropout,
                          image_size=cfg.image_size)

    return job


def _display(arr: np.ndarray) -> np.ndarray:
    from PIL import Image

    h, w = arr.shape[:2]
    if max(h, w) <= DISPLAY_MAX:
        return arr
    scale = DISPLAY_MAX / max(h, w)
    img = Image.fromarray(arr).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                      Image.Resampling.BILINEAR)
    return np.asarray(img).copy()


def get_predictor(run_dir: str, device: Any = "cpu", cache: ModelCache | None = None):
    """The :class:`ImagePredictor` of ``run_dir``, from the shared model cache (``cache``
    overrides it) until the run's checkpoint changes on disk."""
    from playground.vision.predict import ImagePredictor

    return ImagePredictor.from_run(run_dir, device=device, cache=cache)


def make_predict_job(run_dir: str, inputs: Sequence[tuple[str, Any]], *, top_k: int = 5,
                     gradcam: bool = False, cache: ModelCache | None = None,
                     device: str = "cpu") -> Callable[[JobContext], list[dict[str, Any]]]:
    """Classify ``(name, path-or-array)`` inputs with a run.

    Each result: ``{"name", "predictions": [(label, prob), ...], "image": uint8 RGB (the
    Grad-CAM overlay when ``gradcam``), "original", "heatmap" (or None)}``, or
    ``{"name", "error"}`` for an input that could not be read.
    """

    def job(ctx: JobContext) -> list[dict[str, Any]]:
        from playground.vision.data import load_image

        predictor = get_predictor(run_dir, device, cache)
        results: list[dict[str, Any]] = []
        for k, (name, source) in enumerate(inputs):
            ctx.check_cancelled()
            ctx.emit(ev.Progress(k, len(inputs), f"classifying {name}", unit="file"))
            try:
                img = load_image(source)
            except ImageDecodeError as exc:
                text = str(exc)
                results.append({"name": name, "error": text.split(": ", 1)[-1]})
                continue
            try:
                if gradcam:
                    out = predictor.explain(img, top_k=top_k)
                    results.append({"name": name, "predictions": out["predictions"],
                                    "image": _display(out["overlay"]),
                                    "original": _display(out["image"]),
                                    "heatmap": out["heatmap"], "class_index": out["class_index"],
                                    "path": source if isinstance(source, (str, os.PathLike))
                                    else None})
                else:
                    preds = predictor.predict([img], top_k=top_k)[0]
                    rgb = _display(np.asarray(img))
                    results.append({"name": name, "predictions": preds, "image": rgb,
                                    "original": rgb, "heatmap": None,
                                    "path": source if isinstance(source, (str, os.PathLike))
                                    else None})
            except PlaygroundError as exc:
                results.append({"name": name, "error": str(exc)})
        ctx.emit(ev.Progress(len(inputs), len(inputs), "classified", unit="file"))
        return results

    return job
