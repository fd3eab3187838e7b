"""A network as a graph of blocks: the spec the canvas edits, saved as JSON.

A :class:`Graph` holds :class:`Node` s (id, block type, parameters parsed by the block's
schema, canvas position) and :class:`Edge` s from a block's output to an input port of
another block. Every edit goes through a method that validates it (a parameter is parsed by
its :class:`~playground.builder.params.Param`, a port exists and is free), so a graph never
holds a value its schema refuses. What is wrong with the graph *as a network* (a loop, an
unconnected input, a block that leads nowhere, no Input) is not refused while editing: it is
reported by :func:`analyze` as :class:`Problem` s on the blocks concerned, so a half-built
network still shows every shape it can.

File format (``"format": "model-playground/graph"``, ``"version": 1``)::

    {"format": "model-playground/graph", "version": 1, "name": "lenet5", "description": "...",
     "nodes": [{"id": "conv1", "type": "Conv2d", "params": {...}, "position": [x, y]}, ...],
     "edges": [{"from": "conv1", "to": "act1", "port": 0}, ...],
     "weights": "lenet5.safetensors"}      # optional: tensors "<node id>.<name>", same folder

Files of an older version are upgraded on load (``_MIGRATIONS``); a newer one, malformed
JSON or a hand-edited mistake raises :class:`GraphFormatError` naming what is wrong.
Nothing here imports torch.
"""

from __future__ import annotations

import copy
import heapq
import json
import keyword
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.builder import blocks as B
from playground.builder.errors import GraphError, GraphFormatError, ParamError

FORMAT = "model-playground/graph"
FORMAT_VERSION = 1
MAX_BLOCKS = 5000            # a ResNet-152 is ~500; 5,000 still infers in well under a second
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_TEXT = 2000              # name / description characters kept
ID_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

# version -> function turning a file of that version into the next version's dict
_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


@dataclass
class Node:
    id: str
    type: str
    params: dict[str, Any]
    position: tuple[float, float] = (0.0, 0.0)

    @property
    def block(self) -> B.BlockType:
        return B.get(self.type)

    @property
    def num_inputs(self) -> int:
        return self.block.num_inputs(self.params)

    def to_dict(self) -> dict[str, Any]:
        block = self.block
        return {"id": self.id, "type": self.type,
                "params": {p.name: p.to_json(self.params[p.name]) for p in block.params},
                "position": [round(float(self.position[0]), 2),
                             round(float(self.position[1]), 2)]}


@dataclass(frozen=True)
class Edge:
    """The output of ``source`` feeds input ``port`` (0-based) of ``target``."""

    source: str
    target: str
    port: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "port": self.port}


@dataclass(frozen=True)
class Problem:
    """Something wrong with the network, on the block that causes it.

    ``severity`` "error" stops building and export; "warning" (a block that is not part of
    the network) does not. ``kind``: ``input``, ``cycle``, ``unconnected``, ``dangling``,
    ``param``, ``dtype``, ``rank``, ``mismatch``, ``size``. ``fix`` is a one-click parameter
    change (``{"param": "in_features", "value": 1568}``, with ``"node"`` when the change is on
    another block than ``node``) where there is an obvious one; :meth:`Graph.apply_fix`
    applies it.
    """

    message: str
    node: str | None = None
    kind: str = "mismatch"
    severity: str = "error"
    expected: str = ""
    got: str = ""
    fix: dict[str, Any] | None = None
    fix_text: str = ""
    related: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, "node": self.node, "kind": self.kind,
                "severity": self.severity, "expected": self.expected, "got": self.got,
                "fix": self.fix, "fix_text": self.fix_text, "related": list(self.related)}


