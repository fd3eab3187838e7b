"""Labelled heatmaps (attention maps, posteriorgrams) and the confusion-matrix view built on them.

A pyqtgraph ``ImageItem`` in row-major order with a ``ColorBarItem``, Y inverted so row 0 is at
the top, one tick per row/column label (thinned out when they would not fit or exceed
``max_labels``), masked cells painted a neutral grey, and a label under the plot saying
"(row label, column label): value" for the cell under the mouse.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from playground.core.events import ConfusionMatrix

MASK_RGBA = (214, 217, 221, 255)
AXIS_PEN = "#6b7280"
TEXT_PEN = "#2d333a"
BLUES = pg.ColorMap(pos=[0.0, 0.5, 1.0],
                    color=[(247, 251, 255), (107, 174, 214), (8, 48, 107)], name="blues")


def _colormap(cmap: str | pg.ColorMap) -> pg.ColorMap:
    return cmap if isinstance(cmap, pg.ColorMap) else pg.colormap.get(cmap)


class CategoryAxis(pg.AxisItem):
    """An axis whose ticks sit at cell centres ``i + 0.5`` and read ``labels[i]``.

    Only as many labels are drawn as fit the axis length (and at most ``max_labels``); they are
    taken every ``k``-th, aligned to multiples of ``k`` so they stay put when zooming.
    """

    def __init__(self, orientation: str, max_labels: int = 40, max_chars: int = 18) -> None:
        super().__init__(orientation)
        self.labels: list[str] = []
        self.max_labels = max_labels
        self.max_chars = max_chars
        self.setPen(AXIS_PEN)
        self.setTextPen(TEXT_PEN)

    def set_labels(self, labels: Sequence[str]) -> None:
        self.labels = [self._short(str(label)) for label in labels]
        self.picture = None
        self.update()

    def _short(self, text: str) -> str:
        text = text.replace("\n", "⏎")
        return text if len(text) <= self.max_chars else text[: self.max_chars - 1] + "…"

    def shown_indices(self, lo_val: float, hi_val: float, size: float) -> list[int]:
        n = len(self.labels)
        lo_val, hi_val = min(lo_val, hi_val), max(lo_val, hi_val)  # inverted axes swap them
        lo = max(0, math.ceil(lo_val - 0.5))
        hi = min(n - 1, math.floor(hi_val - 0.5))
        if n == 0 or hi < lo:
            return []
        metrics = QFontMetrics(self.style.get("tickFont") or self.font())
        if self.orientation in ("bottom", "top"):
            per = max(metrics.horizontalAdvance(s) for s in self.labels[lo:hi + 1]) + 8
        else:
            per = metrics.height() + 1
        fit = max(1, int(size // per)) if size > 0 else self.max_labels
        step = max(1, math.ceil((hi - lo + 1) / min(fit, self.max_labels)))
        start = (lo + step - 1) // step * step
        return list(range(start, hi + 1, step))

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:  # noqa: N802, N803
        indices = self.shown_indices(minVal, maxVal, size)
        return [(1.0, [i + 0.5 for i in indices])] if indices else []

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        out = []
        for v in values:
            i = int(math.floor(v))
            out.append(self.labels[i] if 0 <= i < len(self.labels) else "")
        return out


class HeatmapView(QWidget):
    """A matrix as a heatmap with labelled rows/columns, a colour bar and a hover read-out.

    ``clicked(row, col)`` is emitted when a cell is clicked.
    """

    clicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None, *, colormap: str | pg.ColorMap = "viridis",
                 square_cells: bool = False, interactive: bool = False,
                 max_labels: int = 40) -> None:
        super().__init__(parent)
        self._cmap = _colormap(colormap)
        self._matrix = np.zeros((0, 0))
        self._mask = np.zeros((0, 0), dtype=bool)
        self._x_labels: list[str] = []
        self._y_labels: list[str] = []
        self._format = "{:.3f}"
        self._levels = (0.0, 1.0)
        self._detail: Callable[[int, int], str] | None = None
        self._texts: list[pg.TextItem] = []
        self._cell_texts: list[list[str]] | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self._glw = pg.GraphicsLayoutWidget()
        self._glw.setBackground("w")
        layout.addWidget(self._glw, 1)
        self._hover = QLabel("Hover over a cell to see its value.")
        self._hover.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._hover.setStyleSheet("color: #4b5563;")
        layout.addWidget(self._hover)

        self.x_axis = CategoryAxis("bottom", max_labels)
        self.y_axis = CategoryAxis("left", max_labels)
        self._plot: pg.PlotItem = self._glw.addPlot(
            row=0, col=0, axisItems={"bottom": self.x_axis, "left": self.y_axis})
        self._plot.invertY(True)
        self._plot.setMenuEnabled(False)
        self._plot.hideButtons()
        self._plot.setMouseEnabled(interactive, interactive)
        self._plot.setDefaultPadding(0.0)
        self._plot.setContentsMargins(2, 8, 6, 2)  # room for the first row's label
        self._plot.getViewBox().setAspectLocked(square_cells)
        self._plot.titleLabel.setAttr("color", TEXT_PEN)
        self._image = pg.ImageItem(axisOrder="row-major")
        self._mask_item = pg.ImageItem(axisOrder="row-major")
        self._mask_item.setZValue(1)
        self._plot.addItem(self._image)
        self._plot.addItem(self._mask_item)
        self._bar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=self._cmap, interactive=False,
                                    width=14, pen=AXIS_PEN)
        self._bar.setImageItem(self._image, insert_in=self._plot)
        self._bar.axis.setPen(AXIS_PEN)
        self._bar.axis.setTextPen(TEXT_PEN)
        self._glw.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._glw.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    # data -----------------------------------------------------------------------------------
    def set_matrix(self, matrix: np.ndarray, x_labels: Sequence[str] | None = None,
                   y_labels: Sequence[str] | None = None, *,
                   levels: tuple[float, float] | None = None, title: str = "",
                   value_format: str = "{:.3f}", mask: np.ndarray | None = None,
                   x_title: str = "", y_title: str = "") -> None:
        """Show ``matrix`` (rows x cols); labels default to indices, levels to the data range.

        ``mask`` (bool, same shape) marks cells drawn in neutral grey, e.g. future positions
        under a causal mask; non-finite values are drawn the same way.
        """
        m = np.array(matrix, dtype=np.float64)
        if m.ndim != 2:
            raise ValueError(f"A heatmap needs a 2-D matrix, got shape {m.shape}.")
        rows, cols = m.shape
        x_labels = [str(i) for i in range(cols)] if x_labels is None else list(x_labels)
        y_labels = [str(i) for i in range(rows)] if y_labels is None else list(y_labels)
        if len(x_labels) != cols or len(y_labels) != rows:
            raise ValueError(f"{len(y_labels)} row and {len(x_labels)} column labels given for "
                             f"a {rows}x{cols} matrix.")
        hidden = ~np.isfinite(m)
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != m.shape:
                raise ValueError(f"mask shape {mask.shape} differs from matrix shape {m.shape}.")
            hidden |= mask
        self._matrix, self._mask = m, hidden
        self._x_labels, self._y_labels = [str(s) for s in x_labels], [str(s) for s in y_labels]
        self._format = value_format
        if levels is None:
            shown = m[~hidden]
            lo, hi = (float(shown.min()), float(shown.max())) if shown.size else (0.0, 1.0)
            levels = (lo, hi if hi > lo else lo + 1.0)
        self._levels = (float(levels[0]), float(levels[1]))
        display = np.where(hidden, self._levels[0], m)
        self._image.setImage(display, autoLevels=False, levels=self._levels)
        self._image.setRect(0, 0, cols, rows)
        self._bar.setLevels(self._levels)
        overlay = np.zeros((rows, cols, 4), dtype=np.uint8)
        overlay[hidden] = MASK_RGBA
        self._mask_item.setImage(overlay, autoLevels=False, levels=(0, 255))
        self._mask_item.setRect(0, 0, cols, rows)
        self._mask_item.setVisible(bool(hidden.any()))
        self.x_axis.set_labels(self._x_labels)
        self.y_axis.set_labels(self._y_labels)
        self._plot.setLabel("bottom", x_title, color=TEXT_PEN)
        self._plot.setLabel("left", y_title, color=TEXT_PEN)
        self._plot.setTitle(title or None)
        box = self._plot.getViewBox()
        if not box.state["aspectLocked"]:
            # with square cells, limits would fight the aspect lock and crop columns away
            box.setLimits(xMin=0, xMax=max(cols, 1), yMin=0, yMax=max(rows, 1))
        self._fit()
        self._cell_texts = None
        self._clear_texts()

    def _fit(self) -> None:
        """Show the whole matrix (again after a resize: the aspect lock depends on it)."""
        rows, cols = self._matrix.shape if self._matrix.ndim == 2 else (0, 0)
        self._plot.setRange(xRange=(0, max(cols, 1)), yRange=(0, max(rows, 1)), padding=0)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self._fit()

    def clear(self) -> None:
        self.set_matrix(np.zeros((0, 0)))
        self._hover.setText("")

    def set_hover_detail(self, detail: Callable[[int, int], str] | None) -> None:
        """Extra text appended to the hover read-out for a cell (e.g. raw counts)."""
        self._detail = detail

    def set_cell_texts(self, texts: Sequence[Sequence[str]] | None) -> None:
        """Draw ``texts[row][col]`` in the cells (black or white, whichever reads better)."""
        self._clear_texts()
        if texts is None:
            self._cell_texts = None
            return
        self._cell_texts = [list(row) for row in texts]
        lo, hi = self._levels
        span = hi - lo if hi > lo else 1.0
        for r, row in enumerate(self._cell_texts):
            for c, text in enumerate(row):
                if not text:
                    continue
                if self._mask[r, c]:
                    colour = TEXT_PEN
                else:
                    t = min(1.0, max(0.0, (self._matrix[r, c] - lo) / span))
                    rgb = self._cmap.map(t, mode="float")[:3]
                    luminance = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
                    colour = "#111111" if luminance > 0.5 else "#ffffff"
                item = pg.TextItem(text, color=colour, anchor=(0.5, 0.5))
                item.setPos(c + 0.5, r + 0.5)
                item.setZValue(2)
                self._plot.addItem(item)
                self._texts.append(item)

    def _clear_texts(self) -> None:
        for item in self._texts:
            self._plot.removeItem(item)
        self._texts = []

    # reading back ---------------------------------------------------------------------------
    def shape(self) -> tuple[int, int]:
        return tuple(self._matrix.shape)  # type: ignore[return-value]

    def matrix(self) -> np.ndarray:
        return self._matrix.copy()

    def levels(self) -> tuple[float, float]:
        return self._levels

    def cell_texts(self) -> list[list[str]] | None:
        return None if self._cell_texts is None else [list(r) for r in self._cell_texts]

    def value_at(self, row: int, col: int) -> float:
        rows, cols = self._matrix.shape
        if not (0 <= row < rows and 0 <= col < cols):
            raise IndexError(f"cell ({row}, {col}) is outside the {rows}x{cols} matrix")
        return float(self._matrix[row, col])

    def is_masked(self, row: int, col: int) -> bool:
        return bool(self._mask[row, col])

    def hover_text(self, row: int, col: int) -> str:
        value = self.value_at(row, col)
        where = f"({self._y_labels[row]}, {self._x_labels[col]})"
        if self._mask[row, col]:
            return f"{where}: masked" if math.isfinite(value) else f"{where}: no value"
        text = f"{where}: {self._format.format(value)}"
        if self._detail is not None:
            extra = self._detail(row, col)
            text += f" — {extra}" if extra else ""
        return text

    def hover_label(self) -> QLabel:
        return self._hover

    def plot_item(self) -> pg.PlotItem:
        return self._plot

    def image_item(self) -> pg.ImageItem:
        return self._image

    # mouse ----------------------------------------------------------------------------------
    def cell_at_scene(self, scene_pos: QPointF) -> tuple[int, int] | None:
        vb = self._plot.getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        point = vb.mapSceneToView(scene_pos)
        row, col = math.floor(point.y()), math.floor(point.x())
        rows, cols = self._matrix.shape
        return (row, col) if 0 <= row < rows and 0 <= col < cols else None

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        cell = self.cell_at_scene(scene_pos)
        if cell is not None:
            self._hover.setText(self.hover_text(*cell))

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        cell = self.cell_at_scene(event.scenePos())
        if cell is not None:
            self.clicked.emit(*cell)


class ConfusionMatrixView(QWidget):
    """Counts ``matrix[true, predicted]``: true class on Y, predicted on X, numbers in cells
    when there are at most ``max_annotated`` classes, and a "Normalise rows" toggle that
    shows each row as the share of that class's samples (recall on the diagonal)."""

    def __init__(self, parent: QWidget | None = None, *, max_annotated: int = 20) -> None:
        super().__init__(parent)
        self.max_annotated = max_annotated
        self._counts = np.zeros((0, 0), dtype=np.int64)
        self._labels: list[str] = []
        self._epoch: int | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.summary = QLabel("The confusion matrix appears after the first validation.")
        self.summary.setWordWrap(True)
        top.addWidget(self.summary, 1)
        self.normalise_check = QCheckBox("Normalise rows")
        self.normalise_check.setToolTip("Show each row as fractions of that class's samples "
                                        "(the diagonal is then each class's recall).")
        self.normalise_check.toggled.connect(lambda _=None: self._render())
        top.addWidget(self.normalise_check)
        layout.addLayout(top)
        self.heatmap = HeatmapView(colormap=BLUES, square_cells=True)
        self.heatmap.set_hover_detail(self._detail)
        layout.addWidget(self.heatmap, 1)

    def set_confusion(self, event: ConfusionMatrix) -> None:
        self.set_counts(event.matrix, event.labels, epoch=event.epoch)

    def set_counts(self, matrix: np.ndarray, labels: Sequence[str],
                   epoch: int | None = None) -> None:
        counts = np.asarray(matrix)
        if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] != len(
                labels):
            raise ValueError(f"A confusion matrix must be square with one row per label; got "
                             f"shape {counts.shape} for {len(labels)} labels.")
        self._counts = counts.astype(np.int64)
        self._labels = [str(s) for s in labels]
        self._epoch = epoch
        self._render()

    def set_normalised(self, on: bool) -> None:
        self.normalise_check.setChecked(on)

    def is_normalised(self) -> bool:
        return self.normalise_check.isChecked()

    def displayed_matrix(self) -> np.ndarray:
        return self.heatmap.matrix()

    def counts(self) -> np.ndarray:
        return self._counts.copy()

    def _row_fractions(self) -> np.ndarray:
        sums = self._counts.sum(axis=1, keepdims=True).astype(np.float64)
        return np.divide(self._counts, sums, out=np.zeros(self._counts.shape), where=sums > 0)

    def _render(self) -> None:
        counts, n = self._counts, len(self._labels)
        if n == 0:
            return
        total = int(counts.sum())
        correct = int(np.trace(counts))
        epoch = f" · epoch {self._epoch}" if self._epoch is not None else ""
        acc = f"{correct / total:.1%}" if total else "—"
        self.summary.setText(f"Accuracy {acc} ({correct:,} of {total:,}){epoch}")
        if self.is_normalised():
            values, levels, fmt = self._row_fractions(), (0.0, 1.0), "{:.2f}"
        else:
            values, levels, fmt = counts.astype(np.float64), (0.0, float(max(1, counts.max()))), \
                "{:.0f}"
        self.heatmap.set_matrix(values, self._labels, self._labels, levels=levels,
                                value_format=fmt, x_title="Predicted", y_title="True")
        if n <= self.max_annotated:
            self.heatmap.set_cell_texts([[fmt.format(v) for v in row] for row in values])

    def _detail(self, row: int, col: int) -> str:
        count = int(self._counts[row, col])
        row_total = int(self._counts[row].sum())
        noun = "sample" if row_total == 1 else "samples"
        return f"{count:,} of {row_total:,} '{self._labels[row]}' {noun}"
