"""A graph as a real ``nn.Module``: :class:`GraphModule` runs the blocks in topological order.

:func:`build_module` checks the graph first (:func:`playground.builder.shapes.infer`): a graph
with an error is refused with that error's sentence, so a module that is built always runs.
Each block with a module becomes an attribute named after its block (see
:func:`playground.builder.graph.attribute_names`), so ``state_dict()`` keys are the same as
those of the source :mod:`playground.builder.codegen` exports (``conv1.weight`` ...), and one
set of weights loads into either. Blocks that are not part of the network (a branch leading
nowhere, a block not connected to the Input) are left out.

Weights saved with a graph (``GRAPH.safetensors``) are keyed by block id (``<id>.<tensor>``);
:func:`load_weights` loads each block whose tensors still fit and reports the others, so a
block whose parameters were not changed after editing keeps its (pretrained) weights.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from playground.builder import blocks as B
from playground.builder.errors import GraphError
from playground.builder.graph import Graph, attribute_names
from playground.builder.shapes import ShapeReport, infer


class GraphModule(nn.Module):
    """The network a builder graph describes. ``forward(x)`` takes a batch ``(B, *input_shape)``
    (float32, or int64 token ids) and returns the output block's tensor."""

    def __init__(self, graph: Graph, report: ShapeReport) -> None:
        super().__init__()
        analysis = report.analysis
        attrs = attribute_names(graph)
        order = [nid for nid in analysis.order if nid in analysis.live]
        self.graph_name = graph.name
        self.input_shape = tuple(report.input_shape or ())
        self.input_dtype = graph.nodes[analysis.input].params["dtype"] if analysis.input else \
            "float32"
        self.output_shape = tuple(report.output_shape or ())
        self.block_attrs = {nid: attrs[nid] for nid in order}   # block id -> attribute name
        slot = {nid: i for i, nid in enumerate(order)}
        last_use: dict[int, int] = {}
        steps = []
        for i, nid in enumerate(order):
            node = graph.nodes[nid]
            block = B.get(node.type)
            module = block.make(node.params) if nid != analysis.input else None
            if module is not None:
                self.add_module(attrs[nid], module)
            srcs = [slot[s] for s in analysis.sources[nid] if s is not None]
            for s in srcs:
                last_use[s] = i
            steps.append((nid, block, attrs[nid] if module is not None else None,
                          dict(node.params), srcs))
        self._steps = steps
        self._input_slot = slot[analysis.input]
        self._output_slot = slot[analysis.output]
        # slots no step needs after step i: freed as the forward goes
        self._free_after = [[s for s, j in last_use.items() if j == i and s != self._output_slot]
                            for i in range(len(steps))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: list[Any] = [None] * len(self._steps)
        for i, (_nid, block, attr, params, srcs) in enumerate(self._steps):
            if i == self._input_slot:
                values[i] = x
                continue
            module = getattr(self, attr) if attr is not None else None
            values[i] = block.forward(module, [values[s] for s in srcs], params)
            for s in self._free_after[i]:
                values[s] = None
        return values[self._output_slot]

    def block_module(self, node_id: str) -> nn.Module | None:
        attr = self.block_attrs.get(node_id)
        return getattr(self, attr, None) if attr else None


class ImageGraph(GraphModule):
    """Colour images ``(B, 3, H, W)`` in (the image tab's batches); ``adapter`` "gray" gives a
    1-channel graph their mean (the grey image), "rgb" repeats one channel three times."""

    adapter = ""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.adapter == "gray":
            x = x.mean(dim=1, keepdim=True)                     # (B, 3, H, W) -> (B, 1, H, W)
        elif self.adapter == "rgb":
            x = x.expand(-1, 3, -1, -1)                         # (B, 1, H, W) -> (B, 3, H, W)
        return super().forward(x)


class KeywordGraph(GraphModule):
    """Audio features ``(B, F, T)`` in (the speech tab's); ``adapter`` "channel" gives a graph
    whose Input is ``1,F,T`` (a Conv2d over the spectrogram) ``(B, 1, F, T)``."""

    adapter = ""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.adapter == "channel":
            x = x.unsqueeze(1)                                  # (B, F, T) -> (B, 1, F, T)
        return super().forward(x)


class GraphLanguageModel(GraphModule):
    """The text task's model interface: token ids ``(B, T)`` -> ``(logits (B, T, V), loss)``
    (the loss when ``targets`` are given), with the ``block_size`` it was checked for."""

    has_attention = True   # no recurrent state to carry: generation feeds the whole context
    block_size = 0

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                return_attention: bool = False):
        if return_attention:
            from playground.core.errors import RunError

            raise RunError(f"The attention maps of Builder graphs ({self.graph_name}) are not "
                           "captured yet; generate with it, or train a GPT to see attention.")
        logits = super().forward(idx)                           # (B, T, V)
        loss = None
        if targets is not None:
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)).float(),
                                               targets.reshape(-1))
        return logits, loss


