"""What every task tab does alike, written once: Train / Stop and their states, the run
pickers, model info requests, Resume and Start from run, and how a training job ends.

A tab composes a :class:`TrainingController` (and a :class:`RunActionsBox` in its view) and
keeps only what is its own: the config its form builds, the job factory it calls, and the
events only it renders (galleries, samples, alignments). The controller wires the shared
widgets in ``_connect_signals`` and renders the events every task shares.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from playground.core import events as ev
from playground.core.errors import PlaygroundError
from playground.ui.tabs.settings_column import request_stop, show_common_event, show_training
from playground.ui.widgets.combo import fill_combo

if TYPE_CHECKING:
    from playground.ui.tabs.run_actions import RunActionsBox

log = logging.getLogger(__name__)

RESUMABLE = ("finished", "stopped", "interrupted")
MUTED_STYLE = "color: #555;"


# runs of a task -----------------------------------------------------------------------------
@dataclass
class RunChoice:
    """A saved run a picker offers: its folder, run.json, and its status as shown."""

    path: str
    name: str
    info: dict[str, Any]
    status: str

    @property
    def model(self) -> str:
        return str(self.info.get("model", ""))

    def total(self, unit: str) -> int | None:
        """The length the run was set to train: its config's epochs or max_iters."""
        value = (self.info.get("config") or {}).get("max_iters" if unit == "iterations"
                                                    else "epochs")
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def best_figure(info: dict[str, Any]) -> str:
    """The run's best score, briefly ("acc 93.1%", "val loss 1.234", "CER 12.0%")."""
    result = info.get("result") or {}
    for key, fmt in (("best_val_accuracy", "{:.1%}"), ("best_val_loss", "val loss {:.3f}"),
                     ("best_val_cer", "CER {:.1%}"), ("best_cer", "CER {:.1%}")):
        if isinstance(result.get(key), (int, float)):
            return fmt.format(result[key])
    return ""


def task_runs(task: str, statuses: Sequence[str] = RESUMABLE, *,
              speech_task: str | None = None) -> list[RunChoice]:
    """The runs of ``task`` (newest first) that have a checkpoint and whose effective status
    (a dead "training" run is "interrupted") is one of ``statuses``; damaged runs are left
    out. ``speech_task`` ("keywords" / "ctc") narrows speech runs to one kind."""
    from playground.core.runs import RunStore

    choices = []
    for run in RunStore().list(task):
        if not (run.best_checkpoint.is_file() or run.last_checkpoint.is_file()):
            continue
        try:
            info = run.info()
            status = run.effective_status(info)
        except Exception:  # noqa: BLE001 - a damaged run is not offered
            log.warning("skipping unreadable run %s", run.path, exc_info=True)
            continue
        if status not in statuses:
            continue
        if speech_task is not None and info.get("speech_task") != speech_task:
            continue
        choices.append(RunChoice(str(run.path), run.name, info, status))
    return choices


def run_label(choice: RunChoice, *parts: str) -> str:
    """``name · model · parts… · score`` and the status when it is not "finished"."""
    items = [choice.name, choice.model.upper() if choice.info.get("task") == "text"
             else choice.model, *[p for p in parts if p], best_figure(choice.info)]
    label = " · ".join(i for i in items if i)
    if choice.status == "training":
        label += " · training…"
    elif choice.status != "finished":
        label += f" · {choice.status}"
    return label


# curves of a run's history ------------------------------------------------------------------
_STEP_KEYS = {"train_loss": ("loss", "train"), "lr": ("lr", "train"),
              "samples_per_s": ("samples_per_s", "train")}
_EVAL_KEYS = {"train_loss": ("loss", "train"), "train_accuracy": ("accuracy", "train")}


