"""Import a real ``nn.Module`` into an editable graph with ``torch.fx`` symbolic tracing.

:func:`trace_module` traces a module (torchvision's ResNet-18, AlexNet, GoogLeNet, the app's
``small_cnn`` ...) and turns each traced call into a builder block, with the module's
weights keyed by block id (``<id>.<tensor>``), so the built graph computes what the module
does. Calls without a block (``torch.einsum``, a tensor used directly as ``self.weight``, a
layer with weights called twice) stop the import with a sentence naming the call.

:func:`import_model` imports a registry model by name (``resnet18``, ``small_cnn``,
``torchvision:resnet50`` for any torchvision classifier, built with ``weights=None``).

:func:`import_python_file` imports ``FILE.py:ClassName`` from a user's file **in a separate
process** (:mod:`playground.builder.trace_worker`, with a timeout): the user's code never runs
in the app's process; the graph comes back as JSON and the weights as safetensors, both read
by the strict loaders (nothing is unpickled).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import operator
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from playground.builder import blocks as B
from playground.builder.errors import GraphError, ModelImportError
from playground.builder.graph import Graph, auto_layout
from playground.builder.params import format_shape

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 120.0


class _Unsupported(Exception):
    pass


# ------------------------------------------------------------------------------------------
# modules -> blocks

def _ints(value: Any) -> list[int]:
    return [int(v) for v in value] if isinstance(value, (tuple, list)) else [int(value)]


def _module_block(m) -> tuple[str, dict[str, Any]]:
    """(block type, params) for a leaf module; raises _Unsupported with the reason."""
    from torch import nn

    kind = type(m)
    if kind in (nn.Conv1d, nn.Conv2d):
        if m.padding_mode != "zeros" or isinstance(m.padding, str):
            raise _Unsupported(f"padding={m.padding!r}, padding_mode={m.padding_mode!r}")
        return kind.__name__, dict(
            in_channels=m.in_channels, out_channels=m.out_channels,
            kernel_size=_ints(m.kernel_size), stride=_ints(m.stride),
            padding=_ints(m.padding), dilation=_ints(m.dilation), groups=m.groups,
            bias=m.bias is not None)
    if kind is nn.ConvTranspose2d:
        if m.padding_mode != "zeros" or m.groups != 1 or any(d != 1 for d in m.dilation):
            raise _Unsupported("groups or dilation other than 1")
        return "ConvTranspose2d", dict(
            in_channels=m.in_channels, out_channels=m.out_channels,
            kernel_size=_ints(m.kernel_size), stride=_ints(m.stride), padding=_ints(m.padding),
            output_padding=_ints(m.output_padding), bias=m.bias is not None)
    if kind in (nn.MaxPool1d, nn.MaxPool2d):
        if m.return_indices or any(d != 1 for d in _ints(m.dilation)):
            raise _Unsupported("return_indices or dilation")
        return kind.__name__, dict(kernel_size=_ints(m.kernel_size), stride=_ints(m.stride),
                                   padding=_ints(m.padding), ceil_mode=bool(m.ceil_mode))
    if kind in (nn.AvgPool1d, nn.AvgPool2d):
        if not m.count_include_pad or getattr(m, "divisor_override", None):
            raise _Unsupported("count_include_pad=False or divisor_override")
        return kind.__name__, dict(kernel_size=_ints(m.kernel_size), stride=_ints(m.stride),
                                   padding=_ints(m.padding), ceil_mode=bool(m.ceil_mode))
    if kind in (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d,
                nn.AdaptiveMaxPool2d):
        size = m.output_size
        if getattr(m, "return_indices", False) or size is None or (
                isinstance(size, tuple) and None in size):
            raise _Unsupported("an output size of None")
        return kind.__name__, dict(output_size=_ints(size))
    if isinstance(m, nn.Linear):
        return "Linear", dict(in_features=m.in_features, out_features=m.out_features,
                              bias=m.bias is not None)
    if kind in (nn.BatchNorm1d, nn.BatchNorm2d):
        if m.momentum is None or not m.track_running_stats:
            raise _Unsupported("momentum=None or track_running_stats=False")
        return kind.__name__, dict(num_features=m.num_features, eps=m.eps,
                                   momentum=m.momentum, affine=m.affine)
    if kind is nn.LayerNorm:
        if len(m.normalized_shape) != 1:
            raise _Unsupported(f"normalized_shape={tuple(m.normalized_shape)} (more than one "
                               "dimension)")
        return "LayerNorm", dict(normalized_shape=m.normalized_shape[0], eps=m.eps,
                                 elementwise_affine=m.elementwise_affine,
                                 bias=m.bias is not None or not m.elementwise_affine)
    if kind is nn.GroupNorm:
        return "GroupNorm", dict(num_groups=m.num_groups, num_channels=m.num_channels,
                                 eps=m.eps, affine=m.affine)
    if kind is nn.Dropout:
        return "Dropout", dict(p=m.p)
    if kind in (nn.ReLU, nn.SiLU, nn.Sigmoid, nn.Tanh):
        return kind.__name__, {}
    if kind is nn.GELU:
        return "GELU", dict(approximate=m.approximate)
    if kind is nn.Softmax:
        if m.dim is None:
            raise _Unsupported("dim=None")
        return "Softmax", dict(dim=m.dim)
    if kind is nn.Flatten:
        return "Flatten", dict(start_dim=m.start_dim, end_dim=m.end_dim)
    if kind is nn.Embedding:
        if m.max_norm is not None:
            raise _Unsupported("max_norm")
        return "Embedding", dict(num_embeddings=m.num_embeddings, embedding_dim=m.embedding_dim)
    if kind in (nn.LSTM, nn.GRU):
        if not m.batch_first or getattr(m, "proj_size", 0):
            raise _Unsupported("batch_first=False (the builder's sequences are batch first) or "
                               "proj_size")
        return kind.__name__, dict(input_size=m.input_size, hidden_size=m.hidden_size,
                                   num_layers=m.num_layers, bidirectional=m.bidirectional,
                                   dropout=m.dropout, bias=m.bias, output="all")
    if kind is nn.MultiheadAttention:
        if not m.batch_first or not m._qkv_same_embed_dim or m.bias_k is not None \
                or m.add_zero_attn:
            raise _Unsupported("batch_first=False, kdim/vdim or add_bias_kv")
        return "MultiheadAttention", dict(embed_dim=m.embed_dim, num_heads=m.num_heads,
                                          dropout=m.dropout, bias=m.in_proj_bias is not None)
    if kind is nn.TransformerEncoderLayer:
        activation = {1: "relu", 2: "gelu"}.get(getattr(m, "activation_relu_or_gelu", 0))
        if not m.self_attn.batch_first or activation is None or m.linear1.bias is None:
            raise _Unsupported("batch_first=False, a custom activation or bias=False")
        return "TransformerEncoderLayer", dict(
            d_model=m.self_attn.embed_dim, nhead=m.self_attn.num_heads,
            dim_feedforward=m.linear1.out_features, dropout=m.dropout.p,
            activation=activation, norm_first=m.norm_first, layer_norm_eps=m.norm1.eps)
    raise _Unsupported("no builder block")


def _functional_block(node, shape_of) -> tuple[str, dict[str, Any], list] | None:
    """(block type, params, tensor args) for a call_function / call_method, or None."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    target, args, kw = node.target, list(node.args), dict(node.kwargs)
    method = node.op == "call_method"

    def is_(*fns, name=None):
        return (method and target == name) or (not method and any(target is f for f in fns))

    if is_(operator.add, operator.iadd, torch.add, name="add") or (method and target == "add_"):
        if len(args) != 2 or kw:
            return None
        return "Add", {"inputs": 2}, args
    if is_(F.relu, torch.relu, name="relu") or (method and target == "relu_"):
        return "ReLU", {}, args[:1]
    if is_(F.gelu, name="gelu"):
        return "GELU", {"approximate": kw.get("approximate", "none")}, args[:1]
    if is_(F.silu, name="silu"):
        return "SiLU", {}, args[:1]
    if is_(torch.sigmoid, F.sigmoid, name="sigmoid"):
        return "Sigmoid", {}, args[:1]
    if is_(torch.tanh, F.tanh, name="tanh"):
        return "Tanh", {}, args[:1]
    if is_(F.softmax, torch.softmax, name="softmax"):
        dim = kw.get("dim", args[1] if len(args) > 1 else None)
        return ("Softmax", {"dim": dim}, args[:1]) if isinstance(dim, int) else None
    if is_(torch.flatten, name="flatten"):
        start = kw.get("start_dim", args[1] if len(args) > 1 else 0)
        end = kw.get("end_dim", args[2] if len(args) > 2 else -1)
        if start == 0:
            raise _Unsupported("flattens the batch dimension too (start_dim=0)")
        return "Flatten", {"start_dim": start, "end_dim": end}, args[:1]
    if is_(torch.cat, torch.concat):
        tensors = args[0] if args else kw.get("tensors")
        dim = kw.get("dim", args[1] if len(args) > 1 else 0)
        if not isinstance(tensors, (list, tuple)) or not 2 <= len(tensors) <= 8:
            return None
        return "Concat", {"inputs": len(tensors), "dim": dim}, list(tensors)
    if is_(F.dropout):
        return "Dropout", {"p": kw.get("p", args[1] if len(args) > 1 else 0.5)}, args[:1]
    if is_(F.adaptive_avg_pool2d):
        return "AdaptiveAvgPool2d", {"output_size": _ints(args[1] if len(args) > 1 else
                                                          kw["output_size"])}, args[:1]
    if method and target == "permute":
        dims = list(args[1][0] if len(args) == 2 and isinstance(args[1], (list, tuple))
                    else args[1:])
        if not dims or dims[0] != 0:
            raise _Unsupported("moves the batch dimension")
        return "Permute", {"dims": [d - 1 for d in dims[1:]]}, args[:1]
    if is_(torch.transpose, name="transpose"):
        rank = len(shape_of(args[0]))
        a, b = (d % rank for d in args[1:3])
        if 0 in (a, b):
            raise _Unsupported("moves the batch dimension")
        dims = list(range(rank))
        dims[a], dims[b] = dims[b], dims[a]
        return "Permute", {"dims": [d - 1 for d in dims[1:]]}, args[:1]
    if is_(torch.reshape, name="reshape") or (method and target == "view"):
        out = shape_of(node)
        if out[0] != _BATCH:
            raise _Unsupported("changes the batch dimension")
        return "Reshape", {"shape": list(out[1:])}, args[:1]
    return None


