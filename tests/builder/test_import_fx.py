"""torch.fx import: torchvision's ResNet-18 becomes a graph whose built module and exported
source match ResNet-18's outputs with the same weights; registry models that trace import;
a user's file is imported and traced only in a child process, and failures read well."""

from __future__ import annotations

import textwrap

import pytest
import torch
import torchvision

from playground.builder import codegen, import_fx, shapes
from playground.builder.build import build_module, load_weights
from playground.builder.errors import ModelImportError
from playground.builder.graph import Graph

from .test_codegen import load_class


@pytest.fixture(scope="module")
def resnet18():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=7).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics, so eval mode matters
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return model


def test_resnet18_import_build_and_export_match_torchvision(resnet18, tmp_path):
    graph, weights = import_fx.trace_module(resnet18, (3, 64, 64), name="resnet18")
    report = shapes.infer(graph)
    assert report.ok and report.output_shape == (7,)
    assert report.total_params == sum(p.numel() for p in resnet18.parameters())
    assert sum(1 for n in graph.nodes.values() if n.type == "Add") == 8
    # weights go through the safetensors file next to the graph and back
    graph_file, weights_file = import_fx.save_import(graph, weights, tmp_path / "r18.json")
    loaded = Graph.load(graph_file)
    assert loaded.weights == "r18.safetensors" and weights_file.is_file()
    built = build_module(loaded).eval()
    kept, fresh = load_weights(built, weights_file)
    assert fresh == [] and len(kept) == 41          # 20 convs, 20 batch norms, fc
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = resnet18(x)
        torch.testing.assert_close(built(x), expected, rtol=0, atol=1e-5)
    exported = load_class(codegen.write_python(loaded, tmp_path / "r18.py"),
                          codegen.class_name(loaded))().eval()
    exported.load_state_dict(built.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(exported(x), expected, rtol=0, atol=1e-5)
    # a block edited so its weights no longer fit starts fresh; the others keep theirs
    loaded.set_param("fc", "out_features", 3)
    kept, fresh = load_weights(build_module(loaded), weights_file)
    assert fresh == ["fc"] and len(kept) == 40


def test_registry_models_that_trace_import():
    graph, weights = import_fx.import_model("small_cnn", num_classes=4)
    report = shapes.infer(graph)
    assert report.ok and report.output_shape == (4,)
    assert "AdaptiveMaxPool2d" in {n.type for n in graph.nodes.values()}
    with pytest.raises(ModelImportError, match="GPT could not be traced by torch.fx"):
        import_fx.import_model("gpt")
    with pytest.raises(ModelImportError, match="Unknown model 'nope'. Choose one of: "
                                               "small_cnn, resnet18"):
        import_fx.import_model("nope")


def test_a_call_without_a_block_is_named():
    class Gated(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(x) * torch.sigmoid(x)

    with pytest.raises(ModelImportError, match=r"Gated cannot be imported: it calls the "
                                               r"operator mul, which has no builder block "
                                               r"\(at 'mul'\)"):
        import_fx.trace_module(Gated(), (4,))

    class Shared(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(self.fc(x))

    with pytest.raises(ModelImportError, match="the layer fc \\(with weights\\) is used twice"):
        import_fx.trace_module(Shared(), (4,))


USER_FILE = textwrap.dedent('''
    import torch
    from torch import nn
    import torch.nn.functional as F

    print("user code prints this")

    class Net(nn.Module):
        input_shape = (1, 16, 16)

        def __init__(self, width=4):
            super().__init__()
            self.conv = nn.Conv2d(1, width, 3, padding=1)
            self.fc = nn.Linear(width * 8 * 8, 5)

        def forward(self, x):
            x = F.relu(self.conv(x))
            x = F.adaptive_avg_pool2d(x, 8)
            return self.fc(torch.flatten(x, 1))

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(x) if x.sum() > 0 else x
''')


def test_a_users_file_is_traced_in_a_child_process(tmp_path):
    import sys

    path = tmp_path / "user_net.py"
    path.write_text(USER_FILE)
    graph, weights = import_fx.import_python_file(f"{path}:Net")
    assert "user_net" not in " ".join(sys.modules)      # never imported here
    assert [n.type for n in graph.nodes.values()] == [
        "Input", "Conv2d", "ReLU", "AdaptiveAvgPool2d", "Flatten", "Linear"]
    built = build_module(graph).eval()
    kept, fresh = load_weights(built, weights)
    assert sorted(kept) == ["conv", "fc"] and not fresh
    assert shapes.infer(graph).output_shape == (5,)

    with pytest.raises(ModelImportError, match=r"Branchy could not be traced by torch\.fx "
                                               r"\(TraceError: .*if/for on a tensor"):
        import_fx.import_python_file(f"{path}:Branchy", (4,))


def test_a_file_that_fails_to_import_gets_a_readable_message(tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("import os\nx = (\n")
    with pytest.raises(ModelImportError, match=r"^broken.py could not be imported \(line 2\): "
                                               r"SyntaxError: '\(' was never closed"):
        import_fx.import_python_file(f"{bad}:Net", (4,))
    with pytest.raises(ModelImportError, match="is not FILE.py:ClassName"):
        import_fx.import_python_file("net.py", (4,))
    with pytest.raises(ModelImportError, match="does not exist"):
        import_fx.import_python_file(f"{tmp_path / 'none.py'}:Net", (4,))
