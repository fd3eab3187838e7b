"""``playground train image`` and ``playground predict image`` run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from playground.cli import main
from playground.vision.demo import SHAPE_CLASSES, render_shape


def test_train_then_predict(tmp_path, capsys):
    import torch

    threads = torch.get_num_threads()
    home = tmp_path / "home"
    try:
        code = main(["train", "image", "--data", "demo:shapes", "--image-size", "16",
                     "--epochs", "1", "--batch-size", "32", "--max-steps", "4",
                     "--no-augment-flip", "--name", "cli test", "--home", str(home),
                     "--device", "cpu", "--threads", "1", "--quiet"])
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    run = Path(out[-1])
    assert run.is_dir() and run.parent == home / "runs" / "image"
    assert (run / "checkpoints" / "best.safetensors").is_file()
    assert any(line.startswith("validation accuracy: ") for line in out)
    assert any(line.startswith("macro F1: ") for line in out)
    assert sum(line.split()[0] in SHAPE_CLASSES for line in out) == 5  # per-class table
    info = json.loads((run / "run.json").read_text())
    assert info["config"]["image_size"] == 16 and info["config"]["augment_flip"] is False

    good = tmp_path / "star.png"
    Image.fromarray(render_shape("star", np.random.default_rng(1), 40)).save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    code = main(["predict", "image", "--run", str(run), str(good), str(bad), "--top-k", "3",
                 "--json", "--home", str(home)])
    captured = capsys.readouterr()
    assert code == 1  # one file failed, the other was still classified
    rows = json.loads(captured.out)
    assert [r["file"] for r in rows] == [str(good), str(bad)]
    preds = rows[0]["predictions"]
    assert len(preds) == 3 and {p["label"] for p in preds} <= set(SHAPE_CLASSES)
    assert [p["prob"] for p in preds] == sorted((p["prob"] for p in preds), reverse=True)
    assert "predictions" not in rows[1] and "bad.jpg" in rows[1]["error"]

    code = main(["predict", "image", "--run", str(run), str(good), "--home", str(home)])
    text = capsys.readouterr().out.splitlines()
    assert code == 0 and text[0] == str(good) and len(text) == 6
    assert text[1].strip().endswith(tuple(SHAPE_CLASSES)) and "%" in text[1]


def test_train_errors_are_one_line(tmp_path, capsys):
    code = main(["train", "image", "--data", str(tmp_path / "missing"), "--home",
                 str(tmp_path / "home"), "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "does not exist" in err
    code = main(["predict", "image", "--run", str(tmp_path), "x.png", "--home",
                 str(tmp_path / "home")])
    assert code == 1 and "not a run folder" in capsys.readouterr().err
