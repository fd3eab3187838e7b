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
    QGroupBox,
    QHBoxLayout,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from playground.ui.tabs.settings_column import (
    MUTED_STYLE,
    WARNING_STYLE,
    curves_above,
    data_box,
    label,
    settings_column,
    titled,
    two_columns,
)
from playground.ui.tabs.run_actions import RunActionsBox
from playground.ui.tabs.translate_panel_view import TranslatePage, text_table
from playground.ui.widgets import curves as curves_module
from playground.ui.widgets.curves import CurvesPanel
from playground.ui.widgets.dropzone import DropZone
from playground.ui.widgets.logview import LogView
from playground.ui.widgets.schema_form import SchemaForm

SOURCE_COLOUR, TARGET_COLOUR = (41, 121, 200), (230, 110, 0)
PAIR_SUFFIXES = {".tsv", ".txt", ".tab"}
DATA_PAGE, TRAINING_PAGE, TRANSLATE_PAGE = 0, 1, 2


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
        model_box = QGroupBox("Model and training")
        model_layout = QVBoxLayout(model_box)
        self.model_info = label("The parameter count is in the log when training starts.",
                                MUTED_STYLE)
        model_layout.addWidget(self.model_info)
        self.form = SchemaForm(form_cls)
        model_layout.addWidget(self.form)
        self.runs_box = RunActionsBox("epochs")
        left, self.train_button, self.stop_button = settings_column(
            (self._pairs_box(), model_box, self.runs_box), 380,
            "Train a new translation model with these settings",
            "Stop training; what was learned so far is kept")

        self.pages = QTabWidget()
        self.pages.addTab(self._data_page(), "Data")
        self.pages.addTab(self._training_page(), "Training")
        self.panel = TranslatePage()
        self.pages.addTab(self.panel, "Translate")
        outer = QHBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(two_columns(left, self.pages, (420, 1000)))

    # left column ----------------------------------------------------------------------------
    def _pairs_box(self) -> QGroupBox:
        self.pairs_drop = DropZone(accept_files=PAIR_SUFFIXES, multiple=False,
                                   hint="Drop a tab-separated pairs file here (source<TAB>"
                                        "translation per line, .tsv / .txt), or click to "
                                        "choose…")
        box, layout, self.source_combo = data_box("Sentence pairs", self.pairs_drop)
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
        self.examples_table = text_table(["Source", "Target"])
        split.addWidget(titled(label("A few pairs picked at random (after cleaning):",
                                     MUTED_STYLE), self.examples_table))
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
        self.curves = CurvesPanel()
        self.curves.setMinimumHeight(300)
        self.samples_title = label("The same validation sentences are translated after "
                                   "every epoch (green: equal to the reference).", MUTED_STYLE)
        self.samples_table = text_table(["Source", "Reference", "Model's translation"])
        samples = titled(self.samples_title, self.samples_table)
        self.log = LogView()
        layout.addWidget(curves_above(self.curves, samples, self.log, (560, 320)), 1)
        return page
