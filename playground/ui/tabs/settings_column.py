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
