"""A builder graph as a registry model entry, so a tab trains it like a built-in model.

- :func:`model_entry` makes a :class:`~playground.core.registry.ModelEntry` named
  ``graph:<name>`` whose factory checks the graph against what the data decides
  (:func:`playground.builder.fit.fit`: channels and image side, features and frames, classes,
  vocabulary) and builds it; a misfit is a ConfigError that names the block to change.
- :func:`register_graph` registers that entry in the task's registry ("Train in …", ``--graph``),
  replacing an older entry of the same name: ``image`` (``vision.models.REGISTRY``),
  ``keywords`` (``speech.models.REGISTRY``, ``extra["task"] = "keywords"``) or ``text``
  (``text.models.TEXT_MODELS``).
- A run of a graph keeps it: :func:`run_files` gives the ``graph.json`` that
  :meth:`playground.core.runs.RunStore.create` writes into every new run folder of a ``graph:``
  model, and :func:`ensure_registered` registers the entry again from a run folder's
  ``graph.json`` (read with the graph's own versioned JSON loader, never unpickled). Core calls
  both by name (:data:`playground.core.runs.RUN_MODEL_HOOKS`) from the one place run folders
  are opened (:func:`playground.core.runs.open_run`), so resume, fork, predict, export and
  launch of a graph run work in a fresh process.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from playground.builder.graph import Graph
from playground.core.errors import ConfigError, RunError
from playground.core.registry import ModelEntry, ModelSpec, Registry

log = logging.getLogger(__name__)

PREFIX = "graph:"
GRAPH_FILE = "graph.json"   # in a run folder
TASK_ALIASES = {"image": "image", "keywords": "keywords", "speech": "keywords", "text": "text"}
RUN_TASK = {"image": "image", "keywords": "speech", "text": "text"}   # the run folder's task


def entry_name(name: str) -> str:
    """``graph:<name>`` with the characters a registry name (and a run folder) cannot hold
    replaced by ``_``."""
    return PREFIX + re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _kind(task: str) -> str:
    try:
        return TASK_ALIASES[task]
    except KeyError:
        raise ConfigError(f"A builder graph trains in the image, keyword-speech or text task, "
                          f"not {task!r}.") from None


def model_entry(graph: Graph, name: str | None = None,
                weights: str | os.PathLike | None = None, task: str = "image") -> ModelEntry:
    """A registry entry ``graph:<name>`` that builds ``graph`` (a copy, taken now) for
    ``task`` (image, keywords/speech or text)."""
    from playground.builder.build import check

    kind = _kind(task)
    graph = graph.copy()
    report = check(graph)

    def factory(spec: ModelSpec) -> Any:
        from playground.builder import fit

        return fit.build(fit.fit(graph, spec, kind), weights=weights)

    saved = graph.copy()
    saved.weights = None  # a run keeps its own weights: its graph.json names no file
    extra: dict[str, Any] = {
        "builder": True, "graph": saved.to_dict(), "input_shape": list(report.input_shape or ()),
        "output_shape": list(report.output_shape or ()), "parameters": report.total_params,
        "uses": ("block_size",) if kind == "text" else ()}
    if kind == "keywords":
        extra.update(task="keywords", features="logmel")
    if kind == "text":
        extra["attention"] = False  # no attention weights to show: the heatmap is off
    return ModelEntry(
        name=entry_name(name or graph.name), title=f"{graph.name} (builder graph)",
        factory=factory, family="Builder graph", extra=extra,
        description=graph.description or f"A network built in the Builder "
                                          f"({report.total_params:,} parameters).")


def task_registry(task: str) -> Registry:
    """The registry a graph of ``task`` (image, keywords/speech, text) is registered in."""
    kind = _kind(task)
    if kind == "image":
        from playground.vision.models import REGISTRY
    elif kind == "keywords":
        from playground.speech.models import REGISTRY
    else:
        from playground.text.models import TEXT_MODELS as REGISTRY
    return REGISTRY


def register_graph(graph: Graph, task: str, name: str | None = None,
                   weights: str | os.PathLike | None = None) -> ModelEntry:
    """Register ``graph`` in ``task``'s registry (an entry of the same name is replaced) and
    return the entry; its name (``graph:<name>``) is what a train config's ``model`` takes."""
    entry = model_entry(graph, name, weights, task)
    return task_registry(task).register(entry, replace=True)


def load_graph_source(source: str | os.PathLike) -> Graph:
    """The graph ``--graph`` names: a graph JSON file, a run folder (its graph.json) or
    ``template:NAME``."""
    text = str(source)
    if text.startswith("template:"):
        from playground.builder import templates

        return templates.build(text.split(":", 1)[1])
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / GRAPH_FILE).is_file():
            raise ConfigError(f"{path} is a folder without a {GRAPH_FILE}: give a graph file, a "
                              "run folder of a Builder graph, or template:NAME.")
        path = path / GRAPH_FILE
    return Graph.load(path)


