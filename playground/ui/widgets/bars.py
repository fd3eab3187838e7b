"""Horizontal bar chart of the top-k predictions: most probable class on top, value at bar end."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

TOP_COLOUR = QColor(41, 121, 200)
OTHER_COLOUR = QColor(150, 186, 224)
TRACK_COLOUR = QColor(236, 239, 243)


def format_probability(p: float) -> str:
    """``0.873`` -> ``"87.3%"``; tiny values keep a digit that is not zero."""
    pct = p * 100.0
    if 0 < pct < 0.1:
        return "<0.1%"
    return f"{pct:.1f}%"


class TopKBars(QWidget):
    """(label, probability) pairs drawn as horizontal bars on a 0–100 % scale.

    The bars are sorted, most probable first; the top one is drawn in a stronger colour.
    """

    def __init__(self, parent: QWidget | None = None, *,
                 empty_text: str = "Predictions appear here.") -> None:
        super().__init__(parent)
        self._items: list[tuple[str, float]] = []
        self._empty_text = empty_text
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumHeight(60)

    def set_predictions(self, predictions: Sequence[tuple[str, float]]) -> None:
        """Show ``predictions`` (any order); probabilities are clipped to 0..1."""
        items = [(str(label), min(1.0, max(0.0, float(p)))) for label, p in predictions]
        self._items = sorted(items, key=lambda item: item[1], reverse=True)
        tip = "\n".join(f"{label}: {p:.4f}" for label, p in self._items)
        self.setToolTip(tip)
        self.updateGeometry()
        self.update()

    def clear(self) -> None:
        self._items = []
        self.setToolTip("")
        self.update()

    def items(self) -> list[tuple[str, float]]:
        """The pairs as shown, top to bottom."""
        return list(self._items)

    def value_texts(self) -> list[str]:
        """The value texts drawn at the bar ends, top to bottom."""
        return [format_probability(p) for _, p in self._items]

    # layout ---------------------------------------------------------------------------------
    def _row_height(self) -> int:
        return max(22, QFontMetrics(self.font()).height() + 10)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        rows = max(len(self._items), 3)
        return QSize(320, rows * self._row_height() + 8)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(160, 60)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self.rect().adjusted(4, 4, -4, -4)
        text_colour = self.palette().windowText().color()
        if not self._items:
            painter.setPen(QColor(120, 120, 120))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self._empty_text)
            return
        metrics = QFontMetrics(self.font())
        row_h = min(self._row_height() + 6, max(14, rect.height() // len(self._items)))
        label_w = min(max(metrics.horizontalAdvance(label) for label, _ in self._items) + 12,
                      int(rect.width() * 0.4))
        value_w = metrics.horizontalAdvance("100.0%") + 10
        bar_x = rect.left() + label_w
        bar_w = max(10, rect.width() - label_w - value_w)
        bar_h = max(6, row_h - 8)
        for i, (label, p) in enumerate(self._items):
            top = rect.top() + i * row_h
            y = top + (row_h - bar_h) / 2
            painter.setPen(text_colour)
            elided = metrics.elidedText(label, Qt.TextElideMode.ElideRight, label_w - 8)
            painter.drawText(QRectF(rect.left(), top, label_w - 8, row_h),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, elided)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(TRACK_COLOUR)
            painter.drawRoundedRect(QRectF(bar_x, y, bar_w, bar_h), 3, 3)
            width = bar_w * p
            if width > 0.5:
                painter.setBrush(TOP_COLOUR if i == 0 else OTHER_COLOUR)
                painter.drawRoundedRect(QRectF(bar_x, y, max(width, 3.0), bar_h), 3, 3)
            painter.setPen(text_colour)
            painter.drawText(QRectF(bar_x + bar_w + 6, top, value_w, row_h),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             format_probability(p))