_BATCH = 2          # batch size of the shape propagation (tells the batch apart)
_ALIASES = {"contiguous", "clone", "detach"}


def _call_name(node) -> str:
    if node.op == "call_method":
        return f"the tensor method .{node.target}()"
    target = node.target
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", str(target))
    if module in ("_operator", "operator"):
        return f"the operator {name}"
    return f"{module.replace('torch._C._nn', 'torch.nn.functional')}.{name}".lstrip(".")


# ------------------------------------------------------------------------------------------

def trace_module(model, input_shape: Sequence[int], dtype: str = "float32",
                 name: str = "imported", vocab_size: int = 1000, description: str = ""
                 ) -> tuple[Graph, dict[str, Any]]:
    """Trace ``model`` into a graph; returns it and its weights keyed ``<block id>.<tensor>``.

    Raises :class:`ModelImportError` when the model does not trace or uses a call the
    builder has no block for."""
    from torch import fx, nn

    label = type(model).__name__
    model = model.eval()
    try:
        traced = fx.symbolic_trace(model)
    except Exception as exc:  # noqa: BLE001 - any tracing failure is the user's model's
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ModelImportError(
            f"{label} could not be traced by torch.fx ({type(exc).__name__}: {first}); code "
            "whose flow depends on tensor values (if/for on a tensor, asserts on sizes) "
            "cannot be traced.") from exc
    input_shape = tuple(int(s) for s in input_shape)
    shapes = _propagate(traced, input_shape, dtype, vocab_size, label)

    def shape_of(n) -> tuple[int, ...]:
        meta = n.meta.get("tensor_meta") if hasattr(n, "meta") else None
        if meta is None or not hasattr(meta, "shape"):
            raise _Unsupported("a value whose shape is unknown")
        return tuple(meta.shape)

    graph = Graph(name, description or f"Imported from {label} with torch.fx.")
    graph.add("Input", "input", shape=input_shape, dtype=dtype, vocab_size=vocab_size)
    env: dict[Any, Any] = {}          # fx node -> block id, or ("tuple", module kind, id)
    weights: dict[str, Any] = {}
    used_targets: set[str] = set()
    placeholder_seen = False

    def fail(node, why: str):
        raise ModelImportError(f"{label} cannot be imported: {why} (at {node.name!r}); only "
                               "layers from the builder's palette can be imported.")

    def block_id(node) -> str:
        nid = node.name if node.name not in graph.nodes and node.name != "input" else \
            graph.new_id(node.name.rstrip("0123456789_") or "block")
        return nid[:64]

    def tensor_src(node, arg) -> str:
        src = env.get(arg) if isinstance(arg, fx.Node) else None
        if not isinstance(src, str):
            fail(node, f"{node.name} takes something that is not a single tensor "
                       f"({'a tuple from ' + arg.name if isinstance(src, tuple) else repr(arg)})")
        return src

    def add_block(node, kind: str, params: dict[str, Any], args: list) -> str:
        try:
            block = B.get(kind)
            clean = {k: (v[0] if isinstance(v, list) and block.param(k).kind == "int" else v)
                     for k, v in params.items()}
            nid = graph.add(kind, block_id(node), **clean).id
        except GraphError as exc:
            fail(node, f"its settings do not fit the builder's {kind} block ({exc})")
        for port, arg in enumerate(args):
            graph.connect(tensor_src(node, arg), nid, port)
        env[node] = nid
        return nid

    for node in traced.graph.nodes:
        if node.op == "placeholder":
            if not node.users:
                continue
            if placeholder_seen:
                fail(node, "its forward takes more than one input")
            placeholder_seen = True
            env[node] = "input"
        elif node.op == "get_attr":
            fail(node, f"its forward uses the tensor self.{node.target} directly, not through "
                       "a layer")
        elif node.op == "call_module":
            module = traced.get_submodule(node.target)
            if isinstance(module, nn.Identity):
                env[node] = tensor_src(node, node.args[0])
                continue
            has_state = any(True for _ in module.parameters()) or any(
                True for _ in module.buffers())
            if has_state and node.target in used_targets:
                fail(node, f"the layer {node.target} (with weights) is used twice; the builder "
                           "gives each block its own weights")
            used_targets.add(node.target)
            try:
                kind, params = _module_block(module)
            except _Unsupported as exc:
                fail(node, f"the layer {node.target} ({type(module).__name__}) has "
                           f"{exc}" if str(exc) != "no builder block" else
                     f"the layer {node.target} is a {type(module).__name__}, which has no "
                     "builder block")
            if kind == "MultiheadAttention":
                q, k, v = (list(node.args) + [node.kwargs.get(n) for n in
                                              ("query", "key", "value")])[:3]
                if not (q is k is v) or node.kwargs.get("attn_mask") is not None \
                        or node.kwargs.get("key_padding_mask") is not None:
                    fail(node, f"{node.target} is not plain self-attention (query, key and "
                               "value differ, or a mask is given)")
                args = [q]
            else:
                args = list(node.args[:1])
            if kind not in ("MultiheadAttention",) and (len(node.args) > 1 or node.kwargs):
                fail(node, f"{node.target} is called with more than one input")
            nid = add_block(node, kind, params, args)
            for key, tensor in module.state_dict().items():
                weights[f"{nid}.{key}"] = tensor.detach().clone()
            if kind in ("LSTM", "GRU", "MultiheadAttention"):
                env[node] = ("tuple", kind, nid)
        elif node.op in ("call_function", "call_method"):
            if node.target is operator.getitem and isinstance(env.get(node.args[0]), tuple):
                _, kind, nid = env[node.args[0]]
                if node.args[1] != 0:
                    what = "attention weights" if kind == "MultiheadAttention" else \
                        "hidden state"
                    fail(node, f"it uses the {what} of {nid}; the builder's {kind} block gives "
                               "its output only")
                env[node] = nid
                continue
            if node.target is operator.getitem and isinstance(env.get(node.args[0]), str):
                src = env[node.args[0]]
                index = node.args[1]
                src_node = graph.nodes[src]
                if (src_node.type in ("LSTM", "GRU") and src_node.params["output"] == "all"
                        and index == (slice(None, None, None), -1)
                        and len(node.args[0].users) == 1):
                    graph.set_param(src, "output", "last")
                    env[node] = src
                    continue
                fail(node, f"it indexes a tensor ({node.name}), which has no builder block")
            if node.op == "call_method" and node.target in _ALIASES:
                env[node] = tensor_src(node, node.args[0])
                continue
            if node.op == "call_method" and node.target in ("size", "dim") or (
                    node.target is getattr and node.args[1:] == ("shape",)):
                env[node] = ("size", None, None)
                continue
            if node.target is operator.getitem and isinstance(env.get(node.args[0]), tuple):
                env[node] = ("size", None, None)
                continue
            try:
                found = _functional_block(node, shape_of)
            except _Unsupported as exc:
                fail(node, f"{_call_name(node)} {exc}")
            if found is None:
                fail(node, f"it calls {_call_name(node)}, which has no builder block")
            kind, params, args = found
            add_block(node, kind, params, args)
        elif node.op == "output":
            result = node.args[0]
            src = env.get(result) if isinstance(result, fx.Node) else None
            if not isinstance(src, str):
                fail(node, "its forward returns something other than one tensor")
            _check_output(graph, src)
    del shapes
    auto_layout(graph)
    return graph, weights