def check(graph: Graph, input_shape: Sequence[int] | str | None = None) -> ShapeReport:
    """Shape inference, raising :class:`GraphError` with the first error's sentence."""
    report = infer(graph, input_shape)
    errors = report.errors
    if errors:
        more = f" ({len(errors) - 1} more problem{'s' * (len(errors) > 2)} after it)" \
            if len(errors) > 1 else ""
        raise GraphError(errors[0].message.rstrip(".") + more + ".")
    if report.output_shape is None:
        raise GraphError("The network has no output: connect the Input to at least one block.")
    return report


def build_module(graph: Graph, input_shape: Sequence[int] | str | None = None,
                 weights: str | os.PathLike | None = None,
                 cls: type[GraphModule] | None = None) -> GraphModule:
    """The graph as a :class:`GraphModule` (new weights, or ``weights`` loaded where they fit);
    ``cls`` a subclass that takes what a tab feeds (:class:`ImageGraph` ...)."""
    report = check(graph, input_shape)
    module = (cls or GraphModule)(graph, report)
    if weights is not None:
        load_weights(module, weights)
    return module


def example_input(module: GraphModule, batch: int = 2, seed: int = 0,
                  vocab_size: int | None = None) -> torch.Tensor:
    """A random batch the module takes: normal floats, or token ids below ``vocab_size``."""
    gen = torch.Generator().manual_seed(seed)
    shape = (batch, *module.input_shape)
    if module.input_dtype == "int64":
        return torch.randint(0, max(1, vocab_size or 2), shape, generator=gen)
    return torch.randn(shape, generator=gen)


def input_vocab(graph: Graph) -> int:
    ids = graph.input_ids()
    return int(graph.nodes[ids[0]].params["vocab_size"]) if ids else 1


# ------------------------------------------------------------------------------------------
# weights next to the graph

def block_tensors(module: GraphModule) -> dict[str, torch.Tensor]:
    """Every block's tensors keyed ``<block id>.<name>`` (the weights file's keys)."""
    out = {}
    for nid, attr in module.block_attrs.items():
        sub = getattr(module, attr, None)
        if sub is None:
            continue
        for key, tensor in sub.state_dict().items():
            out[f"{nid}.{key}"] = tensor
    return out


def save_weights(module: GraphModule, path: str | os.PathLike) -> Path:
    from playground.core.checkpoint import save_weights as save

    return save(block_tensors(module), path, metadata={"format": "model-playground/graph-weights"})


def load_weights(module: GraphModule, source: str | os.PathLike | dict[str, torch.Tensor]
                 ) -> tuple[list[str], list[str]]:
    """Load the tensors of each block that still fit it; returns (kept, fresh) block ids."""
    if isinstance(source, dict):
        tensors = source
    else:
        from playground.core.checkpoint import load_weights as load

        tensors = load(source)
    by_block: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in tensors.items():
        nid, _, rest = key.partition(".")
        by_block.setdefault(nid, {})[rest] = tensor
    kept, fresh = [], []
    for nid, attr in module.block_attrs.items():
        sub = getattr(module, attr, None)
        if sub is None:
            continue
        own = sub.state_dict()
        if not own:
            continue
        given = by_block.get(nid, {})
        if set(given) == set(own) and all(given[k].shape == own[k].shape for k in own):
            sub.load_state_dict(given)
            kept.append(nid)
        else:
            fresh.append(nid)
    return kept, fresh


def weights_path(graph_path: str | os.PathLike, graph: Graph) -> Path | None:
    """The weights file a saved graph names, resolved next to the graph file (or None)."""
    if not graph.weights:
        return None
    return Path(graph_path).resolve().parent / graph.weights
