"""Where tracebacks go: a rotating log file, and the terminal only when asked.

A user sees one sentence per failure (see :func:`playground.core.jobs.describe_exception`);
the traceback behind it is written here, to ``<home>/logs/playground.log`` (rotated at 1 MB,
three old files kept). The file is created lazily, on the first record, so a command that
succeeds leaves nothing behind. When the data folder cannot hold it (read-only, a file where
the folder should be, ...) the log goes to ``<temp dir>/playground-<user>/playground.log``.

:func:`configure` installs the handlers (the CLI calls it once per command, the GUI at
start-up); :func:`log_file` says where the file is, to be printed as ``details: PATH``.
Qt-free, like the rest of ``core``.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import tempfile
from pathlib import Path
from typing import TextIO

LOG_NAME = "playground.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"
TERMINAL_FORMAT = "%(levelname)s %(name)s: %(message)s"

_installed: list[logging.Handler] = []
_saved_level: int | None = None


def default_log_path() -> Path:
    """``<home>/logs/playground.log``, without creating anything."""
    from playground.core.paths import home_path

    return home_path() / "logs" / LOG_NAME


def fallback_log_path() -> Path:
    """Used when the data folder cannot hold the log: one folder per user in the temp dir."""
    try:
        user = str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    except Exception:  # noqa: BLE001 - any name will do
        user = "user"
    return Path(tempfile.gettempdir()) / f"playground-{user}" / LOG_NAME


class LazyFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler that creates its folder on the first record, falls back to the
    temp dir when it cannot, and goes quiet (never a "--- Logging error ---" on the terminal)
    when no place at all can be written."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.broken = False
        self.opened = False
        super().__init__(Path(path or default_log_path()), maxBytes=MAX_BYTES,
                         backupCount=BACKUPS, encoding="utf-8", delay=True)
        self.setFormatter(logging.Formatter(FORMAT))

    def _open(self):  # noqa: ANN202 - logging's signature
        try:
            Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
            stream = super()._open()
        except OSError:
            fallback = fallback_log_path()
            if Path(self.baseFilename) == fallback:
                raise
            self.baseFilename = os.fspath(fallback)
            fallback.parent.mkdir(parents=True, exist_ok=True)
            stream = super()._open()
        self.opened = True
        return stream

    def emit(self, record: logging.LogRecord) -> None:
        if self.broken:
            return
        try:
            if self.stream is None:
                self.stream = self._open()
            super().emit(record)
        except Exception:  # noqa: BLE001 - nowhere to log to; the terminal still has the sentence
            self.broken = True

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        self.broken = True

    @property
    def path(self) -> Path | None:
        """The file the records went to; None when none could be written."""
        return None if self.broken else Path(self.baseFilename)


def configure(*, verbose: bool = False, stream: TextIO | None = None,
              path: str | os.PathLike | None = None) -> None:
    """Send log records to the log file, and to ``stream`` (stderr) only when ``verbose``.

    Calling it again replaces what an earlier call installed (handlers of others are left
    alone). :func:`reset` removes them.
    """
    global _saved_level
    reset()
    root = logging.getLogger()
    handler: logging.Handler = LazyFileHandler(path)
    handler.setLevel(logging.INFO)
    _installed.append(handler)
    if verbose:
        terminal = logging.StreamHandler(stream or sys.stderr)
        terminal.setLevel(logging.DEBUG)
        terminal.setFormatter(logging.Formatter(TERMINAL_FORMAT))
        _installed.append(terminal)
    for h in _installed:
        root.addHandler(h)
    _saved_level = root.level
    wanted = logging.DEBUG if verbose else logging.INFO
    if root.level == logging.NOTSET or root.level > wanted:
        root.setLevel(wanted)


def reset() -> None:
    """Remove the handlers :func:`configure` installed and restore the root level."""
    global _saved_level
    root = logging.getLogger()
    for h in _installed:
        root.removeHandler(h)
        h.close()
    _installed.clear()
    if _saved_level is not None:
        root.setLevel(_saved_level)
        _saved_level = None


def log_file() -> Path | None:
    """The log file in use (written at least once, or to be written); None when not configured
    or when nothing could be written."""
    for h in _installed:
        if isinstance(h, LazyFileHandler):
            return h.path
    return None


def verbose() -> bool:
    """Whether tracebacks are also going to the terminal."""
    return any(not isinstance(h, LazyFileHandler) for h in _installed)
