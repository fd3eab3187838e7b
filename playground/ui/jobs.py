"""Run Qt-free jobs on a QThread and deliver their events on the UI thread.

This is the only module that knows about QThread. A job is ``job(ctx) -> result`` (see
``playground.core.jobs``). The worker thread never touches a widget: ``ctx.emit`` appends to a
thread-safe queue, and a ~30 Hz timer on the UI thread drains it and re-emits each event
through one signal. Progress events are coalesced (only the newest of a batch is delivered);
metric events are throttled at the source by the trainer and all delivered, so curves keep
every logged point while the UI redraws at most ~30 times a second however fast training is.

Stop sets the job's cancel flag; jobs check it at least once per batch, so the runner is idle
again within a second. :func:`shutdown_all` (called when the window closes) cancels every
running job and joins its thread, so no thread outlives the window.

:func:`collect_garbage_on_ui_thread` (installed with the QApplication) keeps Python's cyclic
garbage collector off the worker threads; see there.
"""

from __future__ import annotations

import collections
import gc
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThread, QTimer, Signal

from playground.core import events as ev
from playground.core.jobs import JobContext, run_job

log = logging.getLogger(__name__)

DRAIN_INTERVAL_MS = 33
_RUNNERS: weakref.WeakSet[JobRunner] = weakref.WeakSet()


GC_INTERVAL_MS = 500
_GC_TIMER: QTimer | None = None


def collect_garbage_on_ui_thread(app: QObject) -> None:
    """Turn Python's automatic cyclic garbage collection off and collect on a UI-thread timer.

    Automatic collection runs on whichever thread happens to allocate when a threshold is
    crossed. When that is a worker (a training job, the torch import) and the garbage holds Qt
    objects of the UI thread (a closed tab's widgets in a reference cycle), their C++
    destructors run on the worker, which can deadlock: the worker, inside ``~QObject`` and
    holding Qt's signal-slot lock, waits for the GIL while the UI thread, holding the GIL,
    waits for that lock (seen in the test suite). Collecting only here, every
    ``GC_INTERVAL_MS`` with the interpreter's own generation thresholds, frees the same
    garbage on the one thread that may delete widgets. pyqtgraph's ``GarbageCollector`` does
    the same. Idempotent; the timer is a child of ``app``.
    """
    global _GC_TIMER
    if _GC_TIMER is not None and shiboken6.isValid(_GC_TIMER):
        return
    thresholds = gc.get_threshold()
    gc.disable()

    def collect() -> None:
        counts = gc.get_count()
        if counts[0] <= thresholds[0]:
            return
        generation = 2 if counts[2] > thresholds[2] else 1 if counts[1] > thresholds[1] else 0
        gc.collect(generation)

    _GC_TIMER = QTimer(app)
    _GC_TIMER.setInterval(GC_INTERVAL_MS)
    _GC_TIMER.timeout.connect(collect)
    _GC_TIMER.start()


class _Worker(QThread):
    def __init__(self, job: Callable[[JobContext], Any], ctx: JobContext) -> None:
        super().__init__()
        self.job = job
        self.ctx = ctx
        self.terminal: ev.Event | None = None

    def run(self) -> None:  # runs on the worker thread
        self.terminal = run_job(self.job, self.ctx)


