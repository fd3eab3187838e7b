"""Model menus follow the registries: an entry registered while the app runs appears in every
tab's model combo (and its info pane), greys out the options it does not read, and goes away
again when it is removed. A closed tab stops listening."""

from __future__ import annotations

import gc

import pytest

from playground.core.registry import ModelEntry, ModelSpec
from playground.ui.appctx import AppContext


def _tiny(spec: ModelSpec):
    from torch import nn

    return nn.Sequential(nn.Flatten(), nn.Linear(3 * spec.input_size ** 2, spec.num_outputs))


def _items(form, name="model"):
    return form.choices(name)


@pytest.fixture
def appctx():
    return AppContext()


def test_image_tab_menu_and_info_follow_the_registry(qtbot, appctx):
    import torch  # noqa: F401 - the info job builds the model

    from playground.ui.tabs.image_tab import ImageTab
    from playground.vision.models import REGISTRY

    tab = ImageTab(appctx)
    qtbot.addWidget(tab)
    form = tab.view.form
    assert _items(form) == REGISTRY.names()
    appctx.torch_loaded = True  # no torch_ready: the demo data is not read
    REGISTRY.register(ModelEntry("graph_1", "My graph (builder)", _tiny, family="Builder"))
    try:
        assert _items(form)[-1] == "graph_1"
        combo = form.widget_for("model")
        with qtbot.waitSignal(tab.info_runner.finished, timeout=30000):
            combo.setCurrentIndex(combo.findData("graph_1"))
        qtbot.waitUntil(lambda: "My graph (builder)" in tab.view.model_info.text(),
                        timeout=30000)
        assert form.value().model == "graph_1"
    finally:
        REGISTRY.unregister("graph_1")
    assert "graph_1" not in _items(form)
    assert form.value().model == "small_cnn"  # the removed choice falls back to the first
    qtbot.waitUntil(lambda: not tab.info_runner.is_busy(), timeout=30000)
    tab.shutdown()


def test_text_tab_menu_and_options_follow_the_registry(qtbot, appctx):
    from playground.text.models import TEXT_MODELS
    from playground.ui.tabs.text_tab import TextTab

    tab = TextTab(appctx)
    qtbot.addWidget(tab)
    form = tab.generate.view.form
    assert _items(form) == ["gpt", "lstm"]
    assert form.widget_for("n_layer").isEnabled()
    assert not form.widget_for("lstm_hidden").isEnabled()
    TEXT_MODELS.register(ModelEntry("bigram", "Bigram", lambda spec: None,
                                    extra={"uses": ("n_embd",)}))
    try:
        assert _items(form) == ["gpt", "lstm", "bigram"]
        combo = form.widget_for("model")
        combo.setCurrentIndex(combo.findData("bigram"))
        assert form.widget_for("n_embd").isEnabled()
        assert not form.widget_for("n_layer").isEnabled()
        assert not form.widget_for("lstm_hidden").isEnabled()
        combo.setCurrentIndex(combo.findData("lstm"))
        assert form.widget_for("lstm_hidden").isEnabled()
        assert not form.widget_for("n_head").isEnabled()
    finally:
        TEXT_MODELS.unregister("bigram")
    assert _items(form) == ["gpt", "lstm"]
    # the tab reads its built-in corpus once the event loop runs: let it, so no job outlives it
    qtbot.waitUntil(lambda: tab.generate.tokenizer is not None, timeout=60000)
    tab.shutdown()


def test_speech_tab_menus_follow_the_registry(qtbot, appctx):
    from playground.speech.models import REGISTRY
    from playground.ui.tabs.speech_tab import SpeechTab
    from tests.ui.fake_audio import FakeBackend

    tab = SpeechTab(appctx, audio_backend=FakeBackend())
    qtbot.addWidget(tab)
    kw, ctc = tab.view.keyword_form, tab.view.ctc_form
    assert _items(kw) == ["kw_cnn", "kw_gru"] and _items(ctc) == ["ctc_rnn", "ctc_conformer"]
    assert not kw.widget_for("rnn_cell").isEnabled()  # kw_cnn has no RNN cell
    REGISTRY.register(ModelEntry("ctc_graph", "CTC graph", lambda spec: None,
                                 extra={"task": "ctc", "features": "logmel"}))
    try:
        assert _items(ctc)[-1] == "ctc_graph" and "ctc_graph" not in _items(kw)
    finally:
        REGISTRY.unregister("ctc_graph")
    assert "ctc_graph" not in _items(ctc)
    tab.shutdown()


def test_a_destroyed_tab_stops_listening(qtbot):
    from playground.core.registry import Registry
    from playground.ui.registry_watch import RegistryWatcher

    reg = Registry("demo")
    watcher = RegistryWatcher(reg)
    seen = []
    watcher.changed.connect(seen.append)
    reg.register(ModelEntry("a", "A", _tiny))
    assert seen == ["demo"] and len(reg._listeners) == 1
    watcher.deleteLater()
    qtbot.wait(10)
    del watcher
    gc.collect()
    reg.register(ModelEntry("b", "B", _tiny))
    assert seen == ["demo"] and reg._listeners == []
