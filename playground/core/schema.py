"""One schema, three faces.

Each task's options are a dataclass whose fields are declared with :func:`option`. The field
metadata (label, help, min/max, choices, group) generates the Qt form (``ui/widgets/
schema_form.py``), the CLI flags (field name in kebab-case: ``block_size`` -> ``--block-size``,
see :func:`add_arguments`) and the JSON saved with the run (:func:`to_dict` / :func:`from_dict`).
Supported field types: ``int``, ``float``, ``bool``, ``str`` (free text, or one of ``choices``).
``choices`` may be a callable returning the current choices (``choices=REGISTRY.names``): it is
called whenever :func:`fields` is read and when the CLI parses (:class:`LazyChoices`), so a model
registered at run time is a valid choice in the form, the CLI and saved JSON alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from playground.core.errors import ConfigError

T = TypeVar("T")


def option(default: Any, *, label: str, help: str = "", min: float | None = None,  # noqa: A002
           max: float | None = None,
           choices: typing.Sequence[str] | Callable[[], Iterable[str]] | None = None,
           group: str = "", step: float | None = None, log: bool = False,
           advanced: bool = False) -> Any:
    """Declare a dataclass field with the metadata the form, CLI and JSON need.

    ``log`` asks the form for a log-scale spin box (learning rates); ``advanced`` puts the
    field in a collapsed section of the form. A callable ``choices`` is resolved at use time.
    """
    meta = {"label": label, "help": help, "min": min, "max": max,
            "choices": choices if callable(choices) else tuple(choices) if choices else None,
            "group": group, "step": step,
            "log": log, "advanced": advanced}
    return dataclasses.field(default=default, metadata={"playground": meta})


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: type
    default: Any
    label: str
    help: str
    min: float | None
    max: float | None
    choices: tuple[str, ...] | None
    group: str
    step: float | None
    log: bool
    advanced: bool
    # the callable behind ``choices`` when they are resolved lazily (e.g. REGISTRY.names)
    choices_source: Callable[[], Iterable[str]] | None = dataclasses.field(
        default=None, compare=False, repr=False)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def fields(cls: type) -> list[FieldSpec]:
    """The option fields of a schema dataclass, in declaration order."""
    hints = typing.get_type_hints(cls)
    specs = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get("playground")
        if meta is None:
            continue
        typ = hints[f.name]
        if typ not in (int, float, bool, str):
            raise TypeError(f"{cls.__name__}.{f.name}: unsupported option type {typ!r}")
        meta = dict(meta)
        source = meta["choices"] if callable(meta["choices"]) else None
        if source is not None:
            meta["choices"] = tuple(source())
        specs.append(FieldSpec(name=f.name, type=typ, default=f.default, choices_source=source,
                               **meta))
    return specs


class LazyChoices:
    """argparse ``choices`` read from a callable each time they are checked or listed."""

    def __init__(self, source: Callable[[], Iterable[str]]) -> None:
        self.source = source

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(self.source()))

    def __contains__(self, value: object) -> bool:
        return value in tuple(self.source())

    def __len__(self) -> int:
        return len(tuple(self.source()))

    def __repr__(self) -> str:
        return repr(tuple(self.source()))


class NumberError(ValueError):
    """A value that is not an acceptable number; ``problem`` is "type", "finite" or "range"."""

    def __init__(self, message: str, problem: str) -> None:
        super().__init__(message)
        self.problem = problem


def format_number(value: float) -> str:
    """``1``, ``0.5``, ``1e-07``, ``2147483647``: bounds as a person would write them."""
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e15):
        return str(int(value))
    return f"{value:g}"


def range_text(low: float | None, high: float | None) -> str:
    """``between 1 and 1000`` / ``at least 1`` / ``at most 5`` / ``any number``."""
    if low is not None and high is not None:
        return f"between {format_number(low)} and {format_number(high)}"
    if low is not None:
        return f"at least {format_number(low)}"
    if high is not None:
        return f"at most {format_number(high)}"
    return "any number"


def check_number(value: Any, kind: type, low: float | None = None,
                 high: float | None = None) -> int | float:
    """``value`` (a number or its text) as ``kind`` (int or float) within ``[low, high]``.

    Raises :class:`NumberError` ("must be between 0 and 64 (got -3)") and never accepts NaN,
    infinity, booleans, or a fraction for an int. The schema (forms, run JSON) and the CLI's
    argparse types share it, so a value is judged the same way everywhere.
    """
    allowed = range_text(low, high)
    shown = value.strip() if isinstance(value, str) else repr(value)
    noun = "a whole number" if kind is int else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise NumberError(f"must be {noun} {allowed} (got {shown})", "type")
    number: int | float
    try:
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and kind is int and value.strip().lstrip("+-").isdigit():
            number = int(value)
        else:
            number = float(value)
    except (ValueError, OverflowError):
        raise NumberError(f"must be {noun} {allowed} (got {shown})", "type") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise NumberError(f"must be a finite number {allowed} (got {shown})", "finite")
    if kind is int:
        if isinstance(number, float) and not number.is_integer():
            raise NumberError(f"must be {noun} {allowed} (got {shown})", "type")
        number = int(number)
    else:
        number = float(number)
    if (low is not None and number < low) or (high is not None and number > high):
        raise NumberError(f"must be {allowed} (got {shown})", "range")
    return number


def number_type(kind: type, low: float | None = None, high: float | None = None):
    """An argparse ``type=`` that parses ``kind`` and checks ``[low, high]``: a bad value ends
    parsing with ``--flag must be between LOW and HIGH (got TEXT)`` (NaN and inf included)."""

    def parse(text: str) -> int | float:
        try:
            return check_number(text, kind, low, high)
        except NumberError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = kind.__name__  # what argparse names in its own messages
    return parse


def coerce(spec: FieldSpec, value: Any) -> Any:
    """Convert ``value`` to the field's type and check its bounds; raise ConfigError.

    Numbers must be finite and within the field's range; the message names the range.
    """
    what = f"{spec.label} ({spec.flag})"
    if spec.type in (int, float):
        allowed = (f" Allowed: {range_text(spec.min, spec.max)}."
                   if spec.min is not None or spec.max is not None else "")
        try:
            value = check_number(value, spec.type)
        except NumberError as exc:
            if exc.problem == "finite":
                raise ConfigError(f"{what} must be a finite number; got {value!r}."
                                  f"{allowed}") from None
            raise ConfigError(f"{what} must be {spec.type.__name__}, got {value!r}."
                              f"{allowed}") from None
        if spec.min is not None and value < spec.min:
            raise ConfigError(f"{what} must be at least {format_number(spec.min)}; "
                              f"got {value!r}.{allowed}")
        if spec.max is not None and value > spec.max:
            raise ConfigError(f"{what} must be at most {format_number(spec.max)}; "
                              f"got {value!r}.{allowed}")
        return value
    try:
        if spec.type is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ValueError(value)
                value = low in ("true", "1", "yes", "on")
            elif isinstance(value, (bool, int, float)) and value in (0, 1):
                value = bool(value)
            else:  # a list, a dict, 7 ... from a hand-edited file
                raise ValueError(value)
        elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
            value = str(value)
        else:
            raise ValueError(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be {spec.type.__name__}, got {value!r}.") from None
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(f"{what} must be one of {', '.join(spec.choices)}; got {value!r}.")
    return value


def validate(obj: Any) -> Any:
    """Check every field of a schema instance; return it unchanged or raise ConfigError."""
    for spec in fields(type(obj)):
        coerce(spec, getattr(obj, spec.name))
    return obj


def to_dict(obj: Any) -> dict[str, Any]:
    return {spec.name: getattr(obj, spec.name) for spec in fields(type(obj))}


def from_dict(cls: type[T], data: dict[str, Any], *, strict: bool = False) -> T:
    """Build ``cls`` from a dict (JSON of a saved run); unknown keys are ignored unless strict."""
    known = {spec.name: spec for spec in fields(cls)}
    unknown = set(data) - set(known)
    if strict and unknown:
        raise ConfigError(f"Unknown options: {', '.join(sorted(unknown))}.")
    values = {name: coerce(known[name], v) for name, v in data.items() if name in known}
    return cls(**values)


def replace(obj: T, **changes: Any) -> T:
    """``dataclasses.replace`` with coercion and validation."""
    specs = {spec.name: spec for spec in fields(type(obj))}
    for name in changes:
        if name not in specs:
            raise ConfigError(f"Unknown option {name!r}.")
    return dataclasses.replace(obj, **{k: coerce(specs[k], v) for k, v in changes.items()})


def add_arguments(parser: argparse.ArgumentParser, cls: type, *,
                  skip: typing.Iterable[str] = ()) -> None:
    """Add one ``--kebab-case`` flag per schema field (defaults stay None: "not given")."""
    group = parser.add_argument_group(f"{cls.__name__} options")
    for spec in fields(cls):
        if spec.name in skip:
            continue
        help_text = spec.help or spec.label
        bounds = []
        if spec.min is not None:
            bounds.append(f"min {format_number(spec.min)}")
        if spec.max is not None:
            bounds.append(f"max {format_number(spec.max)}")
        extra = f" [{', '.join(bounds)}]" if bounds else ""
        help_text = f"{help_text}{extra} (default: {spec.default})".replace("%", "%%")
        if spec.type is bool:
            group.add_argument(spec.flag, dest=spec.name, default=None,
                               action=argparse.BooleanOptionalAction, help=help_text)
        else:
            choices: Any = spec.choices
            if spec.choices_source is not None:  # argparse lists them when help is shown
                choices, metavar = LazyChoices(spec.choices_source), None
            elif spec.choices:
                metavar = "{" + ",".join(spec.choices) + "}"
            else:
                metavar = spec.name.upper()
            group.add_argument(spec.flag, dest=spec.name, default=None, metavar=metavar,
                               choices=choices, help=help_text,
                               type=number_type(spec.type, spec.min, spec.max)
                               if spec.type in (int, float) else spec.type)


def from_arguments(cls: type[T], namespace: argparse.Namespace, base: T | None = None) -> T:
    """The schema instance from parsed flags; flags not given keep ``base``'s (or defaults)."""
    obj = base if base is not None else cls()
    given = {spec.name: getattr(namespace, spec.name) for spec in fields(cls)
             if getattr(namespace, spec.name, None) is not None}
    return validate(replace(obj, **given))
