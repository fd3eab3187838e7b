"""The block catalogue: every layer the builder's palette offers.

Each :class:`BlockType` carries what the canvas, shape inference, the built module and the
exported source need: its group and a one-line explanation, a parameter schema
(:class:`Param`: name, kind, default, range, choices, help) that parses typed text and JSON
values without ``eval``, how many inputs it takes, what input it expects (rank, dtype, which
parameter must equal which input size) and how to build the real ``torch.nn`` module, run it
and write it as source.

Shapes here never include the batch: an image is ``(C, H, W)``, a sequence ``(T, F)``, token
ids ``(T,)``. Dimension parameters that PyTorch counts *with* the batch keep PyTorch's meaning
(``Softmax.dim``, ``Concat.dim`` and ``Flatten.start_dim`` are as in ``torch``), so exported
code reads like ordinary PyTorch; shapes typed into Reshape and Permute leave the batch out.

Importing this module does not import torch (the canvas lists blocks before torch loads).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from playground.builder.errors import GraphError, ParamError

Shape = tuple[int, ...]

MAX_DIM = 1 << 20        # channels, features, sizes
MAX_KERNEL = 1024
MAX_RANK = 6             # dimensions of a tensor, without the batch
_ALWAYS = object()       # Param.omit: always write this argument in exported source


def format_shape(shape: Sequence[int] | None) -> str:
    """``(6, 28, 28)`` -> ``"6x28x28"``; None -> ``"?"``."""
    if shape is None:
        return "?"
    return "x".join(str(int(s)) for s in shape) if len(shape) else "scalar"


# ------------------------------------------------------------------------------------------
# parameters

@dataclass(frozen=True)
class Param:
    """One parameter of a block.

    ``kind`` is ``int``, ``float``, ``bool``, ``choice`` or ``ints`` (a list of whole numbers,
    ``count`` = (fewest, most); a kernel of ``(1, 2)`` numbers means square when one is given).
    ``torch`` is the constructor argument it becomes ("" = the same name, None = not passed to
    the constructor); ``omit`` is the value that exported source leaves out (PyTorch's default).
    """

    name: str
    kind: str
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    count: tuple[int, int] = (1, 1)
    torch: str | None = ""
    omit: Any = None

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    @property
    def torch_name(self) -> str | None:
        return self.name if self.torch == "" else self.torch

    def describe(self) -> str:
        """What a valid value is, for messages and the form's tooltip."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        bounds = ""
        if self.min is not None and self.max is not None:
            bounds = f" from {_num(self.min)} to {_num(self.max)}"
        elif self.min is not None:
            bounds = f" of at least {_num(self.min)}"
        if self.kind == "int":
            return "a whole number" + bounds
        if self.kind == "float":
            return "a number" + bounds
        low, high = self.count
        many = f"{low}" if low == high else f"{low} to {high}"
        return f"{many} whole numbers separated by commas, each{bounds or ' any size'}"

    def parse(self, value: Any) -> Any:
        """``value`` (from JSON, the form or the command line) checked and normalised:
        ``int``, ``float``, ``bool``, ``str`` or ``tuple[int, ...]``. Raises ParamError."""
        try:
            parsed = _PARSERS[self.kind](self, value)
        except (ValueError, TypeError, OverflowError):
            parsed = None
        if parsed is None:
            raise ParamError(f"{self.name} must be {self.describe()} (got {_shown(value)}).")
        return parsed

    def to_json(self, value: Any) -> Any:
        return list(value) if isinstance(value, tuple) else value

    def to_torch(self, value: Any) -> Any:
        """The constructor argument: a one-number list becomes that number."""
        if self.kind == "ints" and not isinstance(value, int):
            return value[0] if len(value) == 1 else tuple(value)
        return value

    def spec(self) -> dict[str, Any]:
        """A plain description for forms and ``builder blocks --json``."""
        return {"name": self.name, "kind": self.kind, "default": self.to_json(self.default),
                "help": self.help, "min": self.min, "max": self.max,
                "choices": list(self.choices) or None, "count": list(self.count)}


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _in_range(p: Param, x: float) -> bool:
    return (p.min is None or x >= p.min) and (p.max is None or x <= p.max)


def _parse_int(p: Param, value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+-]?\d{1,12}", text):
            return None
        value = int(text)
    if not isinstance(value, int) or not _in_range(p, value):
        return None
    return int(value)


def _parse_float(p: Param, value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?", text):
            return None
        value = float(text)
    if not isinstance(value, (int, float)):
        return None
    value = float(value)
    if not math.isfinite(value) or not _in_range(p, value):
        return None
    return value


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _parse_bool(p: Param, value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


def _parse_choice(p: Param, value: Any) -> str | None:
    if isinstance(value, str) and value.strip() in p.choices:
        return value.strip()
    return None


def _parse_ints(p: Param, value: Any) -> tuple[int, ...] | None:
    if isinstance(value, str):
        text = value.strip().strip("()[]").strip()
        items: list[Any] = [t for t in re.split(r"\s*[,x×\s]\s*", text) if t] if text else []
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [value]
    low, high = p.count
    if not low <= len(items) <= high:
        return None
    element = Param(p.name, "int", 0, "", min=p.min, max=p.max)
    numbers = [_parse_int(element, item) for item in items]
    if any(n is None for n in numbers):
        return None
    return tuple(numbers)  # type: ignore[arg-type]


_PARSERS: dict[str, Callable[[Param, Any], Any]] = {
    "int": _parse_int, "float": _parse_float, "bool": _parse_bool, "choice": _parse_choice,
    "ints": _parse_ints}


# ------------------------------------------------------------------------------------------
# what a check reports

@dataclass(frozen=True)
class Mismatch:
    """What is wrong with a block's input or parameters, without the block's name.

    The full sentence is ``f"{type} '{id}' {what}: {fix_text}."``. ``fix`` is the one-click
    fix where there is an obvious one: ``{"param": "in_features", "value": 1568}``.
    """

    what: str
    expected: str = ""
    got: str = ""
    fix: dict[str, Any] | None = None
    fix_text: str = ""


@dataclass(frozen=True)
class Fit:
    """Parameter ``param`` must equal input dimension ``dim`` (of the shape without batch)."""

    param: str
    dim: int
    noun: str


Check = Callable[[dict[str, Any], list[Shape], list[str]], "Mismatch | None"]


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
            elif p.omit is _ALWAYS or value != p.to_torch(p.omit if p.omit is not None
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
    raise GraphError(f"Parameter value {_shown(value)} cannot be written as source.")


# ------------------------------------------------------------------------------------------
# parameter shorthands

def _size(name: str, default: int, help: str, low: int = 1, torch: str | None = "",
          high: int = MAX_DIM) -> Param:
    return Param(name, "int", default, help, min=low, max=high, torch=torch)


def _bool(name: str, default: bool, help: str, torch: str | None = "") -> Param:
    return Param(name, "bool", default, help, torch=torch)


def _float(name: str, default: float, help: str, low: float = 0.0, high: float = 1.0,
           torch: str | None = "") -> Param:
    return Param(name, "float", default, help, min=low, max=high, torch=torch)


def _window(name: str, default: int, help: str, dims: int, low: int = 1,
            high: int = MAX_KERNEL, omit: Any = None) -> Param:
    if dims == 1:
        return Param(name, "int", default, help, min=low, max=high, omit=omit)
    return Param(name, "ints", (default,), help, min=low, max=high, count=(1, dims),
                 omit=omit)


def _expand(value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    value = tuple(value)
    return value * n if len(value) == 1 else value


# ------------------------------------------------------------------------------------------
# checks shared by several blocks

def _check_window(transposed: bool = False) -> Check:
    """A kernel larger than its (padded) input, or an output of size zero."""

    def check(p: dict[str, Any], shapes: list[Shape], sources: list[str]) -> Mismatch | None:
        spatial = shapes[0][1:]
        n = len(spatial)
        k, s = _expand(p["kernel_size"], n), _expand(p["stride"], n)
        pad = _expand(p.get("padding", 0), n)
        d = _expand(p.get("dilation", 1), n)
        eff = tuple(di * (ki - 1) + 1 for di, ki in zip(d, k, strict=False))
        if transposed:
            op = _expand(p.get("output_padding", 0), n)
            out = tuple((i - 1) * si - 2 * pi + e + o
                        for i, si, pi, e, o in zip(spatial, s, pad, eff, op, strict=False))
            if min(out) < 1:
                return Mismatch(
                    f"would make an output of {format_shape(out)} from its "
                    f"{format_shape(spatial)} input", expected="an output of at least 1",
                    got=format_shape(out), fix_text="lower its padding or raise its stride")
            return None
        padded = tuple(i + 2 * pi for i, pi in zip(spatial, pad, strict=False))
        if all(e <= q for e, q in zip(eff, padded, strict=False)):
            return None
        with_pad = f" ({format_shape(padded)} with padding)" if any(pad) else ""
        need = tuple(max(1, e - 2 * pi) for e, pi in zip(eff, pad, strict=False))
        kernel = "dilated kernel" if any(x > 1 for x in d) else "kernel"
        return Mismatch(
            f"has a {format_shape(eff)} {kernel} but its input is only "
            f"{format_shape(spatial)}{with_pad}; it needs at least {format_shape(need)}",
            expected=f"an input of at least {format_shape(need)}", got=format_shape(spatial),
            fix_text="use a smaller kernel_size or more padding, or give the network a larger "
                     "input")

    return check


def _check_pool_padding(p: dict[str, Any]) -> Mismatch | None:
    k, pad = p["kernel_size"], p["padding"]
    n = max(len(_expand(k, 1)), len(_expand(pad, 1)))
    if any(pi > ki // 2 for pi, ki in zip(_expand(pad, n), _expand(k, n), strict=False)):
        return Mismatch(f"has padding {format_shape(_expand(pad, n))} but pooling allows at most "
                        f"half its kernel ({format_shape(_expand(k, n))})",
                        expected="padding <= kernel_size / 2", got=str(pad),
                        fix_text="lower padding")
    return None


def _divisor_at_most(n: int, limit: int) -> int:
    return max(d for d in range(1, max(1, min(n, limit)) + 1) if n % d == 0)


def _divides(whole: str, part: str, fix_param: str | None = None) -> Callable:
    """``params[whole]`` must be divisible by ``params[part]``."""

    def validate(p: dict[str, Any]) -> Mismatch | None:
        if p[whole] % p[part] == 0:
            return None
        fix = None
        text = f"choose {part} so that it divides {whole}"
        if fix_param == part:
            value = _divisor_at_most(p[whole], p[part])
            fix, text = {"param": part, "value": value}, f"set {part} to {value}"
        return Mismatch(f"needs {whole} ({p[whole]}) to be divisible by {part} ({p[part]})",
                        expected=f"a multiple of {p[part]}", got=str(p[whole]), fix=fix,
                        fix_text=text)

    return validate


def _conv_validate(p: dict[str, Any]) -> Mismatch | None:
    for name in ("in_channels", "out_channels"):
        if p[name] % p["groups"]:
            return _divides(name, "groups", "groups")(p)
    return None


def _linear_check(p: dict[str, Any], shapes: list[Shape], sources: list[str]) -> Mismatch | None:
    shape = shapes[0]
    flat = math.prod(shape)
    if len(shape) >= 3 and p["in_features"] != shape[-1]:
        return Mismatch(
            f"gets a {format_shape(shape)} tensor but works on its last dimension only "
            f"({shape[-1]})", expected=f"{p['in_features']} features", got=format_shape(shape),
            fix_text=f"add a Flatten block before it and set in_features to {flat}")
    return None


# ------------------------------------------------------------------------------------------
# forward functions and source for blocks that are not a single module call

def _add_forward(module, xs, p):
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def _add_check(p, shapes, sources):
    if all(s == shapes[0] for s in shapes):
        return None
    got = " and ".join(f"{format_shape(s)} (from {src})"
                       for s, src in zip(shapes, sources, strict=False))
    hint = ("give both branches the same shape: a 1x1 Conv2d (with stride) on the shortcut "
            "changes its channels and size" if len(shapes[0]) == 3 else
            "give all its inputs the same shape")
    return Mismatch(f"needs inputs of the same shape but gets {got}",
                    expected=format_shape(shapes[0]), got=format_shape(next(
                        s for s in shapes if s != shapes[0])), fix_text=hint)


def _concat_forward(module, xs, p):
    import torch

    return torch.cat(xs, dim=p["dim"])


def _norm_dim(dim: int, rank: int) -> int | None:
    """A PyTorch dim (batch included) as an index into the shape without batch, or None."""
    d = dim + rank + 1 if dim < 0 else dim
    return d - 1 if 1 <= d <= rank else None


def _concat_check(p, shapes, sources):
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes):
        got = " and ".join(format_shape(s) for s in shapes)
        return Mismatch(f"needs inputs with the same number of dimensions but gets {got}",
                        expected=f"{rank} dimensions each", got=got,
                        fix_text="give all its inputs the same layout")
    d = _norm_dim(p["dim"], rank)
    if d is None:
        return Mismatch(f"joins along dim {p['dim']}, which its {format_shape(shapes[0])} "
                        f"inputs (dims 1 to {rank} after the batch) do not have",
                        expected=f"dim from 1 to {rank}", got=str(p["dim"]),
                        fix={"param": "dim", "value": 1}, fix_text="set dim to 1 (channels)")
    for s in shapes[1:]:
        rest = [i for i in range(rank) if i != d and s[i] != shapes[0][i]]
        if rest:
            got = " and ".join(f"{format_shape(x)} (from {y})"
                               for x, y in zip(shapes, sources, strict=False))
            return Mismatch(
                f"joins along dim {p['dim']} but its inputs differ in another dimension: {got}",
                expected=f"equal sizes except in dim {p['dim']}", got=got,
                fix_text="make the branches the same size in the other dimensions")
    return None


def _concat_code(attr, ins, out, p):
    return [f"{out} = torch.cat([{', '.join(ins)}], dim={p['dim']})"]


def _dim_check(name: str) -> Check:
    def check(p, shapes, sources):
        rank = len(shapes[0])
        if _norm_dim(p[name], rank) is None:
            return Mismatch(
                f"uses {name}={p[name]} but its input {format_shape(shapes[0])} has dims 1 to "
                f"{rank} after the batch (or -1 to -{rank})", expected=f"-{rank} to {rank}",
                got=str(p[name]), fix={"param": name, "value": -1},
                fix_text=f"set {name} to -1 (the last dimension)")
        return None

    return check


def _flatten_check(p, shapes, sources):
    rank = len(shapes[0])
    start, end = _norm_dim(p["start_dim"], rank), _norm_dim(p["end_dim"], rank)
    if start is None or end is None or start > end:
        return Mismatch(f"flattens dims {p['start_dim']} to {p['end_dim']} but its input "
                        f"{format_shape(shapes[0])} has dims 1 to {rank} after the batch",
                        expected=f"1 <= start_dim <= end_dim <= {rank}",
                        got=f"{p['start_dim']}..{p['end_dim']}",
                        fix={"param": "start_dim", "value": 1},
                        fix_text="set start_dim to 1 and end_dim to -1")
    return None


def _reshape_forward(module, xs, p):
    x = xs[0]
    return x.reshape(x.shape[0], *p["shape"])


def _reshape_validate(p):
    if list(p["shape"]).count(-1) > 1 or 0 in p["shape"]:
        return Mismatch("has a target shape with more than one -1 or a 0",
                        expected="sizes of at least 1 and at most one -1",
                        got=format_shape(p["shape"]), fix_text="give every size but one")
    return None


def _reshape_check(p, shapes, sources):
    n = math.prod(shapes[0])
    known = math.prod(s for s in p["shape"] if s != -1)
    ok = n % known == 0 if -1 in p["shape"] else n == known
    if ok:
        return None
    return Mismatch(f"cannot make {format_shape(p['shape'])} from its {format_shape(shapes[0])} "
                    f"input ({n} values)", expected=f"a shape of {n} values",
                    got=f"{format_shape(p['shape'])}", fix={"param": "shape", "value": [-1]}
                    if len(p["shape"]) == 1 else None,
                    fix_text=f"choose sizes whose product is {n}, or use -1 for one of them")


def _reshape_code(attr, ins, out, p):
    sizes = ", ".join(str(s) for s in p["shape"])
    return [f"{out} = {ins[0]}.reshape({ins[0]}.shape[0], {sizes})"]


def _permute_forward(module, xs, p):
    return xs[0].permute(0, *[d + 1 for d in p["dims"]])


def _permute_validate(p):
    if sorted(p["dims"]) != list(range(len(p["dims"]))):
        return Mismatch(f"needs an order of 0 to {len(p['dims']) - 1}, each once",
                        expected="a permutation", got=format_shape(p["dims"]),
                        fix_text="list every dimension once, e.g. 1,0")
    return None


def _permute_check(p, shapes, sources):
    if len(p["dims"]) == len(shapes[0]):
        return None
    rank = len(shapes[0])
    return Mismatch(f"orders {len(p['dims'])} dimensions but its input {format_shape(shapes[0])} "
                    f"has {rank}", expected=f"{rank} dimensions", got=str(len(p["dims"])),
                    fix={"param": "dims", "value": list(range(rank))[::-1]},
                    fix_text=f"give {rank} dimensions, e.g. "
                             f"{','.join(map(str, range(rank)[::-1]))}")


def _permute_code(attr, ins, out, p):
    dims = ", ".join(str(d + 1) for d in p["dims"])
    return [f"{out} = {ins[0]}.permute(0, {dims})"]


def _rnn_forward(module, xs, p):
    out = module(xs[0])[0]  # (B, T, hidden * directions)
    if p["output"] == "last":
        return out[:, -1]
    if p["output"] == "mean":
        return out.mean(dim=1)
    return out


def _rnn_code(attr, ins, out, p):
    lines = [f"{out}, _ = self.{attr}({ins[0]})  # all time steps"]
    if p["output"] == "last":
        lines.append(f"{out} = {out}[:, -1]  # the last time step")
    elif p["output"] == "mean":
        lines.append(f"{out} = {out}.mean(dim=1)  # average over time")
    return lines


def _mha_forward(module, xs, p):
    from playground.builder.modules import causal_mask

    x = xs[0]
    mask = causal_mask(x) if p["causal"] else None
    return module(x, x, x, need_weights=False, attn_mask=mask)[0]


def _mha_code(attr, ins, out, p):
    x = ins[0]
    mask = f", attn_mask=causal_mask({x})" if p["causal"] else ""
    return [f"{out}, _ = self.{attr}({x}, {x}, {x}, need_weights=False{mask})"]


def _encoder_forward(module, xs, p):
    from playground.builder.modules import causal_mask

    x = xs[0]
    if p["causal"]:
        return module(x, src_mask=causal_mask(x), is_causal=True)
    return module(x)


def _encoder_code(attr, ins, out, p):
    x = ins[0]
    if p["causal"]:
        return [f"{out} = self.{attr}({x}, src_mask=causal_mask({x}), is_causal=True)"]
    return [f"{out} = self.{attr}({x})"]


_POSITIONAL_CLASSES = {"sinusoidal": "SinusoidalPositionalEncoding",
                       "learned": "LearnedPositionalEncoding"}


def _positional_make(p):
    from playground.builder import modules

    cls = getattr(modules, _POSITIONAL_CLASSES[p["kind"]])
    return cls(p["d_model"], p["max_len"])


def _positional_init(p):
    return f"{_POSITIONAL_CLASSES[p['kind']]}({p['d_model']}, max_len={p['max_len']})"


def _positional_check(p, shapes, sources):
    length = shapes[0][0]
    if length <= p["max_len"]:
        return None
    return Mismatch(f"covers {p['max_len']} positions but gets a sequence of {length}",
                    expected=f"at most {p['max_len']} steps", got=str(length),
                    fix={"param": "max_len", "value": length},
                    fix_text=f"set max_len to {length}")


def _identity_forward(module, xs, p):
    return xs[0]


def _no_code(attr, ins, out, p):
    return []


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
            _size("in_channels", 3 if dims == 2 else 40, "channels of the input"),
            _size("out_channels", 16, "filters, i.e. channels of the output"),
            _window("kernel_size", 3, "filter size", dims, omit=_ALWAYS),
            _window("stride", 1, "step between filter positions (2 halves the size)", dims),
            _window("padding", 0, "zeros added around the input (kernel_size // 2 keeps the "
                                  "size)", dims, low=0, omit=0),
            _window("dilation", 1, "gaps between filter taps (a wider view, same weights)",
                    dims, omit=1),
            _size("groups", 1, "split channels into groups (in_channels = depthwise)"),
            _bool("bias", True, "add a learned offset per output channel"),
        ),
        torch_class=name, positional=2, ranks=(dims + 1,), layout=layout,
        fits=(Fit("in_channels", 0, "input channels"),), validate=_conv_validate,
        check=_check_window())


def _pool(kind: str, dims: int) -> BlockType:
    name = f"{kind}Pool{dims}d"
    layout = "(channels, length)" if dims == 1 else "(channels, height, width)"
    doc = ("Keeps the largest value in each window: shrinks the size, keeps strong features."
           if kind == "Max" else
           "Averages each window: shrinks the size smoothly.")
    return BlockType(
        name, "Pooling", doc,
        params=(_window("kernel_size", 2, "window size", dims, omit=_ALWAYS),
                _window("stride", 2, "step between windows (usually the window size)", dims,
                        omit=_ALWAYS),
                _window("padding", 0, "padding around the input (at most half the window)",
                        dims, low=0, omit=0),
                _bool("ceil_mode", False, "round the output size up (keeps a partial window "
                                          "at the edge)")),
        torch_class=name, ranks=(dims + 1,), layout=layout, validate=_check_pool_padding,
        check=_check_window())


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
            _size("input_size", 64, "features per time step of the input"),
            _size("hidden_size", 128, "size of the memory (output features per direction)"),
            _size("num_layers", 1, "stacked recurrent layers", high=64),
            _bool("bidirectional", False, "also read the sequence backwards (doubles the "
                                          "output features)"),
            _float("dropout", 0.0, "dropout between stacked layers", high=0.99),
            _bool("bias", True, "learned offsets in the gates"),
            Param("output", "choice", "last", "what goes on: the last time step (to classify "
                                              "a sequence), all steps (one output per step) "
                                              "or their mean",
                  choices=("last", "all", "mean"), torch=None),
        ),
        torch_class=name, positional=2, fixed={"batch_first": True}, ranks=(2,),
        layout="(time, features)", fits=(Fit("input_size", -1, "features per step"),),
        forward_fn=_rnn_forward, code_fn=_rnn_code)


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
                _size("vocab_size", 1000, "token ids go from 0 to vocab_size - 1 (int64 only)",
                      torch=None, high=1 << 24),
            ),
            inputs=0, forward_fn=_identity_forward, code_fn=_no_code, takes="any"),
        _conv(1), _conv(2),
        BlockType(
            "ConvTranspose2d", "Convolution",
            "Learned upsampling: the reverse of a strided convolution (decoders, generators).",
            params=(
                _size("in_channels", 16, "channels of the input"),
                _size("out_channels", 8, "channels of the output"),
                _window("kernel_size", 2, "filter size", 2, omit=_ALWAYS),
                _window("stride", 2, "upsampling factor", 2, omit=_ALWAYS),
                _window("padding", 0, "removes rows/columns from the output's border", 2,
                        low=0, omit=0),
                _window("output_padding", 0, "extra rows/columns on one side (must be "
                                             "smaller than stride)", 2, low=0, omit=0),
                _bool("bias", True, "add a learned offset per output channel"),
            ),
            torch_class="ConvTranspose2d", positional=2, ranks=(3,),
            layout="(channels, height, width)", fits=(Fit("in_channels", 0, "input channels"),),
            validate=_conv_transpose_validate, check=_check_window(transposed=True)),
        _pool("Max", 1), _pool("Max", 2), _pool("Avg", 1), _pool("Avg", 2),
        _adaptive("Avg", 1), _adaptive("Avg", 2), _adaptive("Max", 1), _adaptive("Max", 2),
        BlockType(
            "Linear", "Linear",
            "Fully connected: every output is a learned weighted sum of all input features.",
            params=(_size("in_features", 128, "features of the input (its last dimension)"),
                    _size("out_features", 10, "features of the output (classes, for the last "
                                              "layer)"),
                    _bool("bias", True, "add a learned offset per output")),
            torch_class="Linear", positional=2, layout="(..., features)",
            fits=(Fit("in_features", -1, "input features"),), check=_linear_check),
        BlockType(
            "BatchNorm1d", "Normalization",
            "Normalizes each feature over the batch: steadier, faster training (features or "
            "(channels, time)).",
            params=(_size("num_features", 64, "features or channels of the input"),
                    _float("eps", 1e-5, "added to the variance for stability", high=1.0),
                    _float("momentum", 0.1, "how fast the running statistics follow"),
                    _bool("affine", True, "learned scale and shift")),
            torch_class="BatchNorm1d", positional=1, ranks=(1, 2),
            layout="(features) or (channels, length)",
            fits=(Fit("num_features", 0, "channels"),)),
        BlockType(
            "BatchNorm2d", "Normalization",
            "Normalizes each channel over the batch and the image: steadier, faster training.",
            params=(_size("num_features", 16, "channels of the input"),
                    _float("eps", 1e-5, "added to the variance for stability", high=1.0),
                    _float("momentum", 0.1, "how fast the running statistics follow"),
                    _bool("affine", True, "learned scale and shift")),
            torch_class="BatchNorm2d", positional=1, ranks=(3,),
            layout="(channels, height, width)", fits=(Fit("num_features", 0, "channels"),)),
        BlockType(
            "LayerNorm", "Normalization",
            "Normalizes each sample's features (the last dimension): the Transformer's norm.",
            params=(_size("normalized_shape", 64, "size of the last dimension"),
                    _float("eps", 1e-5, "added to the variance for stability", high=1.0),
                    _bool("elementwise_affine", True, "learned scale and shift"),
                    _bool("bias", True, "learned shift (with elementwise_affine)")),
            torch_class="LayerNorm", positional=1, layout="(..., features)",
            fits=(Fit("normalized_shape", -1, "features in the last dimension"),)),
        BlockType(
            "GroupNorm", "Normalization",
            "Normalizes groups of channels per sample: batch-size independent.",
            params=(_size("num_groups", 4, "groups the channels are split into"),
                    _size("num_channels", 16, "channels of the input"),
                    _float("eps", 1e-5, "added to the variance for stability", high=1.0),
                    _bool("affine", True, "learned scale and shift")),
            torch_class="GroupNorm", positional=2, layout="(channels, ...)",
            fits=(Fit("num_channels", 0, "channels"),),
            validate=_divides("num_channels", "num_groups", "num_groups")),
        BlockType(
            "Dropout", "Regularization",
            "Zeroes random values while training so the network cannot rely on any one; off "
            "when predicting.",
            params=(_float("p", 0.5, "fraction of values zeroed"),),
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
                           max=MAX_RANK, omit=_ALWAYS),),
                    positional=0, check=_dim_check("dim")),
        BlockType(
            "Flatten", "Shape",
            "Lays all values out in one row per sample: (C, H, W) -> C*H*W for a Linear.",
            params=(Param("start_dim", "int", 1, "first dimension flattened (PyTorch's "
                                                 "numbering: 0 is the batch)", min=1,
                          max=MAX_RANK),
                    Param("end_dim", "int", -1, "last dimension flattened", min=-MAX_RANK - 1,
                          max=MAX_RANK)),
            torch_class="Flatten", check=_flatten_check, takes="any"),
        BlockType(
            "Reshape", "Shape",
            "Gives the same values another shape (without the batch); -1 = whatever is left.",
            params=(Param("shape", "ints", (-1,), "new shape without the batch, e.g. 16,-1",
                          min=-1, max=MAX_DIM, count=(1, MAX_RANK), torch=None),),
            forward_fn=_reshape_forward, code_fn=_reshape_code, validate=_reshape_validate,
            check=_reshape_check, takes="any"),
        BlockType(
            "Permute", "Shape",
            "Reorders dimensions (without the batch): 1,0 turns (channels, time) into (time, "
            "channels).",
            params=(Param("dims", "ints", (1, 0), "new order of the dimensions, counted from 0 "
                                                  "after the batch", min=0, max=MAX_RANK - 1,
                          count=(1, MAX_RANK), torch=None),),
            forward_fn=_permute_forward, code_fn=_permute_code, validate=_permute_validate,
            check=_permute_check, takes="any"),
        BlockType(
            "Embedding", "Embedding",
            "Looks up a learned vector for each token id: words or characters become vectors.",
            params=(_size("num_embeddings", 1000, "vocabulary size (largest token id + 1)",
                          high=1 << 24),
                    _size("embedding_dim", 64, "size of each vector")),
            torch_class="Embedding", positional=2, takes="int64", output_dtype="float32",
            layout="token ids"),
        BlockType(
            "PositionalEncoding", "Embedding",
            "Adds where each token is in the sequence (attention alone does not know order).",
            params=(Param("kind", "choice", "sinusoidal", "sinusoidal (fixed, any length up to "
                          "max_len) or learned (one trained vector per position)",
                          choices=("sinusoidal", "learned"), torch=None),
                    _size("d_model", 64, "features per token", torch=None),
                    _size("max_len", 512, "longest sequence", torch=None)),
            make_fn=_positional_make, init_code_fn=_positional_init, ranks=(2,),
            layout="(time, features)", fits=(Fit("d_model", -1, "features per token"),),
            check=_positional_check),
        _rnn("LSTM"), _rnn("GRU"),
        BlockType(
            "MultiheadAttention", "Attention",
            "Self-attention: every position looks at every other (causal: only earlier ones).",
            params=(_size("embed_dim", 64, "features per token"),
                    _size("num_heads", 4, "attention heads (must divide embed_dim)", high=1024),
                    _float("dropout", 0.0, "dropout on the attention weights", high=0.99),
                    _bool("bias", True, "learned offsets in the projections"),
                    _bool("causal", False, "each position sees only itself and earlier ones "
                                           "(language models)", torch=None)),
            torch_class="MultiheadAttention", positional=2, fixed={"batch_first": True},
            ranks=(2,), layout="(time, features)",
            fits=(Fit("embed_dim", -1, "features per token"),),
            validate=_divides("embed_dim", "num_heads", "num_heads"),
            forward_fn=_mha_forward, code_fn=_mha_code),
        BlockType(
            "TransformerEncoderLayer", "Attention",
            "One Transformer layer: self-attention then a feed-forward network, each with a "
            "residual and LayerNorm.",
            params=(_size("d_model", 64, "features per token"),
                    _size("nhead", 4, "attention heads (must divide d_model)", high=1024),
                    Param("dim_feedforward", "int", 256, "hidden size of the feed-forward "
                          "network", min=1, max=MAX_DIM, omit=_ALWAYS),
                    _float("dropout", 0.1, "dropout inside the layer", high=0.99),
                    Param("activation", "choice", "relu", "non-linearity of the feed-forward "
                          "network", choices=("relu", "gelu")),
                    _bool("norm_first", False, "LayerNorm before each part (pre-norm, trains "
                                               "deeper stacks more easily)"),
                    _float("layer_norm_eps", 1e-5, "LayerNorm's eps", high=1.0),
                    _bool("causal", False, "each position sees only itself and earlier ones",
                          torch=None)),
            torch_class="TransformerEncoderLayer", positional=2, fixed={"batch_first": True},
            ranks=(2,), layout="(time, features)",
            fits=(Fit("d_model", -1, "features per token"),),
            validate=_divides("d_model", "nhead", "nhead"),
            forward_fn=_encoder_forward, code_fn=_encoder_code),
        BlockType(
            "Add", "Join",
            "Adds its inputs element by element: a residual (skip) connection.",
            params=(_size("inputs", 2, "how many inputs", low=2, high=8, torch=None),),
            inputs=lambda p: p["inputs"], forward_fn=_add_forward,
            code_fn=lambda attr, ins, out, p: [f"{out} = {' + '.join(ins)}"],
            check=_add_check, takes="any"),
        BlockType(
            "Concat", "Join",
            "Joins its inputs side by side along dim (1 = channels): Inception's and DenseNet's "
            "join.",
            params=(_size("inputs", 2, "how many inputs", low=2, high=8, torch=None),
                    Param("dim", "int", 1, "dimension to join along (PyTorch's numbering: 0 is "
                                           "the batch, 1 the channels)", min=-MAX_RANK - 1,
                          max=MAX_RANK, torch=None)),
            inputs=lambda p: p["inputs"], forward_fn=_concat_forward, code_fn=_concat_code,
            check=_concat_check, takes="any"),
    ]
    return {b.name: b for b in blocks}


def _conv_transpose_validate(p: dict[str, Any]) -> Mismatch | None:
    op, s = _expand(p["output_padding"], 2), _expand(p["stride"], 2)
    if any(o >= si for o, si in zip(op, s, strict=False)):
        return Mismatch(f"has output_padding {format_shape(op)} but it must be smaller than its "
                        f"stride ({format_shape(s)})", expected="output_padding < stride",
                        got=format_shape(op), fix={"param": "output_padding", "value": [0]},
                        fix_text="set output_padding to 0")
    return None


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
        raise GraphError(f"Unknown block type {_shown(name)} ({hint}).") from None


def by_group() -> dict[str, list[BlockType]]:
    """The palette: block types grouped by kind, in catalogue order."""
    groups: dict[str, list[BlockType]] = {g: [] for g in GROUPS}
    for block in BLOCKS.values():
        groups.setdefault(block.group, []).append(block)
    return groups
