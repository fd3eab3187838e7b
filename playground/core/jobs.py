"""The job contract, free of Qt.

A job is a plain function ``job(ctx) -> result``. It reports with ``ctx.emit(event)``, checks
``ctx.cancelled`` (or calls ``ctx.check_cancelled()``) at least once per batch, and runs on
``ctx.device``. :func:`run_job` wraps one call: it always ends with exactly one terminal event
(:class:`Finished` or :class:`Failed`), whatever the job does. ``ui/jobs.py`` runs it on a
QThread; the CLI and tests call it directly.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import traceback
from collections.abc import Callable
from typing import Any

from playground.core import logs
from playground.core.errors import DeviceError, JobCancelled, PlaygroundError
from playground.core.events import Event, Failed, Finished, RunStarted

log = logging.getLogger(__name__)

Emit = Callable[[Event], None]


class JobContext:
    """What a job sees of the world: where to report, whether to stop, which device."""

    def __init__(self, emit: Emit | None = None, device: str = "auto",
                 cancel_event: threading.Event | None = None) -> None:
        self._emit = emit or (lambda event: None)
        self.device_name = device
        self._cancel = cancel_event or threading.Event()
        self._cancel_deferred = False
        self._device = None
        self.run_dir: str | None = None  # the run folder, once the job announced one

    @property
    def device(self):  # -> torch.device, resolved lazily so creating a ctx never imports torch
        if self._device is None:
            from playground.core.device import resolve_device

            self._device = resolve_device(self.device_name)
        return self._device

    def emit(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.run_dir = event.run_dir
        self._emit(event)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set() and not self._cancel_deferred:
            raise JobCancelled()

    def defer_cancel(self, deferred: bool) -> None:
        """While deferred, :meth:`check_cancelled` does not raise (``cancelled`` still says
        whether Stop was asked): under torchrun the loop stops every process at one step."""
        self._cancel_deferred = deferred


class CollectingContext(JobContext):
    """A context that keeps every event in ``self.events`` (tests, benchmarks)."""

    def __init__(self, device: str = "cpu", **kwargs: Any) -> None:
        self.events: list[Event] = []
        super().__init__(emit=self.events.append, device=device, **kwargs)

    def of_type(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


_DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
_DISK_FULL_TEXT = ("no space left on device", "storagefull", "disk quota exceeded",
                   "errno 28", "file write failed")


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from (``__cause__`` / ``__context__``)."""
    seen: list[BaseException] = []
    while exc is not None and exc not in seen and len(seen) < 10:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _is_oom(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        return True
    text = str(exc).lower()
    return not isinstance(exc, OSError) and any(t in text for t in _DISK_FULL_TEXT)


def is_expected(exc: BaseException) -> bool:
    """True for failures a user can fix (our exceptions, files and folders, memory); False
    for a bug in the app (any other exception type), which asks to be reported."""
    if isinstance(exc, (PlaygroundError, MemoryError)):
        return True
    return any(isinstance(e, OSError) or _is_oom(e) or _is_disk_full(e) for e in _chain(exc))


def describe_os_error(exc: OSError, *, where: str | None = None, in_job: bool = True) -> str:
    """A sentence for an ``OSError`` in a user's terms: what, where, and what to do."""
    path = exc.filename
    at = f" {path}" if path is not None else ""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno in _DISK_FULL:
        at = f" {path if path is not None else where}" if (path or where) else ""
        if where is not None and in_job:
            return (f"The disk is full (writing{at}): free some space and resume the run — the "
                    "last checkpoint is intact.")
        return f"The disk is full (writing{at}): free some space and try again."
    if isinstance(exc, PermissionError):
        return (f"Permission denied:{at or ' a file or folder'}. Check the file's permissions, "
                "or choose another file or folder.")
    if isinstance(exc, FileNotFoundError):
        return f"{path or 'A file'} does not exist. Check the path and try again."
    if isinstance(exc, IsADirectoryError):
        return f"{path or 'The path'} is a folder, but a file is needed here. Choose a file."
    if isinstance(exc, NotADirectoryError):
        return (f"{path or 'The path'} is not a folder (it, or a part of it, is a file). "
                "Choose a folder.")
    if isinstance(exc, FileExistsError):
        return f"{path or 'The file'} already exists. Choose another name, or remove it first."
    if exc.errno == errno.EROFS:
        return (f"{path or 'The folder'} is on a read-only disk. Choose a folder you can write "
                "to (for runs: --home).")
    if exc.errno == errno.ENAMETOOLONG:
        return f"The path{at} is too long for this system. Choose a shorter name or folder."
    if isinstance(exc, (ConnectionError, TimeoutError)) or type(exc).__name__ == "URLError":
        why = getattr(exc, "reason", None) or reason
        return (f"The network could not be reached ({why}). Check the connection and try "
                "again.")
    if exc.errno in (errno.EMFILE, errno.ENFILE):
        return "Too many files are open at once. Close other programs and try again."
    if exc.errno == errno.EIO:
        where_io = f" at {path}" if path is not None else ""
        return (f"The disk could not be read or written{where_io} (input/output error). "
                "Check the disk.")
    if path is not None:
        return f"Could not use {path}: {reason}."
    return f"A system error stopped the {'job' if in_job else 'command'}: {reason}."


def describe_exception(exc: BaseException, *, where: str | None = None,
                       log_file: str | os.PathLike | None = None, in_job: bool = True) -> str:
    """The user-facing sentence for an exception.

    Ours (:class:`PlaygroundError`) verbatim; file-system errors (also when wrapped in another
    exception) and out-of-memory in a user's terms; anything else is a bug in the app, and the
    sentence says so and where its log is. ``where`` is the folder being written (a run folder)
    when the error itself names none; ``in_job`` picks "the job" or "the command".
    """
    if isinstance(exc, PlaygroundError):
        return str(exc)
    chain = _chain(exc)
    for e in chain:
        if _is_oom(e):
            return ("The device ran out of memory. Lower the batch size (or the image size / "
                    "block size) and train again; the last checkpoint was kept.")
    for e in chain:
        if isinstance(e, OSError):
            return describe_os_error(e, where=where, in_job=in_job)
    for e in chain:
        if _is_disk_full(e):
            return describe_os_error(OSError(errno.ENOSPC, "No space left on device"),
                                     where=where, in_job=in_job)
    if isinstance(exc, MemoryError):
        return ("The computer ran out of memory (RAM). Use a smaller model, batch size or "
                "dataset and try again.")
    what = "job" if in_job else "command"
    detail = f": {exc}" if str(exc) else ""
    report = (f"please report it with the log at {log_file}" if log_file else
              "please report it with the details")
    return (f"An unexpected error ({type(exc).__name__}) stopped the {what}{detail}. "
            f"This is a bug; {report}.")


def _free_device_memory() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - best effort after an error already being reported
        log.debug("could not empty the CUDA cache", exc_info=True)


def run_job(job: Callable[[JobContext], Any], ctx: JobContext) -> Event:
    """Run ``job(ctx)``; emit and return exactly one terminal event."""
    try:
        result = job(ctx)
    except JobCancelled as exc:
        event: Event = Finished(result=getattr(exc, "result", None), stopped=True,
                                message=str(exc))
    except BaseException as exc:  # noqa: BLE001 - reported, logged, never swallowed
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        details = traceback.format_exc()
        log.error("job failed (%s): %s\n%s", type(exc).__name__, exc, details)
        message = describe_exception(exc, where=getattr(ctx, "run_dir", None),
                                     log_file=logs.log_file())
        if isinstance(exc, DeviceError) or "out of memory" in message:
            _free_device_memory()
        event = Failed(message=message, details=details, error_type=type(exc).__name__)
    else:
        event = Finished(result=result, stopped=ctx.cancelled)
    ctx.emit(event)
    return event
