"""TopKBars, ClassReportTable, ImageGallery, ImageView, LogView and SampleTextView."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtGui import QColor, QFontInfo

from playground.core.events import ClassReport, ImageSamples
from playground.ui.widgets import (
    ClassReportTable,
    ImageGallery,
    ImageView,
    LogView,
    SampleTextView,
    TopKBars,
    numpy_to_qimage,
)
from playground.ui.widgets.bars import TOP_COLOUR


def test_widgets_do_not_import_torch():
    code = ("import sys, playground.ui.widgets; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_refcount_guard_survives_many_qt_calls():
    """PySide6 6.12 on Python 3.11 drops a reference to None per void call (see qtfix);
    100 000 calls would abort the interpreter without the guard the package installs."""
    code = ("import playground.ui.widgets\n"
            "from PySide6.QtCore import QObject, Signal\n"
            "class S(QObject):\n    sig = Signal()\n"
            "s = S()\n"
            "for _ in range(100_000):\n    s.setObjectName('x')\n    s.sig.emit()\n"
            "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def test_top_k_bars_sorted_with_values(qtbot):
    bars = TopKBars()
    qtbot.addWidget(bars)
    bars.resize(300, 160)
    bars.show()
    bars.set_predictions([("dog", 0.2), ("cat", 0.75), ("fox", 0.0004), ("owl", 1.2)])
    assert [label for label, _ in bars.items()] == ["owl", "cat", "dog", "fox"]
    assert bars.value_texts() == ["100.0%", "75.0%", "20.0%", "<0.1%"]
    image = bars.grab().toImage()
    row_h = bars.height() // 4 if bars._row_height() * 4 > bars.height() else None
    assert row_h is None or row_h > 0
    # the top bar is drawn in the accent colour, along most of the track
    top_y = 4 + min(bars._row_height() + 6, (bars.height() - 8) // 4) // 2
    accent = [x for x in range(image.width()) if image.pixelColor(x, top_y) == TOP_COLOUR]
    assert len(accent) > image.width() * 0.3
    bars.clear()
    assert bars.items() == []


def test_class_report_rows_and_weak_f1(qtbot):
    table = ClassReportTable()
    qtbot.addWidget(table)
    report = ClassReport(("cat", "dog", "fox"), (0.9, 0.95, 0.6), (0.92, 0.9, 0.5),
                         (0.91, 0.924, 0.545), (100, 120, 30), 0.86, epoch=4)
    table.set_report(report)
    assert table.rowCount() == 5
    assert [table.horizontalHeaderItem(c).text() for c in range(5)] == [
        "Class", "Precision", "Recall", "F1", "Support"]
    assert [table.cell_text(0, c) for c in range(5)] == ["cat", "0.900", "0.920", "0.910", "100"]
    assert [table.cell_text(3, c) for c in range(5)] == [
        "macro avg", "0.817", "0.773", "0.793", "250"]
    assert [table.cell_text(4, c) for c in range(5)] == ["accuracy", "", "", "0.860", "250"]
    assert table.weak_classes() == ["fox"]
    assert table.item(2, 3).background().color() != table.item(0, 3).background().color()
    assert table.item(2, 3).toolTip().startswith("F1 0.545")


def test_gallery_from_image_samples(qtbot):
    gallery = ImageGallery(thumb_size=48, show_title=True)
    qtbot.addWidget(gallery)
    gallery.show()
    images = tuple(np.full((28, 20 + i, 3), 40 * i, dtype=np.uint8) for i in range(5))
    gallery.set_samples(ImageSamples("Misclassified", images,
                                     tuple(f"true {i}" for i in range(5))))
    assert gallery.count() == 5
    assert gallery.captions() == [f"true {i}" for i in range(5)]
    assert gallery.title() == "Misclassified"
    icon = gallery.list_widget().item(4).icon().pixmap(48, 48).toImage()
    assert icon.width() == 48 and icon.pixelColor(24, 24) == QColor(160, 160, 160)
    gallery.set_images([np.zeros((8, 8), dtype=np.uint8)], [])
    assert gallery.count() == 1 and gallery.captions() == [""]
    gallery.clear()
    assert gallery.count() == 0


def test_numpy_to_qimage_copies_and_converts():
    arr = np.zeros((4, 6, 3), dtype=np.uint8)
    arr[1, 2] = (255, 0, 10)
    image = numpy_to_qimage(arr)
    del arr
    assert (image.width(), image.height()) == (6, 4)
    assert image.pixelColor(2, 1) == QColor(255, 0, 10)
    grey = numpy_to_qimage(np.full((2, 2), 0.5))
    assert grey.pixelColor(0, 0).red() == 128
    with pytest.raises(ValueError, match="shape"):
        numpy_to_qimage(np.zeros((2, 2, 5)))


def test_image_view_overlay(qtbot):
    view = ImageView()
    qtbot.addWidget(view)
    view.resize(200, 100)
    view.show()
    assert view.rendered() is None
    view.set_image(np.full((10, 20, 3), 200, dtype=np.uint8))
    assert view.rendered().pixelColor(5, 5) == QColor(200, 200, 200)
    heat = np.zeros((5, 10))
    heat[:, 5:] = 1.0
    view.set_overlay(heat)
    assert not view.overlay_visible()
    view.show_overlay(True)
    assert view.overlay_visible()
    shown = view.rendered()
    right = shown.pixelColor(18, 5)
    left = shown.pixelColor(1, 5)
    assert right.red() > right.blue() and left.blue() > left.red()  # hot right, cold left
    screen = view.grab().toImage()
    assert screen.pixelColor(190, 50).red() > screen.pixelColor(190, 50).blue()
    view.show_overlay(False)
    assert view.rendered().pixelColor(18, 5) == QColor(200, 200, 200)
    blended = np.zeros((10, 20, 3), dtype=np.uint8)
    blended[..., 0] = 255
    view.set_overlay(blended, opacity=1.0)  # a pre-blended image replaces the picture
    view.show_overlay(True)
    assert view.rendered().pixelColor(3, 3) == QColor(255, 0, 0)


def test_log_view_caps_lines_and_marks_levels(qtbot):
    log = LogView(max_lines=3, timestamps=False)
    qtbot.addWidget(log)
    for i in range(5):
        log.append_line(f"line {i}")
    log.append_line("disk full", "error")
    assert log.lines() == ["line 3", "line 4", "error: disk full"]
    assert log.isReadOnly()
    assert "#b00020" in log.document().toHtml()


def test_sample_text_view_streams_without_newlines(qtbot):
    view = SampleTextView(max_chars=30)
    qtbot.addWidget(view)
    view.append_text("To be")
    view.append_text(", or not")
    assert view.text() == "To be, or not"
    view.append_sample("that is", header="step 5")
    assert view.text().endswith("\n\n── step 5 ──\nthat is")
    assert len(view.text()) <= 30
    assert QFontInfo(view.font()).fixedPitch()


def test_fill_combo_keeps_the_choice_and_says_when_empty(qtbot):
    from PySide6.QtWidgets import QComboBox

    from playground.ui.widgets.combo import fill_combo

    combo = QComboBox()
    qtbot.addWidget(combo)
    changes = []
    combo.currentIndexChanged.connect(changes.append)
    fill_combo(combo, [("run a", "/a"), ("run b", "/b")])
    assert combo.currentData() == "/a"
    combo.setCurrentIndex(1)
    changes.clear()
    fill_combo(combo, [("run c", "/c"), ("run a", "/a"), ("run b", "/b")])
    assert combo.currentData() == "/b" and changes == []  # kept, quietly
    fill_combo(combo, [("run c", "/c")], select="/c")
    assert combo.currentText() == "run c"
    fill_combo(combo, [], empty="No runs yet")
    assert combo.count() == 1 and combo.currentData() is None
    assert combo.currentText() == "No runs yet"