def _check_output(graph: Graph, output: str) -> None:
    """The traced output must be the graph's output block (nothing else leads nowhere)."""
    from playground.builder.graph import analyze

    analysis = analyze(graph)
    if analysis.output != output:
        raise ModelImportError(f"The traced network ends at {output!r} but the graph ends at "
                               f"{analysis.output!r}; this model cannot be imported as one "
                               "chain of blocks.")


def _propagate(traced, input_shape, dtype: str, vocab_size: int, label: str):
    """Record every traced value's shape (fake tensors: no memory, no compute)."""
    import torch
    from torch.fx.passes.shape_prop import ShapeProp

    if dtype == "int64":
        x = torch.randint(0, max(1, vocab_size), (_BATCH, *input_shape))
    else:
        x = torch.randn(_BATCH, *input_shape)
    try:
        from torch._subclasses.fake_tensor import FakeTensorMode

        with contextlib.redirect_stderr(io.StringIO()):  # ShapeProp prints its traceback
            ShapeProp(traced, fake_mode=FakeTensorMode(allow_non_fake_inputs=True)
                      ).propagate(x)
    except Exception as exc:  # noqa: BLE001 - the model's own failure on this input
        cause = exc.__cause__ or exc.__context__ or exc
        if "ShapeProp error" not in str(exc):
            cause = exc
        exc = cause  # noqa: PLW2901
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ModelImportError(f"{label} does not run on an input of {format_shape(input_shape)} "
                               f"({type(exc).__name__}: {first}); give the input shape it "
                               "expects (without the batch).") from exc
    return True