class Graph:
    """Blocks and connections; see the module docstring. Not thread-safe: edit it on one
    thread and give workers a :meth:`copy`."""

    def __init__(self, name: str = "network", description: str = "") -> None:
        self.name = " ".join(_clean_text(name).split())[:200] or "network"
        self.description = _clean_text(description)
        self.nodes: dict[str, Node] = {}
        self.edges: list[Edge] = []
        self.weights: str | None = None       # safetensors file name next to the JSON
        self._incoming: dict[tuple[str, int], Edge] = {}

    # -- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.nodes

    def node(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise GraphError(f"There is no block {node_id!r} in the graph.") from None

    def input_edges(self, node_id: str) -> list[Edge | None]:
        """The edge into each input port of ``node_id`` (None where unconnected)."""
        node = self.node(node_id)
        return [self._incoming.get((node_id, port)) for port in range(node.num_inputs)]

    def consumers(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.source == node_id]

    def input_ids(self) -> list[str]:
        return [n.id for n in self.nodes.values() if n.type == "Input"]

    def new_id(self, prefix: str) -> str:
        """A free id such as ``conv3`` for a block of kind ``prefix``."""
        base = re.sub(r"[^A-Za-z0-9_]", "", prefix.lower()) or "block"
        if not ID_PATTERN.fullmatch(base):
            base = "b_" + base
        base = base[:56]
        i = 1
        while f"{base}{i}" in self.nodes:
            i += 1
        return f"{base}{i}"

    # -- editing ---------------------------------------------------------------------------
    def add(self, type: str, id: str | None = None,  # noqa: A002 - the JSON's own names
            position: tuple[float, float] | None = None, **params: Any) -> Node:
        """Add a block of ``type`` with ``params`` (parsed; the rest are defaults)."""
        block = B.get(type)
        if len(self.nodes) >= MAX_BLOCKS:
            raise GraphError(f"A graph can hold at most {MAX_BLOCKS:,} blocks.")
        node_id = id if id is not None else self.new_id(_prefix(type))
        _check_id(node_id)
        if node_id in self.nodes:
            raise GraphError(f"There is already a block named {node_id!r}; choose another "
                             "name.")
        node = Node(node_id, type, block.parse_params(params, node_id),
                    _position(position or (0.0, 0.0)))
        self.nodes[node_id] = node
        return node

    def connect(self, source: str, target: str, port: int = 0) -> Edge:
        """Connect ``source``'s output to input ``port`` of ``target``. Refused: an unknown
        block, a port the target does not have, a port already connected, a block fed by
        itself. A longer loop is allowed here and reported by :func:`analyze` (the canvas may
        ask :meth:`would_loop` first)."""
        src, dst = self.node(source), self.node(target)
        if src.id == dst.id:
            raise GraphError(f"Block {source!r} cannot feed itself.")
        n = dst.num_inputs
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port < n:
            has = "no inputs" if n == 0 else f"inputs 0 to {n - 1}"
            raise GraphError(f"{dst.type} {target!r} has {has}; there is no input {port!r}.")
        if (target, port) in self._incoming:
            taken = self._incoming[(target, port)].source
            raise GraphError(f"Input {port} of {target!r} is already connected to {taken!r}; "
                             "disconnect it first.")
        edge = Edge(source, target, port)
        self.edges.append(edge)
        self._incoming[(target, port)] = edge
        return edge

    def disconnect(self, edge: Edge) -> None:
        if self._incoming.get((edge.target, edge.port)) != edge:
            raise GraphError(f"{edge.source!r} is not connected to input {edge.port} of "
                             f"{edge.target!r}.")
        self.edges.remove(edge)
        del self._incoming[(edge.target, edge.port)]

    def would_loop(self, source: str, target: str) -> bool:
        """Whether an edge ``source`` -> ``target`` would close a loop."""
        if source == target:
            return True
        outgoing = _outgoing(self)
        seen, todo = {target}, [target]
        while todo:
            for nxt in outgoing.get(todo.pop(), ()):
                if nxt == source:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    def remove(self, node_id: str) -> tuple[Node, list[Edge]]:
        """Delete a block and its connections; returns both (for undo)."""
        node = self.node(node_id)
        gone = [e for e in self.edges if node_id in (e.source, e.target)]
        for e in gone:
            self.disconnect(e)
        del self.nodes[node_id]
        return node, gone

    def set_param(self, node_id: str, name: str, value: Any) -> tuple[Any, list[Edge]]:
        """Set one parameter (parsed by its schema). Returns the old value and any edges
        removed because the block now has fewer inputs (for undo)."""
        node = self.node(node_id)
        param = node.block.param(name)
        try:
            parsed = param.parse(value)
        except ParamError as exc:
            raise ParamError(f"{node.type} {node_id!r}: {exc}") from None
        old = node.params[name]
        node.params[name] = parsed
        removed = [e for e in self.edges if e.target == node_id and e.port >= node.num_inputs]
        for e in removed:
            self.disconnect(e)
        return old, removed

    def apply_fix(self, problem: Problem) -> tuple[Any, list[Edge]]:
        """Apply ``problem.fix`` (the one-click fix); returns what :meth:`set_param` does."""
        if not problem.fix or problem.node is None:
            raise GraphError("This problem has no automatic fix; " +
                             (problem.fix_text or "edit the block by hand") + ".")
        target = problem.fix.get("node") or problem.node
        return self.set_param(target, problem.fix["param"], problem.fix["value"])

    def move(self, node_id: str, position: tuple[float, float]) -> tuple[float, float]:
        node = self.node(node_id)
        old, node.position = node.position, _position(position)
        return old

    def rename(self, old: str, new: str) -> None:
        """Give a block another id (the attribute name in exported code)."""
        node = self.node(old)
        if new == old:
            return
        _check_id(new)
        if new in self.nodes:
            raise GraphError(f"There is already a block named {new!r}; choose another name.")
        self.nodes = {(new if k == old else k): v for k, v in self.nodes.items()}
        node.id = new
        self.edges = [Edge(new if e.source == old else e.source,
                           new if e.target == old else e.target, e.port) for e in self.edges]
        self._reindex()

    def copy(self) -> Graph:
        other = Graph(self.name, self.description)
        other.nodes = {k: Node(n.id, n.type, copy.deepcopy(n.params), n.position)
                       for k, n in self.nodes.items()}
        other.edges = list(self.edges)
        other.weights = self.weights
        other._reindex()
        return other

    def fragment(self, ids: Iterable[str]) -> dict[str, Any]:
        """The blocks ``ids`` and the edges among them, as JSON data (copy)."""
        wanted = {i for i in ids if i in self.nodes}
        return {"nodes": [self.nodes[i].to_dict() for i in self.nodes if i in wanted],
                "edges": [e.to_dict() for e in self.edges
                          if e.source in wanted and e.target in wanted]}

    def paste(self, fragment: dict[str, Any], offset: tuple[float, float] = (40.0, 40.0)
              ) -> dict[str, str]:
        """Add a :meth:`fragment` with fresh ids; returns old id -> new id."""
        staged = Graph.from_dict({"format": FORMAT, "version": FORMAT_VERSION,
                                  "nodes": fragment.get("nodes", []),
                                  "edges": fragment.get("edges", [])}, source="the pasted "
                                                                                 "blocks")
        if len(self.nodes) + len(staged.nodes) > MAX_BLOCKS:
            raise GraphError(f"A graph can hold at most {MAX_BLOCKS:,} blocks.")
        mapping = {}
        for node in staged.nodes.values():
            base = re.sub(r"\d+$", "", node.id) or node.id
            new = node.id if node.id not in self.nodes else self.new_id(base)
            mapping[node.id] = new
            self.nodes[new] = Node(new, node.type, node.params,
                                   (node.position[0] + offset[0], node.position[1] + offset[1]))
        for e in staged.edges:
            self.connect(mapping[e.source], mapping[e.target], e.port)
        return mapping

    def _reindex(self) -> None:
        self._incoming = {(e.target, e.port): e for e in self.edges}

    # -- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"format": FORMAT, "version": FORMAT_VERSION, "name": self.name,
                                "description": self.description,
                                "nodes": [n.to_dict() for n in self.nodes.values()],
                                "edges": [e.to_dict() for e in self.edges]}
        if self.weights:
            data["weights"] = self.weights
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def save(self, path: str | os.PathLike) -> Path:
        from playground.core.checkpoint import atomic_write_text

        return atomic_write_text(path, self.to_json() + "\n")

    @classmethod
    def from_dict(cls, data: Any, source: str = "the graph") -> Graph:
        """Build a graph from parsed JSON, checking every field (see the module docstring)."""
        if not isinstance(data, dict):
            raise GraphFormatError(f"{source} is not a Model Playground graph: it holds a JSON "
                                   f"{_json_kind(data)}, not an object.")
        fmt = data.get("format")
        if fmt != FORMAT:
            raise GraphFormatError(
                f"{source} is not a Model Playground graph: its \"format\" is {_shown(fmt)}, "
                f"expected {FORMAT!r}.")
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise GraphFormatError(f"{source} has an invalid \"version\" ({_shown(version)}); "
                                   f"it should be a whole number from 1 to {FORMAT_VERSION}.")
        if version > FORMAT_VERSION:
            raise GraphFormatError(
                f"{source} was saved by a newer Model Playground (graph format version "
                f"{version}; this one reads up to {FORMAT_VERSION}): update the app to open "
                "it.")
        while version < FORMAT_VERSION:
            data = _MIGRATIONS[version](data)
            version += 1
        graph = cls(_text_field(data, "name", source) or "network",
                    _text_field(data, "description", source))
        nodes = _list_field(data, "nodes", source)
        edges = _list_field(data, "edges", source, required=False)
        if len(nodes) > MAX_BLOCKS:
            raise GraphFormatError(f"{source} has {len(nodes):,} blocks; the builder handles at "
                                   f"most {MAX_BLOCKS:,}.")
        if len(edges) > 8 * MAX_BLOCKS:
            raise GraphFormatError(f"{source} has {len(edges):,} connections, more than the "
                                   f"{8 * MAX_BLOCKS:,} the builder handles.")
        for i, raw in enumerate(nodes):
            _load_node(graph, raw, i, source)
        for i, raw in enumerate(edges):
            _load_edge(graph, raw, i, source)
        weights = data.get("weights")
        if weights is not None:
            if not isinstance(weights, str) or not re.fullmatch(r"[\w.-]{1,200}", weights) \
                    or weights.startswith("."):
                raise GraphFormatError(f"{source}: \"weights\" must be a file name in the same "
                                       f"folder (got {_shown(weights)}).")
            graph.weights = weights
        return graph

    @classmethod
    def from_json(cls, text: str, source: str = "the graph") -> Graph:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GraphFormatError(f"{source} is not valid JSON (line {exc.lineno}, column "
                                   f"{exc.colno}: {exc.msg}).") from None
        except RecursionError:
            raise GraphFormatError(f"{source} is nested too deeply to be a graph.") from None
        return cls.from_dict(data, source)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Graph:
        path = Path(path)
        name = path.name
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise GraphFormatError(f"{name} is {size / 1e6:.0f} MB, too large for a graph "
                                       f"file (at most {MAX_FILE_BYTES // 2**20} MB).")
            raw = path.read_bytes()
        except FileNotFoundError:
            raise GraphFormatError(f"Graph file {path} does not exist.") from None
        except IsADirectoryError:
            raise GraphFormatError(f"{path} is a folder, not a graph file.") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise GraphFormatError(f"{name} is not a text file (not UTF-8), so not a graph "
                                   "file.") from None
        return cls.from_json(text, name)


