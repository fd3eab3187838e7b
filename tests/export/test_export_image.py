"""Export of image runs (small CNN and a torchvision model): ONNX with a predict.py run from the
export folder, .pt2, the CLI's output, and the bad requests (one sentence each, nothing lost)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from playground.cli import main
from playground.core import events as ev
from playground.core.errors import ConfigError, StorageError
from playground.core.export import TOLERANCE, ExportError
from playground.vision.demo import SHAPE_CLASSES, render_shape
from tests.export.helpers import export, exported, names, run_predict, train


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    return train(["image", "--data", "demo:shapes", "--image-size", "16", "--epochs", "1",
                  "--batch-size", "32", "--max-steps", "6", "--name", "exp", "--threads", "1"],
                 home)


def test_onnx_export_matches_and_its_predict_py_runs_alone(image_run, tmp_path):
    from playground.vision.predict import ImagePredictor

    out = tmp_path / "onnx"
    result = exported(image_run, "onnx", out)
    p = result["parity"]
    assert "validation images of demo:shapes" in p["source"]  # real held-out samples
    assert p["top1_agreement"] == 1.0 and p["samples"] == 5
    assert names(result) == {"model.onnx", "model.json", "predict.py"}
    assert result["size_bytes"] == (out / "model.onnx").stat().st_size
    meta = json.loads((out / "model.json").read_text())
    assert set(meta["labels"]) == set(SHAPE_CLASSES)
    assert meta["image_size"] == 16 and len(meta["mean"]) == 3

    picture = tmp_path / "star.png"
    Image.fromarray(render_shape("star", np.random.default_rng(3), 40)).save(picture)
    lines = run_predict(out, [str(picture), "--top-k", "3"], tmp_path)
    assert lines[0] == str(picture) and len(lines) == 4
    probs = [float(line.split("\t")[1]) for line in lines[1:]]
    assert probs == sorted(probs, reverse=True)
    # and it says what the app says (same top class, close probability)
    top_label, top_p = ImagePredictor.from_run(image_run, "cpu").predict(picture, top_k=1)[0][0]
    assert lines[1].split("\t")[0].strip() == top_label
    assert abs(probs[0] - top_p) < 0.05


def test_pt2_export_matches_through_torch_export(image_run, tmp_path):
    result = exported(image_run, "pt2", tmp_path / "pt2")
    assert names(result) == {"model.pt2", "model.json"}


def test_a_torchvision_model_exports_at_a_tiny_size(tmp_path):
    run = train(["image", "--data", "demo:shapes", "--model", "resnet18", "--image-size", "16",
                 "--epochs", "1", "--batch-size", "16", "--max-steps", "1", "--name", "rn",
                 "--threads", "1"], tmp_path / "home")
    result = exported(run, "onnx", tmp_path / "out")
    assert result["model"] == "resnet18" and result["size_bytes"] > 40e6  # 11.7 M weights


def test_the_cli_prints_parity_then_the_folder(image_run, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["export", "--run", str(image_run), "--format", "onnx", "--out", str(out),
                 "--checkpoint", "last", "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == str(out)
    assert any(line.startswith("parity: largest difference ") for line in lines)
    assert any(line.startswith("checked on: 5 validation images") for line in lines)
    assert json.loads((out / "model.json").read_text())["checkpoint"] == "last"


def test_bad_requests_are_one_sentence(image_run, tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    cases = [
        (dict(run_dir=image_run, fmt="tflite", out=tmp_path / "o"), ConfigError,
         "Unknown export format 'tflite'"),
        (dict(run_dir=image_run, fmt="onnx", out=a_file), StorageError, "is a file"),
        (dict(run_dir=image_run, fmt="onnx", out=a_file / "sub"), StorageError,
         "Cannot write to"),                                    # not writable, even as root
        (dict(run_dir=tmp_path / "nothing", fmt="onnx", out=tmp_path / "o2"), Exception, ""),
        (dict(run_dir=image_run, fmt="onnx", out=tmp_path / "o3", checkpoint="middle"),
         ConfigError, "'best' or 'last'"),
    ]
    import os

    if os.geteuid() != 0:  # root writes anywhere
        cases.append((dict(run_dir=image_run, fmt="onnx", out=locked / "sub"), StorageError,
                       "Cannot write to"))
    try:
        for kwargs, kind, words in cases:
            event = export(kwargs.pop("run_dir"), kwargs.pop("fmt"), kwargs.pop("out"),
                           **kwargs)
            assert isinstance(event, ev.Failed), kwargs
            assert event.error_type in {kind.__name__} | ({"RunError"} if kind is Exception
                                                           else set())
            assert "\n" not in event.message and words in event.message
            assert "Traceback" not in event.message
    finally:
        locked.chmod(0o700)
    assert a_file.read_text() == "x"
    assert (image_run / "checkpoints" / "best.safetensors").is_file()  # nothing saved is lost


def test_a_run_without_a_checkpoint(tmp_path, monkeypatch):
    from playground.core.runs import RunStore

    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "h"))
    empty = RunStore().create("image", "empty", model="small_cnn", config={"epochs": 1})
    event = export(empty.path, "onnx", tmp_path / "o")
    assert isinstance(event, ev.Failed) and event.error_type == "RunError"
    assert "has no trained model yet (no checkpoint)" in event.message
    assert not (tmp_path / "o" / "model.onnx").exists()


def test_an_export_that_does_not_match_is_refused_and_not_kept(image_run, tmp_path,
                                                               monkeypatch):
    import playground.core.export as export_module

    real = export_module.make_runner

    def off_by_half(*args):
        run = real(*args)
        return lambda name, inputs: [o + 0.5 for o in run(name, inputs)]

    monkeypatch.setattr(export_module, "make_runner", off_by_half)
    out = tmp_path / "bad"
    event = export(image_run, "onnx", out)
    assert isinstance(event, ev.Failed) and event.error_type == ExportError.__name__
    assert event.message.startswith("The exported model differs from the app's by up to "
                                    "5.00e-01 (tolerance 0.0001; top-1 agreement 100.0% on 5 "
                                    "samples at batch 5)")
    assert "\n" not in event.message
    assert not (out / "model.onnx").exists() and not (out / "model.json").exists()
    assert TOLERANCE == 1e-4


def test_an_operator_without_onnx_translation_is_named(image_run, tmp_path, monkeypatch):
    import torch

    import playground.core.export as export_module

    @torch.library.custom_op("playground_export_test::mystery", mutates_args=(),
                             schema="(Tensor x) -> Tensor")
    def mystery(x):
        return x * 2

    @mystery.register_fake
    def _(x):
        return torch.empty_like(x)

    real = export_module.spec_for

    def with_mystery(run_spec):
        es = real(run_spec)
        inner = es.graphs[0].module

        class Wrapped(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = inner

            def forward(self, x):
                return mystery(self.inner(x))

        es.graphs[0].module = Wrapped()
        return es

    monkeypatch.setattr(export_module, "spec_for", with_mystery)
    out = tmp_path / "op"
    event = export(image_run, "onnx", out)
    assert isinstance(event, ev.Failed) and event.error_type == ExportError.__name__
    assert event.message == (
        "Export to ONNX failed: the operator playground_export_test.mystery used by this model "
        "has no ONNX translation; export to .pt2 instead (--format pt2), or replace "
        "playground_export_test.mystery in the model with an operator ONNX supports.")
    assert not (out / "model.onnx").exists()


def test_a_task_without_export_is_refused(tmp_path, monkeypatch):
    from playground.core.export import spec_for

    class Fake:
        task = "weather"

    with pytest.raises(ConfigError, match="Export of weather runs is not available"):
        spec_for(Fake())
