"""The Text tab end to end: built-in corpus → tiny GPT trained live (curves, samples) →
streamed generation → attention heatmap (labels, layer/head, causal mask, thumbnails).
Also: the SentencePiece preview, bad corpus files, prompts with unknown characters, an LSTM
run's attention note, and generating before any model exists."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PySide6.QtCore import Qt

from playground.core import events as ev
from tests.ui.qt_helpers import drop_files, open_tab, set_fields


@pytest.fixture
def tab(qtbot):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the machine is shared
    from playground.ui.tabs.text_tab import TextTab

    widget = open_tab(qtbot, TextTab)
    mode = widget.generate
    qtbot.waitUntil(lambda: mode.tokenizer is not None, timeout=30000)
    appctx = widget.appctx
    appctx.torch_loaded = True
    appctx.torch_ready.emit()
    qtbot.waitUntil(lambda: "parameters" in mode.view.model_info.text(), timeout=30000)
    yield widget
    widget.shutdown()
    torch.set_num_threads(threads)


def _plain(label) -> str:
    return re.sub(r"<[^>]+>", "", label.text())


def _train(mode, qtbot, **values):
    v = mode.view
    set_fields(v.form, **values)
    with qtbot.waitSignal(mode.train_runner.finished, timeout=120000) as blocker:
        v.train_button.click()
        assert not v.train_button.isEnabled() and v.stop_button.isEnabled()
    end = blocker.args[0]
    assert isinstance(end, ev.Finished), getattr(end, "details", end)
    return end


TINY_GPT = dict(model="gpt", n_layer=2, n_head=2, n_embd=32, block_size=32, batch_size=8,
                max_iters=30, warmup_iters=3, eval_interval=10, eval_iters=2,
                sample_tokens=30)


def test_train_generate_and_attention(tab, qtbot):
    mode = tab.generate
    v = mode.view
    assert tab.modes.count() == 2 and "Generate" in tab.modes.tabText(0)
    assert "Translate" in tab.modes.tabText(1)
    summary = v.corpus_summary.text()
    for word in ("465,", "characters", "lines", "words"):
        assert word in summary
    assert v.excerpt.text() == mode.corpus.text[:len(v.excerpt.text())] and v.excerpt.text()
    info = _plain(v.model_info)
    assert "parameters" in info and "tokens per step" in info

    set_fields(v.form, **TINY_GPT)
    qtbot.waitUntil(lambda: "256 tokens per step" in _plain(v.model_info), timeout=10000)
    _train(mode, qtbot, **TINY_GPT)
    xs, ys = v.curves.series("loss", "train", "step")
    assert len(xs) >= 1
    val_x, val_y = v.curves.series("loss", "val", "step")
    assert list(val_x) == [0, 10, 20, 30] and val_y[-1] < val_y[0]
    assert len(v.curves.series("perplexity", "val", "step")[0]) == 4
    assert len(v.curves.series("lr", "train", "step")[0]) >= 1
    samples = v.samples.text()
    assert "── step 0 ──" in samples and "── step 30 ──" in samples
    assert mode.current_run and v.run_combo.currentData() == mode.current_run

    # generate: streamed chunks, tokens/s, the prompt kept in front
    chunks: list[ev.TextChunk] = []
    mode.generate_runner.event.connect(
        lambda e: chunks.append(e) if isinstance(e, ev.TextChunk) else None)
    v.prompt_edit.setPlainText("The ")
    set_fields(v.options_form, max_new_tokens=60, seed=3)
    with qtbot.waitSignal(mode.generate_runner.finished, timeout=60000) as blocker:
        v.generate_button.click()
    assert isinstance(blocker.args[0], ev.Finished), blocker.args[0]
    assert chunks and sum(c.tokens for c in chunks) == 60
    out = v.output.text()
    assert out.startswith("The ") and out == "The " + "".join(c.text for c in chunks)
    assert "tokens/s" in v.rate_label.text()

    # the attention heatmap follows the generation
    panel = v.attention
    qtbot.waitUntil(panel.has_maps, timeout=30000)
    heat = panel.heatmap
    rows, cols = heat.shape()
    assert rows == cols == 32  # prompt + output cropped to the block size
    assert len(heat.x_axis.labels) == 32 and len(heat.y_axis.labels) == 32
    from playground.text.tokenizers import display_piece

    assert heat.x_axis.labels == [display_piece(c) for c in out[-32:]] == heat.y_axis.labels
    assert not any(" " in label or "\n" in label for label in heat.x_axis.labels)
    assert panel.layer_combo.count() == 2
    assert [panel.head_combo.itemText(i) for i in range(3)] == ["Average of heads", "Head 1",
                                                                 "Head 2"]
    upper = np.triu(np.ones((rows, cols), dtype=bool), k=1)
    assert all(heat.is_masked(r, c) == upper[r, c] for r in range(rows) for c in range(cols))
    average_l1 = panel.displayed_matrix()
    panel.head_combo.setCurrentIndex(1)
    first_head = panel.displayed_matrix()
    panel.head_combo.setCurrentIndex(2)
    second_head = panel.displayed_matrix()
    assert not np.allclose(first_head, second_head)
    assert np.allclose(average_l1, (first_head + second_head) / 2, atol=1e-6)
    assert np.allclose(second_head.sum(axis=1), 1.0, atol=1e-4)  # each row sums to 1
    panel.layer_combo.setCurrentIndex(1)
    assert not np.allclose(panel.displayed_matrix(), second_head)
    assert "Layer 2" in heat.plot_item().titleLabel.text
    text = heat.hover_text(5, 2)
    assert text.startswith(f"({heat.y_axis.labels[5]}, {heat.x_axis.labels[2]}): 0.")
    assert "query #6 → key #3" in text
    assert heat.hover_text(2, 5).endswith("masked")

    # a thumbnail click opens that layer and head
    grid = panel.grid
    assert grid.shape() == (2, 2)
    view = grid.view()
    pos = view.mapFromScene(grid.cell_center(0, 1))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert (panel.current_layer(), panel.current_head()) == (0, 1)
    assert grid.selected() == (0, 1)
    assert np.allclose(panel.displayed_matrix(), second_head)  # layer 1, head 2

    # a prompt with characters the char tokenizer never saw: a clear message, no job
    v.prompt_edit.setPlainText("price in €")
    assert v.prompt_warning.isVisible() and "'€'" in v.prompt_warning.text()
    tab.notices.clear()
    v.generate_button.click()
    assert not mode.generate_runner.is_busy()
    assert any(level == "error" and "€" in msg for level, msg in tab.notices)


def test_sentencepiece_preview_shows_pieces(tab, qtbot):
    mode = tab.generate
    v = mode.view
    v.tokenizer_combo.setCurrentIndex(v.tokenizer_combo.findData("bpe"))
    v.vocab_spin.setValue(300)
    assert mode.tokenizer is None and "not trained" in v.tokenizer_status.text()
    with qtbot.waitSignal(mode.tokenizer_runner.finished, timeout=30000) as blocker:
        v.build_tokenizer_button.click()
    assert isinstance(blocker.args[0], ev.Finished), blocker.args[0]
    assert mode.tokenizer.spec == "bpe:300"
    assert "bpe:300" in v.tokenizer_status.text()
    v.preview_edit.setText("The function returns the value")
    pieces = mode.tokenizer.pieces("The function returns the value")
    assert any(len(p) > 1 for p in pieces) and len(pieces) < 30
    shown = v.preview_pieces.text()
    assert shown.count("<span style=\"background:") == len(pieces)
    from playground.ui.tabs.text_view import PIECE_COLOURS, UNKNOWN_COLOUR

    assert all(colour in shown for colour in PIECE_COLOURS)  # alternating backgrounds
    assert f"{len(pieces)} tokens" in v.preview_info.text()
    v.preview_edit.setText("café")
    assert UNKNOWN_COLOUR in v.preview_pieces.text() and "'é'" in v.preview_info.text()
    qtbot.waitUntil(lambda: "vocabulary 300" in _plain(v.model_info), timeout=10000)

    v.vocab_spin.setValue(60_000)  # more pieces than the corpus can support
    tab.notices.clear()
    with qtbot.waitSignal(mode.tokenizer_runner.finished, timeout=30000) as blocker:
        v.build_tokenizer_button.click()
    assert isinstance(blocker.args[0], ev.Failed)
    assert any(level == "error" and "too small" in msg for level, msg in tab.notices)


def test_bad_corpus_files_show_errors(tab, qtbot, tmp_path):
    mode = tab.generate
    v = mode.view
    binary = tmp_path / "photo.txt"
    binary.write_bytes(bytes(range(256)) * 8)
    with qtbot.waitSignal(mode.corpus_runner.finished, timeout=30000):
        drop_files(v.corpus_drop, binary)
    assert any(level == "error" and "photo.txt" in msg and "binary" in msg
               for level, msg in tab.notices)
    assert "photo.txt" in v.corpus_summary.text() and mode.corpus is None

    empty = tmp_path / "empty.txt"
    empty.write_text("")
    tab.notices.clear()
    with qtbot.waitSignal(mode.corpus_runner.finished, timeout=30000):
        drop_files(v.corpus_drop, empty)
    assert any(level == "error" and "empty" in msg for level, msg in tab.notices)
    assert v.source_combo.currentData() == "files"

    tab.notices.clear()
    v.train_button.click()  # no corpus: the job fails with the reason, the tab stays usable
    qtbot.waitUntil(lambda: not mode.train_runner.is_busy(), timeout=30000)
    assert any(level == "error" and "empty" in msg for level, msg in tab.notices)
    assert v.train_button.isEnabled()

    latin = tmp_path / "latin1.txt"
    latin.write_bytes("caf\xe9 au lait, cr\xe8me br\xfbl\xe9e. ".encode("latin-1") * 50)
    tab.notices.clear()
    with qtbot.waitSignal(mode.corpus_runner.finished, timeout=30000):
        drop_files(v.corpus_drop, latin)
    assert mode.corpus is not None and v.corpus_warnings.isVisible()
    assert "not valid UTF-8" in v.corpus_warnings.text()
    assert any(level == "warning" and "UTF-8" in msg for level, msg in tab.notices)

    with qtbot.waitSignal(mode.corpus_runner.finished, timeout=30000):
        v.source_combo.setCurrentIndex(v.source_combo.findData("demo:pydoc"))
    assert "465," in v.corpus_summary.text() and not v.corpus_warnings.isVisible()


def test_generate_before_training_and_lstm_note(tab, qtbot):
    mode = tab.generate
    v = mode.view
    assert v.run_combo.currentData() is None
    assert "No trained text runs" in v.run_combo.currentText()
    v.generate_button.click()
    assert any(level == "error" and "No trained text model" in msg
               for level, msg in tab.notices)
    assert not mode.generate_runner.is_busy()

    _train(mode, qtbot, model="lstm", n_embd=16, lstm_hidden=32, lstm_layers=1,
           block_size=16, batch_size=4, max_iters=4, eval_interval=4, eval_iters=1,
           sample_tokens=0, warmup_iters=0)
    assert v.run_combo.currentData() == mode.current_run
    assert "LSTM" in v.run_info.text()
    set_fields(v.options_form, max_new_tokens=10)
    with qtbot.waitSignal(mode.generate_runner.finished, timeout=60000) as blocker:
        v.generate_button.click()
    assert isinstance(blocker.args[0], ev.Finished), blocker.args[0]
    assert len(v.output.text()) > 0
    assert not v.attention.has_maps() and "no attention" in v.attention.note.text()


def test_stop_keeps_the_model_and_stops_generation(tab, qtbot):
    mode = tab.generate
    v = mode.view
    set_fields(v.form, **{**TINY_GPT, "max_iters": 1_000_000, "eval_interval": 5,
                    "sample_tokens": 5})
    v.train_button.click()
    qtbot.waitUntil(lambda: v.run_combo.currentData() is not None, timeout=60000)
    assert v.run_combo.currentData() == mode.current_run  # offered once it can generate
    assert "training…" in v.run_combo.currentText()
    with qtbot.waitSignal(mode.train_runner.finished, timeout=30000) as blocker:
        v.stop_button.click()
        assert v.stop_button.text() == "Stopping…"
    end = blocker.args[0]
    assert isinstance(end, ev.Finished) and end.stopped
    assert "kept" in v.log.lines()[-1]
    assert v.run_combo.currentData() == mode.current_run
    assert "training…" not in v.run_combo.currentText()

    set_fields(v.options_form, max_new_tokens=100_000)
    v.generate_button.click()
    qtbot.waitUntil(lambda: len(v.output.text()) > 20, timeout=60000)
    with qtbot.waitSignal(mode.generate_runner.finished, timeout=30000) as blocker:
        v.gen_stop_button.click()
    assert isinstance(blocker.args[0], ev.Finished) and blocker.args[0].stopped
    assert "(stopped)" in v.rate_label.text() and v.generate_button.isEnabled()
