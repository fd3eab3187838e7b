"""What every sub-command shares: --home/--device flags, a terminal job context with a
progress bar, and turning errors into a one-line message and a non-zero exit code."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from playground.core import events as ev
from playground.core.errors import PlaygroundError
from playground.core.jobs import JobContext, run_job


def add_common(parser: argparse.ArgumentParser, *, device: bool = True) -> None:
    parser.add_argument("--home", metavar="DIR", default=None,
                        help="data folder for runs and caches (default: $PLAYGROUND_HOME or the "
                             "app's data folder)")
    if device:
        parser.add_argument("--device", default="auto",
                            help="auto (default), cpu, cuda, cuda:N or mps")
        parser.add_argument("--threads", type=int, default=0,
                            help="CPU threads for torch (0 = torch's default)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


class TerminalContext(JobContext):
    """Prints a tqdm progress bar and log lines to stderr; keeps the terminal event."""

    def __init__(self, device: str = "auto", quiet: bool = False) -> None:
        super().__init__(emit=self._on_event, device=device)
        self.quiet = quiet
        self._bar = None
        self._bar_key: tuple[Any, ...] | None = None
        self.run_dir: str | None = None
        self.last_metrics: dict[str, float] = {}

    def _on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            self.run_dir = event.run_dir
            self._write(f"run folder: {event.run_dir}")
        elif isinstance(event, ev.ModelSummary):
            self._write(f"model {event.model}: {event.parameters:,} parameters "
                        f"({event.trainable:,} trainable)"
                        f"{' — ' + event.details if event.details else ''}")
        elif isinstance(event, ev.Progress):
            self._progress(event)
        elif isinstance(event, ev.Metric):
            self.last_metrics[f"{event.split}_{event.name}"] = event.value
            if self._bar is not None and event.name == "loss" and event.axis == "step":
                self._bar.set_postfix(loss=f"{event.value:.4f}", refresh=False)
        elif isinstance(event, ev.Log):
            self._write(event.message)
        elif isinstance(event, ev.SampleText):
            self._write(f"--- sample at step {event.step} ---\n{event.text}\n---")
        elif isinstance(event, (ev.Finished, ev.Failed)):
            self._close_bar()

    def _progress(self, event: ev.Progress) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        key = (event.total, event.unit, event.message.split(" ")[0])
        if self._bar is None or key != self._bar_key or event.done < self._bar.n:
            self._close_bar()
            self._bar = tqdm(total=event.total or None, unit=event.unit, file=sys.stderr,
                             leave=False, dynamic_ncols=True,
                             unit_scale=event.unit == "byte")
            self._bar_key = key
        self._bar.set_description(event.message, refresh=False)
        self._bar.update(event.done - self._bar.n)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _write(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        elif not self.quiet:
            print(text, file=sys.stderr)


def run_in_terminal(job, args: argparse.Namespace) -> tuple[ev.Event, TerminalContext]:
    """Run a job with a progress bar; Ctrl-C stops it like the Stop button (keeps checkpoints)."""
    from playground.core.device import set_cpu_threads

    if getattr(args, "threads", 0):
        set_cpu_threads(args.threads)
    ctx = TerminalContext(device=getattr(args, "device", "auto"), quiet=args.quiet)
    import threading

    done: list[ev.Event] = []
    worker = threading.Thread(target=lambda: done.append(run_job(job, ctx)), daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        print("\nstopping (Ctrl-C again to abort)…", file=sys.stderr)
        ctx.cancel()
        worker.join()
    return done[0], ctx


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def dispatch(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if getattr(args, "home", None):
        os.environ["PLAYGROUND_HOME"] = os.path.abspath(os.path.expanduser(args.home))
    try:
        return int(args.handler(args) or 0)
    except PlaygroundError as exc:
        return fail(str(exc))


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def finish_training(event: ev.Event, ctx: TerminalContext,
                    summary: list[tuple[str, Any]] | None = None) -> int:
    """Print final metrics, then the run folder as the last line; exit code 0 / 1 / 130."""
    if isinstance(event, ev.Failed):
        print(f"error: {event.message}", file=sys.stderr)
        if ctx.run_dir:
            print(ctx.run_dir)
        return 1
    assert isinstance(event, ev.Finished)
    if event.stopped:
        print("stopped: the last checkpoint was kept", file=sys.stderr)
    for label, value in summary or []:
        if value is None:
            continue
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"{label}: {text}")
    result = event.result if isinstance(event.result, dict) else {}
    run_dir = result.get("run_dir") or ctx.run_dir
    if run_dir:
        print(run_dir)
    return 130 if event.stopped else 0
