"""The Runs tab's widgets (layout only; :mod:`playground.ui.tabs.runs_tab` holds the behaviour)."""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ["Task", "Run", "Model", "Status", "Best", "From", "Created"]
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
           "#e377c2"]
PLOT_HINT = "Select runs above (Ctrl-click for several) to compare one metric of each here."


@dataclass
class Curve:
    """One run's curve on the compare plot; ``dashed`` marks a fork drawn from its parent."""

    xs: list[float]
    ys: list[float]
    name: str
    colour_index: int
    dashed: bool = False


class RunsTabView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Task:"))
        self.task_combo = QComboBox()
        self.task_combo.addItem("All", None)
        for task in ("image", "text", "speech"):
            self.task_combo.addItem(task, task)
        bar.addWidget(self.task_combo)
        self.refresh_button = QPushButton("Refresh")
        self.open_button = QPushButton("Open folder")
        self.delete_button = QPushButton("Delete…")
        for b in (self.refresh_button, self.open_button, self.delete_button):
            bar.addWidget(b)
        bar.addStretch(1)
        self.resume_button = QPushButton("Resume")
        bar.addWidget(self.resume_button)
        self.total_label = QLabel("new total:")
        bar.addWidget(self.total_label)
        self.total_spin = QSpinBox()
        self.total_spin.setRange(0, 10_000_000)
        self.total_spin.setSpecialValueText("as before")
        self.total_spin.setMinimumWidth(130)
        self.total_spin.setToolTip("Train the run to this many epochs (iterations for text) in "
                                   "all; 'as before' keeps the total it was started with.")
        bar.addWidget(self.total_spin)
        self.start_from_button = QToolButton()
        self.start_from_button.setText("Start from this run…")
        self.start_from_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        menu = QMenu(self.start_from_button)
        self.start_best_action = QAction("Start from its best checkpoint", menu)
        self.start_last_action = QAction("Start from its last checkpoint", menu)
        menu.addAction(self.start_best_action)
        menu.addAction(self.start_last_action)
        self.start_from_button.setMenu(menu)
        self.start_from_button.setToolTip("A new run in the task's tab, initialised from this "
                                          "run's weights, with any settings or data changed.")
        bar.addWidget(self.start_from_button)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Export this run to ONNX or .pt2, checked against the "
                                      "app's own outputs, with a predict.py beside it.")
        bar.addWidget(self.export_button)
        layout.addLayout(bar)

        splitter = QSplitter(Qt.Orientation.Vertical)
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Run"), QHeaderView.ResizeMode.Stretch)
        header.setMaximumSectionSize(320)  # a damaged run's reason is elided (full in tooltip)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        upper_layout.addWidget(self.table, 1)
        self.problems_label = QLabel()
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet("color: #8a5a00;")
        self.problems_label.hide()
        upper_layout.addWidget(self.problems_label)
        splitter.addWidget(upper)

        lower = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        lineage_bar = QHBoxLayout()
        self.lineage_label = QLabel()
        self.lineage_label.setWordWrap(True)
        self.lineage_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lineage_bar.addWidget(self.lineage_label, 1)
        self.parent_button = QPushButton("Parent")
        self.parent_button.setToolTip("Select the run this one was started from.")
        self.children_button = QPushButton("Children")
        self.children_button.setToolTip("Select the runs started from this one.")
        lineage_bar.addWidget(self.parent_button)
        lineage_bar.addWidget(self.children_button)
        left_layout.addLayout(lineage_bar)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("Select a run to see its settings and results.")
        left_layout.addWidget(self.details, 1)
        lower.addWidget(left)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        compare_bar = QHBoxLayout()
        compare_bar.addWidget(QLabel("Compare:"))
        self.metric_combo = QComboBox()
        self.metric_combo.setMinimumWidth(160)
        compare_bar.addWidget(self.metric_combo)
        self.align_check = QCheckBox("Align forks to their parent")
        self.align_check.setChecked(True)
        self.align_check.setToolTip("Draw a run started from another run's weights continuing "
                                    "from the step (or epoch) of its parent, so from-scratch and "
                                    "fine-tuned runs compare on one axis.")
        compare_bar.addWidget(self.align_check)
        compare_bar.addStretch(1)
        right_layout.addLayout(compare_bar)
        self.plot = pg.PlotWidget(background="w")
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.addLegend()
        for side in ("left", "bottom"):
            self.plot.getPlotItem().getAxis(side).enableAutoSIPrefix(False)  # 0.75, not 750 m
        right_layout.addWidget(self.plot, 1)
        lower.addWidget(right)
        lower.setSizes([450, 700])
        splitter.addWidget(lower)
        splitter.setSizes([350, 450])
        layout.addWidget(splitter, 1)

    def show_plot_hint(self, text: str = PLOT_HINT) -> None:
        item = self.plot.getPlotItem()
        self.plot.clear()
        item.setTitle(f'<span style="color:#787878">{text}</span>')
        item.hideAxis("left")
        item.hideAxis("bottom")

    def draw_curves(self, curves: list[Curve], axis: str, metric: str) -> None:
        self.plot.clear()
        item = self.plot.getPlotItem()
        item.setTitle(None)
        item.showAxis("left")
        item.showAxis("bottom")
        for curve in curves:
            colour = PALETTE[curve.colour_index % len(PALETTE)]
            pen = pg.mkPen(colour, width=2)
            if curve.dashed:
                pen.setStyle(Qt.PenStyle.DashLine)
            self.plot.plot(curve.xs, curve.ys, pen=pen,
                           symbol="o" if len(curve.xs) < 60 else None, symbolSize=5,
                           symbolBrush=colour, name=curve.name)
        self.plot.setLabel("bottom", axis)
        self.plot.setLabel("left", metric)
