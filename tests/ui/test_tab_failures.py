"""Failures you can see: a tab whose module fails to import (or whose constructor fails) shows
the error and what to do instead of vanishing, and a failed ``import torch`` is an error in the
status bar, never "ready"."""

from __future__ import annotations

import sys

import pytest
import shiboken6

from playground.ui import jobs, main_window


@pytest.fixture(autouse=True)
def _forget_deleted_runners():
    """A window closed by an earlier test can leave a runner whose Qt object is gone but which
    still counts as busy (a job started after its tab shut down); closing our window would trip
    over it in ``jobs.shutdown_all``. Not this module's subject: forget such runners first."""
    for runner in list(jobs._RUNNERS):
        if not shiboken6.isValid(runner):
            jobs._RUNNERS.discard(runner)


def _window(qtbot):
    from playground.ui.app import create_window

    _, window = create_window()
    qtbot.addWidget(window)
    return window


def _close(window, qtbot):
    """Let the Text tab finish reading its built-in corpus (it starts once the event loop
    runs), then close: no job may outlive the window into the next test."""
    text = window.tab_widgets.get("Text")
    if text is not None and not isinstance(text, main_window.BrokenTab):
        qtbot.waitUntil(lambda: text.generate.tokenizer is not None, timeout=60000)
    own = window.findChildren(jobs.JobRunner)
    qtbot.waitUntil(lambda: not any(r.is_busy() for r in own), timeout=60000)
    window.close()


def test_a_tab_that_fails_to_import_shows_the_error(qtbot, monkeypatch):
    monkeypatch.setitem(sys.modules, "playground.ui.tabs.speech_tab", None)  # import fails
    window = _window(qtbot)
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    # nothing vanished
    assert titles == ["Image recognition", "Text", "Speech", "Builder", "Runs"]
    broken = window.tab_widgets["Speech"]
    assert isinstance(broken, main_window.BrokenTab)
    assert "The Speech tab could not be loaded: ModuleNotFoundError" in broken.message
    assert "The other tabs work" in broken.message and "Restart the app" in broken.message
    assert "Traceback" in broken.details.toPlainText()
    assert window.status.notice_text() == broken.message
    assert window.status.details_button.isVisibleTo(window.status)
    assert not isinstance(window.tab_widgets["Text"], main_window.BrokenTab)
    _close(window, qtbot)


def test_a_tab_that_fails_to_build_says_what_to_install(qtbot, monkeypatch):
    def missing(appctx):  # a constructor importing a package that is not installed
        raise ModuleNotFoundError("No module named 'sentencepiece'", name="sentencepiece")

    runs = main_window.tab_factories()[-1]
    monkeypatch.setattr(main_window, "tab_factories", lambda: [("Text", missing), runs])
    window = _window(qtbot)
    broken = window.tab_widgets["Text"]
    assert isinstance(broken, main_window.BrokenTab)
    assert "Python package 'sentencepiece' is missing" in broken.message
    assert "pip install" in broken.message
    _close(window, qtbot)


def test_a_failed_torch_import_is_an_error_not_ready(qtbot, monkeypatch):
    window = _window(qtbot)
    image_tab = window.tab_widgets["Image recognition"]
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    window.appctx.torch_loaded = True  # what the warm-up thread used to set even on failure
    window.appctx.torch_ready.emit()
    assert window.appctx.torch_loaded is False
    assert window.torch_error is not None
    notice = window.status.notice_text()
    assert notice.startswith("PyTorch could not be loaded (ModuleNotFoundError")
    assert "package 'torch' is missing" in notice
    assert "nothing can be trained" in notice
    assert "#b00020" in window.status.notice_label.styleSheet()  # shown as an error
    assert not image_tab.data_runner.is_busy()  # the tabs did not start torch work
    assert [window.device_combo.itemData(i) for i in range(window.device_combo.count())] == [
        "auto", "cpu"]
    assert "PyTorch could not be loaded" in window.about_text()
    _close(window, qtbot)