# ------------------------------------------------------------------------------------------
# loading helpers

def _json_kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", int: "number", float: "number",
            bool: "boolean", type(None): "null"}.get(type(value), type(value).__name__)


def _a(value: Any) -> str:
    kind = _json_kind(value)
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _shown(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) \
        else _json_kind(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _clean_text(value: Any) -> str:
    text = "" if value is None else str(value)
    text = "".join(c if c.isprintable() or c == "\n" else " " for c in text)
    return text[:MAX_TEXT].strip()


def _text_field(data: dict, key: str, source: str) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise GraphFormatError(f"{source}: \"{key}\" must be text (got {_a(value)}).")
    return _clean_text(value)


def _list_field(data: dict, key: str, source: str, required: bool = True) -> list:
    if key not in data:
        if required:
            raise GraphFormatError(f"{source} has no \"{key}\" list.")
        return []
    value = data[key]
    if not isinstance(value, list):
        raise GraphFormatError(f"{source}: \"{key}\" must be a list (got "
                               f"{_a(value)}).")
    return value


def _check_id(node_id: Any) -> None:
    if not isinstance(node_id, str) or not ID_PATTERN.fullmatch(node_id):
        raise GraphError(f"Block name {_shown(node_id)} is not allowed: use letters, digits "
                         "and _ (not first a digit), at most 64 characters.")


def _position(value: Any) -> tuple[float, float]:
    try:
        x, y = value
        x, y = float(x), float(y)
    except (TypeError, ValueError):
        raise GraphError(f"A position must be two numbers (got {_shown(value)}).") from None
    if not (abs(x) < 1e9 and abs(y) < 1e9):
        raise GraphError(f"A position must be two finite numbers (got {x}, {y}).")
    return (x, y)


def _load_node(graph: Graph, raw: Any, i: int, source: str) -> None:
    where = f"{source}, block {i + 1}"
    if not isinstance(raw, dict):
        raise GraphFormatError(f"{where} must be an object (got {_a(raw)}).")
    node_id = raw.get("id")
    if isinstance(node_id, str) and ID_PATTERN.fullmatch(node_id):
        where = f"{source}, block {node_id!r}"
    unknown = set(raw) - {"id", "type", "params", "position"}
    if unknown:
        raise GraphFormatError(f"{where} has unknown field(s) {', '.join(sorted(unknown))}; "
                               "a block has id, type, params and position.")
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise GraphFormatError(f"{where}: \"params\" must be an object (got "
                               f"{_a(params)}).")
    try:
        graph.add(raw.get("type"), node_id, raw.get("position", (0.0, 0.0)), **params)
    except GraphError as exc:
        raise GraphFormatError(f"{where}: {_uncap(str(exc))}") from None
    except TypeError:  # a parameter name that is not text cannot reach **params
        raise GraphFormatError(f"{where}: parameter names must be text.") from None


def _load_edge(graph: Graph, raw: Any, i: int, source: str) -> None:
    where = f"{source}, connection {i + 1}"
    if not isinstance(raw, dict):
        raise GraphFormatError(f"{where} must be an object (got {_a(raw)}).")
    unknown = set(raw) - {"from", "to", "port"}
    if unknown or "from" not in raw or "to" not in raw:
        raise GraphFormatError(f"{where} must have \"from\", \"to\" and optionally \"port\" "
                               f"(got {', '.join(sorted(raw)) or 'nothing'}).")
    src, dst = raw["from"], raw["to"]
    for end in (src, dst):
        if not isinstance(end, str) or end not in graph.nodes:
            raise GraphFormatError(f"{where} refers to block {_shown(end)}, which is not in the "
                                   "file.")
    where = f"{source}, connection {src} -> {dst}"
    try:
        graph.connect(src, dst, raw.get("port", 0))
    except GraphError as exc:
        raise GraphFormatError(f"{where}: {_uncap(str(exc))}") from None


def _uncap(text: str) -> str:
    """Lower-case a sentence's first letter to follow a colon (not a block type's name)."""
    first = text.split(" ", 1)[0]
    if first in B.BLOCKS or text[:2] == text[:2].upper():
        return text
    return text[:1].lower() + text[1:]


def _prefix(block_type: str) -> str:
    special = {"Input": "input", "Linear": "fc", "Dropout": "drop", "Flatten": "flatten",
               "MultiheadAttention": "attn", "TransformerEncoderLayer": "encoder",
               "PositionalEncoding": "pos", "Embedding": "embed", "Concat": "cat"}
    if block_type in special:
        return special[block_type]
    name = re.sub(r"(\d)d$", r"\1d", block_type)
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _outgoing(graph: Graph) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in graph.edges:
        out.setdefault(e.source, []).append(e.target)
    return out


# ------------------------------------------------------------------------------------------
# analysis: order, input, output, what is connected

@dataclass
class Analysis:
    order: list[str]                       # topological order (blocks in or after a loop left out)
    input: str | None                      # the Input block
    output: str | None                     # the network's output block
    live: set[str]                         # blocks on a path Input -> output: the network
    reachable: set[str]                    # blocks fed, directly or not, by the Input
    sources: dict[str, list[str | None]]   # block -> the block feeding each input port
    consumers: dict[str, list[str]]
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors


def analyze(graph: Graph) -> Analysis:
    """Order the blocks and report loops, unconnected inputs, dangling blocks and the Input
    rule (exactly one). Linear in the number of blocks and edges."""
    problems: list[Problem] = []
    sources: dict[str, list[str | None]] = {}
    consumers: dict[str, list[str]] = {nid: [] for nid in graph.nodes}
    for nid, node in graph.nodes.items():
        sources[nid] = [None] * node.num_inputs
    for e in graph.edges:
        if e.port < len(sources[e.target]):
            sources[e.target][e.port] = e.source
        consumers[e.source].append(e.target)

    inputs = graph.input_ids()
    if not inputs:
        problems.append(Problem("The network has no Input block: add one and connect it to the "
                                "first layer.", None, "input"))
    for extra in inputs[1:]:
        problems.append(Problem(f"Input {extra!r} is a second Input block; a network here has "
                                f"exactly one (keep {inputs[0]!r} and delete this one).",
                                extra, "input", related=(inputs[0],)))
    the_input = inputs[0] if inputs else None

    # Kahn's algorithm taking the earliest-added ready block first: insertion order wherever
    # it is a valid order, so a branch added block by block stays together in exported code
    index = {nid: i for i, nid in enumerate(graph.nodes)}
    indegree = {nid: sum(1 for s in srcs if s is not None) for nid, srcs in sources.items()}
    ready = [index[nid] for nid in graph.nodes if indegree[nid] == 0]
    heapq.heapify(ready)
    names = list(graph.nodes)
    order: list[str] = []
    while ready:
        nid = names[heapq.heappop(ready)]
        order.append(nid)
        for nxt in consumers[nid]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(ready, index[nxt])
    if len(order) < len(graph.nodes):
        problems.extend(_loop_problems(graph, set(graph.nodes) - set(order), consumers))

    reachable: set[str] = set()
    if the_input is not None:
        todo = [the_input]
        reachable.add(the_input)
        while todo:
            for nxt in consumers[todo.pop()]:
                if nxt not in reachable:
                    reachable.add(nxt)
                    todo.append(nxt)
    ordered = set(order)
    depth: dict[str, int] = {}
    for nid in order:
        if nid in reachable:
            depth[nid] = 1 + max((depth.get(s, -1) for s in sources[nid] if s is not None),
                                 default=-1)
    sinks = [nid for nid in order if nid in reachable and not consumers[nid]]
    position = {nid: i for i, nid in enumerate(order)}
    output = max(sinks, key=lambda nid: (depth[nid], position[nid])) if sinks else None

    live: set[str] = set()
    if output is not None:
        todo = [output]
        live.add(output)
        while todo:
            for src in sources[todo.pop()]:
                if src is not None and src not in live:
                    live.add(src)
                    todo.append(src)
        live &= reachable

    for nid in graph.nodes:
        node = graph.nodes[nid]
        if nid in live:
            for port, src in enumerate(sources[nid]):
                label = f"Input {port + 1} of" if node.num_inputs > 1 else "The input of"
                if src is None:
                    problems.append(Problem(
                        f"{label} {node.type} {nid!r} is not connected: connect a block to it.",
                        nid, "unconnected", expected="a connection", got="nothing"))
                elif src not in reachable and src in ordered:
                    problems.append(Problem(
                        f"{label} {node.type} {nid!r} comes from {src!r}, which is not "
                        "connected to the Input: connect it or delete it.", nid, "unconnected",
                        related=(src,)))
        elif nid not in ordered or nid == the_input or node.type == "Input":
            continue
        elif nid not in reachable:
            problems.append(Problem(
                f"{node.type} {nid!r} is not connected to the Input, so it is not part of the "
                "network: connect it or delete it.", nid, "dangling", "warning"))
        else:
            problems.append(Problem(
                f"{node.type} {nid!r} leads nowhere: the network ends at {output!r}, so this "
                "branch is unused; connect it onwards or delete it.", nid, "dangling",
                "warning", related=(output,) if output else ()))
    return Analysis(order, the_input, output, live, reachable, sources, consumers, problems)


def _loop_problems(graph: Graph, stuck: set[str], consumers: dict[str, list[str]]
                   ) -> list[Problem]:
    """One problem per loop among ``stuck`` (blocks Kahn's algorithm could not order)."""
    problems = []
    state: dict[str, int] = {}   # 1 = on the path, 2 = done
    for start in [n for n in graph.nodes if n in stuck]:
        if start in state:
            continue
        path: list[str] = []
        stack = [(start, iter(consumers[start]))]
        state[start] = 1
        path.append(start)
        while stack:
            nid, it = stack[-1]
            nxt = next((c for c in it if c in stuck), None)
            if nxt is None:
                stack.pop()
                path.pop()
                state[nid] = 2
            elif state.get(nxt) == 1:
                cycle = path[path.index(nxt):]
                shown = " -> ".join(cycle[:8] + ["..."] * (len(cycle) > 8) + [nxt])
                problems.append(Problem(
                    f"Blocks {shown} form a loop: a network must flow one way, so remove one of "
                    "these connections.", nxt, "cycle", related=tuple(cycle)))
                if len(problems) >= 20:
                    return problems
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(consumers[nxt])))
    return problems


