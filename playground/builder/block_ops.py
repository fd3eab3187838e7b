"""What the Builder's blocks do beyond "call one ``torch.nn`` module": their checks, their
forward functions and the source they export.

:class:`Mismatch` is what a check reports (a sentence without the block's name, and the
one-click fix where there is an obvious one). The functions here are plugged into the
catalogue's :class:`~playground.builder.blocks.BlockType` entries: parameter validators
(``conv_validate``, ``divides``, ...), input-shape checks that run before PyTorch does
(``check_window``, ``linear_check``, ``concat_check``, ...), forward functions for blocks that
are not a single module call (Add, Concat, Reshape, Permute, the RNNs' output choice, causal
attention) and the exported source for them (``*_code``, ``positional_init``).

Shapes never include the batch. Importing this module does not import torch; the forward
functions import it when they run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from playground.builder.params import Shape, expand, format_shape


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


Check = Callable[[dict[str, Any], list[Shape], list[str]], "Mismatch | None"]


# ------------------------------------------------------------------------------------------
# checks shared by several blocks

def check_window(transposed: bool = False) -> Check:
    """A kernel larger than its (padded) input, or an output of size zero."""

    def check(p: dict[str, Any], shapes: list[Shape], sources: list[str]) -> Mismatch | None:
        spatial = shapes[0][1:]
        n = len(spatial)
        k, s = expand(p["kernel_size"], n), expand(p["stride"], n)
        pad = expand(p.get("padding", 0), n)
        d = expand(p.get("dilation", 1), n)
        eff = tuple(di * (ki - 1) + 1 for di, ki in zip(d, k, strict=False))
        if transposed:
            op = expand(p.get("output_padding", 0), n)
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


def check_pool_padding(p: dict[str, Any]) -> Mismatch | None:
    k, pad = p["kernel_size"], p["padding"]
    n = max(len(expand(k, 1)), len(expand(pad, 1)))
    if any(pi > ki // 2 for pi, ki in zip(expand(pad, n), expand(k, n), strict=False)):
        return Mismatch(f"has padding {format_shape(expand(pad, n))} but pooling allows at most "
                        f"half its kernel ({format_shape(expand(k, n))})",
                        expected="padding <= kernel_size / 2", got=str(pad),
                        fix_text="lower padding")
    return None


def _divisor_at_most(n: int, limit: int) -> int:
    return max(d for d in range(1, max(1, min(n, limit)) + 1) if n % d == 0)


def divides(whole: str, part: str, fix_param: str | None = None) -> Callable:
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


def conv_validate(p: dict[str, Any]) -> Mismatch | None:
    for name in ("in_channels", "out_channels"):
        if p[name] % p["groups"]:
            return divides(name, "groups", "groups")(p)
    return None


def conv_transpose_validate(p: dict[str, Any]) -> Mismatch | None:
    op, s = expand(p["output_padding"], 2), expand(p["stride"], 2)
    if any(o >= si for o, si in zip(op, s, strict=False)):
        return Mismatch(f"has output_padding {format_shape(op)} but it must be smaller than its "
                        f"stride ({format_shape(s)})", expected="output_padding < stride",
                        got=format_shape(op), fix={"param": "output_padding", "value": [0]},
                        fix_text="set output_padding to 0")
    return None


def linear_check(p: dict[str, Any], shapes: list[Shape], sources: list[str]) -> Mismatch | None:
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

def add_forward(module, xs, p):
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def add_check(p, shapes, sources):
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


def concat_forward(module, xs, p):
    import torch

    return torch.cat(xs, dim=p["dim"])


def _norm_dim(dim: int, rank: int) -> int | None:
    """A PyTorch dim (batch included) as an index into the shape without batch, or None."""
    d = dim + rank + 1 if dim < 0 else dim
    return d - 1 if 1 <= d <= rank else None


def concat_check(p, shapes, sources):
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


def concat_code(attr, ins, out, p):
    return [f"{out} = torch.cat([{', '.join(ins)}], dim={p['dim']})"]


def dim_check(name: str) -> Check:
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


def flatten_check(p, shapes, sources):
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


def reshape_forward(module, xs, p):
    x = xs[0]
    return x.reshape(x.shape[0], *p["shape"])


def reshape_validate(p):
    if list(p["shape"]).count(-1) > 1 or 0 in p["shape"]:
        return Mismatch("has a target shape with more than one -1 or a 0",
                        expected="sizes of at least 1 and at most one -1",
                        got=format_shape(p["shape"]), fix_text="give every size but one")
    return None


def reshape_check(p, shapes, sources):
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


def reshape_code(attr, ins, out, p):
    sizes = ", ".join(str(s) for s in p["shape"])
    return [f"{out} = {ins[0]}.reshape({ins[0]}.shape[0], {sizes})"]


def permute_forward(module, xs, p):
    return xs[0].permute(0, *[d + 1 for d in p["dims"]])


def permute_validate(p):
    if sorted(p["dims"]) != list(range(len(p["dims"]))):
        return Mismatch(f"needs an order of 0 to {len(p['dims']) - 1}, each once",
                        expected="a permutation", got=format_shape(p["dims"]),
                        fix_text="list every dimension once, e.g. 1,0")
    return None


def permute_check(p, shapes, sources):
    if len(p["dims"]) == len(shapes[0]):
        return None
    rank = len(shapes[0])
    return Mismatch(f"orders {len(p['dims'])} dimensions but its input {format_shape(shapes[0])} "
                    f"has {rank}", expected=f"{rank} dimensions", got=str(len(p["dims"])),
                    fix={"param": "dims", "value": list(range(rank))[::-1]},
                    fix_text=f"give {rank} dimensions, e.g. "
                             f"{','.join(map(str, range(rank)[::-1]))}")


def permute_code(attr, ins, out, p):
    dims = ", ".join(str(d + 1) for d in p["dims"])
    return [f"{out} = {ins[0]}.permute(0, {dims})"]


def rnn_forward(module, xs, p):
    out = module(xs[0])[0]  # (B, T, hidden * directions)
    if p["output"] == "last":
        return out[:, -1]
    if p["output"] == "mean":
        return out.mean(dim=1)
    return out


def rnn_code(attr, ins, out, p):
    lines = [f"{out}, _ = self.{attr}({ins[0]})  # all time steps"]
    if p["output"] == "last":
        lines.append(f"{out} = {out}[:, -1]  # the last time step")
    elif p["output"] == "mean":
        lines.append(f"{out} = {out}.mean(dim=1)  # average over time")
    return lines


def mha_forward(module, xs, p):
    from playground.builder.modules import causal_mask

    x = xs[0]
    mask = causal_mask(x) if p["causal"] else None
    return module(x, x, x, need_weights=False, attn_mask=mask)[0]


def mha_code(attr, ins, out, p):
    x = ins[0]
    mask = f", attn_mask=causal_mask({x})" if p["causal"] else ""
    return [f"{out}, _ = self.{attr}({x}, {x}, {x}, need_weights=False{mask})"]


def encoder_forward(module, xs, p):
    from playground.builder.modules import causal_mask

    x = xs[0]
    if p["causal"]:
        return module(x, src_mask=causal_mask(x), is_causal=True)
    return module(x)


def encoder_code(attr, ins, out, p):
    x = ins[0]
    if p["causal"]:
        return [f"{out} = self.{attr}({x}, src_mask=causal_mask({x}), is_causal=True)"]
    return [f"{out} = self.{attr}({x})"]


POSITIONAL_CLASSES = {"sinusoidal": "SinusoidalPositionalEncoding",
                      "learned": "LearnedPositionalEncoding"}


def positional_make(p):
    from playground.builder import modules

    cls = getattr(modules, POSITIONAL_CLASSES[p["kind"]])
    return cls(p["d_model"], p["max_len"])


def positional_init(p):
    return f"{POSITIONAL_CLASSES[p['kind']]}({p['d_model']}, max_len={p['max_len']})"


def positional_check(p, shapes, sources):
    length = shapes[0][0]
    if length <= p["max_len"]:
        return None
    return Mismatch(f"covers {p['max_len']} positions but gets a sequence of {length}",
                    expected=f"at most {p['max_len']} steps", got=str(length),
                    fix={"param": "max_len", "value": length},
                    fix_text=f"set max_len to {length}")


def identity_forward(module, xs, p):
    return xs[0]


def no_code(attr, ins, out, p):
    return []

