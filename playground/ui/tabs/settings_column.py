"""The left column every task tab shares: its settings boxes in a scroll area, and Train/Stop."""

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