def history_metrics(rows: Iterable[dict[str, Any]], up_to_step: int | None = None
                    ) -> list[ev.Metric]:
    """The Metric events a run's ``metrics.jsonl`` rows stand for, as its job emitted them
    live (step rows: train loss, learning rate, samples/s; evaluation rows: per epoch for
    epoch runs, per step for text). Rows after ``up_to_step`` (written after the checkpoint
    a resume starts from, and dropped by it) are left out."""
    out: list[ev.Metric] = []
    for row in rows:
        step = row.get("step")
        if not isinstance(step, (int, float)) or (up_to_step is not None and step > up_to_step):
            continue
        if "lr" in row:  # a training-step row
            for key, (name, split) in _STEP_KEYS.items():
                if isinstance(row.get(key), (int, float)):
                    out.append(ev.Metric(name, float(row[key]), step, split))
            continue
        axis = "epoch" if isinstance(row.get("epoch"), (int, float)) else "step"
        x = row["epoch"] if axis == "epoch" else step
        for key, value in row.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            if key in _EVAL_KEYS:
                name, split = _EVAL_KEYS[key]
            elif key == "eval_train_loss":  # text: perplexity of the training split
                name, split, value = "perplexity", "train", math.exp(min(value, 50.0))
            elif key.startswith("val_"):
                name, split = key[4:], "val"
            else:
                continue
            out.append(ev.Metric(name, float(value), x, split, axis))
    return out


def preload_history(curves, run_dir: str, skip: Sequence[str] = ()) -> int:
    """Draw the history of ``run_dir`` up to its last checkpoint on ``curves`` (a
    :class:`~playground.ui.widgets.curves.CurvesPanel`), so a resumed run's curves show
    the whole run; returns the number of points."""
    from playground.core.engine import checkpoint_step
    from playground.core.runs import Run

    run = Run(Path(run_dir))
    up_to = checkpoint_step(run.last_checkpoint) if run.last_checkpoint.is_file() else None
    series: dict[tuple[str, str, str], tuple[list[float], list[float], list[float]]] = {}
    steps_at: dict[float, float] = {}
    rows = run.metrics()
    for row in rows:
        if isinstance(row.get("epoch"), (int, float)) and isinstance(row.get("step"), int):
            steps_at[float(row["epoch"])] = float(row["step"])
    metrics = [m for m in history_metrics(rows, up_to) if m.name not in skip]
    for m in metrics:
        xs, ys, steps = series.setdefault((m.name, m.split, m.axis), ([], [], []))
        xs.append(m.x)
        ys.append(m.value)
        steps.append(steps_at.get(float(m.x), math.nan))
    for (name, split, axis), (xs, ys, steps) in series.items():
        curves.add_points(name, split, axis, xs, ys, steps if axis == "epoch" else None)
    return len(metrics)


