"""Registries of models with metadata, in the manner of ``torchvision.models``.

Each task keeps one :class:`Registry`; tabs fill their model menus and info panes from it and
the CLI validates ``--model`` against it. Builder graphs register as entries too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from playground.core.errors import ConfigError


@dataclass(frozen=True)
class ModelEntry:
    name: str                      # the CLI/registry name, e.g. "resnet18"
    title: str                     # what menus show, e.g. "ResNet-18"
    factory: Callable[..., Any]    # factory(**kwargs) -> nn.Module
    description: str = ""
    family: str = ""               # CNN / RNN / Transformer / ...
    pretrained: bool = False       # pretrained weights can be downloaded for it
    options: type | None = None    # schema dataclass of model-specific options
    extra: dict[str, Any] = field(default_factory=dict)


class Registry:
    def __init__(self, task: str) -> None:
        self.task = task
        self._entries: dict[str, ModelEntry] = {}

    def register(self, entry: ModelEntry) -> ModelEntry:
        if entry.name in self._entries:
            raise ValueError(f"{self.task} model {entry.name!r} is already registered")
        self._entries[entry.name] = entry
        return entry

    def get(self, name: str) -> ModelEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(f"Unknown {self.task} model {name!r}. Choose one of: "
                              f"{', '.join(self.names())}.") from None

    def names(self) -> list[str]:
        return list(self._entries)

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries
