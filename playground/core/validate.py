"""Validation of the files the app reads from a run folder.

Every JSON file read from a run folder (``run.json``, ``labels.json``, ``tokenizer.json``,
the rows of ``metrics.jsonl``) is checked against a few typed field specs before any code
uses it, so a damaged or hand-edited file gives one sentence naming the file and the field::

    run.json: field 'result.best_val_accuracy' should be a number, got a string.

instead of a ``TypeError`` somewhere later. Specs are small and declarative (:class:`Field`);
:func:`check` applies them and :func:`read_json` reads, parses and checks a file. Errors are
:class:`~playground.core.errors.RunError`. Qt-free and torch-free.

Written here rather than with a schema library: the app has no such dependency, the files are
small, and the messages must be in the user's words.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.core.errors import RunError

NUMBER = "number"
INTEGER = "integer"
STRING = "string"
BOOL = "boolean"
OBJECT = "object"
LIST = "list"
NULL = "null"

MAX_FILE_BYTES = 64 * 1024 * 1024  # a run's JSON files are small; refuse to parse a huge one


def kind_of(value: Any) -> str:
    """The JSON name of ``value``'s type, as messages say it (``a number``, ``a string``)."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, dict):
        return OBJECT
    if isinstance(value, (list, tuple)):
        return LIST
    return type(value).__name__


def _is(value: Any, kind: str) -> bool:
    actual = kind_of(value)
    if kind == NUMBER:
        return actual in (NUMBER, INTEGER)
    return actual == kind


def _article(kind: str) -> str:
    return {INTEGER: "an integer", OBJECT: "an object", NULL: "null",
            LIST: "a list"}.get(kind, f"a {kind}")


def _expected(kinds: Sequence[str]) -> str:
    return " or ".join(_article(k) for k in kinds)


@dataclass(frozen=True)
class Field:
    """One field of a JSON file.

    ``path`` is dotted (``result.best_val_accuracy``); ``kinds`` the JSON types allowed
    (``null`` is always allowed for optional fields); ``items`` the type of a list's items;
    ``check`` an extra test returning a complaint (``"should not be empty"``) or None.
    """

    path: str
    kinds: tuple[str, ...]
    required: bool = False
    items: str | None = None
    check: Callable[[Any], str | None] | None = None


def field(path: str, *kinds: str, required: bool = False, items: str | None = None,
          check: Callable[[Any], str | None] | None = None) -> Field:
    return Field(path, tuple(kinds), required, items, check)


def _lookup(data: Any, path: str) -> tuple[bool, Any]:
    node = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def check(data: Any, fields: Iterable[Field], file: str, root: str = OBJECT) -> Any:
    """Return ``data`` if it matches ``fields``; else raise :class:`RunError` naming ``file``
    and the first field that does not."""
    if not _is(data, root):
        raise RunError(f"{file} should hold {_article(root)}, got {_article(kind_of(data))}. "
                       "The file is damaged; restore it or train the run again.")
    for spec in fields:
        found, value = _lookup(data, spec.path)
        if not found or (value is None and not spec.required):
            if spec.required:
                raise RunError(f"{file}: field '{spec.path}' is missing. The file is damaged; "
                               "restore it or train the run again.")
            continue
        if not any(_is(value, k) for k in spec.kinds):
            raise RunError(f"{file}: field '{spec.path}' should be {_expected(spec.kinds)}, "
                           f"got {_article(kind_of(value))}.")
        if spec.items is not None and isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                if not _is(item, spec.items):
                    raise RunError(f"{file}: field '{spec.path}[{i}]' should be "
                                   f"{_article(spec.items)}, got {_article(kind_of(item))}.")
        if spec.check is not None:
            complaint = spec.check(value)
            if complaint:
                raise RunError(f"{file}: field '{spec.path}' {complaint}.")
    return data


def check_items(data: Any, kind: str, file: str, *, min_items: int = 0,
                what: str = "items") -> list[Any]:
    """A JSON list whose items are all of ``kind`` (e.g. ``labels.json``'s class names)."""
    if not isinstance(data, list):
        raise RunError(f"{file} should hold a list of {what}, got {_article(kind_of(data))}.")
    for i, item in enumerate(data):
        if not _is(item, kind):
            raise RunError(f"{file}: item {i} should be {_article(kind)}, "
                           f"got {_article(kind_of(item))}.")
    if len(data) < min_items:
        raise RunError(f"{file} should list at least {min_items} {what}, has {len(data)}.")
    return data


