"""The block catalogue: every layer the builder's palette offers.

Each :class:`BlockType` carries what the canvas, shape inference, the built module and the
exported source need: its group and a one-line explanation, a parameter schema (a tuple of
:class:`~playground.builder.params.Param`, see :mod:`playground.builder.params`), how many
inputs it takes, what input it expects (rank, dtype, which parameter must equal which input
size, as :class:`Fit`) and how to build the real ``torch.nn`` module, run it and write it as
source. The checks, forward functions and source writers of blocks that are not a single
module call live in :mod:`playground.builder.block_ops`. :data:`BLOCKS`, :func:`get` and
:func:`by_group` are the catalogue itself.

Shapes here never include the batch: an image is ``(C, H, W)``, a sequence ``(T, F)``, token
ids ``(T,)``. Dimension parameters that PyTorch counts *with* the batch keep PyTorch's meaning
(``Softmax.dim``, ``Concat.dim`` and ``Flatten.start_dim`` are as in ``torch``), so exported
code reads like ordinary PyTorch; shapes typed into Reshape and Permute leave the batch out.

Importing this module does not import torch (the canvas lists blocks before torch loads).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from playground.builder import block_ops as ops
from playground.builder.block_ops import Check, Mismatch
from playground.builder.errors import GraphError, ParamError
from playground.builder.params import (
    ALWAYS,
    MAX_DIM,
    MAX_RANK,
    Param,
    bool_param,
    float_param,
    shown,
    size_param,
    window_param,
)


# ------------------------------------------------------------------------------------------
# what an input must match

@dataclass(frozen=True)
class Fit:
    """Parameter ``param`` must equal input dimension ``dim`` (of the shape without batch)."""

    param: str
    dim: int
    noun: str


# ------------------------------------------------------------------------------------------
# block types

@dataclass(frozen=True)
class BlockType:
    name: str
    group: str
    doc: str
    params: tuple[Param, ...] = ()
    torch_class: str = ""            # nn.<torch_class>(...) unless make_fn says otherwise
    positional: int = 0              # leading params written positionally in exported source
    fixed: dict[str, Any] = field(default_factory=dict)  # constructor arguments always given
    inputs: int | Callable[[dict[str, Any]], int] = 1
    ranks: tuple[int, ...] | None = None   # allowed input ranks (without batch); None = any
    layout: str = ""                 # what the input is, e.g. "(channels, height, width)"
    takes: str = "float"             # "float" or "int64" (token ids) input
    fits: tuple[Fit, ...] = ()
    validate: Callable[[dict[str, Any]], Mismatch | None] | None = None  # params together
    check: Check | None = None       # input shapes against params, before PyTorch runs
    make_fn: Callable[[dict[str, Any]], Any] | None = None
    forward_fn: Callable[[Any, list[Any], dict[str, Any]], Any] | None = None
    init_code_fn: Callable[[dict[str, Any]], str | None] | None = None
    code_fn: Callable[[str, list[str], str, dict[str, Any]], list[str]] | None = None
    output_dtype: str = "same"       # "same" as the input, or "float32" (Embedding)

    # -- parameters ------------------------------------------------------------------------
    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        names = ", ".join(p.name for p in self.params) or "none"
        raise ParamError(f"{self.name} has no parameter {name!r}; its parameters are: {names}.")

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def parse_params(self, values: dict[str, Any] | None, where: str = "") -> dict[str, Any]:
        """All parameters (defaults filled in), each parsed by its schema; ``where`` names the
        block in messages. Unknown names are refused (a typo in a hand-edited file)."""
        values = dict(values or {})
        prefix = f"{self.name} {where!r}: " if where else f"{self.name}: "
        out = {}
        for p in self.params:
            try:
                out[p.name] = p.parse(values.pop(p.name)) if p.name in values else p.default
            except ParamError as exc:
                raise ParamError(prefix + str(exc)) from None
        if values:
            unknown = ", ".join(repr(str(k)) for k in list(values)[:3])
            names = ", ".join(p.name for p in self.params) or "none"
            raise ParamError(f"{prefix}no parameter {unknown}; its parameters are: {names}.")
        return out

    def num_inputs(self, params: dict[str, Any]) -> int:
        return self.inputs(params) if callable(self.inputs) else self.inputs

    # -- torch -----------------------------------------------------------------------------
    def constructor_args(self, params: dict[str, Any]) -> dict[str, Any]:
        args = {p.torch_name: p.to_torch(params[p.name]) for p in self.params
                if p.torch_name is not None}
        args.update(self.fixed)
        return args

    def make(self, params: dict[str, Any]):
        """The real module (on torch's current default device), or None for pure functions
        (Add, Concat, Reshape, Permute, Input)."""
        if self.make_fn is not None:
            return self.make_fn(params)
        if not self.torch_class:
            return None
        import warnings

        from torch import nn

        with warnings.catch_warnings():  # e.g. "dropout with num_layers=1" (harmless)
            warnings.simplefilter("ignore", UserWarning)
            return getattr(nn, self.torch_class)(**self.constructor_args(params))

    def forward(self, module, inputs: list[Any], params: dict[str, Any]):
        if self.forward_fn is not None:
            return self.forward_fn(module, inputs, params)
        return module(inputs[0])

    # -- source ----------------------------------------------------------------------------
    def init_code(self, params: dict[str, Any]) -> str | None:
        """The constructor as source, e.g. ``nn.Conv2d(1, 6, kernel_size=5, padding=2)``."""
        if self.init_code_fn is not None:
            return self.init_code_fn(params)
        if not self.torch_class:
            return None
        return f"nn.{self.torch_class}({self._args_code(params)})"

    def _args_code(self, params: dict[str, Any]) -> str:
        parts = []
        passed = [p for p in self.params if p.torch_name is not None]
        for i, p in enumerate(passed):
            value = p.to_torch(params[p.name])
            if i < self.positional:
                parts.append(_literal(value))
            elif p.omit is ALWAYS or value != p.to_torch(p.omit if p.omit is not None
                                                          else p.default):
                parts.append(f"{p.torch_name}={_literal(value)}")
        parts += [f"{k}={_literal(v)}" for k, v in self.fixed.items()]
        return ", ".join(parts)

    def forward_code(self, attr: str, inputs: list[str], out: str,
                     params: dict[str, Any]) -> list[str]:
        if self.code_fn is not None:
            return self.code_fn(attr, inputs, out, params)
        return [f"{out} = self.{attr}({inputs[0]})"]

    def spec(self) -> dict[str, Any]:
        return {"type": self.name, "group": self.group, "doc": self.doc,
                "params": [p.spec() for p in self.params],
                "inputs": "variable" if callable(self.inputs) else self.inputs}


def _literal(value: Any) -> str:
    """A parameter value as Python source (numbers, bools, strings, tuples: all validated)."""
    if isinstance(value, tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_]*", value):
        return repr(value)
    raise GraphError(f"Parameter value {shown(value)} cannot be written as source.")

# ------------------------------------------------------------------------------------------
# the catalogue

def _conv(dims: int) -> BlockType:
    name = f"Conv{dims}d"
    layout = "(channels, length)" if dims == 1 else "(channels, height, width)"
    doc = ("Slides learned filters along the sequence: finds local patterns in (channels, "
           "time) signals." if dims == 1 else
           "Slides learned filters over the image: finds edges, textures and shapes.")
    return BlockType(
        name, "Convolution", doc,
        params=(
            size_param("in_channels", 3 if dims == 2 else 40, "channels of the input"),
            size_param("out_channels", 16, "filters, i.e. channels of the output"),
            window_param("kernel_size", 3, "filter size", dims, omit=ALWAYS),
            window_param("stride", 1, "step between filter positions (2 halves the size)", dims),
            window_param("padding", 0, "zeros added around the input (kernel_size // 2 keeps the "
                                       "size)", dims, low=0, omit=0),
            window_param("dilation", 1, "gaps between filter taps (a wider view, same weights)",
                         dims, omit=1),
            size_param("groups", 1, "split channels into groups (in_channels = depthwise)"),
            bool_param("bias", True, "add a learned offset per output channel"),
        ),
        torch_class=name, positional=2, ranks=(dims + 1,), layout=layout,
        fits=(Fit("in_channels", 0, "input channels"),), validate=ops.conv_validate,
        check=ops.check_window())


def _pool(kind: str, dims: int) -> BlockType:
    name = f"{kind}Pool{dims}d"
    layout = "(channels, length)" if dims == 1 else "(channels, height, width)"
    doc = ("Keeps the largest value in each window: shrinks the size, keeps strong features."
           if kind == "Max" else
           "Averages each window: shrinks the size smoothly.")
    return BlockType(
        name, "Pooling", doc,
        params=(window_param("kernel_size", 2, "window size", dims, omit=ALWAYS),
                window_param("stride", 2, "step between windows (usually the window size)", dims,
                             omit=ALWAYS),
                window_param("padding", 0, "padding around the input (at most half the window)",
                             dims, low=0, omit=0),
                bool_param("ceil_mode", False, "round the output size up (keeps a partial window "
                                               "at the edge)")),
        torch_class=name, ranks=(dims + 1,), layout=layout, validate=ops.check_pool_padding,
        check=ops.check_window())


def _adaptive(kind: str, dims: int) -> BlockType:
    name = f"Adaptive{kind}Pool{dims}d"
    layout = "(channels, length)" if dims == 1 else "(channels, height, width)"
    how = "average" if kind == "Avg" else "maximum"
    param = (Param("output_size", "int", 1, "output length", min=1, max=MAX_DIM) if dims == 1
             else Param("output_size", "ints", (1,), "output height, width (1 = global "
                                                     "pooling)", min=1, max=MAX_DIM,
                        count=(1, 2)))
    return BlockType(
        name, "Pooling",
        f"Pools to a fixed output size whatever the input size ({how}); 1 = global pooling.",
        params=(param,), torch_class=name, positional=1, ranks=(dims + 1,), layout=layout)


def _rnn(name: str) -> BlockType:
    return BlockType(
        name, "Recurrent",
        ("Reads a sequence step by step with a memory cell; remembers long-range context."
         if name == "LSTM" else
         "Reads a sequence step by step with a gated memory; lighter than an LSTM."),
        params=(
            size_param("input_size", 64, "features per time step of the input"),
            size_param("hidden_size", 128, "size of the memory (output features per direction)"),
            size_param("num_layers", 1, "stacked recurrent layers", high=64),
            bool_param("bidirectional", False, "also read the sequence backwards (doubles the "
                                               "output features)"),
            float_param("dropout", 0.0, "dropout between stacked layers", high=0.99),
            bool_param("bias", True, "learned offsets in the gates"),
            Param("output", "choice", "last", "what goes on: the last time step (to classify "
                                              "a sequence), all steps (one output per step) "
                                              "or their mean",
                  choices=("last", "all", "mean"), torch=None),
        ),
        torch_class=name, positional=2, fixed={"batch_first": True}, ranks=(2,),
        layout="(time, features)", fits=(Fit("input_size", -1, "features per step"),),
        forward_fn=ops.rnn_forward, code_fn=ops.rnn_code)


def _activation(name: str, doc: str, params: tuple[Param, ...] = (), **kw) -> BlockType:
    return BlockType(name, "Activation", doc, params=params, torch_class=name, **kw)


def _build_catalogue() -> dict[str, BlockType]:
    blocks = [
        BlockType(
            "Input", "Input", "Where the data comes in: one sample's shape, without the batch.",
            params=(
                Param("shape", "ints", (3, 32, 32), "one sample's shape, without the batch: "
                      "C,H,W for images, F,T for audio features, T for token ids",
                      min=1, max=MAX_DIM, count=(1, MAX_RANK), torch=None),
                Param("dtype", "choice", "float32", "float32 for images and audio, int64 for "
                      "token ids (feed an Embedding)", choices=("float32", "int64"),
                      torch=None),
                size_param("vocab_size", 1000, "token ids go from 0 to vocab_size - 1 (int64 only)",
                           torch=None, high=1 << 24),
            ),
            inputs=0, forward_fn=ops.identity_forward, code_fn=ops.no_code, takes="any"),
        _conv(1), _conv(2),
        BlockType(
            "ConvTranspose2d", "Convolution",
            "Learned upsampling: the reverse of a strided convolution (decoders, generators).",
            params=(
                size_param("in_channels", 16, "channels of the input"),
                size_param("out_channels", 8, "channels of the output"),
                window_param("kernel_size", 2, "filter size", 2, omit=ALWAYS),
                window_param("stride", 2, "upsampling factor", 2, omit=ALWAYS),
                window_param("padding", 0, "removes rows/columns from the output's border", 2,
                             low=0, omit=0),
                window_param("output_padding", 0, "extra rows/columns on one side (must be "
                                                  "smaller than stride)", 2, low=0, omit=0),
                bool_param("bias", True, "add a learned offset per output channel"),
            ),
            torch_class="ConvTranspose2d", positional=2, ranks=(3,),
            layout="(channels, height, width)", fits=(Fit("in_channels", 0, "input channels"),),
            validate=ops.conv_transpose_validate, check=ops.check_window(transposed=True)),
        _pool("Max", 1), _pool("Max", 2), _pool("Avg", 1), _pool("Avg", 2),
        _adaptive("Avg", 1), _adaptive("Avg", 2), _adaptive("Max", 1), _adaptive("Max", 2),
        BlockType(
            "Linear", "Linear",
            "Fully connected: every output is a learned weighted sum of all input features.",
            params=(size_param("in_features", 128, "features of the input (its last dimension)"),
                    size_param("out_features", 10, "features of the output (classes, for the last "
                                                   "layer)"),
                    bool_param("bias", True, "add a learned offset per output")),
            torch_class="Linear", positional=2, layout="(..., features)",
            fits=(Fit("in_features", -1, "input features"),), check=ops.linear_check),
        BlockType(
            "BatchNorm1d", "Normalization",
            "Normalizes each feature over the batch: steadier, faster training (features or "
            "(channels, time)).",
            params=(size_param("num_features", 64, "features or channels of the input"),
                    float_param("eps", 1e-5, "added to the variance for stability", high=1.0),
                    float_param("momentum", 0.1, "how fast the running statistics follow"),
                    bool_param("affine", True, "learned scale and shift")),
            torch_class="BatchNorm1d", positional=1, ranks=(1, 2),
            layout="(features) or (channels, length)",
            fits=(Fit("num_features", 0, "channels"),)),
        BlockType(
            "BatchNorm2d", "Normalization",
            "Normalizes each channel over the batch and the image: steadier, faster training.",
            params=(size_param("num_features", 16, "channels of the input"),
                    float_param("eps", 1e-5, "added to the variance for stability", high=1.0),
                    float_param("momentum", 0.1, "how fast the running statistics follow"),
                    bool_param("affine", True, "learned scale and shift")),
            torch_class="BatchNorm2d", positional=1, ranks=(3,),
            layout="(channels, height, width)", fits=(Fit("num_features", 0, "channels"),)),
        BlockType(
            "LayerNorm", "Normalization",
            "Normalizes each sample's features (the last dimension): the Transformer's norm.",
            params=(size_param("normalized_shape", 64, "size of the last dimension"),
                    float_param("eps", 1e-5, "added to the variance for stability", high=1.0),
                    bool_param("elementwise_affine", True, "learned scale and shift"),
                    bool_param("bias", True, "learned shift (with elementwise_affine)")),
            torch_class="LayerNorm", positional=1, layout="(..., features)",
            fits=(Fit("normalized_shape", -1, "features in the last dimension"),)),
        BlockType(
            "GroupNorm", "Normalization",
            "Normalizes groups of channels per sample: batch-size independent.",
            params=(size_param("num_groups", 4, "groups the channels are split into"),
                    size_param("num_channels", 16, "channels of the input"),
                    float_param("eps", 1e-5, "added to the variance for stability", high=1.0),
                    bool_param("affine", True, "learned scale and shift")),
            torch_class="GroupNorm", positional=2, layout="(channels, ...)",
            fits=(Fit("num_channels", 0, "channels"),),
            validate=ops.divides("num_channels", "num_groups", "num_groups")),
        BlockType(
            "Dropout", "Regularization",
            "Zeroes random values while training so the network cannot rely on any one; off "
            "when predicting.",
            params=(float_param("p", 0.5, "fraction of values zeroed"),),
            torch_class="Dropout", positional=1, takes="float"),
        _activation("ReLU", "max(0, x): the default non-linearity; fast and simple."),
        _activation("GELU", "A smooth ReLU used by Transformers (BERT, GPT).",
                    (Param("approximate", "choice", "none", "tanh = the faster GPT-2 formula",
                           choices=("none", "tanh")),)),
        _activation("SiLU", "x * sigmoid(x) (Swish): smooth, used by EfficientNet and LLaMA."),
        _activation("Sigmoid", "Squashes to (0, 1): a probability for yes/no outputs."),
        _activation("Tanh", "Squashes to (-1, 1): LeNet's and the RNNs' non-linearity."),
        _activation("Softmax", "Turns scores into probabilities that sum to 1 (along dim).",
                    (Param("dim", "int", -1, "dimension that sums to 1 (PyTorch's numbering: "
                                             "0 is the batch)", min=-MAX_RANK - 1,
                           max=MAX_RANK, omit=ALWAYS),),
                    positional=0, check=ops.dim_check("dim")),
        BlockType(
            "Flatten", "Shape",
            "Lays all values out in one row per sample: (C, H, W) -> C*H*W for a Linear.",
            params=(Param("start_dim", "int", 1, "first dimension flattened (PyTorch's "
                                                 "numbering: 0 is the batch)", min=1,
                          max=MAX_RANK),
                    Param("end_dim", "int", -1, "last dimension flattened", min=-MAX_RANK - 1,
                          max=MAX_RANK)),
            torch_class="Flatten", check=ops.flatten_check, takes="any"),
        BlockType(
            "Reshape", "Shape",
            "Gives the same values another shape (without the batch); -1 = whatever is left.",
            params=(Param("shape", "ints", (-1,), "new shape without the batch, e.g. 16,-1",
                          min=-1, max=MAX_DIM, count=(1, MAX_RANK), torch=None),),
            forward_fn=ops.reshape_forward, code_fn=ops.reshape_code, validate=ops.reshape_validate,
            check=ops.reshape_check, takes="any"),
        BlockType(
            "Permute", "Shape",
            "Reorders dimensions (without the batch): 1,0 turns (channels, time) into (time, "
            "channels).",
            params=(Param("dims", "ints", (1, 0), "new order of the dimensions, counted from 0 "
                                                  "after the batch", min=0, max=MAX_RANK - 1,
                          count=(1, MAX_RANK), torch=None),),
            forward_fn=ops.permute_forward, code_fn=ops.permute_code, validate=ops.permute_validate,
            check=ops.permute_check, takes="any"),
        BlockType(
            "Embedding", "Embedding",
            "Looks up a learned vector for each token id: words or characters become vectors.",
            params=(size_param("num_embeddings", 1000, "vocabulary size (largest token id + 1)",
                               high=1 << 24),
                    size_param("embedding_dim", 64, "size of each vector")),
            torch_class="Embedding", positional=2, takes="int64", output_dtype="float32",
            layout="token ids"),
        BlockType(
            "PositionalEncoding", "Embedding",
            "Adds where each token is in the sequence (attention alone does not know order).",
            params=(Param("kind", "choice", "sinusoidal", "sinusoidal (fixed, any length up to "
                          "max_len) or learned (one trained vector per position)",
                          choices=("sinusoidal", "learned"), torch=None),
                    size_param("d_model", 64, "features per token", torch=None),
                    size_param("max_len", 512, "longest sequence", torch=None)),
            make_fn=ops.positional_make, init_code_fn=ops.positional_init, ranks=(2,),
            layout="(time, features)", fits=(Fit("d_model", -1, "features per token"),),
            check=ops.positional_check),
        _rnn("LSTM"), _rnn("GRU"),
        BlockType(
            "MultiheadAttention", "Attention",
            "Self-attention: every position looks at every other (causal: only earlier ones).",
            params=(size_param("embed_dim", 64, "features per token"),
                    size_param("num_heads", 4, "attention heads (must divide embed_dim)",
                               high=1024),
                    float_param("dropout", 0.0, "dropout on the attention weights", high=0.99),
                    bool_param("bias", True, "learned offsets in the projections"),
                    bool_param("causal", False, "each position sees only itself and earlier ones "
                                                "(language models)", torch=None)),
            torch_class="MultiheadAttention", positional=2, fixed={"batch_first": True},
            ranks=(2,), layout="(time, features)",
            fits=(Fit("embed_dim", -1, "features per token"),),
            validate=ops.divides("embed_dim", "num_heads", "num_heads"),
            forward_fn=ops.mha_forward, code_fn=ops.mha_code),
        BlockType(
            "TransformerEncoderLayer", "Attention",
            "One Transformer layer: self-attention then a feed-forward network, each with a "
            "residual and LayerNorm.",
            params=(size_param("d_model", 64, "features per token"),
                    size_param("nhead", 4, "attention heads (must divide d_model)", high=1024),
                    Param("dim_feedforward", "int", 256, "hidden size of the feed-forward "
                          "network", min=1, max=MAX_DIM, omit=ALWAYS),
                    float_param("dropout", 0.1, "dropout inside the layer", high=0.99),
                    Param("activation", "choice", "relu", "non-linearity of the feed-forward "
                          "network", choices=("relu", "gelu")),
                    bool_param("norm_first", False, "LayerNorm before each part (pre-norm, trains "
                                                    "deeper stacks more easily)"),
                    float_param("layer_norm_eps", 1e-5, "LayerNorm's eps", high=1.0),
                    bool_param("causal", False, "each position sees only itself and earlier ones",
                               torch=None)),
            torch_class="TransformerEncoderLayer", positional=2, fixed={"batch_first": True},
            ranks=(2,), layout="(time, features)",
            fits=(Fit("d_model", -1, "features per token"),),
            validate=ops.divides("d_model", "nhead", "nhead"),
            forward_fn=ops.encoder_forward, code_fn=ops.encoder_code),
        BlockType(
            "Add", "Join",
            "Adds its inputs element by element: a residual (skip) connection.",
            params=(size_param("inputs", 2, "how many inputs", low=2, high=8, torch=None),),
            inputs=lambda p: p["inputs"], forward_fn=ops.add_forward,
            code_fn=lambda attr, ins, out, p: [f"{out} = {' + '.join(ins)}"],
            check=ops.add_check, takes="any"),
        BlockType(
            "Concat", "Join",
            "Joins its inputs side by side along dim (1 = channels): Inception's and DenseNet's "
            "join.",
            params=(size_param("inputs", 2, "how many inputs", low=2, high=8, torch=None),
                    Param("dim", "int", 1, "dimension to join along (PyTorch's numbering: 0 is "
                                           "the batch, 1 the channels)", min=-MAX_RANK - 1,
                          max=MAX_RANK, torch=None)),
            inputs=lambda p: p["inputs"], forward_fn=ops.concat_forward, code_fn=ops.concat_code,
            check=ops.concat_check, takes="any"),
    ]
    return {b.name: b for b in blocks}

BLOCKS: dict[str, BlockType] = _build_catalogue()

GROUPS: tuple[str, ...] = ("Input", "Convolution", "Pooling", "Linear", "Normalization",
                           "Regularization", "Activation", "Shape", "Embedding", "Recurrent",
                           "Attention", "Join")


def get(name: str) -> BlockType:
    """The block type ``name``; an unknown name gets a sentence with the closest names."""
    try:
        return BLOCKS[name]
    except (KeyError, TypeError):
        import difflib

        close = difflib.get_close_matches(str(name), list(BLOCKS), n=3)
        hint = f"did you mean {' or '.join(close)}?" if close else \
            f"known blocks: {', '.join(BLOCKS)}"
        raise GraphError(f"Unknown block type {shown(name)} ({hint}).") from None


def by_group() -> dict[str, list[BlockType]]:
    """The palette: block types grouped by kind, in catalogue order."""
    groups: dict[str, list[BlockType]] = {g: [] for g in GROUPS}
    for block in BLOCKS.values():
        groups.setdefault(block.group, []).append(block)
    return groups
