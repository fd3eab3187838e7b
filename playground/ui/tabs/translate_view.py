"""Layout of the Text tab's Translate mode (widgets only; behaviour is in ``translate_mode.py``
and its parts).

Left: sentence pairs (the built-in demo or a dropped tab-separated file), the model and
training options (the :class:`~playground.text.translate_train.TranslateConfig` form),
"Continue or build on a run", Train / Stop. Right: Data (pair counts, length histograms, a
few random pairs), Training (validation BLEU and chrF with sacreBLEU's signature, live curves,
the fixed validation sentences beside their references, the log) and Translate (run, text,
beam width and n-best, the n-best list, attention heatmaps: :mod:`translate_panel_view`).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from playground.ui.tabs.settings_column import settings_scroll, train_stop_buttons
from playground.ui.tabs.task_common import RunActionsBox
from playground.ui.tabs.translate_panel_view import TranslatePage, text_table
from playground.ui.widgets import curves as curves_module
from playground.ui.widgets.curves import CurvesPanel
from playground.ui.widgets.dropzone import DropZone
from playground.ui.widgets.logview import LogView
from playground.ui.widgets.schema_form import SchemaForm

ERROR_STYLE = "color: #b00020;"
WARNING_STYLE = "color: #a35c00;"
MUTED_STYLE = "color: #4b5563;"
SOURCE_COLOUR, TARGET_COLOUR = (41, 121, 200), (230, 110, 0)
PAIR_SUFFIXES = {".tsv", ".txt", ".tab"}
DATA_PAGE, TRAINING_PAGE, TRANSLATE_PAGE = 0, 1, 2


def label(text: str = "", style: str = "", rich: bool = False) -> QLabel:
    widget = QLabel(text)
    widget.setWordWrap(True)
    if style:
        widget.setStyleSheet(style)
    if rich:
        widget.setTextFormat(Qt.TextFormat.RichText)
    return widget


class LengthHistogram(pg.PlotWidget):
    """Sentence lengths in words, source and target bars side by side."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(False, False)
        item.showGrid(x=False, y=True, alpha=0.25)
        item.setLabel("bottom", "words in the sentence", color="#2d333a")
        item.setLabel("left", "pairs", color="#2d333a")
        item.setTitle("Sentence lengths", color="#2d333a")
        self._legend = item.addLegend(offset=(-10, 10))
        self._bars: dict[str, pg.BarGraphItem] = {}
        self.counts: dict[str, np.ndarray] = {}

    def set_histograms(self, source: tuple[np.ndarray, np.ndarray],
                       target: tuple[np.ndarray, np.ndarray]) -> None:
        """``(counts, bin edges)`` of the source and of the target side."""
        item = self.getPlotItem()
        for bar in self._bars.values():
            item.removeItem(bar)
            self._legend.removeItem(bar)
        self._bars.clear()
        for name, (counts, edges), colour, shift in (
                ("source", source, SOURCE_COLOUR, -0.2), ("target", target, TARGET_COLOUR, 0.2)):
            counts, edges = np.asarray(counts, dtype=float), np.asarray(edges, dtype=float)
            centres = (edges[:-1] + edges[1:]) / 2
            width = float(np.min(np.diff(edges))) if len(edges) > 1 else 1.0
            bar = pg.BarGraphItem(x=centres + shift * width, height=counts, width=0.4 * width,
                                  brush=pg.mkBrush(*colour), pen=pg.mkPen(None))
            item.addItem(bar)
            self._legend.addItem(bar, f"{name} side")
            self._bars[name] = bar
            self.counts[name] = counts
        item.autoRange()


