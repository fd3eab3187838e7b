"""The block catalogue: parameters parse (never eval) and validate; for every block type,
shape inference on meta tensors equals a real forward pass, and the built module's
parameters equal the inferred count."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from playground.builder import blocks
from playground.builder.build import build_module, example_input
from playground.builder.errors import GraphError, ParamError
from playground.builder.graph import _MODULE_NAMES, Graph
from playground.builder.shapes import infer

# block type -> (input shape, input dtype, params); one or more cases each
CASES: dict[str, list[tuple[tuple[int, ...], str, dict]]] = {
    "Input": [((3, 8, 8), "float32", {})],
    "Conv1d": [((4, 20), "float32", dict(in_channels=4, out_channels=6, kernel_size=3,
                                         stride=2, padding=1, dilation=2, groups=2))],
    "Conv2d": [((4, 12, 10), "float32", dict(in_channels=4, out_channels=8,
                                             kernel_size="3,5", stride=2, padding="1,2",
                                             groups=2, bias=False))],
    "ConvTranspose2d": [((4, 5, 5), "float32", dict(in_channels=4, out_channels=3,
                                                    kernel_size=3, stride=2, padding=1,
                                                    output_padding=1))],
    "MaxPool1d": [((4, 9), "float32", dict(kernel_size=3, stride=2, padding=1,
                                           ceil_mode=True))],
    "MaxPool2d": [((3, 9, 9), "float32", dict(kernel_size=3, stride=2, ceil_mode=True))],
    "AvgPool1d": [((4, 9), "float32", dict(kernel_size=2, stride=2))],
    "AvgPool2d": [((3, 8, 8), "float32", dict(kernel_size="2,3", stride="2,1",
                                              padding="1,1"))],
    "AdaptiveAvgPool1d": [((3, 9), "float32", dict(output_size=4))],
    "AdaptiveAvgPool2d": [((3, 9, 9), "float32", dict(output_size="2,3"))],
    "AdaptiveMaxPool1d": [((3, 9), "float32", dict(output_size=2))],
    "AdaptiveMaxPool2d": [((3, 9, 7), "float32", dict(output_size=1))],
    "Linear": [((5, 7), "float32", dict(in_features=7, out_features=3)),
               ((12,), "float32", dict(in_features=12, out_features=4, bias=False))],
    "BatchNorm1d": [((6, 10), "float32", dict(num_features=6)),
                    ((6,), "float32", dict(num_features=6, affine=False))],
    "BatchNorm2d": [((6, 4, 4), "float32", dict(num_features=6, eps=1e-3, momentum=0.2))],
    "LayerNorm": [((5, 8), "float32", dict(normalized_shape=8, bias=False))],
    "GroupNorm": [((6, 4, 4), "float32", dict(num_groups=3, num_channels=6))],
    "Dropout": [((10,), "float32", dict(p=0.3))],
    "ReLU": [((2, 3), "float32", {})],
    "GELU": [((2, 3), "float32", dict(approximate="tanh"))],
    "SiLU": [((4,), "float32", {})],
    "Sigmoid": [((4,), "float32", {})],
    "Tanh": [((4,), "float32", {})],
    "Softmax": [((4, 5), "float32", dict(dim=1))],
    "Flatten": [((3, 4, 5), "float32", dict(start_dim=2, end_dim=-1)),
                ((3, 4, 5), "float32", {})],
    "Reshape": [((3, 4, 5), "float32", dict(shape="6,-1"))],
    "Permute": [((3, 4, 5), "float32", dict(dims="2,0,1"))],
    "Embedding": [((7,), "int64", dict(num_embeddings=50, embedding_dim=8))],
    "PositionalEncoding": [((6, 8), "float32", dict(kind="sinusoidal", d_model=8, max_len=10)),
                           ((6, 7), "float32", dict(kind="sinusoidal", d_model=7, max_len=6)),
                           ((6, 8), "float32", dict(kind="learned", d_model=8, max_len=10))],
    "LSTM": [((6, 8), "float32", dict(input_size=8, hidden_size=5, num_layers=2,
                                      bidirectional=True, output="last")),
             ((6, 8), "float32", dict(input_size=8, hidden_size=5, output="all"))],
    "GRU": [((6, 8), "float32", dict(input_size=8, hidden_size=5, output="mean",
                                     dropout=0.1, num_layers=2))],
    "MultiheadAttention": [((6, 8), "float32", dict(embed_dim=8, num_heads=2, causal=True)),
                           ((6, 8), "float32", dict(embed_dim=8, num_heads=4, bias=False))],
    "TransformerEncoderLayer": [((6, 8), "float32", dict(d_model=8, nhead=2,
                                                         dim_feedforward=16,
                                                         activation="gelu", norm_first=True,
                                                         causal=True)),
                                ((6, 8), "float32", dict(d_model=8, nhead=2,
                                                         dim_feedforward=16))],
    "Add": [((3, 4), "float32", dict(inputs=3))],
    "Concat": [((3, 4, 5), "float32", dict(inputs=3, dim=2)),
               ((3, 4, 5), "float32", dict(inputs=2, dim=-1))],
}


def one_block_graph(kind: str, shape, dtype: str, params: dict) -> Graph:
    g = Graph(f"one_{kind}")
    g.add("Input", "input", shape=shape, dtype=dtype, vocab_size=50)
    if kind == "Input":
        return g
    node = g.add(kind, "block", **params)
    for port in range(node.num_inputs):
        g.connect("input", "block", port)
    return g


def test_every_block_type_has_a_case():
    assert set(CASES) == set(blocks.BLOCKS)


@pytest.mark.parametrize("kind,case", [(k, c) for k, cases in CASES.items() for c in cases],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_inferred_shape_and_params_equal_a_real_forward(kind, case):
    shape, dtype, params = case
    graph = one_block_graph(kind, shape, dtype, params)
    report = infer(graph)
    assert report.ok, [p.message for p in report.problems]
    module = build_module(graph).eval()
    x = example_input(module, batch=3, vocab_size=50)
    with torch.no_grad():
        y = module(x)
    assert tuple(y.shape) == (3, *report.output_shape)
    assert y.dtype == getattr(torch, report.blocks[report.output].dtype)
    assert report.total_params == sum(p.numel() for p in module.parameters())


def test_params_parse_typed_text_and_refuse_bad_values():
    conv = blocks.get("Conv2d")
    p = conv.parse_params({"in_channels": " 3 ", "kernel_size": "3x5", "bias": "no",
                           "stride": [2, 1], "padding": 1.0}, "conv1")
    assert p["in_channels"] == 3 and p["kernel_size"] == (3, 5) and p["bias"] is False
    assert p["stride"] == (2, 1) and p["padding"] == (1,)
    for bad, words in [({"kernel_size": "__import__('os')"}, "kernel_size must be"),
                       ({"out_channels": 0}, "out_channels must be a whole number from 1"),
                       ({"out_channels": True}, "out_channels must be"),
                       ({"kernel_size": "3,3,3"}, "1 to 2 whole numbers"),
                       ({"bias": "maybe"}, "bias must be true or false"),
                       ({"kernal_size": 3}, "no parameter 'kernal_size'")]:
        with pytest.raises(ParamError, match="Conv2d 'conv1': ") as err:
            conv.parse_params(bad, "conv1")
        assert words in str(err.value)
    drop = blocks.get("Dropout")
    for bad in ("nan", "inf", "1e400", 1.5, "0.5; import os"):
        with pytest.raises(ParamError):
            drop.parse_params({"p": bad})
    assert blocks.get("GELU").parse_params({"approximate": "tanh"})["approximate"] == "tanh"
    with pytest.raises(ParamError, match="one of none, tanh"):
        blocks.get("GELU").parse_params({"approximate": "exact"})


def test_unknown_block_names_the_closest():
    with pytest.raises(GraphError, match="did you mean Conv2d"):
        blocks.get("Conv2D")


def test_palette_groups_and_one_line_docs():
    groups = blocks.by_group()
    assert sum(len(v) for v in groups.values()) == len(blocks.BLOCKS)
    for block in blocks.BLOCKS.values():
        assert block.group in blocks.GROUPS
        assert block.doc.endswith(".") and "\n" not in block.doc and len(block.doc) < 110
        for p in block.params:
            assert p.help and p.parse(p.default) == p.default, (block.name, p.name)


def test_reserved_attribute_names_cover_nn_module():
    reserved = {n for n in dir(nn.Module()) if not n.startswith("_")}
    assert reserved <= _MODULE_NAMES