def auto_layout(graph: Graph, dx: float = 200.0, dy: float = 110.0) -> None:
    """Place blocks in columns by their distance from the inputs (left to right)."""
    analysis = analyze(graph)
    depth: dict[str, int] = {}
    for nid in analysis.order:
        depth[nid] = 1 + max((depth[s] for s in analysis.sources[nid] if s in depth),
                             default=-1)
    column_count: dict[int, int] = {}
    for nid in graph.nodes:
        d = depth.get(nid, max(depth.values(), default=0) + 1)
        row = column_count.get(d, 0)
        column_count[d] = row + 1
        graph.nodes[nid].position = (d * dx, row * dy)


def attribute_names(graph: Graph) -> dict[str, str]:
    """Node id -> the attribute (and variable) name in built modules and exported source:
    the id, unless it would shadow something ``nn.Module`` has (``type``, ``train``,
    ``forward`` ...) or a keyword, then with ``_`` appended (unique)."""
    taken: set[str] = set()
    names = {}
    for nid in graph.nodes:
        name = nid
        if keyword.iskeyword(name) or name in _MODULE_NAMES or name.startswith("_"):
            name = name.lstrip("_") + "_" if name.lstrip("_") else "block_"
        while name in taken or name in _MODULE_NAMES or (name != nid and name in graph.nodes):
            name += "_"
        taken.add(name)
        names[nid] = name
    return names


# names an nn.Module instance already has (torch not imported: a fixed list, checked in tests)
_MODULE_NAMES = frozenset("""
T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda
double dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter
get_submodule half ipu load_state_dict modules mtia named_buffers named_children
named_modules named_parameters parameters register_backward_hook register_buffer
register_forward_hook register_forward_pre_hook register_full_backward_hook
register_full_backward_pre_hook register_load_state_dict_post_hook
register_load_state_dict_pre_hook register_module register_parameter
register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state
set_submodule share_memory smart_apply state_dict to to_empty train training type xpu
zero_grad self torch nn math x causal_mask SinusoidalPositionalEncoding
LearnedPositionalEncoding super
""".split())  # noqa: SIM905 - a word list reads better as text
