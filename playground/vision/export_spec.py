"""What an image-classification run gives the exporter (:mod:`playground.core.export`).

The exported graph takes ``image``: float32 ``(batch, 3, size, size)``, already resized and
normalised as the app does (``model.json`` says how), and returns ``logits`` ``(batch,
classes)``. The ``predict.py`` written beside an ONNX export does that preprocessing with
Pillow and numpy and prints the top classes with their probabilities, best first.
"""

from __future__ import annotations

from typing import Any

from playground.vision.data import normalization

TRACED_BATCH, CHECK_BATCH = 2, 3

PREDICT_PY = '''"""Classify images with the exported model; needs only onnxruntime, numpy and Pillow.

    python predict.py photo.jpg other.png [--top-k 3]

Prints, for each file, its name and then the top classes with their probabilities, best first.
Written by Model Playground beside model.onnx; model.json holds the labels and preprocessing.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

HERE = Path(__file__).resolve().parent


def preprocess(path, meta):
    size = meta["image_size"]
    img = Image.open(path).convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    x = np.asarray(img, dtype=np.float32) / 255.0                  # (H, W, 3) in [0, 1]
    x = (x - np.array(meta["mean"], np.float32)) / np.array(meta["std"], np.float32)
    return x.transpose(2, 0, 1)                                    # (3, H, W)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Classify images with model.onnx.")
    parser.add_argument("files", nargs="+")
    parser.add_argument("--top-k", type=int, default=5)
    args = parser.parse_args(argv)
    meta = json.loads((HERE / "model.json").read_text(encoding="utf-8"))
    session = ort.InferenceSession(str(HERE / meta["file"]), providers=["CPUExecutionProvider"])
    labels = meta["labels"]
    for name in args.files:
        try:
            x = preprocess(name, meta)[None]
        except OSError as exc:
            print(f"{name}: cannot read it as an image ({exc})", file=sys.stderr)
            continue
        logits = session.run(None, {meta["inputs"][0]: x})[0][0]
        p = np.exp(logits - logits.max())
        p /= p.sum()
        print(name)
        for i in np.argsort(-p)[: max(1, min(args.top_k, len(labels)))]:
            print(f"  {labels[i]}\\t{p[i]:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
'''


def image_export_spec(spec) -> Any:
    """The ExportSpec of an opened image run (a :class:`playground.core.loader.RunSpec`)."""
    import torch

    from playground.core.export import ExportSpec
    from playground.vision.predict import ImagePredictor

    predictor = ImagePredictor.from_spec(spec, "cpu")
    model = predictor.model.float().eval()
    size = predictor.image_size
    gen = torch.Generator().manual_seed(0)
    example = torch.randn(TRACED_BATCH, 3, size, size, generator=gen)
    check = torch.randn(CHECK_BATCH, 3, size, size, generator=gen)
    norm = normalization(bool(getattr(predictor.cfg, "pretrained", False)))
    sidecar = {"task": "image", "model": spec.model, "labels": predictor.labels,
               "image_size": size, "mean": norm["mean"], "std": norm["std"],
               "input_layout": "float32 (batch, 3, image_size, image_size), RGB scaled to "
                               "[0, 1], then (x - mean) / std",
               "output": "logits (batch, classes); softmax gives the probabilities"}
    return ExportSpec(model=model, example=(example,), check=(check,),
                      input_names=["image"], output_names=["logits"],
                      dynamic={0: {0: "batch"}}, sidecar=sidecar, predict_script=PREDICT_PY)
