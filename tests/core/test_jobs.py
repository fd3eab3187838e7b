"""run_job: exactly one terminal event, whatever the job does."""

from __future__ import annotations

import threading

import pytest

from playground.core import events as ev
from playground.core.errors import DatasetError, DeviceError, JobCancelled
from playground.core.jobs import CollectingContext, JobContext, describe_exception, run_job


def _terminal(ctx: CollectingContext) -> list[ev.Event]:
    return [e for e in ctx.events if isinstance(e, ev.TERMINAL_EVENTS)]


def test_finished_with_result():
    ctx = CollectingContext()

    def job(c):
        c.emit(ev.Progress(1, 2))
        c.emit(ev.Log("half way"))
        return {"accuracy": 0.75}

    event = run_job(job, ctx)
    assert isinstance(event, ev.Finished) and event.result == {"accuracy": 0.75}
    assert event.stopped is False
    assert _terminal(ctx) == [event] and ctx.events[-1] is event
    assert [type(e) for e in ctx.events] == [ev.Progress, ev.Log, ev.Finished]


def test_failed_with_playground_error_message_verbatim():
    ctx = CollectingContext()
    msg = "3 of 250 files could not be read: a.jpg (truncated), b.jpg, c.jpg."

    def job(c):
        raise DatasetError(msg)

    event = run_job(job, ctx)
    assert isinstance(event, ev.Failed) and event.message == msg
    assert event.error_type == "DatasetError"
    assert "Traceback" in event.details and "DatasetError" in event.details
    assert _terminal(ctx) == [event]


def test_failed_with_generic_exception():
    ctx = CollectingContext()

    def exploding_job(c):
        return {}["missing"]

    event = run_job(exploding_job, ctx)
    assert isinstance(event, ev.Failed)
    assert event.message.startswith("An unexpected error (KeyError) stopped the job: "
                                    "'missing'. This is a bug; please report it")
    assert event.error_type == "KeyError"
    assert "Traceback (most recent call last)" in event.details
    assert "exploding_job" in event.details
    assert _terminal(ctx) == [event]


def test_failed_exception_without_message():
    event = run_job(lambda c: (_ for _ in ()).throw(RuntimeError()), CollectingContext())
    assert isinstance(event, ev.Failed)
    assert event.message.startswith("An unexpected error (RuntimeError) stopped the job. This")


def test_out_of_memory_message():
    event = run_job(lambda c: (_ for _ in ()).throw(RuntimeError("CUDA out of memory. Tried")),
                    CollectingContext())
    assert "ran out of memory" in event.message and "batch size" in event.message
    assert describe_exception(DeviceError("No GPU.")) == "No GPU."


def test_cancelled_without_result():
    ctx = CollectingContext()

    def job(c):
        c.cancel()
        c.check_cancelled()
        return "never"

    event = run_job(job, ctx)
    assert isinstance(event, ev.Finished) and event.stopped is True and event.result is None
    assert event.message == "Stopped by the user."
    assert _terminal(ctx) == [event]


def test_cancelled_carries_result():
    ctx = CollectingContext()

    def job(c):
        exc = JobCancelled()
        exc.result = {"steps": 12}
        raise exc

    event = run_job(job, ctx)
    assert isinstance(event, ev.Finished) and event.stopped and event.result == {"steps": 12}
    assert _terminal(ctx) == [event]


def test_job_that_ignores_cancel_returns_stopped():
    ctx = CollectingContext()

    def job(c):
        c.cancel()
        return 5

    event = run_job(job, ctx)
    assert event == ev.Finished(result=5, stopped=True)


def test_keyboard_interrupt_is_not_swallowed():
    ctx = CollectingContext()

    def job(c):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_job(job, ctx)
    assert _terminal(ctx) == []


def test_collecting_context_of_type():
    ctx = CollectingContext()
    ctx.emit(ev.Metric("loss", 1.0, 1))
    ctx.emit(ev.Log("x"))
    ctx.emit(ev.Metric("loss", 0.5, 2))
    assert [m.value for m in ctx.of_type(ev.Metric)] == [1.0, 0.5]
    assert ctx.of_type(ev.Progress) == []
    assert len(ctx.of_type(ev.Event)) == 3
    assert ctx.device.type == "cpu"


def test_job_context_cancel_event_and_default_emit():
    flag = threading.Event()
    ctx = JobContext(device="cpu", cancel_event=flag)
    ctx.emit(ev.Log("dropped silently"))  # no sink: nothing happens
    assert not ctx.cancelled
    ctx.check_cancelled()
    flag.set()  # another thread pressing Stop
    assert ctx.cancelled
    with pytest.raises(JobCancelled, match="Stopped by the user"):
        ctx.check_cancelled()


def test_bad_device_fails_the_job():
    ctx = CollectingContext(device="tpu")
    event = run_job(lambda c: c.device, ctx)
    assert isinstance(event, ev.Failed) and event.error_type == "DeviceError"
    assert "Unknown device 'tpu'" in event.message
