"""Runs tab: every saved run, its settings and results, side-by-side curves, delete.

Reads only ``run.json`` and ``metrics.jsonl`` (small files), so it needs no worker and no
torch. Comparing overlays one metric of every selected run on one plot.
"""

from __future__ import annotations

import json

import pyqtgraph as pg
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.core.errors import RunError
from playground.core.runs import Run, RunStore
from playground.ui.appctx import AppContext

COLUMNS = ["Task", "Run", "Model", "Status", "Best", "Created"]
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
           "#e377c2"]


def best_figure(info: dict) -> str:
    result = info.get("result") or {}
    for key, fmt in (("best_val_accuracy", "acc {:.1%}"), ("best_val_loss", "val loss {:.3f}"),
                     ("best_cer", "CER {:.1%}")):
        if result.get(key) is not None:
            return fmt.format(result[key])
    return ""


def metric_series(run: Run, key: str) -> tuple[list[float], list[float], str]:
    """(xs, ys, axis) of one metric key in a run's metrics.jsonl; epochs preferred."""
    rows = [r for r in run.metrics() if key in r and r[key] is not None]
    if not rows:
        return [], [], ""
    axis = "epoch" if all("epoch" in r for r in rows) else "step"
    return [float(r.get(axis, i)) for i, r in enumerate(rows)], [float(r[key]) for r in rows], axis


class RunsTab(QWidget):
    def __init__(self, appctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.appctx = appctx
        self.runs: list[Run] = []
        layout = QVBoxLayout(self)
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
        bar.addWidget(QLabel("Compare:"))
        self.metric_combo = QComboBox()
        self.metric_combo.setMinimumWidth(160)
        bar.addWidget(self.metric_combo)
        layout.addLayout(bar)

        splitter = QSplitter(Qt.Orientation.Vertical)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Run"), QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        splitter.addWidget(self.table)
        lower = QSplitter(Qt.Orientation.Horizontal)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("Select a run to see its settings and results.")
        lower.addWidget(self.details)
        self.plot = pg.PlotWidget(background="w")
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.addLegend()
        for side in ("left", "bottom"):
            self.plot.getPlotItem().getAxis(side).enableAutoSIPrefix(False)  # 0.75, not 750 m
        self._show_plot_hint()
        lower.addWidget(self.plot)
        lower.setSizes([400, 700])
        splitter.addWidget(lower)
        layout.addWidget(splitter, 1)

        self.task_combo.currentIndexChanged.connect(self.refresh)
        self.refresh_button.clicked.connect(self.refresh)
        self.open_button.clicked.connect(self.open_folder)
        self.delete_button.clicked.connect(self.delete_selected)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.metric_combo.currentIndexChanged.connect(self._plot_selected)
        self.refresh()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override: runs may be new
        self.refresh()
        super().showEvent(event)

    def refresh(self) -> None:
        selected = {str(r.path) for r in self.selected_runs()}
        self.runs = RunStore().list(self.task_combo.currentData())
        self.table.setRowCount(len(self.runs))
        for row, run in enumerate(self.runs):
            try:
                info = run.info()
            except RunError as exc:
                info = {"task": run.path.parent.name, "status": f"damaged: {exc}"}
            values = [info.get("task", ""), run.name, info.get("model", ""),
                      run.effective_status(info), best_figure(info),
                      (info.get("created") or "").replace("T", " ")]
            for col, value in enumerate(values):
                self.table.setItem(row, col, QTableWidgetItem(str(value)))
            if str(run.path) in selected:
                self.table.selectRow(row)
        if not self.selected_runs() and self.runs:
            self.table.selectRow(0)  # the newest run, so its details show at once

    def selected_runs(self) -> list[Run]:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return [self.runs[r] for r in rows if r < len(self.runs)]

    def _on_selection(self) -> None:
        runs = self.selected_runs()
        if not runs:
            self.details.clear()
            self._show_plot_hint()
            return
        texts = []
        keys: list[str] = []
        for run in runs:
            try:
                info = run.info()
            except RunError as exc:
                texts.append(f"{run.path}\n{exc}")
                continue
            shown = {k: info.get(k) for k in ("task", "model", "status", "created", "config",
                                               "dataset", "result", "versions")}
            shown["status"] = run.effective_status(info)
            if isinstance(shown.get("result"), dict):
                shown["result"] = {k: v for k, v in shown["result"].items()
                                   if k not in ("confusion", "per_class")}
            texts.append(f"{run.path}\n{json.dumps(shown, indent=2, default=str)}")
            for row in run.metrics()[:200]:
                for key, value in row.items():
                    if isinstance(value, (int, float)) and key not in (
                            "epoch", "step", "time", "epoch_seconds") and key not in keys:
                        keys.append(key)
        self.details.setPlainText("\n\n".join(texts))
        current = self.metric_combo.currentText()
        self.metric_combo.blockSignals(True)
        self.metric_combo.clear()
        preferred = sorted(keys, key=lambda k: (not k.startswith("val"), k))
        self.metric_combo.addItems(preferred)
        if current in preferred:
            self.metric_combo.setCurrentText(current)
        self.metric_combo.blockSignals(False)
        self._plot_selected()

    def _show_plot_hint(self, text: str = "Select runs above (Ctrl-click for several) to "
                                          "compare one metric of each here.") -> None:
        item = self.plot.getPlotItem()
        self.plot.clear()
        item.setTitle(f'<span style="color:#787878">{text}</span>')
        item.hideAxis("left")
        item.hideAxis("bottom")

    def _plot_selected(self) -> None:
        self.plot.clear()
        key = self.metric_combo.currentText()
        if not key:
            self._show_plot_hint("These runs have no logged metrics yet.")
            return
        item = self.plot.getPlotItem()
        item.setTitle(None)
        item.showAxis("left")
        item.showAxis("bottom")
        axis_name = ""
        for i, run in enumerate(self.selected_runs()):
            xs, ys, axis = metric_series(run, key)
            if xs:
                axis_name = axis
                self.plot.plot(xs, ys, pen=pg.mkPen(PALETTE[i % len(PALETTE)], width=2),
                               symbol="o" if len(xs) < 60 else None, symbolSize=5,
                               name=run.name)
        self.plot.setLabel("bottom", axis_name)
        self.plot.setLabel("left", key)

    def open_folder(self) -> None:
        for run in self.selected_runs()[:1]:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(run.path)))

    def delete_selected(self, confirm: bool = True) -> None:
        runs = self.selected_runs()
        if not runs:
            self.appctx.info("Select the runs to delete first.")
            return
        if confirm:
            names = "\n".join(r.name for r in runs[:10])
            answer = QMessageBox.question(
                self, "Delete runs", f"Delete {len(runs)} run(s) and their checkpoints?\n\n"
                f"{names}", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return
        store = RunStore()
        for run in runs:
            try:
                store.delete(run)
            except (RunError, OSError) as exc:
                self.appctx.error(f"Could not delete {run.path}: {exc}")
        self.appctx.info(f"Deleted {len(runs)} run(s).")
        self.refresh()



