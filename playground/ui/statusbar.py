"""The status bar: the current job's progress with an ETA, and notices with details on request."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QStatusBar,
    QVBoxLayout,
    QWidget,
)

from playground.core import events as ev


def format_eta(seconds: float) -> str:
    if seconds != seconds or seconds < 0:  # NaN
        return ""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds}s"


class DetailsDialog(QDialog):
    def __init__(self, message: str, details: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Details")
        self.resize(760, 420)
        layout = QVBoxLayout(self)
        label = QLabel(message)
        label.setWordWrap(True)
        layout.addWidget(label)
        text = QPlainTextEdit(details)
        text.setReadOnly(True)
        text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        layout.addWidget(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


class StatusBar(QStatusBar):
    """Shows one job's progress (bar + "epoch 2/5 · 40 % · ETA 12s") and the latest notice."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.notice_label = QLabel()
        self.notice_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QPushButton("Details…")
        self.details_button.setFlat(True)
        self.details_button.hide()
        self.details_button.clicked.connect(self._show_details)
        self.progress_label = QLabel()
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.hide()
        self.addWidget(self.notice_label, 1)
        self.addWidget(self.details_button)
        self.addPermanentWidget(self.progress_label)
        self.addPermanentWidget(self.progress_bar)
        self._details = ("", "")
        self._phase: tuple[str, int] | None = None
        self._phase_start = 0.0
        self._clear_timer = QTimer(self)
        self._clear_timer.setSingleShot(True)
        self._clear_timer.timeout.connect(self._clear_notice)

    def show_notice(self, level: str, message: str, details: str = "") -> None:
        colour = {"error": "#b00020", "warning": "#8a5a00"}.get(level, "")
        self.notice_label.setStyleSheet(f"color: {colour};" if colour else "")
        self.notice_label.setText(message)
        self.notice_label.setToolTip(message)
        self._details = (message, details)
        self.details_button.setVisible(bool(details))
        if level == "info":
            self._clear_timer.start(8000)
        else:
            self._clear_timer.stop()

    def notice_text(self) -> str:
        return self.notice_label.text()

    def _clear_notice(self) -> None:
        self.notice_label.clear()
        self.details_button.hide()

    def _show_details(self) -> None:
        DetailsDialog(*self._details, parent=self).show()

    def show_progress(self, name: str, event: ev.Progress | None) -> None:
        if event is None:
            self.progress_bar.hide()
            self.progress_label.clear()
            self._phase = None
            return
        phase = (name + event.message.split(" ")[0], event.total)
        now = time.monotonic()
        if phase != self._phase or event.done <= 1:
            self._phase, self._phase_start = phase, now
        self.progress_bar.show()
        text = event.message
        if event.total > 0:
            self.progress_bar.setRange(0, 1000)
            frac = min(1.0, event.done / event.total)
            self.progress_bar.setValue(int(frac * 1000))
            elapsed = now - self._phase_start
            text += f" · {frac:.0%}"
            if 0.02 < frac < 1.0 and elapsed > 1.0:
                text += f" · ETA {format_eta(elapsed * (1 - frac) / frac)}"
        else:
            self.progress_bar.setRange(0, 0)  # busy indicator
        self.progress_label.setText(text)
