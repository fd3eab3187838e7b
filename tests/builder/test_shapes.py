"""Shape inference: equals a real forward for every template; a mismatch is one sentence on
the block that causes it (expected, got, a fix where obvious) and shapes before it stay;
PyTorch's own messages are translated; 1,000 blocks infer quickly."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from playground.builder import blocks, shapes, templates
from playground.builder.build import build_module, example_input, input_vocab
from playground.builder.errors import GraphError
from playground.builder.graph import Graph
from playground.builder.shapes import ShapeCache, infer


@pytest.mark.parametrize("name", templates.names())
def test_template_shapes_equal_a_real_forward(name):
    graph = templates.build(name)
    report = infer(graph)
    assert report.ok, [p.message for p in report.problems]
    assert tuple(report.input_shape) == templates.get(name).input_shape
    module = build_module(graph).eval()
    seen = {}
    hooks = [module.block_module(nid).register_forward_hook(
        lambda m, i, o, nid=nid: seen.__setitem__(nid, o[0] if isinstance(o, tuple) else o))
        for nid in module.block_attrs if module.block_module(nid) is not None]
    x = example_input(module, batch=2, vocab_size=input_vocab(graph))
    with torch.no_grad():
        y = module(x)
    for h in hooks:
        h.remove()
    assert tuple(y.shape) == (2, *report.output_shape)
    for nid, out in seen.items():
        if graph.nodes[nid].type not in ("LSTM", "GRU", "MultiheadAttention"):
            assert tuple(out.shape[1:]) == report.blocks[nid].shape, nid
    assert report.total_params == sum(p.numel() for p in module.parameters())
    assert report.activation_bytes > 0


def test_lenet5_on_28x28_ends_in_ten_outputs():
    report = infer(templates.build("lenet5"), "1,28,28")
    assert report.output_shape == (10,) and report.total_params == 61_706
    assert report.blocks["flatten"].shape == (400,)
    lines = shapes.describe(report)
    assert lines[-1] == "output: 10 (from fc3)"


def test_kernel_larger_than_input_is_reported_on_that_block_and_earlier_shapes_stay():
    report = infer(templates.build("lenet5"), (1, 3, 3))
    (error,) = report.errors
    assert error.node == "conv2" and error.kind == "mismatch"
    assert error.message.startswith("Conv2d 'conv2' has a 5x5 kernel but its input is only 1x1")
    assert error.expected == "an input of at least 5x5" and error.got == "1x1"
    assert report.blocks["pool1"].shape == (6, 1, 1)
    assert report.blocks["conv2"].status == "error"
    assert report.blocks["fc3"].shape is None and report.blocks["fc3"].status == "skipped"
    assert not report.ok


def _chain(*layers, shape=(1, 28, 28), dtype="float32") -> Graph:
    g = Graph("chain")
    g.add("Input", "input", shape=shape, dtype=dtype)
    last = "input"
    for nid, kind, params in layers:
        g.add(kind, nid, **params)
        g.connect(last, nid)
        last = nid
    return g


def test_linear_in_features_mismatch_offers_the_flattened_size():
    g = _chain(("conv", "Conv2d", dict(in_channels=1, out_channels=32, kernel_size=3,
                                       padding=1)),
               ("pool", "MaxPool2d", dict(kernel_size=4, stride=4)),
               ("flat", "Flatten", {}),
               ("fc1", "Linear", dict(in_features=100, out_features=10)))
    report = infer(g)
    (error,) = report.errors
    assert error.node == "fc1"
    assert error.message == "Linear 'fc1' expects 100 input features but gets 1568: set " \
                            "in_features to 1568."
    assert (error.expected, error.got) == ("100", "1568")
    assert error.fix == {"param": "in_features", "value": 1568}
    assert report.blocks["flat"].shape == (1568,)
    g.apply_fix(error)
    assert infer(g).ok


def test_linear_without_flatten_says_to_add_one():
    g = _chain(("conv", "Conv2d", dict(in_channels=1, out_channels=8, kernel_size=3)),
               ("fc", "Linear", dict(in_features=5408, out_features=10)))
    (error,) = infer(g).errors
    assert error.node == "fc" and "add a Flatten block before it" in error.message
    assert error.fix is None


def test_channel_mismatch_names_the_consumer_with_the_fix():
    g = _chain(("conv1", "Conv2d", dict(in_channels=1, out_channels=6, kernel_size=3)),
               ("bn", "BatchNorm2d", dict(num_features=6)),
               ("conv2", "Conv2d", dict(in_channels=3, out_channels=8, kernel_size=3)))
    (error,) = infer(g).errors
    assert error.node == "conv2"
    assert error.message == ("Conv2d 'conv2' expects 3 input channels but gets 6 (its input "
                             "is 6x26x26): set in_channels to 6.")
    g.apply_fix(error)
    assert infer(g).ok


def test_add_of_different_shapes_is_reported_on_the_add():
    g = _chain(("conv", "Conv2d", dict(in_channels=1, out_channels=4, kernel_size=3,
                                       stride=2, padding=1)))
    g.add("Add", "res")
    g.connect("conv", "res", 0)
    g.connect("input", "res", 1)
    report = infer(g)
    (error,) = report.errors
    assert error.node == "res" and error.related == ("conv", "input")
    assert "needs inputs of the same shape but gets 4x14x14 (from conv) and 1x28x28 (from " \
           "input)" in error.message
    assert "1x1 Conv2d" in error.fix_text
    assert report.blocks["conv"].shape == (4, 14, 14)


def test_concat_needs_equal_sizes_but_along_dim():
    g = _chain(("a", "MaxPool2d", dict(kernel_size=2, stride=2)))
    g.add("Concat", "cat", dim=1)
    g.connect("a", "cat", 0)
    g.connect("input", "cat", 1)
    (error,) = infer(g).errors
    assert error.node == "cat" and "differ in another dimension" in error.message


@pytest.mark.parametrize("layers,shape,dtype,node,words", [
    ([("bn", "BatchNorm1d", dict(num_features=1))], (1, 28, 28), "float32", "bn",
     "use BatchNorm2d"),
    ([("f", "Flatten", {}), ("c", "Conv2d", dict(in_channels=1))], (1, 28, 28), "float32", "c",
     "put it before the Flatten"),
    ([("e", "Embedding", dict(num_embeddings=10))], (5,), "float32", "e",
     "set the Input's dtype to int64"),
    ([("fc", "Linear", dict(in_features=5))], (5,), "int64", "fc",
     "put an Embedding block before it"),
    ([("e", "Embedding", dict(num_embeddings=1000, embedding_dim=8)),
      ("attn", "MultiheadAttention", dict(embed_dim=8, num_heads=3))], (5,), "int64", "attn",
     "set num_heads to 2"),
    ([("e", "Embedding", dict(num_embeddings=1000, embedding_dim=8)),
      ("pos", "PositionalEncoding", dict(d_model=8, max_len=4))], (5,), "int64", "pos",
     "set max_len to 5"),
    ([("s", "Softmax", dict(dim=3))], (4,), "float32", "s", "set dim to -1"),
    ([("r", "Reshape", dict(shape="5,-1"))], (3, 4), "float32", "r", "product is 12"),
    ([("p", "Permute", dict(dims="1,0"))], (3, 4, 5), "float32", "p", "give 3 dimensions"),
    ([("e", "Embedding", dict(num_embeddings=10))], (5,), "int64", "e",
     "set num_embeddings to 1000"),
])
def test_each_kind_of_mistake_is_named_on_its_block(layers, shape, dtype, node, words):
    report = infer(_chain(*layers, shape=shape, dtype=dtype))
    errors = report.errors
    assert errors and errors[0].node == node, [p.message for p in report.problems]
    assert words in errors[0].message
    assert errors[0].message.endswith(".") and errors[0].message.count("\n") == 0
    if errors[0].fix:
        g = _chain(*layers, shape=shape, dtype=dtype)
        g.apply_fix(infer(g).errors[0])
        assert not any(p.node == node and p.kind == errors[0].kind for p in infer(g).errors)


def _torch_error(fn) -> str:
    try:
        fn()
    except Exception as exc:  # noqa: BLE001
        return str(exc)
    raise AssertionError("no error")


@pytest.mark.parametrize("kind,params,shapes_,call,words", [
    ("Conv2d", {}, [(3, 3, 3)], lambda: nn.Conv2d(3, 6, 5)(torch.zeros(1, 3, 3, 3)),
     "has a 5x5 kernel but its input is only 3x3"),
    ("Conv2d", {}, [(4, 8, 8)], lambda: nn.Conv2d(3, 6, 3)(torch.zeros(1, 4, 8, 8)),
     "set in_channels to 4"),
    ("MaxPool2d", {}, [(3, 1, 1)], lambda: nn.MaxPool2d(2)(torch.zeros(1, 3, 1, 1)),
     "too small for its kernel_size"),
    ("Linear", {}, [(1568,)], lambda: nn.Linear(400, 120)(torch.zeros(1, 1568)),
     "set in_features to 1568"),
    ("Add", {}, [(3, 4), (3, 5)], lambda: torch.zeros(1, 3, 4) + torch.zeros(1, 3, 5),
     "gets inputs of different shapes (3x4 and 3x5)"),
    ("Concat", {}, [(3, 4), (3, 5)],
     lambda: torch.cat([torch.zeros(1, 3, 4), torch.zeros(1, 3, 5)], 1), "cannot join"),
    ("Reshape", {}, [(3, 4)], lambda: torch.zeros(1, 3, 4).reshape(1, 5, -1),
     "cannot make that shape"),
    ("Conv1d", {}, [(3, 28, 28)], lambda: nn.Conv1d(3, 6, 3)(torch.zeros(1, 3, 28, 28)),
     "needs a (channels, length) input"),
    ("BatchNorm2d", {}, [(3, 4, 4)], lambda: nn.BatchNorm2d(6).eval()(torch.zeros(1, 3, 4, 4)),
     "set num_features to 3"),
    ("LSTM", {}, [(5, 4)], lambda: nn.LSTM(6, 8, batch_first=True)(torch.zeros(1, 5, 4)),
     "set input_size to 4"),
    ("MultiheadAttention", {}, [(5, 8)], lambda: nn.MultiheadAttention(
        16, 4, batch_first=True)(torch.zeros(1, 5, 8), torch.zeros(1, 5, 8),
                                 torch.zeros(1, 5, 8)), "set embed_dim to 8"),
    ("Embedding", {}, [(5,)], lambda: nn.Embedding(10, 4)(torch.zeros(1, 5)),
     "needs token ids"),
    ("Softmax", {}, [(4,)], lambda: nn.Softmax(3)(torch.zeros(1, 4)), "uses dimension 3"),
])
def test_pytorch_messages_are_translated(kind, params, shapes_, call, words):
    message = _torch_error(call)
    m = shapes.translate(blocks.get(kind), params, shapes_, "RuntimeError", message)
    assert words in m.what + ": " + m.fix_text, (message, m)
    assert "PyTorch says" not in m.what


def test_an_unknown_message_is_quoted():
    m = shapes.translate(blocks.get("ReLU"), {}, [(3,)], "RuntimeError", "odd thing\nmore")
    assert m.what == "fails on its 3 input; PyTorch says: odd thing"


def test_input_shape_of_zero_or_negative_size_is_refused():
    for bad in ("1,0,28", "-1,28,28", "", "a,b", [3, 0]):
        with pytest.raises(GraphError, match="input shape must be"):
            infer(templates.build("lenet5"), bad)


def test_thousand_blocks_infer_quickly_and_the_cache_makes_an_edit_cheap():
    g = Graph("deep")
    g.add("Input", "input", shape=(16,))
    last = "input"
    for i in range(999):
        kind = ("Linear", "ReLU", "LayerNorm")[i % 3]
        params = {"in_features": 16, "out_features": 16} if kind == "Linear" else (
            {"normalized_shape": 16} if kind == "LayerNorm" else {})
        nid = g.add(kind, f"b{i}", **params).id
        g.connect(last, nid)
        last = nid
    assert len(g) == 1000
    cache = ShapeCache()
    start = time.perf_counter()
    report = infer(g, cache=cache)
    first = time.perf_counter() - start
    assert report.ok and report.output_shape == (16,)
    assert report.total_params == 333 * (16 * 16 + 16) + 333 * 32
    g.set_param("b600", "out_features", 8)      # breaks b602, the LayerNorm after it
    start = time.perf_counter()
    report = infer(g, cache=cache)
    again = time.perf_counter() - start
    assert [p.node for p in report.errors] == ["b602"]
    assert report.blocks["b601"].shape == (8,)
    assert first < 10 and again < first
    assert cache.hits >= 590
