"""The Image tab end to end: Shapes demo → train an epoch → curves and confusion matrix →
drop an image → top-5 prediction with a Grad-CAM overlay. Bad drops give a clear notice."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from playground.core import events as ev
from tests.ui.qt_helpers import drop_files, open_tab


@pytest.fixture
def tab(qtbot):
    import torch  # noqa: F401 - the tab waits for torch like the app does
    import torchvision  # noqa: F401 - as the app's warm-up thread does

    from playground.ui.tabs.image_tab import ImageTab

    widget = open_tab(qtbot, ImageTab, (1300, 850), show=False)
    appctx = widget.appctx
    with qtbot.waitSignal(widget.data_runner.finished, timeout=60000):
        appctx.torch_loaded = True
        appctx.torch_ready.emit()
    yield widget
    widget.shutdown()


def _set(form, name, value):
    w = form.widget_for(name)
    if hasattr(w, "setValue"):
        w.setValue(value)
    elif hasattr(w, "setChecked"):
        w.setChecked(value)
    else:
        w.setCurrentText(str(value))


def test_train_then_predict_on_shapes(tab, qtbot, tmp_path):
    v = tab.view
    assert v.source_combo.currentData() == "demo:shapes"
    assert v.class_table.rowCount() >= 4
    assert v.thumbnails.count() > 0
    from playground.vision.demo import DEMOS

    recipe = DEMOS["shapes"].recipe
    assert recipe and all(getattr(v.form.value(), k) == val for k, val in recipe.items())
    for name, value in (("epochs", 1), ("image_size", 32), ("batch_size", 64)):
        _set(v.form, name, value)
    assert v.form.value().epochs == 1

    with qtbot.waitSignal(tab.train_runner.finished, timeout=180000) as blocker:
        v.train_button.click()
        assert not v.train_button.isEnabled() and v.stop_button.isEnabled()
    end = blocker.args[0]
    assert isinstance(end, ev.Finished), getattr(end, "details", end)
    xs, ys = v.curves.series("loss", "train", "step")
    assert len(xs) >= 2 and ys[-1] < ys[0]  # the user watched the loss fall
    assert len(v.curves.series("accuracy", "val", "epoch")[0]) == 1
    counts = v.confusion.counts()
    assert counts.shape[0] >= 4 and counts.sum() > 0
    assert v.report.rowCount() >= 4
    assert v.train_button.isEnabled() and not v.stop_button.isEnabled()
    assert tab.current_run and v.run_combo.currentData() == tab.current_run

    from playground.vision.demo import render_shape

    img = render_shape("circle", np.random.default_rng(1), size=64)
    path = tmp_path / "circle.png"
    Image.fromarray(img).save(path)
    v.gradcam_check.setChecked(True)
    with qtbot.waitSignal(tab.predict_runner.finished, timeout=60000) as blocker:
        drop_files(v.predict_drop, path)
    assert isinstance(blocker.args[0], ev.Finished), blocker.args[0]
    preds = v.bars.items()
    assert 1 <= len(preds) <= 5
    assert preds == sorted(preds, key=lambda p: -p[1])
    assert v.files_list.count() == 1 and "circle.png" in v.files_list.item(0).text()
    assert v.image_view.overlay_visible()


def test_bad_drops_and_predict_before_training(tab, qtbot, tmp_path):
    v = tab.view
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    drop_files(v.predict_drop, text)
    assert any(level == "warning" and "notes.txt" in msg for level, msg in tab.notices)

    fake = tmp_path / "fake.jpg"
    fake.write_text("this is text named .jpg")
    drop_files(v.predict_drop, fake)  # no trained run yet: says so, no crash
    assert any(level == "error" and "train" in msg.lower() for level, msg in tab.notices)


def test_empty_folder_shows_clear_message(tab, qtbot, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with qtbot.waitSignal(tab.data_runner.finished, timeout=30000):
        drop_files(tab.view.data_drop, empty)
    assert "empty" in tab.view.data_summary.text().lower() or \
        "no images" in tab.view.data_summary.text().lower()
    assert any(level == "error" for level, _ in tab.notices)
