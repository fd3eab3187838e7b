"""Attention maps of a Transformer: one head in detail, every layer and head as thumbnails.

:class:`AttentionPanel` shows an :class:`~playground.core.events.AttentionMaps` event
(weights ``(L, H, T, T)``, query rows and key columns): a :class:`HeatmapView` of the chosen
layer and head (or the average of the layer's heads) with token labels on both axes, the
causal mask drawn as grey cells above the diagonal and a hover read-out
"(query token, key token): weight"; beside it an :class:`AttentionGrid` of every layer × head
(an "avg" column first) that opens a head when clicked. A note replaces both when there is
nothing to show (no text yet, or an LSTM run, which has no attention).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from playground.core.events import AttentionMaps
from playground.ui.widgets.heatmap import MASK_RGBA, TEXT_PEN, HeatmapView

AVERAGE = -1  # the "head" index of the average of a layer's heads
COLORMAP = "viridis"


def causal_mask(rows: int, cols: int) -> np.ndarray:
    """True above the diagonal: keys after the query, which a causal model cannot see."""
    return np.triu(np.ones((rows, cols), dtype=bool), k=1 + max(0, cols - rows))


def head_matrix(weights: np.ndarray, layer: int, head: int) -> np.ndarray:
    """One head's ``(T, T)`` weights, or the mean over heads when ``head`` is AVERAGE."""
    layer_weights = weights[layer]  # (H, T, T)
    return layer_weights.mean(axis=0) if head == AVERAGE else layer_weights[head]


def _levels(matrix: np.ndarray, mask: np.ndarray | None, fixed: bool) -> tuple[float, float]:
    """0 to 1 when ``fixed``; else 0 to the 99th percentile of the visible weights, so the
    few large weights of the first rows (a query with one key gives it weight 1) do not
    leave the rest of the map dark. Larger weights show in the top colour."""
    if fixed:
        return 0.0, 1.0
    shown = matrix[~mask] if mask is not None else matrix.ravel()
    shown = shown[np.isfinite(shown)]
    top = float(np.quantile(shown, 0.99)) if shown.size else 1.0
    return 0.0, top if top > 0 else 1.0


