"""Specific exceptions with messages a user can act on.

Core and task code raise these; the job runner turns them into a ``Failed`` event and the UI
shows ``str(exc)`` as the notice. Every message says what was wrong and what to do.
"""

from __future__ import annotations


class PlaygroundError(Exception):
    """Base class: ``str(exc)`` is a complete sentence meant for the user."""


class ConfigError(PlaygroundError, ValueError):
    """An option has a value outside what the schema allows."""


class DatasetError(PlaygroundError):
    """A dataset cannot be used as given (empty, one class, unreadable files, ...)."""


class ImageDecodeError(DatasetError):
    """One image file could not be decoded."""


class AudioDecodeError(DatasetError):
    """One audio file could not be decoded."""


class TokenizerError(PlaygroundError):
    """A tokenizer cannot be trained or cannot encode the given text."""


class WeightsUnavailable(PlaygroundError):
    """Pretrained weights are not in the cache and cannot be downloaded."""


class RunError(PlaygroundError):
    """A run folder is missing, incomplete or of the wrong task."""


class CheckpointError(RunError):
    """A checkpoint file is missing or does not match the model."""


class DeviceError(PlaygroundError):
    """The chosen device is not present, or ran out of memory."""


class StorageError(PlaygroundError, OSError):
    """A file or folder cannot be read or written: missing, permission denied, disk full,
    read-only, or a file where a folder is needed (``--home`` pointing at a file)."""


class ConfirmationRequired(PlaygroundError):  # noqa: N818 - reads better at the raise site
    """A destructive action needs a yes, and there is no terminal to ask on (use ``--yes``)."""


class JobCancelled(PlaygroundError):  # noqa: N818 - reads better at the raise site
    """Raised inside a job when the user pressed Stop; the runner reports it as stopped."""

    def __init__(self, message: str = "Stopped by the user.") -> None:
        super().__init__(message)