# ------------------------------------------------------------------------------------------
# registry models

def import_model(name: str, input_shape: Sequence[int] | None = None, num_classes: int = 10
                 ) -> tuple[Graph, dict[str, Any]]:
    """A registry model (image, speech, text) or ``torchvision:NAME`` as a graph + weights."""
    model, shape, dtype, vocab = _registry_model(name, input_shape, num_classes)
    graph_name = name.replace("torchvision:", "")
    return trace_module(model, shape, dtype, name=graph_name, vocab_size=vocab,
                        description=f"{name} imported with torch.fx (random weights).")


def _registry_model(name: str, input_shape: Sequence[int] | None, num_classes: int):
    if name.startswith("torchvision:"):
        from torchvision import models

        arch = name.split(":", 1)[1]
        if arch not in models.list_models(module=models):
            raise ModelImportError(f"torchvision has no classification model {arch!r}; see "
                                   "torchvision.models.list_models().")
        shape = tuple(input_shape or (3, 224, 224))
        kwargs = {"aux_logits": False, "init_weights": False} if arch in (
            "googlenet", "inception_v3") else {}
        return models.get_model(arch, weights=None, **kwargs), shape, "float32", 1000
    from playground.speech import models as speech_models
    from playground.text import models as text_models
    from playground.vision import models as vision_models

    if name in vision_models.REGISTRY:
        default = 32 if name == "small_cnn" else 224
        shape = tuple(input_shape or (3, default, default))
        if len(shape) != 3 or shape[0] != 3 or shape[1] != shape[2]:
            raise ModelImportError(f"Image models take square RGB images: give --input 3,S,S "
                                   f"(got {format_shape(shape)}).")
        model = vision_models.build_model(name, num_classes, image_size=shape[1],
                                          load_pretrained=False)
        return model, shape, "float32", 1000
    for registry, task in ((speech_models.REGISTRY, "speech"),
                           (text_models.TEXT_MODELS, "text")):
        if name in registry:
            model = _build_other(registry.get(name), task, num_classes)
            shape = tuple(input_shape or ((40, 101) if task == "speech" else (64,)))
            dtype = "int64" if task == "text" else "float32"
            return model, shape, dtype, num_classes
    names = [*vision_models.REGISTRY.names(), *speech_models.REGISTRY.names(),
             *text_models.TEXT_MODELS.names()]
    raise ModelImportError(f"Unknown model {name!r}. Choose one of: {', '.join(names)}, or "
                           "torchvision:NAME, or FILE.py:ClassName.")


