"""``playground builder ...``: templates, check (shapes, totals, a mismatch as one error line
and exit 1), export (source, JSON, weights) and import (registry model, a user's file)."""

from __future__ import annotations

import json

import pytest
import torch

from playground.builder import codegen, templates
from playground.builder.graph import Graph
from playground.cli import main
from playground.core import logs

from .test_codegen import load_class


@pytest.fixture(autouse=True)
def _no_leftover_logging():
    yield
    logs.reset()


def _one_error(err: str) -> str:
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert "Traceback" not in err
    return errors[0]


def test_templates_lists_name_and_one_line_each(capsys):
    assert main(["builder", "templates"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == templates.names()
    assert lines[1].startswith("lenet5 ") and "LeNet-5" in lines[1]


def test_blocks_lists_the_palette(capsys):
    assert main(["builder", "blocks", "--json"]) == 0
    specs = json.loads(capsys.readouterr().out)
    conv = next(s for s in specs if s["type"] == "Conv2d")
    assert conv["group"] == "Convolution" and conv["params"][0]["name"] == "in_channels"


def test_check_lenet5_on_28x28_ends_in_ten_outputs(capsys):
    assert main(["builder", "check", "--template", "lenet5", "--input", "1,28,28"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["block", "type", "output", "params"]
    assert out[2].split() == ["input", "Input", "1x28x28", "0"]
    assert out[-4].split() == ["fc3", "Linear", "10", "850"]
    assert out[-3] == "total parameters: 61,706"
    assert out[-1] == "output: 10 (from fc3)"


def test_check_lenet5_on_3x3_names_the_block_and_exits_non_zero(capsys):
    assert main(["builder", "check", "--template", "lenet5", "--input", "1,3,3"]) == 1
    out, err = capsys.readouterr()
    line = _one_error(err)
    assert line == ("error: Conv2d 'conv2' has a 5x5 kernel but its input is only 1x1; it needs "
                    "at least 5x5: use a smaller kernel_size or more padding, or give the "
                    "network a larger input.")
    assert "pool1    AvgPool2d  6x1x1" in out and "conv2    Conv2d     ERROR" in out


def test_check_a_graph_file_with_a_mismatch_and_json_output(tmp_path, capsys):
    g = templates.build("mlp")
    g.set_param("fc2", "in_features", 100)
    path = g.save(tmp_path / "mlp.json")
    assert main(["builder", "check", str(path), "--json"]) == 1
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["ok"] is False
    problem = report["problems"][0]
    assert problem["node"] == "fc2" and problem["fix"] == {"param": "in_features", "value": 256}
    assert _one_error(err) == ("error: Linear 'fc2' expects 100 input features but gets 256: "
                               "set in_features to 256.")


@pytest.mark.parametrize("argv,words", [
    (["--input", "1,0,28"], "error: --input must be whole numbers of at least 1"),
    (["--input=-3,28,28"], "error: --input must be whole numbers of at least 1"),
    (["--template", "lenet"], "error: Unknown template 'lenet'. Choose one of: mlp, lenet5"),
    ([], "error: Give a graph file or --template NAME (one of them)."),
])
def test_check_bad_arguments_are_one_line(argv, words, capsys):
    args = ["builder", "check", *(argv if "--template" in argv or not argv else
                                   ["--template", "lenet5", *argv])]
    try:
        code = main(args)
    except SystemExit as exc:  # argparse refuses while parsing
        code = exc.code
    assert code in (1, 2)
    assert _one_error(capsys.readouterr().err).startswith(words)


def test_check_a_bad_or_newer_file(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["builder", "check", str(bad)]) == 1
    assert _one_error(capsys.readouterr().err).startswith("error: bad.json is not valid JSON")
    newer = templates.build("mlp").to_dict()
    newer["version"] = 99
    (tmp_path / "new.json").write_text(json.dumps(newer))
    assert main(["builder", "check", str(tmp_path / "new.json")]) == 1
    assert "update the app to open it." in _one_error(capsys.readouterr().err)


def test_export_writes_source_and_json(tmp_path, capsys):
    out_py, out_json = tmp_path / "lenet.py", tmp_path / "lenet.json"
    assert main(["builder", "export", "--template", "lenet5", "--python", str(out_py),
                 "--json", str(out_json), "--class-name", "LeNet5"]) == 0
    assert capsys.readouterr().out.splitlines() == [str(out_json), str(out_py)]
    assert Graph.load(out_json).to_dict() == templates.build("lenet5").to_dict()
    net = load_class(out_py, "LeNet5")()
    assert sum(p.numel() for p in net.parameters()) == 61_706
    assert main(["builder", "export", "--template", "lenet5", "--input", "1,3,3",
                 "--python", str(tmp_path / "x.py")]) == 1
    assert "Conv2d 'conv2'" in _one_error(capsys.readouterr().err)
    assert not (tmp_path / "x.py").exists()


def test_import_a_registry_model_then_export_it_with_its_weights(tmp_path, capsys):
    out = tmp_path / "cnn.json"
    assert main(["builder", "import", "small_cnn", "--classes", "3", "--out", str(out)]) == 0
    stdout, err = capsys.readouterr()
    assert stdout.splitlines() == [str(out), str(tmp_path / "cnn.safetensors")]
    assert "small_cnn: 16 blocks" in err and "output 3" in err
    assert main(["builder", "check", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("output: 3 ")
    py = tmp_path / "cnn_export.py"
    assert main(["builder", "export", str(out), "--python", str(py)]) == 0
    assert capsys.readouterr().out.splitlines() == [str(py), str(py.with_suffix(".safetensors"))]
    from safetensors.torch import load_file

    from playground.vision.models import build_model

    net = load_class(py, codegen.class_name(Graph.load(out)))().eval()
    net.load_state_dict(load_file(py.with_suffix(".safetensors")))
    x = torch.randn(2, 3, 32, 32)
    original = build_model("small_cnn", 3, image_size=32).eval()
    assert sum(p.numel() for p in net.parameters()) == \
        sum(p.numel() for p in original.parameters())
    assert net(x).shape == (2, 3)


def test_import_a_broken_file_is_one_error_line(tmp_path, capsys):
    bad = tmp_path / "mine.py"
    bad.write_text("def broken(:\n")
    assert main(["builder", "import", f"{bad}:Net", "--input", "4",
                 "--out", str(tmp_path / "g.json")]) == 1
    assert _one_error(capsys.readouterr().err).startswith(
        "error: mine.py could not be imported (line 1): SyntaxError")
    assert not (tmp_path / "g.json").exists()
