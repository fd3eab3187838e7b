"""The left column every task tab shares: settings in a scroll area, Train/Stop and their states."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QScrollArea, QVBoxLayout, QWidget


def settings_scroll(*boxes: QWidget) -> QScrollArea:
    """``boxes`` stacked top to bottom, scrolling vertically (never sideways)."""
    content = QWidget()
    layout = QVBoxLayout(content)
    layout.setContentsMargins(0, 0, 0, 0)
    for box in boxes:
        layout.addWidget(box)
    layout.addStretch(1)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(content)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return scroll


def train_stop_buttons(train_tip: str = "Train a new run with these settings",
                       stop_tip: str = "Stop training; the weights learned so far are kept"
                       ) -> tuple[QHBoxLayout, QPushButton, QPushButton]:
    """A row with Train (Ctrl+Enter, the default button) and Stop (Ctrl+., off until a run)."""
    row = QHBoxLayout()
    train = QPushButton("Train")
    train.setDefault(True)
    train.setShortcut("Ctrl+Return")
    train.setToolTip(f"{train_tip} (Ctrl+Enter)")
    stop = QPushButton("Stop")
    stop.setEnabled(False)
    stop.setShortcut("Ctrl+.")
    stop.setToolTip(f"{stop_tip} (Ctrl+.)")
    row.addWidget(train, 2)
    row.addWidget(stop, 1)
    return row, train, stop


def request_stop(runner, stop_button: QPushButton) -> None:
    """Stop the running job; the button reads "Stopping…" until the runner is idle again."""
    if runner.is_busy():
        runner.cancel()
        stop_button.setEnabled(False)
        stop_button.setText("Stopping…")


def show_training(train_button: QPushButton, stop_button: QPushButton, busy: bool,
                  settings: tuple[QWidget, ...] = ()) -> None:
    """Train/Stop and the settings that must not change mid-run, for a running or idle job."""
    train_button.setEnabled(not busy)
    stop_button.setEnabled(busy)
    stop_button.setText("Stop")
    for widget in settings:
        widget.setEnabled(not busy)


def show_common_event(view, event) -> bool:
    """Render the training events every task tab shows alike; False for the others.

    Metric points go to ``view.curves``, log lines to ``view.log``, and, where the view has
    them, confusion matrices to ``view.confusion`` (titled in ``view.eval_title``) and
    per-class reports to ``view.report``.
    """
    from playground.core import events as ev

    if isinstance(event, ev.Metric):
        view.curves.add_metric(event)
    elif isinstance(event, ev.Log):
        view.log.append_line(event.message, event.level)
    elif isinstance(event, ev.ConfusionMatrix) and hasattr(view, "confusion"):
        view.confusion.set_confusion(event)
        view.eval_title.setText(f"Confusion matrix after epoch {event.epoch} (validation)")
    elif isinstance(event, ev.ClassReport) and hasattr(view, "report"):
        view.report.set_report(event)
    else:
        return False
    return True