class AttentionGrid(QWidget):
    """Small maps of every layer (rows) and head (columns, "avg" first) of one text.

    ``head_clicked(layer, head)`` (head AVERAGE for the "avg" column) when a map is clicked.
    """

    head_clicked = Signal(int, int)

    MIN_THUMB, MAX_THUMB = 40, 120

    def __init__(self, parent: QWidget | None = None, *, thumb: int = 64) -> None:
        super().__init__(parent)
        self.thumb = thumb
        self._data: tuple[np.ndarray, np.ndarray | None, bool] | None = None
        self._cmap = pg.colormap.get(COLORMAP)
        self._cells: list[tuple[pg.ViewBox, int, int]] = []
        self._boxes: dict[tuple[int, int], pg.ViewBox] = {}
        self._selected: tuple[int, int] | None = None
        self._shape = (0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self._glw = pg.GraphicsLayoutWidget()
        self._glw.setBackground("w")
        self._glw.ci.setSpacing(3)
        self._glw.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._glw.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._scroll = QScrollArea()
        self._scroll.setWidget(self._glw)
        self._scroll.setWidgetResizable(False)
        self._scroll.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self._scroll.setStyleSheet("QScrollArea { background: white; border: none; }")
        # the thumbnails follow the width they are given, never the other way round
        self._scroll.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Expanding)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Expanding)
        layout.addWidget(self._scroll)
        self._glw.scene().sigMouseClicked.connect(self._on_clicked)

    def shape(self) -> tuple[int, int]:
        """(layers, heads) shown."""
        return self._shape

    def set_weights(self, weights: np.ndarray, mask: np.ndarray | None = None,
                    fixed_scale: bool = False) -> None:
        """Draw ``weights`` (L, H, T, T); ``mask`` (T, T) cells are painted grey."""
        self._data = (weights, mask, fixed_scale)
        self.thumb = self._fitting_thumb(int(weights.shape[1]))
        selected = self._selected
        self._glw.clear()
        self._cells.clear()
        self._boxes.clear()
        layers, heads = int(weights.shape[0]), int(weights.shape[1])
        self._shape = (layers, heads)
        ci = self._glw.ci
        for c, title in enumerate(["avg"] + [f"H{h + 1}" for h in range(heads)]):
            ci.addLabel(title, row=0, col=c + 1, color=TEXT_PEN, size="8pt")
        for layer in range(layers):
            ci.addLabel(f"L{layer + 1}", row=layer + 1, col=0, color=TEXT_PEN, size="8pt")
            for c, head in enumerate([AVERAGE, *range(heads)]):
                box = ci.addViewBox(row=layer + 1, col=c + 1, lockAspect=True,
                                    enableMouse=False, invertY=True,
                                    defaultPadding=0.0)
                box.setMenuEnabled(False)
                box.setFixedWidth(self.thumb)
                box.setFixedHeight(self.thumb)
                box.addItem(pg.ImageItem(self._rgba(head_matrix(weights, layer, head), mask,
                                                    fixed_scale), axisOrder="row-major"))
                self._cells.append((box, layer, head))
                self._boxes[(layer, head)] = box
        width = (heads + 1) * (self.thumb + 3) + 30
        height = layers * (self.thumb + 3) + 24
        self._glw.setFixedSize(width, height)
        self._selected = None
        if selected is not None:
            self.select(*selected)

    def _fitting_thumb(self, heads: int) -> int:
        """The thumbnail size that fills the available width (within MIN/MAX_THUMB)."""
        room = self.width() - 50 - 3 * (heads + 1)
        return int(min(self.MAX_THUMB, max(self.MIN_THUMB, room // (heads + 1))))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self._data is not None and abs(self._fitting_thumb(self._shape[1]) - self.thumb) > 3:
            self.set_weights(*self._data)

    def _rgba(self, matrix: np.ndarray, mask: np.ndarray | None, fixed: bool) -> np.ndarray:
        lo, hi = _levels(matrix, mask, fixed)
        scaled = np.clip((matrix - lo) / (hi - lo), 0.0, 1.0)
        rgba = self._cmap.map(scaled, mode="byte").reshape(*matrix.shape, 4).astype(np.uint8)
        if mask is not None:
            rgba[mask] = MASK_RGBA
        return rgba

    def select(self, layer: int, head: int) -> None:
        """Outline the map that is open in the large view."""
        if self._selected in self._boxes:
            self._boxes[self._selected].setBorder(None)
        self._selected = (layer, head)
        box = self._boxes.get(self._selected)
        if box is not None:
            box.setBorder(pg.mkPen("#e4572e", width=3))

    def selected(self) -> tuple[int, int] | None:
        return self._selected

    def cell_center(self, layer: int, head: int) -> QPointF:
        """Scene position of a map's centre (for tests and keyboard-free clicks)."""
        return self._boxes[(layer, head)].sceneBoundingRect().center()

    def view(self) -> pg.GraphicsLayoutWidget:
        return self._glw

    def _on_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        pos = event.scenePos()
        for box, layer, head in self._cells:
            if box.sceneBoundingRect().contains(pos):
                self.head_clicked.emit(layer, head)
                return


class AttentionPanel(QWidget):
    """Controls, the large heatmap and the thumbnail grid; see the module docstring."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._weights: np.ndarray | None = None
        self._queries: list[str] = []
        self._keys: list[str] = []
        self._mask: np.ndarray | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.note = QLabel("Generate some text with a GPT run: its attention appears here.")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #4b5563; padding: 4px;")
        layout.addWidget(self.note)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Layer:"))
        self.layer_combo = QComboBox()
        self.layer_combo.setMinimumWidth(90)
        controls.addWidget(self.layer_combo)
        controls.addSpacing(8)
        controls.addWidget(QLabel("Head:"))
        self.head_combo = QComboBox()
        self.head_combo.setMinimumWidth(150)
        controls.addWidget(self.head_combo)
        controls.addSpacing(8)
        self.fixed_check = QCheckBox("Colour scale 0–1")
        self.fixed_check.setToolTip("Off: the colours stretch from 0 to the largest weight "
                                    "shown, so faint patterns stay visible. On: every map "
                                    "uses 0–1, so maps can be compared.")
        controls.addWidget(self.fixed_check)
        controls.addStretch(1)
        self.tokens_label = QLabel("")
        self.tokens_label.setStyleSheet("color: #4b5563;")
        controls.addWidget(self.tokens_label)
        layout.addLayout(controls)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        self.heatmap = HeatmapView(colormap=COLORMAP, square_cells=True, max_labels=64)
        self.heatmap.set_hover_detail(self._hover_detail)
        self.heatmap.setMinimumSize(360, 320)
        splitter.addWidget(self.heatmap)
        grid_box = QWidget()
        grid_layout = QVBoxLayout(grid_box)
        grid_layout.setContentsMargins(4, 0, 0, 0)
        grid_title = QLabel("Every layer × head (click one to open it)")
        grid_title.setStyleSheet("color: #4b5563;")
        grid_layout.addWidget(grid_title)
        self.grid = AttentionGrid()
        grid_layout.addWidget(self.grid, 1)
        splitter.addWidget(grid_box)
        grid_box.setMinimumWidth(220)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([750, 300])
        self._body = splitter
        layout.addWidget(splitter, 1)

        self.layer_combo.currentIndexChanged.connect(self._render)
        self.head_combo.currentIndexChanged.connect(self._render)
        self.fixed_check.toggled.connect(self._on_scale_toggled)
        self.grid.head_clicked.connect(self.select)
        self._set_body_visible(False)

    # data -----------------------------------------------------------------------------------
    def set_maps(self, maps: AttentionMaps, note: str = "") -> None:
        """Show ``maps``; keeps the chosen layer and head when the new maps have them."""
        weights = np.asarray(maps.weights, dtype=np.float32)
        if weights.ndim != 4:
            raise ValueError(f"attention weights must be (layers, heads, T, T); got "
                             f"{weights.shape}")
        layer, head = self.current_layer(), self.current_head()
        self._weights = weights
        self._queries, self._keys = list(maps.query_tokens), list(maps.key_tokens)
        rows, cols = weights.shape[2], weights.shape[3]
        self._mask = causal_mask(rows, cols) if maps.causal else None
        layers, heads = weights.shape[0], weights.shape[1]
        for combo in (self.layer_combo, self.head_combo):
            combo.blockSignals(True)
            combo.clear()
        for i in range(layers):
            self.layer_combo.addItem(f"Layer {i + 1}", i)
        self.head_combo.addItem("Average of heads", AVERAGE)
        for h in range(heads):
            self.head_combo.addItem(f"Head {h + 1}", h)
        self.layer_combo.setCurrentIndex(min(max(layer, 0), layers - 1))
        self.head_combo.setCurrentIndex(max(0, self.head_combo.findData(head)))
        for combo in (self.layer_combo, self.head_combo):
            combo.blockSignals(False)
        self.grid.set_weights(weights, self._mask, self.fixed_check.isChecked())
        self.tokens_label.setText(f"{rows} tokens · {layers} layer{'s' * (layers != 1)} × "
                                  f"{heads} head{'s' * (heads != 1)}")
        self.note.setText(note or "Rows: the token doing the attending (query); columns: the "
                                  "tokens it attends to (keys). Grey cells are the future, "
                                  "hidden by the causal mask. Hover a cell for its weight.")
        self._set_body_visible(True)
        self._render()

    def show_note(self, text: str) -> None:
        """Replace the maps with an explanation (no text yet, an LSTM run, an error)."""
        self._weights = None
        self.note.setText(text)
        self._set_body_visible(False)

    def has_maps(self) -> bool:
        return self._weights is not None

    def _set_body_visible(self, visible: bool) -> None:
        self._body.setVisible(visible)
        for widget in (self.layer_combo, self.head_combo, self.fixed_check):
            widget.setEnabled(visible)
        if not visible:
            self.tokens_label.setText("")

    # choosing -------------------------------------------------------------------------------
    def current_layer(self) -> int:
        data = self.layer_combo.currentData()
        return int(data) if data is not None else 0

    def current_head(self) -> int:
        data = self.head_combo.currentData()
        return int(data) if data is not None else AVERAGE

    def select(self, layer: int, head: int) -> None:
        """Open ``layer`` / ``head`` (AVERAGE for the average of the layer's heads)."""
        self.layer_combo.blockSignals(True)
        self.layer_combo.setCurrentIndex(max(0, self.layer_combo.findData(layer)))
        self.layer_combo.blockSignals(False)
        self.head_combo.setCurrentIndex(max(0, self.head_combo.findData(head)))
        self._render()

    def displayed_matrix(self) -> np.ndarray:
        return self.heatmap.matrix()

    def _on_scale_toggled(self, fixed: bool) -> None:
        if self._weights is not None:
            self.grid.set_weights(self._weights, self._mask, fixed)
            self._render()

    def _render(self) -> None:
        if self._weights is None:
            return
        layer, head = self.current_layer(), self.current_head()
        matrix = head_matrix(self._weights, layer, head)
        which = "average of heads" if head == AVERAGE else f"head {head + 1}"
        self.heatmap.set_matrix(matrix, self._keys, self._queries,
                                levels=_levels(matrix, self._mask, self.fixed_check.isChecked()),
                                mask=self._mask, title=f"Layer {layer + 1} · {which}",
                                x_title="key (attended to)", y_title="query (attending)")
        self.grid.select(layer, head)

    def _hover_detail(self, row: int, col: int) -> str:
        weight = float(self.heatmap.value_at(row, col))
        share = "" if not math.isfinite(weight) else f"{weight:.1%} of its attention"
        return f"query #{row + 1} → key #{col + 1}" + (f", {share}" if share else "")
