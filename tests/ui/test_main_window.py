"""The main window: tabs, menus, device picker, about box, and closing mid-training."""

from __future__ import annotations

import threading
import time

from playground.ui import jobs


def _window(qtbot):
    from playground.ui.app import create_window

    _, window = create_window()
    qtbot.addWidget(window)
    window.show()
    return window


def test_tabs_menus_and_device_picker(qtbot):
    import torch  # noqa: F401 - as the warm-up thread would have
    import torchvision  # noqa: F401

    window = _window(qtbot)
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles[0] == "Image recognition" and "Runs" in titles
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&File", "&View", "&Help"]
    file_actions = [a.text() for a in window.menuBar().actions()[0].menu().actions()]
    assert any("Quit" in t for t in file_actions) and any("image" in t for t in file_actions)
    window.appctx.torch_loaded = True
    window.appctx.torch_ready.emit()
    devices = [window.device_combo.itemData(i) for i in range(window.device_combo.count())]
    assert devices[0] == "auto" and "cpu" in devices
    window.device_combo.setCurrentIndex(devices.index("cpu"))
    assert window.appctx.device == "cpu"
    about = window.about_text()
    assert "torch 2." in about and "Device: cpu" in about
    window.threads_spin.setValue(1)
    assert torch.get_num_threads() == 1
    window.threads_spin.setValue(2)


def test_closing_during_training_cancels_and_joins(qtbot):
    window = _window(qtbot)
    tab = window.tab_widgets["Image recognition"]
    started = threading.Event()
    seen_cancel = threading.Event()

    def long_training(ctx):
        started.set()
        while True:  # a training loop: checks the flag once per batch
            if ctx.cancelled:
                seen_cancel.set()
            ctx.check_cancelled()
            time.sleep(0.01)

    assert tab.train_runner.start(long_training, "cpu")
    assert started.wait(5)
    t0 = time.monotonic()
    window.close()
    assert time.monotonic() - t0 < 2.0
    assert seen_cancel.is_set()
    assert not jobs.active_runners()
    assert not tab.train_runner.is_busy()


def test_geometry_is_remembered(qtbot, isolated_qsettings):
    from playground.ui.main_window import app_settings

    window = _window(qtbot)
    window.tabs.setCurrentIndex(window.tabs.count() - 1)
    window.close()
    saved = app_settings().value("window/geometry")
    assert saved is not None and saved == window.saveGeometry()
    assert app_settings().fileName().startswith(isolated_qsettings)
    again = _window(qtbot)
    assert again.size() == window.size()
    assert again.tabs.currentIndex() == again.tabs.count() - 1