# ------------------------------------------------------------------------------------------
# Run folders (called by playground.core.runs through RUN_MODEL_HOOKS)
# ------------------------------------------------------------------------------------------
def _graph_task(task: str, info: dict[str, Any] | None = None) -> str:
    if task == "speech":
        speech = (info or {}).get("speech_task", "keywords")
        if speech not in (None, "keywords"):
            raise RunError(f"A Builder graph trains in the keyword task of speech runs, not "
                           f"{speech!r}.")
        return "keywords"
    return _kind(task)


def run_files(task: str, model: str) -> dict[str, str]:
    """The files a new run folder of ``model`` gets: ``{"graph.json": text}`` (nothing for a
    model that is not a registered graph entry)."""
    import json

    try:
        registry = task_registry(_graph_task(task))
    except (ConfigError, RunError):
        return {}
    if model not in registry:
        return {}
    graph = registry.get(model).extra.get("graph")
    return {GRAPH_FILE: json.dumps(graph, indent=1) + "\n"} if isinstance(graph, dict) else {}


def _structure(data: Any) -> Any:
    """What makes two saved graphs the same network (not where their blocks are drawn)."""
    if not isinstance(data, dict):
        return None
    nodes = sorted((n.get("id"), n.get("type"), repr(n.get("params")))
                   for n in data.get("nodes", []) if isinstance(n, dict))
    edges = sorted(repr(e) for e in data.get("edges", []))
    return nodes, edges


def read_run_graph(run: Any, info: dict[str, Any] | None = None) -> Graph:
    """The graph a run folder of a ``graph:`` model was trained with (its graph.json)."""
    path = Path(getattr(run, "path", run)) / GRAPH_FILE
    if not path.is_file():
        model = (info or {}).get("model", "a Builder graph")
        raise RunError(f"{path.parent} trained the Builder graph {model} but has no "
                       f"{GRAPH_FILE}, so its network cannot be rebuilt: copy the run folder "
                       "again with its graph.json, or train the graph again.")
    from playground.builder.errors import GraphError

    try:
        return Graph.load(path)
    except GraphError as exc:
        raise RunError(f"{path}: {str(exc).rstrip('.')}; the run's network cannot be "
                       "rebuilt.") from None


def ensure_registered(run: Any, info: dict[str, Any] | None = None) -> ModelEntry | None:
    """Register the graph entry a run folder's model names, from its graph.json, unless the
    same network is registered under that name already; returns the entry (None for a model
    that is not a graph). ``run``: a :class:`~playground.core.runs.Run` or its folder."""
    if info is None:
        from playground.core.runs import Run

        info = Run(Path(getattr(run, "path", run))).info()
    model = str(info.get("model") or "")
    if not model.startswith(PREFIX):
        return None
    kind = _graph_task(str(info.get("task")), info)
    registry = task_registry(kind)
    graph = read_run_graph(run, info)
    if model in registry:
        entry = registry.get(model)
        if _structure(entry.extra.get("graph")) == _structure(graph.to_dict()):
            return entry
        log.warning("the registered %s differs from the one run %s was trained with; "
                    "registering the run's", model, getattr(run, "path", run))
    try:
        entry = model_entry(graph, model[len(PREFIX):], task=kind)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - GraphError: the graph no longer builds
        raise RunError(f"The Builder graph {model} of {getattr(run, 'path', run)} no longer "
                       f"builds: {str(exc).rstrip('.')}.") from None
    return registry.register(entry, replace=True)


def check_run(run: Any, info: dict[str, Any]) -> None:
    """Refuse (RunError) a run folder of a ``graph:`` model whose graph.json is missing or
    unreadable (before it is imported); registers nothing."""
    if str(info.get("model") or "").startswith(PREFIX):
        read_run_graph(run, info)


def register_document(task: str, speech_task: str | None, model: str, document: Any,
                      where: str = "the run config") -> ModelEntry:
    """Register a graph document (a run config's ``"graph"``, as ``playground launch`` reads
    it) as the entry ``model`` (``graph:NAME``) of ``task``; one sentence when it is not a
    graph that builds."""
    from playground.builder.errors import GraphError

    if task == "speech" and speech_task not in (None, "keywords"):
        raise ConfigError(f"{where}: a Builder graph trains in the keyword task of speech runs, "
                          f"not {speech_task!r}.")
    try:
        graph = Graph.from_dict(document, f"{where}'s \"graph\"")
        entry = model_entry(graph, model[len(PREFIX):], task=_graph_task(task))
    except GraphError as exc:
        raise ConfigError(str(exc)) from None
    if entry.name != model:
        raise ConfigError(f"{where}: {model!r} is not a name a Builder graph can have (letters, "
                          f"digits, '_', '.' and '-' after {PREFIX!r}).")
    return task_registry(_graph_task(task)).register(entry, replace=True)
