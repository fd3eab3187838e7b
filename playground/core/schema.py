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


def coerce(spec: FieldSpec, value: Any) -> Any:
    """Convert ``value`` to the field's type and check its bounds; raise ConfigError."""
    what = f"{spec.label} ({spec.flag})"
    try:
        if spec.type is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ValueError(value)
                value = low in ("true", "1", "yes", "on")
            else:
                value = bool(value)
        elif spec.type is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            value = int(value)
        elif spec.type is float:
            value = float(value)
        else:
            value = str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be {spec.type.__name__}, got {value!r}.") from None
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(f"{what} must be one of {', '.join(spec.choices)}; got {value!r}.")
    if spec.type in (int, float):
        if spec.min is not None and value < spec.min:
            raise ConfigError(f"{what} must be at least {spec.min:g}; got {value!r}.")
        if spec.max is not None and value > spec.max:
            raise ConfigError(f"{what} must be at most {spec.max:g}; got {value!r}.")
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
            bounds.append(f"min {spec.min:g}")
        if spec.max is not None:
            bounds.append(f"max {spec.max:g}")
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
                               choices=choices, type=spec.type, help=help_text)


def from_arguments(cls: type[T], namespace: argparse.Namespace, base: T | None = None) -> T:
    """The schema instance from parsed flags; flags not given keep ``base``'s (or defaults)."""
    obj = base if base is not None else cls()
    given = {spec.name: getattr(namespace, spec.name) for spec in fields(cls)
             if getattr(namespace, spec.name, None) is not None}
    return validate(replace(obj, **given))
