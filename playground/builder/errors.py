"""The builder's exceptions: each ``str(exc)`` is one sentence a user can act on."""

from __future__ import annotations

from playground.core.errors import ConfigError, PlaygroundError


class GraphError(PlaygroundError):
    """A graph cannot be used as it is (a cycle, a mismatch, an unknown block ...)."""


class GraphFormatError(GraphError):
    """A graph file is not valid JSON, is from a newer version, or was edited wrongly."""


class ParamError(GraphError, ConfigError):
    """A block parameter has a value its schema does not allow."""


class ModelImportError(GraphError):
    """A model (or a user's Python file) could not be imported, traced or converted."""
