"""Shape inference: what every block outputs, how many parameters it has, where it breaks.

:func:`infer` walks the graph in topological order and runs each block's *real* ``torch.nn``
module on a meta tensor (``torch.device("meta")``: shapes and dtypes, no memory, no compute),
so what the builder says is what PyTorch will do. Before PyTorch runs, each block's input is
checked against its parameters (rank, dtype, ``in_features`` against the input's features, a
kernel larger than its input, Add/Concat shapes) so a mismatch is one sentence on the block that
causes it, with what it expected, what it got, and a one-click fix where one is obvious
(``{"param": "in_features", "value": 1568}``, "set in_features to 1568"). Anything the checks
miss is caught from PyTorch's own error, translated for the common cases. Blocks before the
error (and on other branches) keep their shapes.

Shapes exclude the batch. :class:`ShapeCache` keeps results per (block, parameters, input
shapes), so after one edit only the blocks whose inputs changed run again.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from playground.builder import blocks as B
from playground.builder.block_ops import Mismatch
from playground.builder.errors import GraphError
from playground.builder.graph import Analysis, Edge, Graph, Problem, analyze
from playground.builder.params import MAX_RANK, Shape, format_shape

ITEM_BYTES = {"float32": 4, "int64": 8}


@dataclass
class BlockInfo:
    id: str
    type: str
    shape: Shape | None = None        # output shape without the batch; None = not known
    dtype: str | None = None          # "float32" / "int64"
    params: int = 0                   # parameters of this block
    inputs: list[Shape | None] = field(default_factory=list)
    status: str = "skipped"           # ok / error / skipped (an input is unknown) / dangling
    problem: Problem | None = None
    live: bool = False                # part of the network (on the path Input -> output)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type,
                "shape": list(self.shape) if self.shape is not None else None,
                "dtype": self.dtype, "params": self.params,
                "inputs": [list(s) if s is not None else None for s in self.inputs],
                "status": self.status, "live": self.live,
                "problem": self.problem.to_dict() if self.problem else None}


@dataclass
class ShapeReport:
    name: str
    input_shape: Shape | None
    blocks: dict[str, BlockInfo]              # in topological order
    edges: list[tuple[Edge, Shape | None]]    # each edge with the tensor it carries
    problems: list[Problem]
    analysis: Analysis
    total_params: int = 0                     # of the network (live blocks)
    activation_bytes: int = 0                 # per sample: every live block's output

    @property
    def output(self) -> str | None:
        return self.analysis.output

    @property
    def output_shape(self) -> Shape | None:
        info = self.blocks.get(self.output) if self.output else None
        return info.shape if info else None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors and self.output_shape is not None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name,
                "input_shape": list(self.input_shape) if self.input_shape else None,
                "output": self.output,
                "output_shape": list(self.output_shape) if self.output_shape else None,
                "total_params": self.total_params, "activation_bytes": self.activation_bytes,
                "ok": self.ok, "blocks": [b.to_dict() for b in self.blocks.values()],
                "edges": [{**e.to_dict(), "shape": list(s) if s is not None else None}
                          for e, s in self.edges],
                "problems": [p.to_dict() for p in self.problems]}


class ShapeCache:
    """Results of meta runs by (type, params, input shapes, dtypes); least recently used
    entries go first. One per canvas; not thread-safe (use it from one thread at a time)."""

    def __init__(self, size: int = 8192) -> None:
        self.size = size
        self._data: OrderedDict[tuple, tuple] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: tuple) -> tuple | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
            self.hits += 1
        else:
            self.misses += 1
        return value

    def put(self, key: tuple, value: tuple) -> None:
        self._data[key] = value
        if len(self._data) > self.size:
            self._data.popitem(last=False)


def parse_shape(value: Any) -> Shape:
    """``"3,32,32"`` / ``[3, 32, 32]`` -> ``(3, 32, 32)``; zero or negative sizes refused."""
    param = B.get("Input").param("shape")
    try:
        return param.parse(value)
    except GraphError:
        raise GraphError(f"The input shape must be 1 to {MAX_RANK} whole numbers of at least "
                         f"1 separated by commas, such as 3,32,32 (got {value!r}).") from None


def infer(graph: Graph, input_shape: Sequence[int] | str | None = None,
          cache: ShapeCache | None = None) -> ShapeReport:
    """Every block's output shape and parameter count; problems on the blocks that cause
    them. ``input_shape`` (without the batch) overrides the Input block's."""
    analysis = analyze(graph)
    problems = list(analysis.problems)
    infos: dict[str, BlockInfo] = {}
    override = parse_shape(input_shape) if input_shape is not None else None
    the_input = analysis.input
    in_shape: Shape | None = None
    for nid in analysis.order:
        node = graph.nodes[nid]
        info = BlockInfo(nid, node.type, live=nid in analysis.live)
        infos[nid] = info
        if nid not in analysis.reachable:
            info.status = "dangling" if node.type != "Input" else "skipped"
            continue
        if nid == the_input:
            in_shape = override or tuple(node.params["shape"])
            info.shape, info.dtype, info.status = in_shape, node.params["dtype"], "ok"
            continue
        srcs = analysis.sources[nid]
        known = [infos.get(s) if s is not None else None for s in srcs]
        info.inputs = [k.shape if k is not None else None for k in known]
        if any(k is None or k.shape is None for k in known):
            continue
        shapes = [k.shape for k in known]          # type: ignore[misc]
        dtypes = [k.dtype or "float32" for k in known]
        problem = _problem(graph, node, shapes, dtypes, list(srcs), infos, the_input, cache)
        if isinstance(problem, Problem):
            info.status, info.problem = "error", problem
            problems.append(problem)
        else:
            info.shape, info.dtype, info.params = problem
            info.status = "ok"
    edges = [(e, infos[e.source].shape if e.source in infos else None) for e in graph.edges]
    report = ShapeReport(graph.name, in_shape, infos, edges, problems, analysis)
    for nid in analysis.live:
        info = infos.get(nid)
        if info is not None and info.shape is not None:
            report.total_params += info.params
            report.activation_bytes += math.prod(info.shape) * ITEM_BYTES.get(
                info.dtype or "float32", 4)
    return report