# at most one model-info job at a time, always for the latest form --------------------------
class LatestRequest(QObject):
    """Runs ``request()`` (which starts a job on ``runner``) now, or when the job running on
    ``runner`` ends, so what it shows follows the latest settings; ``show(event)`` renders
    each result."""

    def __init__(self, runner, request: Callable[[], None], show: Callable[[ev.Event], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner, self._request, self._show, self.pending = runner, request, show, False
        runner.finished.connect(self._on_finished)

    def update(self) -> None:
        if self.runner.is_busy():
            self.pending = True
            return
        self._request()

    def _on_finished(self, event: ev.Event) -> None:
        self._show(event)
        if self.pending:
            self.pending = False
            self.update()


# the controller -----------------------------------------------------------------------------
class TrainingController(QObject):
    """Train / Stop / Resume / Start from run for one task tab.

    ``view`` has ``train_button``, ``stop_button``, ``curves``, ``log``, ``pages`` and
    ``runs_box`` (a :class:`RunActionsBox`). The tab gives: ``locked()`` (its settings that
    must not change mid-run), ``speech_task()`` (speech only), ``on_start()`` (clear its own
    panes), ``metric_text(event)`` (the best checkpoint's metric, e.g. ", val accuracy 0.9")
    and ``summary(result)`` (the status-bar line of a result). Events it does not render are
    re-emitted on ``other_event``; ``ended`` follows every terminal event.
    """

    other_event = Signal(object)
    ended = Signal(object)

    def __init__(self, appctx, task: str, view, runner, *, unit: str = "epochs",
                 locked: Callable[[], Sequence[QWidget]] = tuple,
                 speech_task: Callable[[], str | None] = lambda: None,
                 on_start: Callable[[], None] = lambda: None,
                 metric_text: Callable[[ev.CheckpointSaved], str] = lambda e: "",
                 summary: Callable[[dict[str, Any]], str | None] = lambda r: None,
                 skip_metrics: Sequence[str] = (), training_page: int = 0,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.appctx, self.task, self.view, self.runner, self.unit = (appctx, task, view,
                                                                     runner, unit)
        self.box: RunActionsBox = view.runs_box
        self._locked, self._speech_task, self._on_start = locked, speech_task, on_start
        self._metric_text, self._summary, self.skip_metrics = metric_text, summary, skip_metrics
        self.training_page = training_page
        self.current_run: str | None = None
        self.choices: dict[str, RunChoice] = {}
        self._connect_signals()
        self.refresh_runs()

    def _connect_signals(self) -> None:
        v, box = self.view, self.box
        v.stop_button.clicked.connect(self.stop)
        box.resume_button.clicked.connect(lambda: self.resume())
        box.run_combo.currentIndexChanged.connect(self._on_run_chosen)
        box.start_from_check.toggled.connect(self._update_box)
        box.checkpoint_combo.currentIndexChanged.connect(self._update_box)
        box.freeze_check.toggled.connect(self._update_box)
        self.runner.event.connect(self._on_event)
        self.runner.finished.connect(self._on_finished)
        self.runner.busy_changed.connect(self._on_busy)

    # runs -----------------------------------------------------------------------------------
    def refresh_runs(self, select: str | None = None) -> None:
        """Refill the box's run menu (resumable runs of this task, and kind for speech)."""
        try:
            runs = task_runs(self.task, speech_task=self._speech_task())
        except OSError as exc:
            self.appctx.error(f"Could not list the {self.task} runs: {exc}")
            runs = []
        self.choices = {c.path: c for c in runs}
        fill_combo(self.box.run_combo, [(run_label(c), c.path) for c in runs],
                   select=select, empty="No saved runs to continue yet")
        self._on_run_chosen()

    def select_run(self, run_dir: str | None) -> bool:
        """Choose ``run_dir`` in the box (listing it first if it is new); False if it is not
        a run the box can offer."""
        if not run_dir:
            return False
        run_dir = str(run_dir)
        if run_dir not in self.choices:
            self.refresh_runs(select=run_dir)
        index = self.box.run_combo.findData(run_dir)
        if index < 0:
            return False
        self.box.run_combo.setCurrentIndex(index)
        return True

    def selected(self) -> RunChoice | None:
        return self.choices.get(self.box.run_combo.currentData() or "")

    def _on_run_chosen(self) -> None:
        choice = self.selected()
        total = choice.total(self.unit) if choice else None
        if total:
            self.box.total_spin.setValue(total)
        self._update_box()

    def _update_box(self) -> None:
        box, choice = self.box, self.selected()
        busy = self.runner.is_busy()
        for w in (box.resume_button, box.start_from_check):
            w.setEnabled(choice is not None and not busy)
        from_run = box.start_from_check.isChecked() and choice is not None
        box.checkpoint_combo.setEnabled(from_run and not busy)
        box.freeze_check.setEnabled(from_run and not busy)
        v = self.view
        v.train_button.setText("Train from run" if from_run else "Train")
        if choice is None:
            box.note.setText("Train a run first: it can then be resumed or built on here.")
        elif from_run:
            which = box.checkpoint_combo.currentData()
            text = (f"Train starts a new run from {choice.name} ({which}); layers that fit "
                    "are reused, new layers get fresh weights")
            box.note.setText(text + ("; the reused layers are frozen." if
                                     box.freeze_check.isChecked() else "."))
        else:
            total = choice.total(self.unit)
            box.note.setText(f"Resume continues {choice.name} ({choice.status}) from its last "
                             f"checkpoint" + (f", set to {total:,} {self.unit}." if total
                                              else "."))

    # start-from -----------------------------------------------------------------------------
    def init_from(self) -> tuple[str | None, bool]:
        """``("RUN_DIR:best|last", freeze)`` when Train should start from a run, else
        ``(None, False)``."""
        choice = self.selected()
        if not self.box.start_from_check.isChecked() or choice is None:
            return None, False
        return (f"{choice.path}:{self.box.checkpoint_combo.currentData()}",
                self.box.freeze_check.isChecked())

    def parent_info(self) -> dict[str, Any] | None:
        """run.json of the run Train starts from, if any."""
        choice = self.selected()
        return choice.info if choice and self.box.start_from_check.isChecked() else None

    def start_from_run(self, run_dir: str, checkpoint: str = "best") -> None:
        """Make the next Train start from ``run_dir``'s ``checkpoint`` ("best" / "last")."""
        if checkpoint not in ("best", "last"):
            raise ValueError(f"checkpoint must be 'best' or 'last', not {checkpoint!r}")
        if not self.select_run(run_dir):
            self.appctx.error(f"{run_dir} is not a {self.task} run with a checkpoint to start "
                              "from.")
            return
        box = self.box
        box.checkpoint_combo.setCurrentIndex(box.checkpoint_combo.findData(checkpoint))
        box.start_from_check.setChecked(True)
        self._update_box()
        self.appctx.info(f"Train will start from {self.selected().name} ({checkpoint}): set "
                         "the data and settings, then press Train.")

    # train / resume / stop ------------------------------------------------------------------
    def start(self, job, message: str, run_dir: str | None = None) -> None:
        """Clear the training page and run ``job`` (a new run, or ``run_dir`` resumed)."""
        v = self.view
        v.curves.clear()
        v.log.clear()
        v.pages.setCurrentIndex(self.training_page)
        self._on_start()
        self.current_run = run_dir
        if run_dir:
            try:
                preload_history(v.curves, run_dir, self.skip_metrics)
            except (PlaygroundError, OSError) as exc:
                v.log.append_line(f"The earlier curves could not be read: {exc}", "warning")
        self.runner.start(job, self.appctx.device)
        self.appctx.info(message)

    def resume(self, run_dir: str | None = None) -> bool:
        """Resume ``run_dir`` (default: the box's run) to the box's total; False when it
        could not start (the reason is in the status bar)."""
        if self.runner.is_busy():
            self.appctx.info("A run is training; stop it before resuming another.")
            return False
        if not self.appctx.torch_loaded:
            self.appctx.info("Still loading PyTorch; try again in a moment.")
            return False
        if run_dir is not None and not self.select_run(run_dir):
            self.appctx.error(f"{run_dir} is not a {self.task} run that can be resumed (it "
                              "needs a checkpoint, and must not be training).")
            return False
        choice = self.selected()
        if choice is None:
            self.appctx.error("No run to resume: train one first.")
            return False
        total = self.box.total_spin.value()
        if total == choice.total(self.unit):
            total = None  # the saved total
        from playground.resume import make_resume_job

        try:
            job = make_resume_job(choice.path, **({"max_iters": total} if
                                                  self.unit == "iterations" else
                                                  {"epochs": total}))
        except (PlaygroundError, OSError) as exc:
            self.appctx.error(f"{choice.name} cannot be resumed: {exc}")
            return False
        self.start(job, f"Resuming {choice.name}…", run_dir=choice.path)
        return True

    def stop(self) -> None:
        request_stop(self.runner, self.view.stop_button)

    def _on_busy(self, busy: bool) -> None:
        v = self.view
        show_training(v.train_button, v.stop_button, busy,
                      (*self._locked(), *self.box.controls()))
        self._update_box()

    # events ---------------------------------------------------------------------------------
    def _on_event(self, event: ev.Event) -> None:
        v = self.view
        if isinstance(event, ev.Metric) and event.name in self.skip_metrics:
            return
        if show_common_event(v, event):
            return
        if isinstance(event, ev.RunStarted):
            self.current_run = event.run_dir
            v.log.append_line(f"Run folder: {event.run_dir}")
        elif isinstance(event, ev.ModelSummary):
            v.log.append_line(f"{event.model}: {event.parameters:,} parameters ("
                              f"{event.trainable:,} trainable). {event.details}")
        elif isinstance(event, ev.CheckpointSaved) and event.kind == "best":
            metric = self._metric_text(event) if event.metric is not None else ""
            v.log.append_line(f"best checkpoint saved (step {event.step}{metric})")
            self.other_event.emit(event)
        elif not isinstance(event, ev.TERMINAL_EVENTS):
            self.other_event.emit(event)

    def _on_finished(self, event: ev.Event) -> None:
        self.appctx.report_terminal(event, "Training")
        if isinstance(event, ev.Finished) and isinstance(event.result, dict):
            line = self._summary(event.result)
            if line:
                verb = "Training stopped" if event.stopped else "Training finished"
                self.appctx.info(f"{verb}: {line}.")
            self.view.log.append_line("stopped — what was learned so far was kept; Resume "
                                      "continues it" if event.stopped else "finished")
        self.refresh_runs(select=self.current_run)
        self.ended.emit(event)
