"""The parameter schema of the Builder's blocks: what a block's settings are and how typed
values become them.

:class:`Param` describes one parameter (name, kind, default, range, choices, help) and parses
values typed into the form, read from JSON or given on the command line, without ``eval``:
``int``, ``float``, ``bool``, ``choice`` and ``ints`` (a list of whole numbers, e.g. a kernel
size). Also here: the limits every block shares (:data:`MAX_DIM`, :data:`MAX_KERNEL`,
:data:`MAX_RANK`), :func:`format_shape` for messages, :func:`expand` for a one-or-n-number
window value, and the shorthands the catalogue builds its parameters with
(:func:`size_param`, :func:`bool_param`, :func:`float_param`, :func:`window_param`).

Shapes never include the batch. Importing this module does not import torch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from playground.builder.errors import ParamError

Shape = tuple[int, ...]

MAX_DIM = 1 << 20        # channels, features, sizes
MAX_KERNEL = 1024
MAX_RANK = 6             # dimensions of a tensor, without the batch
ALWAYS = object()        # Param.omit: always write this argument in exported source


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
            raise ParamError(f"{self.name} must be {self.describe()} (got {shown(value)}).")
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


def shown(value: Any) -> str:
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
# parameter shorthands

def size_param(name: str, default: int, help: str, low: int = 1, torch: str | None = "",
               high: int = MAX_DIM) -> Param:
    return Param(name, "int", default, help, min=low, max=high, torch=torch)


def bool_param(name: str, default: bool, help: str, torch: str | None = "") -> Param:
    return Param(name, "bool", default, help, torch=torch)


def float_param(name: str, default: float, help: str, low: float = 0.0, high: float = 1.0,
                torch: str | None = "") -> Param:
    return Param(name, "float", default, help, min=low, max=high, torch=torch)


def window_param(name: str, default: int, help: str, dims: int, low: int = 1,
                 high: int = MAX_KERNEL, omit: Any = None) -> Param:
    if dims == 1:
        return Param(name, "int", default, help, min=low, max=high, omit=omit)
    return Param(name, "ints", (default,), help, min=low, max=high, count=(1, dims),
                 omit=omit)


def expand(value: Any, n: int) -> tuple[int, ...]:
    """A window value (one number, or 1 or n numbers) as n numbers: ``expand(3, 2) == (3, 3)``."""
    if isinstance(value, int):
        return (value,) * n
    value = tuple(value)
    return value * n if len(value) == 1 else value

