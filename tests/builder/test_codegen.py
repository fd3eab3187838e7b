"""Exported source reproduces the network: equal parameter counts and equal outputs with the
same weights, for every template and every block type. The generated file is imported with
importlib here (tests are not the app; the app only writes the file)."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch

from playground.builder import codegen, templates
from playground.builder.build import build_module, example_input, input_vocab
from playground.builder.graph import Graph

from .test_blocks import CASES, one_block_graph


def load_class(path, name):
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules.pop(spec.name, None)
    return getattr(module, name)


def assert_equivalent(graph: Graph, tmp_path, seed: int = 0):
    built = build_module(graph).eval()
    path = codegen.write_python(graph, tmp_path / f"{graph.name}.py")
    exported = load_class(path, codegen.class_name(graph))().eval()
    assert sum(p.numel() for p in exported.parameters()) == \
        sum(p.numel() for p in built.parameters())
    assert list(exported.state_dict()) == list(built.state_dict())
    exported.load_state_dict(built.state_dict())
    x = example_input(built, batch=2, seed=seed, vocab_size=input_vocab(graph))
    with torch.no_grad():
        a, b = built(x), exported(x)
    assert a.shape == b.shape
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    return path


@pytest.mark.parametrize("name", templates.names())
def test_template_export_is_equivalent(name, tmp_path):
    path = assert_equivalent(templates.build(name), tmp_path)
    text = path.read_text()
    assert "def forward(self, x: torch.Tensor)" in text and "def __init__(self)" in text
    compile(text, str(path), "exec")  # parses; never executed by the app


@pytest.mark.parametrize("kind,case", [(k, c) for k, cases in CASES.items() for c in cases
                                       if k != "Input"],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_block_export_is_equivalent(kind, case, tmp_path):
    shape, dtype, params = case
    assert_equivalent(one_block_graph(kind, shape, dtype, params), tmp_path)


def test_names_come_from_the_graph_and_cannot_inject_code(tmp_path):
    g = templates.build("lenet5")
    g.name = 'evil"""\nimport os; os.system("x")'
    g.description = '"""\nimport os\nos.system("rm -rf /")\n"""'
    g.rename("conv1", "type")           # shadows nn.Module.type: becomes type_
    g.rename("fc3", "classifier")
    source = codegen.python_source(g)
    assert "self.type_ = nn.Conv2d(1, 6, kernel_size=5, padding=2)" in source
    assert "x = self.classifier(x)  # (B, 10)" in source
    assert source.count('"""') == 2      # only the module docstring's own quotes
    assert "\nimport os" not in source
    assert "class EvilImportOsOsSystemX(nn.Module):" in source
    assert_equivalent(g, tmp_path)


def test_export_refuses_a_broken_graph():
    from playground.builder.errors import GraphError

    g = templates.build("lenet5", (1, 3, 3))
    with pytest.raises(GraphError, match="Conv2d 'conv2' has a 5x5 kernel"):
        codegen.python_source(g)
