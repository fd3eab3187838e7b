"""The Translate page of the Translate mode (widgets only; behaviour in ``translate_panel.py``).

Top: the run to translate with. Left: the text to translate, beam width and n-best, the best
translation and the n-best list with scores. Right: attention heatmaps — cross-attention
(target tokens × source tokens), or the encoder's or decoder's self-attention — per layer and
head and averaged, through the Generate mode's :class:`AttentionPanel`.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.ui.tabs.attention_view import AttentionPanel
from playground.ui.tabs.settings_column import MUTED_STYLE, WARNING_STYLE
MATCH_COLOUR = "#dcfce7"  # a translation equal to its reference

# kind: (menu title, x-axis title, y-axis title, what a row / a column is, in the hover text)
ATTENTION_KINDS = {
    "cross": ("Cross-attention: target × source", "source token (attended to)",
              "target token (being written)", "target", "source"),
    "encoder": ("Encoder self-attention: source × source", "source token (attended to)",
                "source token (attending)", "source", "source"),
    "decoder": ("Decoder self-attention: target × target", "earlier target token "
                "(attended to)", "target token (being written)", "target", "target input"),
}
ATTENTION_NOTES = {
    "cross": "Rows: each target token as it is written; columns: the source tokens it looks at "
             "(▁ starts a word, </s> ends the sentence). Each row sums to 1. Hover a cell for "
             "its weight; click a thumbnail to open that layer and head.",
    "encoder": "Rows: each source token; columns: the source tokens it attends to while the "
               "encoder reads the sentence (no mask: it sees the whole sentence).",
    "decoder": "Rows: each target token as it is written; columns: the tokens written before "
               "it (<s> is the start). Grey cells are the future, hidden by the causal mask.",
}


def text_table(headers: list[str]) -> QTableWidget:
    """A read-only table of sentences: columns share the width, rows wrap their text."""
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setWordWrap(True)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    return table


def fill_table(table: QTableWidget, rows: list[tuple[str, ...]],
               highlight: list[bool] | None = None) -> None:
    """Replace ``table``'s rows; rows flagged in ``highlight`` get a green background."""
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            if highlight and highlight[r]:
                item.setBackground(QColor(MATCH_COLOUR))
            table.setItem(r, c, item)


