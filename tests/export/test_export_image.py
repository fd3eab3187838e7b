"""Export of image runs: ONNX (with predict.py, run from the export folder) and .pt2, parity
checked at another batch size; bad requests are one sentence and keep what was saved."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from playground.cli import main
from playground.core import events as ev
from playground.core.errors import ConfigError, StorageError
from playground.core.export import TOLERANCE, ExportError, make_export_job
from playground.core.jobs import CollectingContext, run_job
from playground.vision.demo import SHAPE_CLASSES, render_shape

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    import torch

    home = tmp_path_factory.mktemp("home")
    threads = torch.get_num_threads()
    old = os.environ.get("PLAYGROUND_HOME")
    os.environ["PLAYGROUND_HOME"] = str(home)
    try:
        assert main(["train", "image", "--data", "demo:shapes", "--image-size", "16",
                     "--epochs", "1", "--batch-size", "32", "--max-steps", "6",
                     "--name", "exp", "--home", str(home), "--device", "cpu",
                     "--threads", "1", "--quiet"]) == 0
    finally:
        torch.set_num_threads(threads)
        if old is None:
            os.environ.pop("PLAYGROUND_HOME", None)
        else:
            os.environ["PLAYGROUND_HOME"] = old
    return next((home / "runs" / "image").iterdir())


def _export(run_dir, fmt, out):
    return run_job(make_export_job(run_dir, fmt, out), CollectingContext())


def test_onnx_export_matches_and_its_predict_py_runs_alone(image_run, tmp_path):
    from playground.vision.predict import ImagePredictor

    out = tmp_path / "onnx"
    event = _export(image_run, "onnx", out)
    assert isinstance(event, ev.Finished), event
    result = event.result
    p = result["parity"]
    assert p["ok"] and p["max_abs_diff"] <= TOLERANCE and p["top1_agreement"] == 1.0
    assert p["batch_size"] != p["traced_batch_size"]  # checked at another batch size
    names = {Path(f).name for f in result["files"]}
    assert names == {"model.onnx", "model.json", "predict.py"}
    meta = json.loads((out / "model.json").read_text())
    assert set(meta["labels"]) == set(SHAPE_CLASSES)
    assert meta["image_size"] == 16 and len(meta["mean"]) == 3

    picture = tmp_path / "star.png"
    Image.fromarray(render_shape("star", np.random.default_rng(3), 40)).save(picture)
    # the script imports neither torch nor the app: run it with both blocked
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\nclass B:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'playground'):\n"
        "            raise ImportError(name + ' is blocked')\n"
        "sys.meta_path.insert(0, B())\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run([sys.executable, "predict.py", str(picture), "--top-k", "3"],
                          cwd=out, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == str(picture) and len(lines) == 4
    probs = [float(line.split("\t")[1]) for line in lines[1:]]
    assert probs == sorted(probs, reverse=True)
    # and it says what the app says (same top class, close probability)
    predictor = ImagePredictor.from_run(image_run, "cpu")
    top_label, top_p = predictor.predict(picture, top_k=1)[0][0]
    assert lines[1].split("\t")[0].strip() == top_label
    assert abs(probs[0] - top_p) < 0.05


def test_pt2_export_matches_through_torch_export(image_run, tmp_path):
    event = _export(image_run, "pt2", tmp_path / "pt2")
    assert isinstance(event, ev.Finished), event
    assert event.result["parity"]["ok"]
    assert {Path(f).name for f in event.result["files"]} == {"model.pt2", "model.json"}


def test_the_cli_prints_parity_then_the_folder(image_run, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["export", "--run", str(image_run), "--format", "onnx", "--out", str(out),
                 "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == str(out)
    assert any(line.startswith("parity: largest difference ") for line in lines)


def test_bad_requests_are_one_sentence(image_run, tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    cases = [
        (dict(run_dir=image_run, fmt="tflite", out_dir=tmp_path / "o"), ConfigError,
         "Unknown export format"),
        (dict(run_dir=image_run, fmt="onnx", out_dir=a_file), StorageError, "is a file"),
        (dict(run_dir=tmp_path / "nothing", fmt="onnx", out_dir=tmp_path / "o2"), Exception,
         ""),
    ]
    for kwargs, kind, words in cases:
        event = run_job(make_export_job(**kwargs), CollectingContext())
        assert isinstance(event, ev.Failed), kwargs
        assert "\n" not in event.message and words in event.message
        assert "Traceback" not in event.message
    assert a_file.read_text() == "x"


def test_a_run_without_a_checkpoint_and_an_unsupported_task(tmp_path, monkeypatch):
    from playground.core.runs import RunStore

    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "h"))
    store = RunStore()
    empty = store.create("image", "empty", model="small_cnn", config={"epochs": 1})
    event = run_job(make_export_job(empty.path, "onnx", tmp_path / "o"), CollectingContext())
    assert isinstance(event, ev.Failed) and "checkpoint" in event.message.lower()
    other = store.create("speech", "kw", model="kw_cnn", config={"epochs": 1})
    other.best_checkpoint.parent.mkdir(parents=True, exist_ok=True)
    other.best_checkpoint.write_bytes(b"")
    event = run_job(make_export_job(other.path, "onnx", tmp_path / "o3"), CollectingContext())
    assert isinstance(event, ev.Failed)
    assert "not available yet" in event.message or "damaged" in event.message


def test_an_export_that_does_not_match_is_refused_and_not_kept(image_run, tmp_path,
                                                               monkeypatch):
    import playground.core.export as export

    real = export.run_exported
    monkeypatch.setattr(export, "run_exported", lambda *a: real(*a) + 0.5)
    out = tmp_path / "bad"
    event = run_job(make_export_job(image_run, "onnx", out), CollectingContext())
    assert isinstance(event, ev.Failed) and event.error_type == ExportError.__name__
    assert "differs from the app's by up to 5.00e-01" in event.message
    assert not (out / "model.onnx").exists()