def _problem(graph: Graph, node, shapes: list[Shape], dtypes: list[str], srcs: list[str],
             infos: dict[str, BlockInfo], the_input: str | None, cache: ShapeCache | None
             ) -> Problem | tuple[Shape, str, int]:
    """A Problem, or (shape, dtype, params) from the meta run."""
    block, p = node.block, node.params

    def problem(m: Mismatch, kind: str = "mismatch") -> Problem:
        text = f"{node.type} {node.id!r} {m.what}" + (f": {m.fix_text}" if m.fix_text else "")
        return Problem(text + ".", node.id, kind, expected=m.expected, got=m.got, fix=m.fix,
                       fix_text=m.fix_text, related=tuple(s for s in srcs if s))

    if block.validate is not None:
        m = block.validate(p)
        if m is not None:
            return problem(m, "param")
    for dtype, src in zip(dtypes, srcs, strict=False):
        if block.takes == "float" and dtype == "int64":
            return problem(Mismatch(
                f"gets token ids (whole numbers) from {src!r}", expected="float32 values",
                got="int64 token ids", fix_text="put an Embedding block before it"), "dtype")
        if block.takes == "int64" and dtype != "int64":
            fix = ({"node": the_input, "param": "dtype", "value": "int64"}
                   if src == the_input else None)
            return problem(Mismatch(
                f"needs token ids but gets {dtype} values from {src!r}", expected="int64 token "
                "ids", got=dtype, fix=fix, fix_text="set the Input's dtype to int64 (token ids)"
                if fix else "feed it token ids from an int64 Input"), "dtype")
    if block.ranks is not None and len(shapes[0]) not in block.ranks:
        return problem(_rank_mismatch(block, shapes[0]), "rank")
    if block.check is not None:
        m = block.check(p, shapes, srcs)
        if m is not None:
            return problem(m)
    for fit in block.fits:
        got = shapes[0][fit.dim]
        if p[fit.param] != got:
            context = f" (its input is {format_shape(shapes[0])})" if len(shapes[0]) > 1 else ""
            return problem(Mismatch(
                f"expects {p[fit.param]} {fit.noun} but gets {got}{context}",
                expected=str(p[fit.param]), got=str(got),
                fix={"param": fit.param, "value": got},
                fix_text=f"set {fit.param} to {got}"))
    if node.type == "Embedding" and srcs[0] == the_input and the_input is not None:
        vocab = graph.nodes[the_input].params["vocab_size"]
        if p["num_embeddings"] < vocab:
            return problem(Mismatch(
                f"has {p['num_embeddings']} entries but the Input's token ids go up to "
                f"{vocab - 1}", expected=f"at least {vocab}", got=str(p["num_embeddings"]),
                fix={"param": "num_embeddings", "value": vocab},
                fix_text=f"set num_embeddings to {vocab}"))
    key = (node.type, tuple(sorted(p.items())), tuple(shapes), tuple(dtypes))
    result = cache.get(key) if cache is not None else None
    if result is None:
        result = _meta_run(block, p, shapes, dtypes)
        if cache is not None:
            cache.put(key, result)
    if result[0] == "error":
        return problem(translate(block, p, shapes, result[1], result[2]))
    _, shape, dtype, count = result
    return shape, dtype, count


def _meta_run(block: B.BlockType, params: dict[str, Any], shapes: list[Shape],
              dtypes: list[str]) -> tuple:
    """("ok", shape, dtype, params) or ("error", exception type name, message)."""
    import torch

    try:
        with torch.device("meta"):
            module = block.make(params)
        if module is not None:
            module.eval()
        xs = [torch.empty((1, *s), dtype=getattr(torch, d), device="meta")
              for s, d in zip(shapes, dtypes, strict=False)]
        with torch.no_grad():
            y = block.forward(module, xs, params)
        if not isinstance(y, torch.Tensor) or y.dim() == 0 or y.shape[0] != 1:
            return ("error", "ValueError", "the block changed the batch dimension")
        count = sum(t.numel() for t in module.parameters()) if module is not None else 0
        return ("ok", tuple(int(s) for s in y.shape[1:]), str(y.dtype).removeprefix("torch."),
                int(count))
    except (RuntimeError, ValueError, TypeError, AssertionError, IndexError,
            NotImplementedError) as exc:
        return ("error", type(exc).__name__, str(exc))


def _rank_mismatch(block: B.BlockType, shape: Shape) -> Mismatch:
    rank = len(shape)
    wants = max(block.ranks or (rank,))
    if wants == 3 and rank < 3:
        hint = ("it works on images: put it before the Flatten, or Reshape to (channels, "
                "height, width)")
    elif wants == 2 and rank == 3 and block.name.startswith(("Conv1d", "MaxPool1d",
                                                               "AvgPool1d", "Adaptive")):
        hint = f"use the 2d version ({block.name.replace('1d', '2d')}) for images"
    elif block.name == "BatchNorm1d" and rank == 3:
        hint = "use BatchNorm2d for (channels, height, width) inputs"
    elif wants == 2 and rank == 1:
        hint = "it works on sequences: feed it (time, features), e.g. from an Embedding"
    elif wants == 2:
        hint = "Reshape or Permute its input to (time, features) first"
    else:
        hint = "reshape its input first"
    return Mismatch(f"needs a {block.layout} input but gets {format_shape(shape)} ({rank} "
                    f"dimension{'s' * (rank != 1)})", expected=block.layout,
                    got=format_shape(shape), fix_text=hint)


# ------------------------------------------------------------------------------------------
# PyTorch's messages in the user's terms

def _dims(text: str) -> str:
    return "x".join(re.findall(r"\d+", text))