class TranslateView(QWidget):
    """The Translate mode's widgets; ``form_cls`` is the training options' schema class."""

    def __init__(self, form_cls: type, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # plot titles the curves panel does not know yet (it title-cases unknown names)
        curves_module.TITLES.setdefault("chrf", "chrF")
        curves_module.TITLES.setdefault("exact", "Exact match (share)")
        splitter = QSplitter(Qt.Orientation.Horizontal)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(splitter)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        model_box = QGroupBox("Model and training")
        model_layout = QVBoxLayout(model_box)
        self.model_info = label("The parameter count is in the log when training starts.",
                                MUTED_STYLE)
        model_layout.addWidget(self.model_info)
        self.form = SchemaForm(form_cls)
        model_layout.addWidget(self.form)
        self.runs_box = RunActionsBox("epochs")
        left_layout.addWidget(settings_scroll(self._pairs_box(), model_box, self.runs_box), 1)
        buttons, self.train_button, self.stop_button = train_stop_buttons(
            "Train a new translation model with these settings",
            "Stop training; what was learned so far is kept")
        left_layout.addLayout(buttons)
        left.setMinimumWidth(380)
        splitter.addWidget(left)

        self.pages = QTabWidget()
        self.pages.addTab(self._data_page(), "Data")
        self.pages.addTab(self._training_page(), "Training")
        self.panel = TranslatePage()
        self.pages.addTab(self.panel, "Translate")
        splitter.addWidget(self.pages)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([420, 1000])

    # left column ----------------------------------------------------------------------------
    def _pairs_box(self) -> QGroupBox:
        box = QGroupBox("Sentence pairs")
        layout = QVBoxLayout(box)
        row = QHBoxLayout()
        row.addWidget(QLabel("Source:"))
        self.source_combo = QComboBox()
        row.addWidget(self.source_combo, 1)
        layout.addLayout(row)
        self.pairs_drop = DropZone(accept_files=PAIR_SUFFIXES, multiple=False,
                                   hint="Drop a tab-separated pairs file here (source<TAB>"
                                        "translation per line, .tsv / .txt), or click to "
                                        "choose…")
        self.pairs_drop.setMinimumHeight(56)
        layout.addWidget(self.pairs_drop)
        self.pairs_summary = label("Reading the built-in pairs…", rich=True)
        layout.addWidget(self.pairs_summary)
        self.pairs_warnings = label("", WARNING_STYLE)
        self.pairs_warnings.hide()
        layout.addWidget(self.pairs_warnings)
        return box

    # right pages ----------------------------------------------------------------------------
    def _data_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.data_title = label("The pairs are being read…", rich=True)
        layout.addWidget(self.data_title)
        split = QSplitter(Qt.Orientation.Vertical)
        self.histogram = LengthHistogram()
        self.histogram.setMinimumHeight(220)
        split.addWidget(self.histogram)
        examples = QWidget()
        e_layout = QVBoxLayout(examples)
        e_layout.setContentsMargins(0, 0, 0, 0)
        e_layout.addWidget(label("A few pairs picked at random (after cleaning):",
                                 MUTED_STYLE))
        self.examples_table = text_table(["Source", "Target"])
        e_layout.addWidget(self.examples_table, 1)
        split.addWidget(examples)
        split.setSizes([420, 300])
        layout.addWidget(split, 1)
        return page

    def _training_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        scores = QHBoxLayout()
        self.scores_label = label("Validation BLEU and chrF appear after the first epoch.",
                                  rich=True)
        self.scores_label.setWordWrap(False)
        scores.addWidget(self.scores_label)
        scores.addSpacing(16)
        self.signature_label = label("", MUTED_STYLE + " font-family: monospace;")
        self.signature_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        self.signature_label.setToolTip("sacreBLEU's signatures: the settings the scores were "
                                        "computed with, so they can be compared with "
                                        "published ones")
        scores.addWidget(self.signature_label, 1)
        layout.addLayout(scores)
        split = QSplitter(Qt.Orientation.Vertical)
        self.curves = CurvesPanel()
        self.curves.setMinimumHeight(300)
        split.addWidget(self.curves)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        samples = QWidget()
        s_layout = QVBoxLayout(samples)
        s_layout.setContentsMargins(0, 0, 0, 0)
        self.samples_title = label("The same validation sentences are translated after "
                                   "every epoch (green: equal to the reference).", MUTED_STYLE)
        s_layout.addWidget(self.samples_title)
        self.samples_table = text_table(["Source", "Reference", "Model's translation"])
        s_layout.addWidget(self.samples_table, 1)
        bottom.addWidget(samples)
        self.log = LogView()
        bottom.addWidget(self.log)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)
        split.addWidget(bottom)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([560, 320])
        layout.addWidget(split, 1)
        return page
