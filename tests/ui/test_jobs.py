"""The job runner: events reach the UI thread, Stop is quick, errors are reported, close joins."""

from __future__ import annotations

import threading
import time

from playground.core import events as ev
from playground.core.errors import DatasetError
from playground.ui.jobs import JobRunner, active_runners, shutdown_all


def _collect(runner: JobRunner) -> list:
    seen: list = []
    runner.event.connect(seen.append)
    return seen


def test_events_arrive_on_ui_thread_and_progress_is_coalesced(qtbot):
    runner = JobRunner("t")
    seen = _collect(runner)
    threads = []
    runner.event.connect(lambda e: threads.append(threading.current_thread()))

    def job(ctx):
        for i in range(5000):
            ctx.emit(ev.Progress(i + 1, 5000, "work"))
        for i in range(10):
            ctx.emit(ev.Metric("loss", 1.0 / (i + 1), i))
        return {"answer": 42}

    with qtbot.waitSignal(runner.finished, timeout=5000) as blocker:
        assert runner.start(job, "cpu")
    terminal = blocker.args[0]
    assert isinstance(terminal, ev.Finished) and terminal.result == {"answer": 42}
    metrics = [e for e in seen if isinstance(e, ev.Metric)]
    progress = [e for e in seen if isinstance(e, ev.Progress)]
    assert [m.x for m in metrics] == list(range(10))  # every metric point kept, in order
    assert 1 <= len(progress) < 100  # thousands of progress events coalesced
    assert progress[-1].done == 5000
    assert isinstance(seen[-1], ev.Finished)  # terminal event last
    assert all(t is threading.main_thread() for t in threads)
    assert not runner.is_busy()


def test_cancel_returns_to_idle_within_a_second(qtbot):
    runner = JobRunner("t")
    started = threading.Event()

    def job(ctx):
        started.set()
        while True:  # a training loop that checks once per "batch" of 20 ms
            ctx.check_cancelled()
            time.sleep(0.02)

    runner.start(job, "cpu")
    assert started.wait(5)
    t0 = time.monotonic()
    with qtbot.waitSignal(runner.finished, timeout=1000) as blocker:
        runner.cancel()
    assert time.monotonic() - t0 < 1.0
    assert isinstance(blocker.args[0], ev.Finished) and blocker.args[0].stopped
    assert not runner.is_busy()


def test_failure_becomes_failed_event_with_message(qtbot):
    runner = JobRunner("t")

    def job(ctx):
        raise DatasetError("The folder /x is empty: add one sub-folder per class.")

    with qtbot.waitSignal(runner.finished, timeout=5000) as blocker:
        runner.start(job, "cpu")
    failed = blocker.args[0]
    assert isinstance(failed, ev.Failed)
    assert failed.message == "The folder /x is empty: add one sub-folder per class."
    assert "Traceback" in failed.details


def test_one_job_at_a_time_and_shutdown_all_joins(qtbot):
    runner = JobRunner("t")
    gate = threading.Event()

    def job(ctx):
        while not ctx.cancelled:
            gate.wait(0.01)
        return "done"

    assert runner.start(job, "cpu")
    assert not runner.start(job, "cpu")  # busy: refused, nothing started
    assert runner in active_runners()
    shutdown_all(timeout_ms=2000)
    assert not runner.is_busy()
    assert runner not in active_runners()


def test_a_runner_deleted_with_its_widget_mid_job_is_joined_at_close(qtbot):
    """A tab destroyed while its job runs leaves a runner whose Qt side is gone; closing the
    window must still cancel and join its thread, and must not raise (an exception escaping
    closeEvent crashes PySide6)."""
    import shiboken6
    from PySide6.QtWidgets import QWidget

    owner = QWidget()
    runner = JobRunner("orphan", parent=owner)
    started, stopped = threading.Event(), threading.Event()

    def job(ctx):
        started.set()
        try:
            while True:
                ctx.check_cancelled()
                time.sleep(0.01)
        finally:
            stopped.set()

    assert runner.start(job, "cpu")
    assert started.wait(5)
    shiboken6.delete(owner)  # the runner's C++ object goes with it; the thread runs on
    assert not shiboken6.isValid(runner)
    assert runner not in active_runners()
    shutdown_all(5000)
    assert stopped.is_set()  # cancelled and joined
    assert runner._worker is None


def test_garbage_holding_qt_objects_is_freed_on_the_ui_thread_not_a_worker(qtbot):
    # A worker that allocates would otherwise run the cyclic collector itself and destroy the
    # UI thread's Qt objects there (a deadlock seen in the suite); the app collects on a timer.
    import gc
    import weakref

    from PySide6.QtCore import QObject

    assert not gc.isenabled()
    where: list = []

    class Holder:
        pass

    def make_garbage():
        h = Holder()
        h.qt, h.me = QObject(), h  # a reference cycle holding a Qt object
        weakref.finalize(h, lambda: where.append(threading.current_thread()))

    make_garbage()

    def churn():  # far more new cycles than the first generation's threshold
        for _ in range(20 * gc.get_threshold()[0]):
            a: list = []
            a.append(a)

    worker = threading.Thread(target=churn)
    worker.start()
    worker.join()
    assert where == []
    qtbot.waitUntil(lambda: bool(where), timeout=5000)
    assert where == [threading.main_thread()]