def translate(block: B.BlockType, params: dict[str, Any], shapes: list[Shape],
              exc_type: str, message: str) -> Mismatch:
    """A :class:`Mismatch` for a PyTorch error message (the common ones by name; any other
    quoted after "PyTorch says")."""
    shape = format_shape(shapes[0]) if shapes else "?"
    first = message.strip().splitlines()[0] if message.strip() else exc_type
    m = re.search(r"Calculated padded input size per channel: \((.*?)\)\. Kernel size: "
                  r"\((.*?)\)", first)
    if m:
        return Mismatch(f"has a {_dims(m[2])} kernel but its input is only {_dims(m[1])} "
                        "(with padding)", expected=f"an input of at least {_dims(m[2])}",
                        got=_dims(m[1]), fix_text="use a smaller kernel_size or more padding, "
                                                  "or give the network a larger input")
    m = re.search(r"Given input size: \((.*?)\)\. Calculated output size: \((.*?)\)", first)
    if m or "Invalid computed output size" in first:
        got = m[2] if m else "0"
        return Mismatch(f"would output {_dims(got)} from its {shape} input: the input is too "
                        "small for its kernel_size and stride", expected="an output of at "
                        "least 1", got=_dims(got), fix_text="use a smaller kernel_size or "
                                                            "stride, or a larger input")
    m = re.search(r"expected input\[(.*?)\] to have (\d+) channels, but got (\d+) channels", first)
    if m:
        return Mismatch(f"expects {m[2]} input channels but gets {m[3]}", expected=m[2],
                        got=m[3], fix={"param": "in_channels", "value": int(m[3])},
                        fix_text=f"set in_channels to {m[3]}")
    m = re.search(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)",
                  first) or re.search(r"must have same reduction dim, but got \[(\d+), (\d+)\] "
                                      r"X \[(\d+), (\d+)\]", first)
    if m:
        return Mismatch(f"expects {m[3]} input features but gets {m[2]}", expected=m[3],
                        got=m[2], fix={"param": "in_features", "value": int(m[2])},
                        fix_text=f"set in_features to {m[2]}")
    m = re.search(r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\)", first)
    if m or "Attempting to broadcast" in first:
        both = " and ".join(map(format_shape, shapes))
        return Mismatch(f"gets inputs of different shapes ({both})", expected="equal shapes",
                        got=both,
                        fix_text="give its inputs the same shape")
    if "Sizes of tensors must match except in dimension" in first:
        return Mismatch(f"cannot join {' and '.join(map(format_shape, shapes))}: they differ in "
                        "a dimension it does not join along",
                        expected="equal sizes except along dim",
                        got=" and ".join(map(format_shape, shapes)),
                        fix_text="make the branches the same size in the other dimensions")
    m = re.search(r"shape '\[(.*?)\]' is invalid for input of size (\d+)", first)
    if m:
        return Mismatch(f"cannot make that shape from its {shape} input ({m[2]} values)",
                        expected=f"{m[2]} values", got=m[1],
                        fix_text="choose sizes whose product is the input's size")
    m = (re.search(r"Expected (\d)D .*?input to \w+, but got input of size: \[(.*?)\]", first)
         or re.search(r"expected (\d)D(?: or \dD)? input \(got (\d)D input\)", first))
    if m:
        return Mismatch(f"needs a {block.layout or m[1] + '-dimensional'} input but gets {shape}",
                        expected=block.layout, got=shape, fix_text="reshape its input first")
    m = re.search(r"Dimension out of range \(expected to be in range of \[(-?\d+), (-?\d+)\], "
                  r"but got (-?\d+)\)", first)
    if m:
        return Mismatch(f"uses dimension {m[3]} but its {shape} input has dims {m[1]} to {m[2]} "
                        "(0 is the batch)", expected=f"{m[1]} to {m[2]}", got=m[3],
                        fix_text="choose a dimension the input has")
    m = re.search(r"running_mean should contain (\d+) elements not (\d+)", first)
    if m:
        return Mismatch(f"expects {m[2]} channels but gets {m[1]}", expected=m[2], got=m[1],
                        fix={"param": "num_features", "value": int(m[1])},
                        fix_text=f"set num_features to {m[1]}")
    m = re.search(r"Given normalized_shape=\[(.*?)\], expected input with shape \[(.*?)\]", first)
    if m:
        return Mismatch(f"normalizes over {m[1]} but its input is {shape}", expected=m[1],
                        got=shape, fix_text="set normalized_shape to the input's last size")
    m = (re.search(r"input.size\(-1\) must be equal to input_size. Expected (\d+), got (\d+)",
                   first) or re.search(r"was expecting embedding dimension of (\d+), but got "
                                       r"(\d+)", first))
    if m:
        param = "input_size" if "input_size" in first else ("embed_dim" if any(
            x.name == "embed_dim" for x in block.params) else "d_model")
        return Mismatch(f"expects {m[1]} features per step but gets {m[2]}", expected=m[1],
                        got=m[2], fix={"param": param, "value": int(m[2])},
                        fix_text=f"set {param} to {m[2]}")
    if "'indices' to have one of the following scalar types" in first:
        return Mismatch("needs token ids (int64) but gets float values", expected="int64",
                        got="float32", fix_text="feed it from an Input with dtype int64")
    if "number of channels" in first or "Invalid channel dimensions" in first:
        return Mismatch(f"does not fit the channels of its {shape} input", expected="matching "
                        "channels", got=shape, fix_text="set its channel parameter to the "
                                                       "input's channels")
    return Mismatch(f"fails on its {shape} input; PyTorch says: {first[:300]}",
                    got=shape, fix_text="")


def describe(report: ShapeReport) -> list[str]:
    """Text lines for the terminal (``builder check``): one per block, then the totals."""
    rows = [("block", "type", "output", "params")]
    for info in report.blocks.values():
        shape = format_shape(info.shape) if info.shape is not None else (
            "ERROR" if info.status == "error" else "-")
        name = info.id + ("" if info.live or info.status != "ok" else " (unused)")
        rows.append((name, info.type, shape, f"{info.params:,}" if info.status == "ok" else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  "
             f"{r[3]:>{widths[3]}}".rstrip() for r in rows]
    lines.append(f"total parameters: {report.total_params:,}" + (
        " (blocks after the error not counted)" if report.errors else ""))
    lines.append(f"activation memory per sample: {format_bytes(report.activation_bytes)} "
                 "(every block's output, float32)")
    if report.output_shape is not None:
        lines.append(f"output: {format_shape(report.output_shape)} (from {report.output})")
    return lines


def format_bytes(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"
