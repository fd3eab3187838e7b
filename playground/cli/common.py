"""What every sub-command shares: --home/--device/--verbose flags, argparse types that check
ranges, a terminal job context with a progress bar, and the one error path.

The error path (:func:`dispatch`, :func:`report_exception`, :func:`report_failed`): a failure
prints ``error: <sentence>`` (from :func:`playground.core.jobs.describe_exception`) and exits
non-zero; the traceback goes to the log file (:mod:`playground.core.logs`), whose path is
printed as ``details: PATH``, or to the terminal with ``--verbose``. A bug (an exception type
the app does not expect) says so and asks to be reported with the log. Sub-commands raise
:class:`~playground.core.errors.PlaygroundError` subclasses (or let ``OSError`` through) and
never print tracebacks themselves; a failed job's event goes to :func:`report_failed`.

Text read from files (labels, run names, paths, generated text) is printed through
:func:`safe_text`, and stdout itself escapes terminal control characters while a command runs
(:class:`SafeWriter`), so a crafted ``labels.json`` cannot clear the screen or recolour it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from typing import Any

from playground.core import distributed, logs
from playground.core import events as ev
from playground.core.jobs import JobContext, describe_exception, is_expected, run_job
from playground.core.schema import number_type

log = logging.getLogger(__name__)

MAX_COUNT = 1024  # threads / workers: more than any machine this app runs on


# ------------------------------------------------------------------------------------------
# argparse: one-line errors, range-checked types

class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``error: --threads must be between 0 and
    1024 (got -3) (see `playground train image --help`)``, exit code 2. Sub-parsers inherit it."""

    def error(self, message: str):  # noqa: ANN201 - argparse's signature (NoReturn)
        match = re.match(r"argument (\S+?)(?:/\S+)?: (.*)", message, re.DOTALL)
        if match:
            flag, rest = match.groups()
            message = f"{flag} {rest}" if rest.startswith(("must ", "is ")) else \
                f"{flag}: {rest}"
        self.exit(2, f"error: {safe_text(message)} (see `{self.prog} --help`)\n")


def int_range(low: int | None = None, high: int | None = None):
    """argparse ``type=`` for a whole number in ``[low, high]`` (``--top-k``, ``--threads``)."""
    return number_type(int, low, high)


def float_range(low: float | None = None, high: float | None = None):
    """argparse ``type=`` for a finite number in ``[low, high]`` (NaN and inf refused)."""
    return number_type(float, low, high)


def field_type(cls: type, name: str):
    """argparse ``type=`` with the range of schema field ``name`` of ``cls`` (one place for a
    bound the form and the CLI share, e.g. ``field_type(GenerateOptions, "temperature")``)."""
    from playground.core import schema

    spec = next(f for f in schema.fields(cls) if f.name == name)
    return number_type(spec.type, spec.min, spec.max)


def cap_counts(args: argparse.Namespace, names: tuple[str, ...] = ("threads", "workers"),
               ) -> list[str]:
    """Lower ``--threads`` / ``--workers`` above the machine's cores to the cores, with a note
    each (32 workers on 2 cores looked like a hang); return the notes."""
    from playground.core.device import cap_to_cpus

    notes = []
    for name in names:
        value = getattr(args, name, None)
        if isinstance(value, int) and value > 0:
            capped, note = cap_to_cpus(value, "--" + name.replace("_", "-"))
            if note:
                setattr(args, name, capped)
                notes.append(note)
    return notes


# ------------------------------------------------------------------------------------------
# terminal-safe text

