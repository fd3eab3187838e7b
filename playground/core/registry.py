"""Registries of models with metadata, in the manner of ``torchvision.models``.

Each task keeps one :class:`Registry` (``vision.models.REGISTRY``, ``text.models.TEXT_MODELS``,
``speech.models.REGISTRY``); tabs fill their model menus and info panes from it and the CLI
validates ``--model`` against it, both *when they are shown or parsed*: a config's ``model``
field declares ``choices=REGISTRY.names`` (a callable, see :func:`playground.core.schema.option`),
so an entry registered while the app runs (a builder graph) is a valid choice everywhere.
:meth:`Registry.subscribe` tells listeners (the tabs, through a Qt signal in ``ui/``) when
entries come or go; this module stays Qt-free.

Factory convention, the same for every task::

    entry.factory(spec: ModelSpec) -> torch.nn.Module

:class:`ModelSpec` carries the sizes the data decides (``num_outputs``: classes or vocabulary
size; ``num_inputs``: 3 colour channels, feature dimensions per audio frame, or vocabulary
size; ``input_size``: image side or context length), the task's options object ``config``
(the train config: the factory reads the fields it uses, listed in ``extra["uses"]`` so forms
can grey out the others), ``options`` (an instance of the entry's own options schema
``entry.options``, or None) and, for pretrained weights, ``ctx`` and ``load_pretrained``.
Each task's build function (``vision.models.build_model``, ``text.models.build_model``,
``speech.models.build_keyword_model`` / ``build_ctc_model``) makes the spec and calls the
factory, so callers never call factories themselves.

Documented ``extra`` keys: ``uses`` (config field names the factory reads), ``task`` (speech:
``"keywords"`` or ``"ctc"``), ``min_size`` / ``fixed_size`` (image side in pixels),
``attention`` (text: the model can return attention weights), ``defaults`` (speech sizes).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from playground.core.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """What a factory is asked to build (see the module docstring)."""

    task: str                      # "image", "text", "speech"
    num_outputs: int               # classes (image, keywords) or vocabulary size (text, CTC)
    num_inputs: int = 0            # 3 (RGB), features per audio frame, or vocabulary size
    input_size: int = 0            # image side in pixels / context length in tokens; 0 = any
    config: Any = None             # the task's options (train config); read the fields you use
    options: Any = None            # an instance of ``entry.options``, or None
    ctx: Any = None                # the running job's JobContext (download progress), or None
    load_pretrained: bool = True   # False: the architecture only, weights come from a run


@dataclass(frozen=True)
class ModelEntry:
    name: str                      # the CLI/registry name, e.g. "resnet18"
    title: str                     # what menus show, e.g. "ResNet-18"
    factory: Callable[[ModelSpec], Any]  # factory(spec) -> nn.Module
    description: str = ""
    family: str = ""               # CNN / RNN / Transformer / ...
    pretrained: bool = False       # pretrained weights can be downloaded for it
    options: type | None = None    # schema dataclass of model-specific options
    extra: dict[str, Any] = field(default_factory=dict)


class Registry:
    """Model entries of one task, in registration order, with change notification.

    ``subscribe(fn)`` calls ``fn(registry)`` after every :meth:`register` / :meth:`unregister`
    (on the thread that changed it) and returns a function that unsubscribes. A listener that
    raises is logged and the others still run.
    """

    def __init__(self, task: str) -> None:
        self.task = task
        self._entries: dict[str, ModelEntry] = {}
        self._listeners: list[Callable[[Registry], None]] = []
        self._lock = threading.RLock()

    def register(self, entry: ModelEntry, *, replace: bool = False) -> ModelEntry:
        """Add ``entry``; with ``replace`` an entry of the same name is swapped for it."""
        with self._lock:
            if entry.name in self._entries and not replace:
                raise ValueError(f"{self.task} model {entry.name!r} is already registered")
            self._entries[entry.name] = entry
        self._notify()
        return entry

    def unregister(self, name: str) -> ModelEntry:
        """Remove the entry ``name`` (a deleted builder graph); raises ConfigError if absent."""
        with self._lock:
            entry = self.get(name)
            del self._entries[name]
        self._notify()
        return entry

    def subscribe(self, fn: Callable[[Registry], None]) -> Callable[[], None]:
        """Call ``fn(self)`` after each change; returns the unsubscribe function."""
        with self._lock:
            self._listeners.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._listeners:
                    self._listeners.remove(fn)

        return unsubscribe

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for fn in listeners:
            try:
                fn(self)
            except Exception:  # a broken listener must not undo the registration
                log.exception("a listener of the %s model registry failed", self.task)

    def get(self, name: str) -> ModelEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(f"Unknown {self.task} model {name!r}. Choose one of: "
                              f"{', '.join(self.names())}.") from None

    def names(self) -> list[str]:
        """The entry names now registered (pass the method itself as lazy ``choices``)."""
        return list(self._entries)

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(list(self._entries.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)
