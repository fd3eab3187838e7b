"""Events a job reports while it runs.

Small frozen dataclasses that carry plain data (numbers, strings, numpy *copies*), never live
tensors, models or widgets, and never a growing history: emit the new point, not the list.
The UI renders them; the CLI prints them; tests collect them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Event:
    """Base class of everything ``ctx.emit`` accepts."""


@dataclass(frozen=True)
class Progress(Event):
    """``done`` of ``total`` units of work (steps, files, bytes). ``total`` 0 means unknown."""

    done: int
    total: int
    message: str = ""
    unit: str = "step"


@dataclass(frozen=True)
class Metric(Event):
    """One point of one curve.

    ``name`` picks the plot (``loss``, ``accuracy``, ``lr``, ``samples_per_s`` ...), ``split``
    the series on it (``train`` / ``val``), ``axis`` whether ``x`` counts steps or epochs.
    """

    name: str
    value: float
    x: float
    split: str = "train"
    axis: str = "step"


@dataclass(frozen=True)
class Log(Event):
    """A line for the log pane / the terminal."""

    message: str
    level: str = "info"


@dataclass(frozen=True)
class RunStarted(Event):
    """The run folder now exists; everything the job saves goes under it."""

    run_dir: str
    task: str
    name: str


@dataclass(frozen=True)
class ModelSummary(Event):
    """Shown before training: what is about to be trained."""

    model: str
    parameters: int
    trainable: int
    details: str = ""


@dataclass(frozen=True)
class SampleText(Event):
    """Text generated during training (e.g. from a fixed prompt at every evaluation)."""

    step: int
    text: str
    prompt: str = ""


@dataclass(frozen=True)
class TranslationSamples(Event):
    """A fixed set of validation sentences translated after an evaluation, beside their
    references (the same sentences every time, so the user watches them improve)."""

    step: int
    epoch: int
    sources: tuple[str, ...]
    references: tuple[str, ...]
    hypotheses: tuple[str, ...]


@dataclass(frozen=True)
class TextChunk(Event):
    """Streaming output: the next piece of generated text."""

    text: str
    tokens: int = 1
    tokens_per_s: float = 0.0


@dataclass(frozen=True, eq=False)
class ConfusionMatrix(Event):
    """Counts ``matrix[true, predicted]`` over the validation set after an epoch."""

    labels: tuple[str, ...]
    matrix: np.ndarray
    epoch: int


@dataclass(frozen=True)
class ClassReport(Event):
    """Per-class precision / recall / F1 / support rows plus overall accuracy."""

    labels: tuple[str, ...]
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    f1: tuple[float, ...]
    support: tuple[int, ...]
    accuracy: float
    epoch: int


@dataclass(frozen=True, eq=False)
class ImageSamples(Event):
    """A small gallery (e.g. misclassified validation images) as uint8 HxWx3 arrays."""

    title: str
    images: tuple[np.ndarray, ...]
    captions: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class AttentionMaps(Event):
    """Attention weights ``(layers, heads, query, key)`` with the token labels."""

    weights: np.ndarray
    query_tokens: tuple[str, ...]
    key_tokens: tuple[str, ...]
    kind: str = "self"  # self / cross
    causal: bool = True


@dataclass(frozen=True, eq=False)
class Alignment(Event):
    """Per-frame label posteriors ``(frames, labels)`` and where each symbol is emitted."""

    posteriors: np.ndarray
    labels: tuple[str, ...]
    emissions: tuple[tuple[int, str], ...]
    frame_seconds: float


@dataclass(frozen=True)
class CheckpointSaved(Event):
    path: str
    step: int
    kind: str = "last"  # last / best
    metric: float | None = None


@dataclass(frozen=True)
class Finished(Event):
    """The job returned. ``result`` is what it returned (plain data); ``stopped`` if by Stop."""

    result: Any = None
    stopped: bool = False
    message: str = ""


@dataclass(frozen=True)
class Failed(Event):
    """The job raised. ``message`` is for the notice; ``details`` is the traceback."""

    message: str
    details: str = ""
    error_type: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


TERMINAL_EVENTS = (Finished, Failed)