_BIDI = [0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_CONTROL = [*range(0x20), 0x7F, *range(0x80, 0xA0), *_BIDI]
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\x1b": "\\x1b"}
_SAFE = {c: _NAMED.get(chr(c), f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}")
         for c in _CONTROL}
_SAFE_LINES = {c: v for c, v in _SAFE.items() if chr(c) not in "\n\t"}
# stdout may carry JSON: \uXXXX is valid there and reads the same in plain text
_STREAM = {c: f"\\u{c:04x}" for c in _CONTROL if chr(c) not in "\n\t"}


def safe_text(value: Any, *, keep_newlines: bool = False) -> str:
    """``value`` as text with terminal control characters escaped (ESC -> ``\\x1b``, a
    newline -> ``\\n`` unless ``keep_newlines``; bidi overrides too). Use it for every name,
    label, path or message that came from a file before printing it."""
    return str(value).translate(_SAFE_LINES if keep_newlines else _SAFE)


class SafeWriter:
    """A text stream that escapes control characters (but newlines and tabs) on the way to
    the terminal; :func:`dispatch` puts it around stdout while a command runs."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(text.translate(_STREAM))

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


# ------------------------------------------------------------------------------------------
def add_common(parser: argparse.ArgumentParser, *, device: bool = True) -> None:
    parser.add_argument("--home", metavar="DIR", default=None,
                        help="data folder for runs and caches (default: $PLAYGROUND_HOME or the "
                             "app's data folder)")
    if device:
        parser.add_argument("--device", default="auto",
                            help="auto (default), cpu, cuda, cuda:N or mps")
        parser.add_argument("--threads", type=int_range(0, MAX_COUNT), default=0, metavar="N",
                            help="CPU threads for torch (0 = torch's default; more than the "
                                 "machine's cores is lowered to the cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_verbose(parser, default=argparse.SUPPRESS)


def add_graph_argument(parser: argparse.ArgumentParser) -> None:
    """``--graph GRAPH.json|RUN_DIR|template:NAME``: train a Builder graph (see use_graph)."""
    parser.add_argument("--graph", default=None, metavar="GRAPH.json|RUN_DIR|template:NAME",
                        help="train a network built in the Builder: a saved graph file, the "
                             "folder of a run that trained one (its graph.json), or a template "
                             "(template:lenet5; see `playground builder templates`); it is "
                             "checked against the data and trained as the model graph:NAME")


def use_graph(args: argparse.Namespace, task: str) -> None:
    """With ``--graph``: register the graph in ``task``'s registry and make it the model
    (``args.model = "graph:NAME"``); ``--image-size`` / ``--block-size`` not given take the
    graph's Input size. A graph that does not fit the data is refused when the job builds it,
    naming the block to change."""
    source = getattr(args, "graph", None)
    if not source:
        return
    from playground.builder.registry import load_graph_source, register_graph
    from playground.core.errors import ConfigError

    if getattr(args, "model", None):
        raise ConfigError(f"--graph and --model {args.model} both name the model to train: give "
                          "one of them.")
    graph = load_graph_source(source)
    args.model = register_graph(graph, task).name
    shape = graph.nodes[graph.input_ids()[0]].params["shape"] if graph.input_ids() else ()
    # sizes not given follow the graph's Input: the image side (C,H,W) or the context (T)
    if task == "image" and len(shape) == 3 and getattr(args, "image_size", 0) is None:
        args.image_size = int(shape[-1])
    if task == "text" and len(shape) == 1 and getattr(args, "block_size", 0) is None:
        args.block_size = int(shape[0])


def add_verbose(parser: argparse.ArgumentParser, default: Any = False) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="print tracebacks and log messages to the terminal")


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
        text = safe_text(text, keep_newlines=True)
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        elif not self.quiet:
            print(text, file=sys.stderr)


def run_in_terminal(job, args: argparse.Namespace) -> tuple[ev.Event, TerminalContext]:
    """Run a job with a progress bar; Ctrl-C stops it like the Stop button (keeps checkpoints)."""
    from playground.core.device import set_cpu_threads

    if getattr(args, "threads", 0):
        set_cpu_threads(args.threads)
    device, quiet = getattr(args, "device", "auto"), args.quiet
    world = _join_torchrun(args, device)
    if world is not None:
        device, quiet = distributed.device_name(device), quiet or not world.main
    ctx = TerminalContext(device=device, quiet=quiet)
    import threading

    if world is not None:  # torchrun stops its workers with SIGTERM: stop like Ctrl-C
        import signal

        signal.signal(signal.SIGTERM, lambda *_: ctx.cancel())

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


def _join_torchrun(args: argparse.Namespace, device: str):
    """Under ``torchrun`` (WORLD_SIZE > 1) ``train`` and ``resume`` join the process group."""
    if (getattr(args, "command", None) not in ("train", "resume")
            or distributed.env_world_size() <= 1):
        return None
    world = distributed.init_from_env(device)
    if not world.main:  # rank 0 alone reports; the others keep only their errors (stderr)
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - for the process
    return world


def fail(message: str) -> int:
    world = distributed.current()
    where = f"rank {world.rank}: " if world.distributed and not world.main else ""
    print(f"error: {where}{safe_text(message, keep_newlines=True)}", file=sys.stderr)
    return 1


def _details_line(message: str) -> None:
    path = logs.log_file()
    if logs.verbose():
        return
    if path is None:
        print("details: run again with --verbose to see them", file=sys.stderr)
    elif str(path) not in message:
        print(f"details: {path}", file=sys.stderr)


def report_exception(exc: BaseException) -> int:
    """Log ``exc`` with its traceback; print ``error: <sentence>`` (and ``details: LOG``)."""
    log.error("command failed (%s): %s", type(exc).__name__, exc, exc_info=exc)
    message = describe_exception(exc, log_file=logs.log_file(), in_job=False)
    fail(message)
    if is_expected(exc) or logs.log_file() is None:
        _details_line(message)
    return 1


def report_failed(event: ev.Failed) -> int:
    """Print a failed job's sentence (its traceback is already in the log); exit code 1."""
    fail(event.message)
    _details_line(event.message)
    return 1


def _check_home() -> None:
    from playground.core.paths import home_dir

    home_dir()  # a file, or a folder that cannot be created: one clear sentence now


def dispatch(args: argparse.Namespace) -> int:
    """Run a parsed sub-command: the one place failures become ``error:`` lines."""
    verbose = bool(getattr(args, "verbose", False))
    stdout = sys.stdout
    sys.stdout = SafeWriter(stdout)
    try:
        if getattr(args, "home", None):
            os.environ["PLAYGROUND_HOME"] = os.path.abspath(os.path.expanduser(args.home))
        logs.configure(verbose=verbose)
        _check_home()
        for note in cap_counts(args):
            print(note, file=sys.stderr)
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("\nstopped", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `playground runs list | head -1`: the reader left, fine
        _silence_stdout()
        return 1
    except Exception as exc:  # noqa: BLE001 - the one place errors become a sentence
        return report_exception(exc)
    finally:
        try:
            sys.stdout.flush()
        except (BrokenPipeError, ValueError):
            _silence_stdout()
        sys.stdout = stdout
        logs.reset()


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # no real stdout (embedded, closed): nothing to silence, the rank trains on


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def finish_training(event: ev.Event, ctx: TerminalContext,
                    summary: list[tuple[str, Any]] | None = None) -> int:
    """Print final metrics, then the run folder as the last line; exit code 0 / 1 / 130.

    Under torchrun only rank 0 prints (the others trained into a scratch folder)."""
    if not distributed.current().main and isinstance(event, ev.Finished):
        return 130 if event.stopped else 0
    if isinstance(event, ev.Failed):
        report_failed(event)
        if ctx.run_dir:
            print(safe_text(ctx.run_dir))
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
        print(safe_text(run_dir))
    return 130 if event.stopped else 0