def _build_other(entry, task: str, num_outputs: int):
    from playground.core.registry import ModelSpec

    if task == "text":
        from playground.text.train import TextTrainConfig

        cfg = TextTrainConfig(model=entry.name)
        spec = ModelSpec(task="text", num_outputs=num_outputs, num_inputs=num_outputs,
                         input_size=cfg.block_size, config=cfg)
    else:
        from playground.speech import train as speech_train

        cfg = (speech_train.CTCTrainConfig(model=entry.name) if entry.extra.get("task") == "ctc"
               else speech_train.KeywordTrainConfig(model=entry.name))
        spec = ModelSpec(task="speech", num_outputs=num_outputs, num_inputs=40, config=cfg)
    return entry.factory(spec)


# ------------------------------------------------------------------------------------------
# a user's Python file, in another process

def parse_file_spec(spec: str) -> tuple[Path, str]:
    """``"models/net.py:MyNet"`` -> (path, class name), checked."""
    path_text, sep, cls = spec.rpartition(":")
    if not sep or not path_text.endswith(".py") or not cls.isidentifier():
        raise ModelImportError(f"{spec!r} is not FILE.py:ClassName (for example "
                               "my_model.py:Net).")
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise ModelImportError(f"Python file {path} does not exist.")
    return path.resolve(), cls


