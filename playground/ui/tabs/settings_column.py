"""What every task tab's view shares: the label styles, the left column (a data box, settings
in a scroll area, Train/Stop and their states), the two columns it stands in, and the curves
above the samples and the log."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

ERROR_STYLE = "color: #b00020;"
WARNING_STYLE = "color: #a35c00;"
MUTED_STYLE = "color: #4b5563;"


def label(text: str = "", style: str = "", rich: bool = False) -> QLabel:
    """A word-wrapped label in ``style`` (one of the styles above, or none), rich text if
    ``rich``."""
    widget = QLabel(text)
    widget.setWordWrap(True)
    if style:
        widget.setStyleSheet(style)
    if rich:
        widget.setTextFormat(Qt.TextFormat.RichText)
    return widget


def data_box(title: str, drop: QWidget, drop_height: int = 56
             ) -> tuple[QGroupBox, QVBoxLayout, QComboBox]:
    """A box ``title`` with a "Source:" menu above ``drop`` (a drop zone ``drop_height`` high);
    returns the box, its layout (for what the tab shows below) and the menu."""
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    row = QHBoxLayout()
    row.addWidget(QLabel("Source:"))
    combo = QComboBox()
    row.addWidget(combo, 1)
    layout.addLayout(row)
    drop.setMinimumHeight(drop_height)
    layout.addWidget(drop)
    return box, layout, combo


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


def settings_column(boxes: Sequence[QWidget], min_width: int,
                    train_tip: str = "Train a new run with these settings",
                    stop_tip: str = "Stop training; the weights learned so far are kept"
                    ) -> tuple[QWidget, QPushButton, QPushButton]:
    """The left column: ``boxes`` in :func:`settings_scroll` above Train and Stop
    (:func:`train_stop_buttons`), at least ``min_width`` wide; returns it, Train and Stop."""
    column = QWidget()
    layout = QVBoxLayout(column)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(settings_scroll(*boxes), 1)
    buttons, train, stop = train_stop_buttons(train_tip, stop_tip)
    layout.addLayout(buttons)
    column.setMinimumWidth(min_width)
    return column, train, stop


def two_columns(left: QWidget, right: QWidget, sizes: tuple[int, int]) -> QSplitter:
    """``left`` (the settings, keeping its width) beside ``right`` (the pages, taking what the
    window gains), split at ``sizes``."""
    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.addWidget(left)
    splitter.addWidget(right)
    splitter.setStretchFactor(0, 0)
    splitter.setStretchFactor(1, 1)
    splitter.setSizes(list(sizes))
    return splitter


def titled(title: QWidget, body: QWidget) -> QWidget:
    """``title`` above ``body``, which takes the height; no margins."""
    widget = QWidget()
    layout = QVBoxLayout(widget)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(title)
    layout.addWidget(body, 1)
    return widget


def curves_above(curves: QWidget, samples: QWidget, log: QWidget,
                 sizes: tuple[int, int]) -> QSplitter:
    """A training page's body: ``curves`` above ``samples`` beside ``log``, 3 : 2 both ways,
    split at ``sizes`` (heights)."""
    split = QSplitter(Qt.Orientation.Vertical)
    split.addWidget(curves)
    bottom = QSplitter(Qt.Orientation.Horizontal)
    bottom.addWidget(samples)
    bottom.addWidget(log)
    bottom.setStretchFactor(0, 3)
    bottom.setStretchFactor(1, 2)
    split.addWidget(bottom)
    split.setStretchFactor(0, 3)
    split.setStretchFactor(1, 2)
    split.setSizes(list(sizes))
    return split


def ready_to_train(appctx, runner) -> bool:
    """Whether Train may start a run now: not while ``runner`` trains one, nor before PyTorch
    has loaded (the status bar says so then)."""
    if runner.is_busy():
        return False
    if not appctx.torch_loaded:
        appctx.info("Still loading PyTorch; try again in a moment.")
        return False
    return True


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
