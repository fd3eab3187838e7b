"""HeatmapView (labels, levels, mask, hover, clicks) and ConfusionMatrixView."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from playground.core.events import ConfusionMatrix
from playground.ui.widgets.heatmap import ConfusionMatrixView, HeatmapView

TOKENS = ["The", " cat", " sat", " down"]


@pytest.fixture
def heatmap(qtbot):
    view = HeatmapView()
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    return view


def _settle(qtbot) -> None:
    qtbot.wait(30)


def test_matrix_labels_levels_and_hover(heatmap, qtbot):
    weights = np.tril(np.full((4, 4), 0.25))
    weights[3, 1] = 0.123456
    causal = np.triu(np.ones((4, 4), dtype=bool), 1)
    heatmap.set_matrix(weights, TOKENS, TOKENS, levels=(0, 1), title="Layer 1, head 0",
                       mask=causal, x_title="key", y_title="query")
    _settle(qtbot)
    assert heatmap.value_at(3, 1) == pytest.approx(0.123456)
    assert heatmap.hover_text(3, 1) == "( down,  cat): 0.123"
    assert heatmap.hover_text(0, 2) == "(The,  sat): masked"
    assert heatmap.levels() == (0.0, 1.0)
    assert heatmap.image_item().levels.tolist() == [0.0, 1.0]
    assert heatmap.x_axis.labels == TOKENS and heatmap.y_axis.labels == TOKENS
    plot = heatmap.plot_item()
    assert plot.getViewBox().yInverted()
    assert "Layer 1, head 0" in plot.titleLabel.text
    assert plot.getAxis("bottom").labelText == "key"
    with pytest.raises(IndexError):
        heatmap.value_at(4, 0)


def test_masked_cells_are_painted_neutral(heatmap, qtbot):
    heatmap.set_matrix(np.ones((2, 2)), mask=np.array([[False, True], [False, False]]),
                       levels=(0, 1))
    _settle(qtbot)
    image = heatmap.grab().toImage()
    vb = heatmap.plot_item().getViewBox()

    def colour_at(row, col):
        scene = vb.mapViewToScene(QPointF(col + 0.5, row + 0.5))
        view_pos = heatmap._glw.mapFromScene(scene)
        pos = heatmap._glw.mapTo(heatmap, view_pos)
        return image.pixelColor(pos)

    masked, normal = colour_at(0, 1), colour_at(0, 0)
    assert abs(masked.red() - masked.green()) < 8 and masked.red() > 190  # light grey
    assert normal.green() > 200 and normal.blue() < 100  # viridis top: yellow


def test_default_labels_levels_and_thinned_ticks(heatmap, qtbot):
    matrix = np.arange(300 * 3, dtype=float).reshape(300, 3)
    heatmap.set_matrix(matrix)
    _settle(qtbot)
    assert heatmap.levels() == (0.0, 899.0)
    assert heatmap.y_axis.labels[:3] == ["0", "1", "2"]
    shown = heatmap.y_axis.shown_indices(0, 300, 340)
    assert 5 <= len(shown) <= 40
    assert shown == sorted(shown) and shown[0] % (shown[1] - shown[0]) == 0
    assert heatmap.x_axis.shown_indices(0, 3, 400) == [0, 1, 2]
    with pytest.raises(ValueError, match="2-D"):
        heatmap.set_matrix(np.zeros(3))


def test_mouse_hover_and_click(heatmap, qtbot):
    heatmap.set_matrix(np.array([[1.0, 2.0], [3.0, 4.0]]), ["a", "b"], ["r0", "r1"],
                       value_format="{:.1f}")
    _settle(qtbot)
    vb = heatmap.plot_item().getViewBox()
    scene_pos = vb.mapViewToScene(QPointF(1.5, 0.5))
    heatmap._glw.scene().sigMouseMoved.emit(scene_pos)
    assert heatmap.hover_label().text() == "(r0, b): 2.0"
    widget_pos = heatmap._glw.mapFromScene(scene_pos)
    with qtbot.waitSignal(heatmap.clicked, timeout=1000) as blocker:
        qtbot.mouseClick(heatmap._glw.viewport(), Qt.MouseButton.LeftButton, pos=widget_pos)
    assert blocker.args == [0, 1]


@pytest.fixture
def confusion(qtbot):
    view = ConfusionMatrixView()
    qtbot.addWidget(view)
    view.resize(500, 450)
    view.show()
    counts = np.array([[8, 2, 0], [1, 9, 0], [0, 5, 5]])
    view.set_confusion(ConfusionMatrix(("cat", "dog", "fox"), counts, epoch=2))
    return view


def test_confusion_counts_and_cell_numbers(confusion):
    assert confusion.summary.text() == "Accuracy 73.3% (22 of 30) · epoch 2"
    np.testing.assert_array_equal(confusion.displayed_matrix(), [[8, 2, 0], [1, 9, 0], [0, 5, 5]])
    assert confusion.heatmap.cell_texts()[0] == ["8", "2", "0"]
    assert confusion.heatmap.x_axis.labels == ["cat", "dog", "fox"]
    plot = confusion.heatmap.plot_item()
    assert plot.getAxis("bottom").labelText == "Predicted"
    assert plot.getAxis("left").labelText == "True"
    assert confusion.heatmap.hover_text(2, 1) == "(fox, dog): 5 — 5 of 10 'fox' samples"


def test_confusion_normalise_toggle(confusion, qtbot):
    qtbot.mouseClick(confusion.normalise_check, Qt.MouseButton.LeftButton)
    assert confusion.is_normalised()
    shown = confusion.displayed_matrix()
    np.testing.assert_allclose(shown, [[0.8, 0.2, 0], [0.1, 0.9, 0], [0, 0.5, 0.5]])
    assert confusion.heatmap.levels() == (0.0, 1.0)
    assert confusion.heatmap.cell_texts()[2] == ["0.00", "0.50", "0.50"]
    assert confusion.heatmap.hover_text(0, 0) == "(cat, cat): 0.80 — 8 of 10 'cat' samples"
    confusion.set_normalised(False)
    np.testing.assert_array_equal(confusion.displayed_matrix()[0], [8, 2, 0])


def test_confusion_many_classes_has_no_cell_numbers(qtbot):
    view = ConfusionMatrixView()
    qtbot.addWidget(view)
    labels = [f"c{i}" for i in range(25)]
    view.set_counts(np.eye(25, dtype=int) * 4, labels)
    assert view.heatmap.cell_texts() is None
    assert view.summary.text() == "Accuracy 100.0% (100 of 100)"
    with pytest.raises(ValueError, match="square"):
        view.set_counts(np.zeros((2, 3)), ["a", "b"])