def import_python_file(spec: str, input_shape: Sequence[int] | None = None,
                       dtype: str = "float32", vocab_size: int = 1000,
                       timeout: float = DEFAULT_TIMEOUT) -> tuple[Graph, dict[str, Any]]:
    """Import and trace ``FILE.py:ClassName`` in a child process; graph + weights back."""
    path, cls = parse_file_spec(spec)
    package_root = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory(prefix="playground-trace-") as tmp:
        out = Path(tmp)
        # a packaged (frozen) app is not a Python: its entry runs the module (--child)
        launcher = "--child" if getattr(sys, "frozen", False) else "-m"
        cmd = [sys.executable, launcher, "playground.builder.trace_worker", str(path), cls,
               str(out), "--dtype", dtype, "--vocab-size", str(int(vocab_size))]
        if input_shape is not None:
            cmd += ["--input", ",".join(str(int(s)) for s in input_shape)]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(package_root), *filter(None, [env.get("PYTHONPATH")])])
        env["CUDA_VISIBLE_DEVICES"] = ""          # tracing needs no GPU
        env.pop("QT_QPA_PLATFORM", None)
        try:
            proc = subprocess.run(cmd, cwd=str(path.parent), env=env, capture_output=True,
                                  text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                                  start_new_session=True)
        except subprocess.TimeoutExpired:
            raise ModelImportError(f"Importing {path.name}:{cls} took longer than "
                                   f"{timeout:.0f} s and was stopped; does the file or the "
                                   "class start something long at import?") from None
        result = _read_result(out / "result.json")
        if proc.stderr.strip():
            log.info("trace worker stderr for %s:\n%s", spec, proc.stderr[-4000:])
        if result is None:
            tail = (proc.stderr.strip().splitlines() or ["no message"])[-1][:300]
            raise ModelImportError(f"Importing {path.name}:{cls} failed in its own process "
                                   f"(exit code {proc.returncode}: {tail}).")
        if not result.get("ok"):
            raise ModelImportError(str(result.get("message") or "The import failed."))
        graph = Graph.load(out / "graph.json")
        weights: dict[str, Any] = {}
        if (out / "weights.safetensors").is_file():
            from playground.core.checkpoint import load_weights

            weights = load_weights(out / "weights.safetensors")
        graph.weights = None
        return graph, weights


def _read_result(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def save_import(graph: Graph, weights: dict[str, Any], out: str | os.PathLike,
                keep_weights: bool = True) -> tuple[Path, Path | None]:
    """Write ``OUT.json`` and (with weights) ``OUT.safetensors`` next to it."""
    out = Path(out)
    weights_file = None
    if keep_weights and weights:
        from playground.core.checkpoint import save_weights

        weights_file = out.with_suffix(".safetensors")
        save_weights(weights, weights_file,
                     metadata={"format": "model-playground/graph-weights"})
        graph.weights = weights_file.name
    else:
        graph.weights = None
    return graph.save(out), weights_file