def parse_json(text: str, file: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunError(f"{file} is not valid JSON ({exc.msg}: line {exc.lineno}, column "
                       f"{exc.colno}). The file is damaged; restore it or train the run "
                       "again.") from None
    except RecursionError:
        raise RunError(f"{file} is nested too deeply to be a Model Playground file.") from None


def read_json(path: str | os.PathLike, *, name: str | None = None) -> Any:
    """Read and parse a JSON file of a run folder; errors name ``name`` (default: the file
    name) and say what was wrong."""
    path = Path(path)
    name = name or path.name
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise RunError(f"{name} is {path.stat().st_size / 2**20:.0f} MB, far larger than "
                           "a Model Playground file; it is damaged or not one.")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise RunError(f"{name} is a folder, not a file.") from None
    except OSError as exc:
        raise RunError(f"{name} could not be read ({exc.strerror or exc}).") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RunError(f"{name} is not UTF-8 text (byte {exc.start}). The file is damaged; "
                       "restore it or train the run again.") from None
    return parse_json(text, name)


# ------------------------------------------------------------------------------------------
# The files of a run folder
# ------------------------------------------------------------------------------------------
def _non_empty(value: Any) -> str | None:
    return "should not be empty" if not value else None


RUN_JSON: tuple[Field, ...] = (
    field("task", STRING, required=True, check=_non_empty),
    field("name", STRING),
    field("model", STRING),
    field("config", OBJECT),
    field("dataset", OBJECT),
    field("status", STRING),
    field("created", STRING),
    field("updated", STRING),
    field("versions", OBJECT),
    field("pid", INTEGER),
    field("host", STRING),
    field("parent", STRING, OBJECT),
    field("speech_task", STRING),
    field("steps_per_epoch", INTEGER),
    field("total_steps", INTEGER),
    field("parameters", INTEGER),
    field("tokenizer", OBJECT),
    field("result", OBJECT),
    field("result.best_val_accuracy", NUMBER),
    field("result.best_val_loss", NUMBER),
    field("result.best_cer", NUMBER),
    field("result.best_wer", NUMBER),
    field("result.best", NUMBER),
    field("result.best_step", INTEGER),
    field("result.steps", INTEGER),
    field("result.parameters", INTEGER),
    field("result.final_val_loss", NUMBER),
    field("tokenizer.spec", STRING),
)

TOKENIZER_JSON: tuple[Field, ...] = (
    field("type", STRING, required=True),
    field("chars", LIST, STRING, required=True, items=STRING, check=_non_empty),
)

CTC_LABELS: tuple[Field, ...] = (
    field("vocab", LIST, required=True, items=STRING,
          check=lambda v: "should list the blank and at least one symbol"
          if len(v) < 2 else None),
    field("blank", INTEGER),
    field("speech_task", STRING),
)

# metrics.jsonl: fields that are numbers wherever they appear (what the curves plot).
_NUMERIC_HINTS = ("step", "epoch", "time", "seconds", "loss", "acc", "wer", "cer", "bleu",
                  "lr", "perplexity", "f1", "precision", "recall")


def validate_run_json(data: Any, file: str = "run.json") -> dict[str, Any]:
    return check(data, RUN_JSON, file)


def validate_class_labels(data: Any, file: str = "labels.json", what: str = "class names"
                          ) -> list[str]:
    """``labels.json`` of a classifier (image, keywords): a list of at least 2 names."""
    return check_items(data, STRING, file, min_items=2, what=what)


def validate_ctc_labels(data: Any, file: str = "labels.json") -> dict[str, Any]:
    """``labels.json`` of a speech-to-text run: ``{"vocab": [blank, symbols...], ...}``."""
    return check(data, CTC_LABELS, file)


def validate_tokenizer_json(data: Any, file: str = "tokenizer.json") -> dict[str, Any]:
    return check(data, TOKENIZER_JSON, file)


def metrics_row_problem(row: Any) -> str | None:
    """Why a parsed ``metrics.jsonl`` row cannot be used, or None when it can.

    A row is an object; values are numbers, null, strings or booleans, and fields the curves
    plot (step, epoch, losses, accuracies, error rates, ...) are numbers or null.
    """
    if not isinstance(row, dict):
        return f"should be an object, got {_article(kind_of(row))}"
    for key, value in row.items():
        kind = kind_of(value)
        if kind in (NUMBER, INTEGER, NULL):
            continue
        lowered = str(key).lower()
        if any(h in lowered for h in _NUMERIC_HINTS):
            return f"field '{key}' should be a number, got {_article(kind)}"
        if kind not in (STRING, BOOL):
            return f"field '{key}' should be a number or a string, got {_article(kind)}"
    return None
