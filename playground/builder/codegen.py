"""Export a graph as readable PyTorch source: one ``nn.Module`` class with ``__init__`` and
``forward``, attributes named after the blocks, a shape comment on every line.

The source is written to a file and never executed by the app. Its ``state_dict()`` keys are
those of :class:`playground.builder.build.GraphModule`, so the same weights load into both
(a test checks equal parameter counts and equal outputs). Everything that goes into the text
is either a validated parameter (numbers, booleans, fixed choices), an identifier checked by
the graph (block names), or a name/description with quotes and control characters removed,
so a hand-edited graph file cannot smuggle code into the export.
"""

from __future__ import annotations

import inspect
import os
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

from playground.builder import blocks as B
from playground.builder.block_ops import POSITIONAL_CLASSES
from playground.builder.graph import Graph, attribute_names
from playground.builder.shapes import ShapeReport

_HELPERS = ("SinusoidalPositionalEncoding", "LearnedPositionalEncoding", "causal_mask")


def class_name(graph: Graph) -> str:
    """``lenet5`` -> ``Lenet5``, ``my net`` -> ``MyNet``; a valid, non-clashing identifier."""
    words = re.findall(r"[A-Za-z0-9]+", graph.name)
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Network"
    if name[0].isdigit():
        name = "Net" + name
    if name in _HELPERS or name in ("Module", "Tensor", "F", "nn", "torch", "math"):
        name += "Net"
    return name[:64]


def _safe_doc(text: str) -> str:
    text = text.replace("\\", "/").replace('"', "'")
    return "".join(c if c.isprintable() or c == "\n" else " " for c in text)


def python_source(graph: Graph, input_shape: Sequence[int] | str | None = None,
                  name: str | None = None, report: ShapeReport | None = None) -> str:
    """The source text (checked first: a graph with an error raises GraphError)."""
    from playground.builder.build import check

    report = report or check(graph, input_shape)
    analysis = report.analysis
    attrs = attribute_names(graph)
    order = [nid for nid in analysis.order if nid in analysis.live]
    cls = name or class_name(graph)
    position = {nid: i for i, nid in enumerate(order)}
    # the step after which each block's output is no longer needed: its variable is free then
    last_use = {nid: max((position[c] for c in analysis.consumers[nid] if c in position),
                         default=-1) for nid in order}

    init, body, helpers = [], [], set()
    var: dict[str, str] = {analysis.input: "x"}
    for nid in order:
        if nid == analysis.input:
            continue
        node = graph.nodes[nid]
        block = B.get(node.type)
        init_code = block.init_code(node.params)
        if init_code is not None:
            init.append(f"self.{attrs[nid]} = {init_code}")
        if node.type == "PositionalEncoding":
            helpers.add(POSITIONAL_CLASSES[node.params["kind"]])
        if node.params.get("causal"):
            helpers.add("causal_mask")
        srcs = [s for s in analysis.sources[nid] if s is not None]
        ins = [var[s] for s in srcs]
        free = [s for s in srcs if last_use[s] == position[nid]]
        reuse = next((s for s in free if var[s] == "x"), free[0] if free else None)
        out = var[reuse] if reuse is not None else attrs[nid]
        var[nid] = out
        lines = block.forward_code(attrs[nid], ins, out, node.params)
        shape = report.blocks[nid].shape
        if lines and shape is not None:
            dims = ", ".join(["B", *map(str, shape)])
            comment = f"  # ({dims})"
            lines[-1] = lines[-1] + comment if "#" not in lines[-1] else lines[-1]
        body += lines
    body.append(f"return {var[analysis.output]}")

    in_shape = report.input_shape or ()
    dtype = graph.nodes[analysis.input].params["dtype"]
    in_dims = ", ".join(["B", *map(str, in_shape)])
    out_dims = ", ".join(["B", *map(str, report.output_shape or ())])
    title = _safe_doc(graph.description) or "A network made in the Builder."
    doc = textwrap.fill(title, 92)
    parts = [
        '"""' + _safe_doc(f"{cls}: exported by Model Playground from the builder graph "
                          f"'{' '.join(graph.name.split())[:80]}'."),
        "",
        doc,
        "",
        f"Input: ({in_dims}) {dtype}{' token ids' if dtype == 'int64' else ''}; output: "
        f"({out_dims}). {report.total_params:,} parameters.",
        '"""',
        "",
    ]
    if "SinusoidalPositionalEncoding" in helpers:
        parts.append("import math")
        parts.append("")
    parts += ["import torch", "from torch import nn", ""]
    from playground.builder import modules

    for helper in _HELPERS:
        if helper in helpers:
            parts += ["", inspect.getsource(getattr(modules, helper)).rstrip(), ""]
    parts += ["", f"class {cls}(nn.Module):",
              "    def __init__(self) -> None:", "        super().__init__()"]
    parts += ["        " + line for line in init]
    parts += ["", f"    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: ({in_dims})"]
    parts += ["        " + line for line in body]
    if dtype == "int64":
        vocab = int(graph.nodes[analysis.input].params["vocab_size"])
        example = f"torch.randint(0, {vocab}, (2, {', '.join(map(str, in_shape))}))"
    else:
        example = f"torch.randn(2, {', '.join(map(str, in_shape))})"
    parts += ["", "", 'if __name__ == "__main__":', f"    model = {cls}().eval()",
              f"    x = {example}",
              "    print(model(x).shape)  # torch.Size([2, " +
              ", ".join(map(str, report.output_shape or ())) + "])", ""]
    return "\n".join(parts)


def write_python(graph: Graph, path: str | os.PathLike,
                 input_shape: Sequence[int] | str | None = None, name: str | None = None
                 ) -> Path:
    """Write :func:`python_source` to ``path`` (atomically); returns the path."""
    from playground.core.checkpoint import atomic_write_text

    return atomic_write_text(path, python_source(graph, input_shape, name))