class TranslationAttentionPanel(AttentionPanel):
    """The attention panel with the axis titles and hover text of one kind of seq2seq map."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = "cross"
        # cells as wide as the room allows: a translation's source tokens label the columns,
        # and square cells would leave room for only every second one
        self.heatmap.plot_item().getViewBox().setAspectLocked(False)
        font = QFont(self.font())
        font.setPointSizeF(8)
        self.heatmap.x_axis.setStyle(tickFont=font)

    def set_kind(self, kind: str) -> None:
        self.kind = kind if kind in ATTENTION_KINDS else "cross"

    def _render(self) -> None:
        super()._render()
        if self.has_maps():
            _, x_title, y_title, _, _ = ATTENTION_KINDS[self.kind]
            plot = self.heatmap.plot_item()
            plot.setLabel("bottom", x_title, color="#2d333a")
            plot.setLabel("left", y_title, color="#2d333a")

    def _hover_detail(self, row: int, col: int) -> str:
        _, _, _, rows, cols = ATTENTION_KINDS[self.kind]
        weight = float(self.heatmap.value_at(row, col))
        share = f", {weight:.1%} of its attention" if math.isfinite(weight) else ""
        return f"{rows} #{row + 1} → {cols} #{col + 1}{share}"


class TranslatePage(QWidget):
    """Run picker, input, beam / n-best controls, n-best list and attention maps."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Model (run):"))
        self.run_combo = QComboBox()
        self.run_combo.setMinimumWidth(380)
        self.run_combo.setToolTip("A trained translate run (finished, stopped or interrupted, "
                                  "with a checkpoint); its best checkpoint translates")
        row.addWidget(self.run_combo, 1)
        self.refresh_runs_button = QPushButton("Refresh")
        row.addWidget(self.refresh_runs_button)
        layout.addLayout(row)
        self.run_info = QLabel("")
        self.run_info.setWordWrap(True)
        self.run_info.setStyleSheet(MUTED_STYLE)
        layout.addWidget(self.run_info)

        # text above, the attention maps below at full width (source tokens label its columns)
        split = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        top_layout = QHBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self._input_side(), 1)
        top_layout.addSpacing(8)
        top_layout.addWidget(self._output_side(), 1)
        split.addWidget(top)
        split.addWidget(self._attention_side())
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([250, 600])
        layout.addWidget(split, 1)

    def _input_side(self) -> QWidget:
        side = QWidget()
        layout = QVBoxLayout(side)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Text to translate (the translation follows as you type):"))
        self.input_edit = QPlainTextEdit()
        self.input_edit.setPlaceholderText("Type or paste a sentence in the source language, "
                                           "e.g. “three hundred and twelve”")
        self.input_edit.setMinimumHeight(60)
        layout.addWidget(self.input_edit, 1)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Beam width:"))
        self.beam_spin = QSpinBox()
        self.beam_spin.setRange(1, 64)
        self.beam_spin.setValue(4)
        self.beam_spin.setToolTip("How many partial translations the search keeps at each step "
                                  "(1 = greedy: always the likeliest next token)")
        controls.addWidget(self.beam_spin)
        controls.addSpacing(12)
        controls.addWidget(QLabel("N-best:"))
        self.nbest_spin = QSpinBox()
        self.nbest_spin.setRange(1, 4)
        self.nbest_spin.setValue(3)
        self.nbest_spin.setToolTip("How many of the beam's finished translations to list "
                                   "(at most the beam width)")
        controls.addWidget(self.nbest_spin)
        controls.addStretch(1)
        layout.addLayout(controls)
        self.unknown_warning = QLabel("")
        self.unknown_warning.setWordWrap(True)
        self.unknown_warning.setStyleSheet(WARNING_STYLE)
        self.unknown_warning.hide()
        layout.addWidget(self.unknown_warning)
        return side

    def _output_side(self) -> QWidget:
        side = QWidget()
        layout = QVBoxLayout(side)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Translation:"))
        self.output = QLabel("")
        self.output.setWordWrap(True)
        self.output.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = QFont(self.output.font())
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.output.setFont(font)
        self.output.setMinimumHeight(36)
        self.output.setStyleSheet("background: #f3f4f6; padding: 6px; border-radius: 4px;")
        layout.addWidget(self.output)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setStyleSheet(MUTED_STYLE)
        layout.addWidget(self.status)
        self.nbest_table = text_table(["#", "N-best translations (best first)", "Score",
                                       "Log-prob"])
        self.nbest_table.setToolTip("Score: the log-probability divided by the length "
                                    "penalty, which the beam search ranks by")
        header = self.nbest_table.horizontalHeader()
        for col in (0, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.nbest_table.setMinimumHeight(100)
        layout.addWidget(self.nbest_table, 1)
        return side

    def _attention_side(self) -> QWidget:
        side = QWidget()
        layout = QVBoxLayout(side)
        layout.setContentsMargins(4, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Attention:"))
        self.kind_combo = QComboBox()
        for kind, (title, *_rest) in ATTENTION_KINDS.items():
            self.kind_combo.addItem(title, kind)
        self.kind_combo.setToolTip("Cross-attention: where the decoder looks in the source "
                                   "while writing each target token. Self-attention: how "
                                   "the encoder (source) or decoder (target) tokens look at "
                                   "each other.")
        row.addWidget(self.kind_combo, 1)
        layout.addLayout(row)
        self.attention = TranslationAttentionPanel()
        self.attention.show_note("Translate a sentence with a trained run: where the model "
                                 "looked while writing each word appears here.")
        layout.addWidget(self.attention, 1)
        return side
