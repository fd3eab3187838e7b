"""What an image-classification run gives the exporter (:mod:`playground.core.export`).

The exported graph takes ``image``: float32 ``(batch, 3, size, size)``, already resized and
normalised as the app does (``model.json`` says how), and returns ``logits`` ``(batch,
classes)``. Parity is checked on validation images of the run's own data where they can be
had (the demos are regenerated, a folder is read again), else on synthetic ones. The
``predict.py`` written beside an ONNX export does that preprocessing with Pillow and numpy and
prints the top classes with their probabilities, best first.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from playground.vision.data import normalization

TRACED_BATCH, CHECK_BATCH = 2, 5

PREDICT_PY = '''"""Classify images with the exported model; needs onnxruntime, numpy and Pillow.

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
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(HERE / meta["file"]), options,
                                   providers=["CPUExecutionProvider"])
    labels, status = meta["labels"], 0
    for name in args.files:
        try:
            x = preprocess(name, meta)[None]
        except OSError as exc:
            print(f"{name}: cannot read it as an image ({exc})", file=sys.stderr)
            status = 1
            continue
        logits = session.run(None, {"image": x})[0][0]
        p = np.exp(logits - logits.max())
        p /= p.sum()
        print(name)
        for i in np.argsort(-p)[: max(1, min(args.top_k, len(labels)))]:
            print(f"  {labels[i]}\\t{p[i]:.4f}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
'''


def held_out_images(spec, cfg, n: int):
    """Up to ``n`` validation images of the run's data as the app's eval transform makes them
    ``(n, 3, size, size)``, and where they came from; None when the data cannot be had here
    (a folder that moved, a download that is not cached)."""
    import torch

    from playground.vision.demo import DEMOS, load_data, parse_spec

    data = str(spec.info.get("data_spec") or (spec.info.get("dataset") or {}).get("spec") or "")
    try:
        kind, name = parse_spec(data)
        if kind == "demo" and getattr(DEMOS.get(name), "download", False):
            return None
        if kind == "folder" and not os.path.isdir(name):
            return None
        prepared = load_data(data, cfg, thumbs_per_class=0)
    except Exception:  # noqa: BLE001 - any failure: parity falls back to synthetic inputs
        return None
    val = prepared.val if prepared.val is not None and len(prepared.val) else prepared.train
    if val is None or not len(val):
        return None
    # spread over the split so several classes are represented
    picks = np.linspace(0, len(val) - 1, min(n, len(val))).round().astype(int)
    batch = torch.stack([val[int(i)][0] for i in picks]).float()
    split = "validation" if val is prepared.val else "training"
    return batch, f"{len(picks)} {split} images of {data}"


def image_export_spec(spec) -> Any:
    """The ExportSpec of an opened image run (a :class:`playground.core.loader.RunSpec`)."""
    import torch

    from playground.core.export import ExportSpec, Graph, direct_check
    from playground.vision.predict import ImagePredictor

    predictor = ImagePredictor.from_spec(spec, "cpu")
    model = predictor.model.float().eval()
    size = predictor.image_size
    gen = torch.Generator().manual_seed(0)
    example = torch.randn(TRACED_BATCH, 3, size, size, generator=gen)
    real = held_out_images(spec, predictor.cfg, CHECK_BATCH)
    if real is not None and len(real[0]) != TRACED_BATCH:
        check, source = real
    else:
        check = torch.randn(CHECK_BATCH, 3, size, size, generator=gen)
        source = f"{CHECK_BATCH} synthetic images (the run's data is not available here)"
    with torch.no_grad():
        want = model(check).float().numpy()
    norm = normalization(bool(getattr(predictor.cfg, "pretrained", False)))
    sidecar = {"task": "image", "model": spec.model, "labels": predictor.labels,
               "image_size": size, "mean": norm["mean"], "std": norm["std"],
               "input_layout": "float32 (batch, 3, image_size, image_size), RGB scaled to "
                               "[0, 1], then (x - mean) / std",
               "output": "logits (batch, classes); softmax gives the probabilities"}
    graph = Graph("model", model, (example,), ["image"], ["logits"], {"image": {0: "batch"}})
    inputs = {"samples": int(check.shape[0]), "batch_size": int(check.shape[0]),
              "seq_len": None, "traced_batch_size": TRACED_BATCH, "traced_seq_len": None,
              "source": source}
    return ExportSpec(graphs=[graph], check=direct_check("model", (check,), [want], ["logits"]),
                      inputs=inputs, sidecar=sidecar, dims={"batch": (1, 1024)},
                      predict_script=PREDICT_PY)
