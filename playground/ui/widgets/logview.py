"""Read-only text panes: a capped, coloured log and a streaming text view for generated text."""

from __future__ import annotations

import html
import time

from PySide6.QtGui import QFontDatabase, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit, QWidget

LEVEL_COLOURS = {
    "debug": "#7a7a7a",
    "info": "",
    "warning": "#a35c00",
    "warn": "#a35c00",
    "error": "#b00020",
    "critical": "#b00020",
}


def _at_bottom(view: QPlainTextEdit) -> bool:
    bar = view.verticalScrollBar()
    return bar.value() >= bar.maximum() - 2


def _scroll_to_bottom(view: QPlainTextEdit) -> None:
    bar = view.verticalScrollBar()
    bar.setValue(bar.maximum())


class LogView(QPlainTextEdit):
    """A read-only log pane keeping the last ``max_lines`` lines.

    Each line is prefixed with the time; warnings and errors are coloured. The view follows
    new lines unless the user scrolled up to read something.
    """

    def __init__(self, parent: QWidget | None = None, *, max_lines: int = 5000,
                 timestamps: bool = True) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(max_lines)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setUndoRedoEnabled(False)
        self.timestamps = timestamps
        self.setPlaceholderText("Messages appear here.")

    def append_line(self, text: str, level: str = "info") -> None:
        """Add one line (or several, if ``text`` has newlines) at the given level."""
        follow = _at_bottom(self)
        stamp = time.strftime("%H:%M:%S ") if self.timestamps else ""
        level = (level or "info").lower()
        colour = LEVEL_COLOURS.get(level, "")
        prefix = "" if level == "info" else f"{level}: "
        body = html.escape(f"{stamp}{prefix}{text}").replace("\n", "<br>")
        body = f'<span style="color:{colour}">{body}</span>' if colour else f"<span>{body}</span>"
        self.appendHtml(body)
        if follow:
            _scroll_to_bottom(self)

    def lines(self) -> list[str]:
        """The lines currently shown (plain text)."""
        text = self.toPlainText()
        return text.split("\n") if text else []


class SampleTextView(QPlainTextEdit):
    """Monospace, read-only view for streamed text: ``append_text`` adds a chunk in place.

    Keeps at most ``max_chars`` characters (the oldest text is dropped first).
    """

    def __init__(self, parent: QWidget | None = None, *, max_chars: int = 200_000) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setUndoRedoEnabled(False)
        self.max_chars = max_chars
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.setFont(font)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)

    def append_text(self, chunk: str) -> None:
        """Append ``chunk`` right after the current end, without adding a newline."""
        if not chunk:
            return
        follow = _at_bottom(self)
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(chunk)
        self._trim()
        if follow:
            _scroll_to_bottom(self)

    def append_sample(self, text: str, header: str = "") -> None:
        """Start a new paragraph (with an optional header line) holding ``text``."""
        lead = "\n\n" if self.document().characterCount() > 1 else ""
        self.append_text(lead + (f"── {header} ──\n" if header else "") + text)

    def set_text(self, text: str) -> None:
        self.setPlainText(text)
        self._trim()

    def text(self) -> str:
        return self.toPlainText()

    def _trim(self) -> None:
        excess = self.document().characterCount() - 1 - self.max_chars
        if excess <= 0:
            return
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.Start)
        cursor.movePosition(QTextCursor.MoveOperation.Right, QTextCursor.MoveMode.KeepAnchor,
                            excess)
        cursor.removeSelectedText()