class JobRunner(QObject):
    """Runs one job at a time. Connect to ``event`` (every event, on the UI thread),
    ``finished`` (the terminal Finished/Failed event) and ``busy_changed``."""

    event = Signal(object)
    finished = Signal(object)
    busy_changed = Signal(bool)

    def __init__(self, name: str = "job", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._queue: collections.deque[ev.Event] = collections.deque()
        self._worker: _Worker | None = None
        self._ctx: JobContext | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_INTERVAL_MS)
        self._timer.timeout.connect(self._drain)
        self.started_at = 0.0
        _RUNNERS.add(self)

    # public -------------------------------------------------------------------------------------
    def is_busy(self) -> bool:
        return self._worker is not None

    def start(self, job: Callable[[JobContext], Any], device: str = "auto") -> bool:
        """Start ``job`` on a worker thread; False (and nothing started) if one is running."""
        if self._worker is not None:
            return False
        self._queue.clear()
        self._ctx = JobContext(emit=self._queue.append, device=device,
                               cancel_event=threading.Event())
        worker = _Worker(job, self._ctx)
        worker.finished.connect(self._on_thread_finished)
        self._worker = worker
        self.started_at = time.monotonic()
        worker.start()
        self._timer.start()
        self.busy_changed.emit(True)
        return True

    def cancel(self) -> None:
        if self._ctx is not None:
            self._ctx.cancel()

    @property
    def cancelling(self) -> bool:
        return self._ctx is not None and self._ctx.cancelled and self._worker is not None

    def wait(self, timeout_ms: int = 10000) -> bool:
        """Block until the worker ends (tests, shutdown); deliver what it left."""
        worker = self._worker
        if worker is None:
            return True
        ok = worker.wait(timeout_ms)
        if ok:
            self._on_thread_finished()
        return ok

    def shutdown(self, timeout_ms: int = 10000) -> None:
        self.cancel()
        self.wait(timeout_ms)

    def _abandon(self, timeout_ms: int) -> None:
        """This runner's Qt object was deleted with its parent while a job was still marked as
        running (its thread's finished signal had nowhere to go): cancel the job and join its
        thread without touching the deleted timer or signals."""
        worker, ctx = self._worker, self._ctx
        self._worker = self._ctx = None
        if ctx is not None:
            ctx.cancel()
        if worker is not None and shiboken6.isValid(worker):
            worker.wait(timeout_ms)
            worker.deleteLater()

    # internals ----------------------------------------------------------------------------------
    def _drain(self) -> None:
        batch: list[ev.Event] = []
        while self._queue:
            batch.append(self._queue.popleft())
        if not batch:
            return
        last_progress = None
        for i, event in enumerate(batch):
            if isinstance(event, ev.Progress):
                last_progress = i
        for i, event in enumerate(batch):
            if isinstance(event, ev.Progress) and i != last_progress:
                continue
            if isinstance(event, ev.TERMINAL_EVENTS):
                continue  # delivered by _on_thread_finished, after the thread has ended
            try:
                self.event.emit(event)
            except Exception:  # noqa: BLE001 - a broken view must not kill the runner
                log.exception("a view failed to render %s", type(event).__name__)

    def _on_thread_finished(self) -> None:
        worker = self._worker
        if worker is None:
            return
        self._worker = None
        self._timer.stop()
        self._drain()
        terminal = worker.terminal or ev.Failed("The job ended without a result.")
        worker.deleteLater()
        self._ctx = None
        self.event.emit(terminal)
        self.finished.emit(terminal)
        self.busy_changed.emit(False)


def cancel_and_join(runners: Iterable[JobRunner]) -> None:
    """Cancel every runner's job first (so they all stop at once), then join each thread."""
    runners = list(runners)
    for runner in runners:
        runner.cancel()
    for runner in runners:
        runner.shutdown()


def _alive(runner: JobRunner) -> bool:
    return shiboken6.isValid(runner)


def active_runners() -> list[JobRunner]:
    return [r for r in list(_RUNNERS) if _alive(r) and r.is_busy()]


def shutdown_all(timeout_ms: int = 15000) -> None:
    """Cancel every running job and join its thread (window close), including the threads of
    runners whose Qt object was deleted with a widget before their job had been collected."""
    for runner in list(_RUNNERS):
        if not _alive(runner) and runner._worker is not None:
            runner._abandon(timeout_ms)
    runners = active_runners()
    for runner in runners:
        runner.cancel()
    for runner in runners:
        runner.wait(timeout_ms)
