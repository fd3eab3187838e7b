"""Per-class precision / recall / F1 / support table for a ClassReport event."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from playground.core.events import ClassReport

COLUMNS = ("Class", "Precision", "Recall", "F1", "Support")
WEAK_BRUSH = QBrush(QColor(253, 226, 222))
SUMMARY_BRUSH = QBrush(QColor(240, 242, 245))


def _fmt(value: float) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.3f}"


class ClassReportTable(QTableWidget):
    """Rows: one per class, then "macro avg" and "accuracy"; columns as in :data:`COLUMNS`.

    A class's F1 cell is tinted when it is weak: below ``weak_f1`` (default 0.5) or more than
    ``weak_margin`` (0.1) under the macro-average F1, so the classes to look at stand out even
    when every class is above 0.5.
    """

    def __init__(self, parent: QWidget | None = None, *, weak_f1: float = 0.5,
                 weak_margin: float = 0.1) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.weak_f1 = weak_f1
        self.weak_margin = weak_margin
        self._weak: list[str] = []
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(False)
        self.setShowGrid(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.verticalHeader().setDefaultSectionSize(max(22, self.fontMetrics().height() + 6))

    def set_report(self, report: ClassReport) -> None:
        self.set_rows(report.labels, report.precision, report.recall, report.f1,
                      report.support, report.accuracy)

    def set_rows(self, labels: Sequence[str], precision: Sequence[float],
                 recall: Sequence[float], f1: Sequence[float], support: Sequence[int],
                 accuracy: float) -> None:
        """Fill the table from per-class sequences of equal length and the overall accuracy."""
        n = len(labels)
        if not (len(precision) == len(recall) == len(f1) == len(support) == n):
            raise ValueError("labels, precision, recall, f1 and support must have equal length")
        finite = [v for v in f1 if math.isfinite(v)]
        macro = [_mean(precision), _mean(recall), _mean(f1)]
        total = int(sum(support))
        self.setRowCount(n + 2)
        self._weak = []
        for row in range(n):
            self._set(row, 0, str(labels[row]), align_left=True)
            self._set(row, 1, _fmt(precision[row]))
            self._set(row, 2, _fmt(recall[row]))
            item = self._set(row, 3, _fmt(f1[row]))
            self._set(row, 4, f"{int(support[row]):,}")
            value = f1[row]
            if finite and math.isfinite(value) and (
                    value < self.weak_f1 or value < macro[2] - self.weak_margin):
                item.setBackground(WEAK_BRUSH)
                item.setToolTip(f"F1 {value:.3f} is well below the macro average "
                                f"{macro[2]:.3f}" if value >= self.weak_f1
                                else f"F1 {value:.3f} is below {self.weak_f1:g}")
                self._weak.append(str(labels[row]))
        bold = QFont(self.font())
        bold.setBold(True)
        summary = [(n, ["macro avg", _fmt(macro[0]), _fmt(macro[1]), _fmt(macro[2]),
                        f"{total:,}"]),
                   (n + 1, ["accuracy", "", "", _fmt(accuracy), f"{total:,}"])]
        for row, texts in summary:
            for col, text in enumerate(texts):
                item = self._set(row, col, text, align_left=col == 0)
                item.setFont(bold)
                item.setBackground(SUMMARY_BRUSH)
        self.resizeColumnsToContents()
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

    def weak_classes(self) -> list[str]:
        """Classes whose F1 cell is highlighted."""
        return list(self._weak)

    def cell_text(self, row: int, col: int) -> str:
        item = self.item(row, col)
        return "" if item is None else item.text()

    def clear_report(self) -> None:
        self.setRowCount(0)
        self._weak = []

    def _set(self, row: int, col: int, text: str, align_left: bool = False) -> QTableWidgetItem:
        item = QTableWidgetItem(text)
        align = Qt.AlignmentFlag.AlignLeft if align_left else Qt.AlignmentFlag.AlignRight
        item.setTextAlignment(align | Qt.AlignmentFlag.AlignVCenter)
        self.setItem(row, col, item)
        return item


def _mean(values: Sequence[float]) -> float:
    finite = [float(v) for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else float("nan")
