"""The Text tab's Translate mode end to end, through its widgets: the built-in pairs previewed
→ a tiny Transformer trained live (curves, BLEU / chrF with sacreBLEU's signature, validation
sentences beside their references) → translation as you type (debounced, at most one request
queued, the newest replacing it) → n-best list → cross-attention heatmap (target × source
tokens, rows summing to 1) and the two self-attention maps. Also: a bad pairs file shows a
sentence in the status bar and leaves the mode usable, and Resume / Start from run of a
translate run on the Runs tab hand over to the Translate mode."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtTest import QTest

from playground.core import events as ev
from tests.ui.qt_helpers import drop_files, open_tab, set_fields

TINY = dict(n_layer=1, n_head=2, n_embd=32, ff_dim=64, epochs=2, batch_size=256,
            learning_rate=5e-3, val_sentences=40, samples=3, max_len=48)


@pytest.fixture
def tab(qtbot, one_thread):
    from playground.ui.tabs.text_tab import TextTab

    widget = open_tab(qtbot, TextTab)
    appctx = widget.appctx
    appctx.torch_loaded = True
    appctx.torch_ready.emit()  # the Translate mode is built once torch is there
    mode = widget.translate
    assert mode is not None
    widget.modes.setCurrentWidget(widget.translate_page)
    qtbot.waitUntil(lambda: mode.data.preview is not None, timeout=30000)
    yield widget
    widget.shutdown()


def _train(mode, qtbot, notices=()):
    v = mode.view
    set_fields(v.form, **TINY, tokenizer="bpe:300")
    with qtbot.waitSignal(mode.train_runner.finished, timeout=120000) as blocker:
        v.train_button.click()
        assert mode.train_runner.is_busy(), list(notices)
        assert not v.train_button.isEnabled() and v.stop_button.isEnabled()
    end = blocker.args[0]
    assert isinstance(end, ev.Finished) and not end.stopped, getattr(end, "details", end)
    return end


def _set_beam(page, beam: int, nbest: int) -> None:
    page.beam_spin.setValue(beam)
    page.nbest_spin.setValue(nbest)


def _wait_result(mode, qtbot, text):
    qtbot.waitUntil(lambda: not mode.translate_runner.is_busy() and not mode.panel.timer.isActive()
                    and mode.panel.queued is None and mode.panel.result is not None
                    and mode.panel.result["source"] == text, timeout=30000)


def test_train_on_the_demo_then_translate_as_you_type(tab, qtbot):
    mode = tab.translate
    v, page = mode.view, mode.view.panel
    assert tab.modes.count() == 2 and "Translate" in tab.modes.tabText(1)
    # the preview: counts, split, histograms, random pairs
    assert "10,000 pairs" in v.data_title.text() and "training" in v.data_title.text()
    assert sum(v.histogram.counts["source"]) == sum(v.histogram.counts["target"]) == 10_000
    assert v.examples_table.rowCount() == 8 and v.examples_table.item(0, 1).text()
    # before any run, typing says what to do
    page.input_edit.setPlainText("twelve")
    qtbot.waitUntil(lambda: "No trained translate run" in page.status.text(), timeout=5000)

    end = _train(mode, qtbot, tab.notices)
    r = end.result
    assert v.pages.currentIndex() == 1  # the Training page
    bleu, chrf = v.curves.series("bleu", "val", "epoch"), v.curves.series("chrf", "val", "epoch")
    assert list(bleu[0]) == [1, 2] and list(chrf[0]) == [1, 2]
    assert len(v.curves.series("loss", "val", "epoch")[0]) == 2
    assert len(v.curves.series("loss", "train", "step")[0]) >= 2
    assert len(v.curves.series("lr", "train", "step")[0]) >= 2
    assert "tokens_per_s" in v.curves.metric_names()
    assert f"BLEU {r['val_bleu']:.2f}" in v.scores_label.text()
    assert f"chrF {r['val_chrf']:.2f}" in v.scores_label.text()
    assert r["bleu_signature"] in v.signature_label.text()
    assert r["chrf_signature"] in v.signature_label.text()
    assert v.samples_table.rowCount() == 3 and "epoch 2" in v.samples_title.text()
    assert [v.samples_table.item(i, 2).text() for i in range(3)] == [
        s["hypothesis"] for s in r["samples"]]
    assert any(level == "info" and "best validation BLEU" in msg for level, msg in tab.notices)
    assert page.run_combo.currentData() == mode.current_run == r["run_dir"]

    # translate as you type: one debounced request for many keystrokes
    page.input_edit.clear()
    v.pages.setCurrentIndex(2)
    _set_beam(page, beam=3, nbest=3)
    before = len(mode.panel.started)
    QTest.keyClicks(page.input_edit, "three hundred and twelve")
    assert mode.panel.timer.isActive() and len(mode.panel.started) == before
    _wait_result(mode, qtbot, "three hundred and twelve")
    assert len(mode.panel.started) == before + 1
    result = mode.panel.result
    from playground.text.translate_predict import Translator

    expected = Translator.from_run(r["run_dir"]).translate("three hundred and twelve", 3, 3)
    assert page.output.text() == expected.text == result["text"]
    assert page.nbest_table.rowCount() == 3
    texts = [page.nbest_table.item(i, 1).text() for i in range(3)]
    scores = [float(page.nbest_table.item(i, 2).text()) for i in range(3)]
    assert texts == [h[0] for h in expected.hypotheses] and texts[0] == expected.text
    assert scores == sorted(scores, reverse=True)

    # the cross-attention heatmap: target tokens × source tokens, rows sum to 1
    panel = page.attention
    assert panel.has_maps() and page.kind_combo.currentData() == "cross"
    heat = panel.heatmap
    src, tgt = result["source_tokens"], result["target_tokens"]
    assert src[-1] == tgt[-1] == "</s>"
    assert heat.shape() == (len(tgt), len(src))
    assert heat.x_axis.labels == src and heat.y_axis.labels == tgt
    assert np.allclose(panel.displayed_matrix().sum(axis=1), 1.0, atol=1e-4)
    assert panel.layer_combo.count() == 1 and panel.head_combo.count() == 3  # avg + 2 heads
    panel.head_combo.setCurrentIndex(2)
    assert np.allclose(panel.displayed_matrix().sum(axis=1), 1.0, atol=1e-4)
    assert "source token" in heat.plot_item().getAxis("bottom").labelText
    text = heat.hover_text(0, 1)
    assert text.startswith(f"({tgt[0]}, {src[1]}): ") and "target #1 → source #2" in text
    assert not any(heat.is_masked(i, j) for i in range(len(tgt)) for j in range(len(src)))
    # encoder and decoder self-attention
    page.kind_combo.setCurrentIndex(page.kind_combo.findData("encoder"))
    assert heat.shape() == (len(src), len(src)) and heat.x_axis.labels == src
    page.kind_combo.setCurrentIndex(page.kind_combo.findData("decoder"))
    assert heat.shape() == (len(tgt), len(tgt)) and heat.y_axis.labels == tgt
    assert heat.is_masked(0, 1) and not heat.is_masked(1, 0)
    page.kind_combo.setCurrentIndex(page.kind_combo.findData("cross"))

    # while a request runs, the newest one replaces the queued one (never more than one)
    started = len(mode.panel.started)
    for text in ("one", "two", "forty-two"):
        page.input_edit.setPlainText(text)
        mode.panel.translate_now()  # as the debounce timer would, without waiting for it
        assert mode.panel.queued is None or mode.panel.queued[1] == text
    assert mode.translate_runner.is_busy() and mode.panel.queued[1] == "forty-two"
    _wait_result(mode, qtbot, "forty-two")
    assert mode.panel.started[started:] == ["one", "forty-two"]  # "two" was replaced
    assert page.output.text() == Translator.from_run(r["run_dir"]).translate(
        "forty-two", 3, 3).text

    # n-best can never exceed the beam width
    page.beam_spin.setValue(2)
    assert page.nbest_spin.maximum() == 2 and page.nbest_spin.value() == 2
    _wait_result(mode, qtbot, "forty-two")
    assert page.nbest_table.rowCount() == 2


def test_a_bad_pairs_file_is_named_in_the_status_bar(tab, qtbot, tmp_path):
    mode = tab.translate
    v = mode.view
    bad = tmp_path / "notes.tsv"
    bad.write_text("".join(f"sentence {i} without a tab\n" for i in range(20)), encoding="utf-8")
    tab.notices.clear()
    with qtbot.waitSignal(mode.preview_runner.finished, timeout=30000):
        drop_files(v.pairs_drop, bad)
    assert mode.data.spec == str(bad) and "notes.tsv" in v.source_combo.currentText()
    errors = [msg for level, msg in tab.notices if level == "error"]
    assert errors and "notes.tsv" in errors[0] and "tab" in errors[0]
    assert "not usable pairs" in v.pairs_summary.text() and mode.data.preview is None

    tab.notices.clear()  # Train fails with the same sentence; the mode returns to idle
    set_fields(v.form, **TINY, tokenizer="bpe:300")
    with qtbot.waitSignal(mode.train_runner.finished, timeout=30000) as blocker:
        v.train_button.click()
    assert isinstance(blocker.args[0], ev.Failed)
    assert any(level == "error" and "not usable pairs" in msg for level, msg in tab.notices)
    assert v.train_button.isEnabled() and not v.stop_button.isEnabled()

    picture = tmp_path / "photo.png"  # not a pairs file at all: refused at the drop
    picture.write_bytes(b"\x89PNG\r\n\x1a\n")
    tab.notices.clear()
    drop_files(v.pairs_drop, picture)
    assert any(level == "warning" and "photo.png" in msg for level, msg in tab.notices)
    assert mode.data.spec == str(bad)

    latin = tmp_path / "latin1.tsv"  # not UTF-8: the line is named
    latin.write_bytes("un\tone\ncaf\xe9\tcoffee\n".encode("latin-1"))
    tab.notices.clear()
    with qtbot.waitSignal(mode.preview_runner.finished, timeout=30000):
        drop_files(v.pairs_drop, latin)
    assert any(level == "error" and "not UTF-8" in msg and "line 2" in msg
               for level, msg in tab.notices)

    empty = tmp_path / "empty.tsv"  # the message's "source<TAB>target" is shown, not eaten
    empty.write_text("\n\n", encoding="utf-8")
    with qtbot.waitSignal(mode.preview_runner.finished, timeout=30000):
        drop_files(v.pairs_drop, empty)
    assert "source&lt;TAB&gt;target" in v.pairs_summary.text()

    with qtbot.waitSignal(mode.preview_runner.finished, timeout=30000):
        mode.data.use_demo()  # still usable: the demo reads again
    assert mode.data.preview is not None and "10,000 pairs" in v.data_title.text()
    assert v.data_title.styleSheet() == ""


def _window(qtbot):
    from playground.ui.app import create_window

    _, window = create_window()
    qtbot.addWidget(window)
    window.show()
    return window


def test_runs_tab_resume_and_start_from_hand_over_to_the_translate_mode(qtbot, one_thread):
    from playground.core.jobs import run_job
    from playground.core.runs import Run
    from playground.text.translate_train import TranslateConfig, make_train_job
    from tests.stopping import StopAtStep

    cfg = TranslateConfig(**TINY, tokenizer="bpe:300")
    terminal = run_job(make_train_job(cfg, "demo:numbers-en-fr", name="halfway"), StopAtStep(4))
    assert isinstance(terminal, ev.Finished) and terminal.stopped, terminal
    run = Run(Path(terminal.result["run_dir"]))
    assert run.status == "stopped"
    steps_before = max(r["step"] for r in run.metrics())

    window = _window(qtbot)
    try:
        window.appctx.torch_loaded = True
        window.appctx.torch_ready.emit()
        text_tab = window.task_tab("translate")
        assert text_tab is window.tab_widgets["Text"]
        mode = text_tab.translate
        runs_tab = window.tab_widgets["Runs"]
        window.tabs.setCurrentWidget(runs_tab)
        runs_tab.select_runs([run])
        with qtbot.waitSignal(mode.train_runner.finished, timeout=120_000) as done:
            runs_tab.view.resume_button.click()
            assert window.tabs.currentWidget() is text_tab
            assert text_tab.modes.currentWidget() is text_tab.translate_page
            assert mode.train_runner.is_busy()
        end = done.args[0]
        assert isinstance(end, ev.Finished) and not end.stopped, end
        assert not runs_tab.resume_runner.is_busy()  # the Translate mode did it
        assert run.status == "finished" and mode.current_run == str(run.path)
        assert max(r["step"] for r in run.metrics()) > steps_before
        assert mode.view.curves.series("loss", "train", "step")[0][0] < steps_before
        assert json.loads((run.path / "run.json").read_text())["result"]["epochs_done"] == 2
        assert mode.view.panel.run_combo.currentData() == str(run.path)  # ready to translate

        # Start from this run: the next Train of the Translate mode builds on it
        text_tab.modes.setCurrentWidget(text_tab.generate)
        window.tabs.setCurrentWidget(runs_tab)
        runs_tab.select_runs([run])
        runs_tab.view.start_from_button.click()
        assert window.tabs.currentWidget() is text_tab
        assert text_tab.modes.currentWidget() is text_tab.translate_page
        box = mode.view.runs_box
        assert box.start_from_check.isChecked() and box.run_combo.currentData() == str(run.path)
        assert mode.view.train_button.text() == "Train from run"
    finally:
        window.close()
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=30000)
