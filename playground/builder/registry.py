"""A builder graph as a registry model entry, so a tab can train it like a built-in model.

:func:`model_entry` makes a :class:`~playground.core.registry.ModelEntry` whose factory builds
the graph (:func:`playground.builder.build.build_module`) after checking it against what the
data decides (``spec.num_outputs`` classes or vocabulary, ``spec.input_size`` image side): a
misfit is a ConfigError that says which block to change. Registering the entry in a task's
registry (``vision.models.REGISTRY.register(entry)``) is the caller's choice; the tab-specific
checks (channels of the data, sequence length) are the "Train in ..." feature's.
"""

from __future__ import annotations

import os
import re
from typing import Any

from playground.builder.blocks import format_shape
from playground.builder.graph import Graph
from playground.core.errors import ConfigError
from playground.core.registry import ModelEntry, ModelSpec


def _last_with(graph: Graph, report, param: str) -> str | None:
    """The live block nearest the output that has ``param`` (e.g. the head's out_features)."""
    for nid in reversed(report.analysis.order):
        if nid in report.analysis.live and param in graph.nodes[nid].params:
            return nid
    return None


def model_entry(graph: Graph, name: str | None = None,
                weights: str | os.PathLike | None = None, task: str = "image") -> ModelEntry:
    """A registry entry named ``graph:<name>`` that builds ``graph`` (a copy, taken now)."""
    from playground.builder.build import check

    graph = graph.copy()
    report = check(graph)
    entry_name = "graph:" + re.sub(r"[^A-Za-z0-9_.-]", "_", name or graph.name)

    def factory(spec: ModelSpec) -> Any:
        from playground.builder.build import build_module

        g = graph.copy()
        input_id = g.input_ids()[0]
        shape = tuple(g.nodes[input_id].params["shape"])
        if spec.task == "image" and spec.input_size and len(shape) == 3:
            shape = (int(spec.num_inputs or shape[0]), int(spec.input_size),
                     int(spec.input_size))
            g.set_param(input_id, "shape", shape)
        try:
            built = check(g)
        except Exception as exc:
            raise ConfigError(f"The graph {graph.name!r} does not take "
                              f"{format_shape(shape)} inputs: {exc}") from exc
        out = built.output_shape or ()
        if spec.num_outputs and (not out or out[-1] != spec.num_outputs):
            head = _last_with(g, built, "out_features")
            fix = (f"set out_features of {head!r} to {spec.num_outputs}" if head else
                   f"make its last block output {spec.num_outputs} values")
            raise ConfigError(f"The graph {graph.name!r} ends in {format_shape(out)} outputs but "
                              f"the data has {spec.num_outputs}: {fix}.")
        return build_module(g, weights=weights)

    return ModelEntry(
        name=entry_name, title=f"{graph.name} (builder graph)", factory=factory,
        description=graph.description or f"A network built in the Builder "
                                          f"({report.total_params:,} parameters).",
        family="Builder graph",
        extra={"builder": True, "input_shape": list(report.input_shape or ()),
               "output_shape": list(report.output_shape or ()),
               "parameters": report.total_params})
