"""The job contract, free of Qt.

A job is a plain function ``job(ctx) -> result``. It reports with ``ctx.emit(event)``, checks
``ctx.cancelled`` (or calls ``ctx.check_cancelled()``) at least once per batch, and runs on
``ctx.device``. :func:`run_job` wraps one call: it always ends with exactly one terminal event
(:class:`Finished` or :class:`Failed`), whatever the job does. ``ui/jobs.py`` runs it on a
QThread; the CLI and tests call it directly.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from playground.core.errors import DeviceError, JobCancelled, PlaygroundError
from playground.core.events import Event, Failed, Finished

log = logging.getLogger(__name__)

Emit = Callable[[Event], None]


class JobContext:
    """What a job sees of the world: where to report, whether to stop, which device."""

    def __init__(self, emit: Emit | None = None, device: str = "auto",
                 cancel_event: threading.Event | None = None) -> None:
        self._emit = emit or (lambda event: None)
        self.device_name = device
        self._cancel = cancel_event or threading.Event()
        self._device = None

    @property
    def device(self):  # -> torch.device, resolved lazily so creating a ctx never imports torch
        if self._device is None:
            from playground.core.device import resolve_device

            self._device = resolve_device(self.device_name)
        return self._device

    def emit(self, event: Event) -> None:
        self._emit(event)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise JobCancelled()


class CollectingContext(JobContext):
    """A context that keeps every event in ``self.events`` (tests, benchmarks)."""

    def __init__(self, device: str = "cpu", **kwargs: Any) -> None:
        self.events: list[Event] = []
        super().__init__(emit=self.events.append, device=device, **kwargs)

    def of_type(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def describe_exception(exc: BaseException) -> str:
    """The user-facing message for an exception: ours verbatim, others with their type."""
    if isinstance(exc, PlaygroundError):
        return str(exc)
    name = type(exc).__name__
    if name == "OutOfMemoryError" or "out of memory" in str(exc).lower():
        return ("The device ran out of memory. Lower the batch size (or the image size / "
                "block size) and train again; the last checkpoint was kept.")
    return f"{name}: {exc}" if str(exc) else name


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
        message = describe_exception(exc)
        if isinstance(exc, DeviceError) or "out of memory" in message:
            _free_device_memory()
        log.error("job failed: %s\n%s", message, details)
        event = Failed(message=message, details=details, error_type=type(exc).__name__)
    else:
        event = Finished(result=result, stopped=ctx.cancelled)
    ctx.emit(event)
    return event
