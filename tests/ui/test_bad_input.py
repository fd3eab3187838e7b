"""Bad input through the real main window (issue 9, "The GUI"): every class of bad input a
user can hand the app ends in one clear sentence in the status bar, no dialog storm, and an app
that still works.

Classes covered, each with several inputs (fixtures are a few bytes, made here):

1. a dropped damaged file: images (truncated PNG, text named .jpg, zero bytes) on the Image
   tab's predict area; audio (WAV header over garbage, WAV cut short, a text file named .wav,
   zero bytes, a PNG named .mp3) on the Speech tab; binary, UTF-16 and empty .txt files as the
   Text tab's corpus;
2. a damaged run picked in a run menu: run.json not JSON, labels.json with wrong types, a
   checkpoint of random bytes (Image, Speech, Text tabs and the Runs tab);
3. a hand-edited settings file: window geometry as text, last tab a word or out of range,
   device "cuda:7", CPU threads -5;
4. an absurd value typed in a form: learning rate "nan" / "1e9", batch size 0, a label pattern
   with catastrophic backtracking, a pattern that is no regular expression.

No training: runs are tiny folders written here with RunStore and safetensors of a built model.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMessageBox

from playground.core import events as ev
from tests.ui.qt_helpers import drop_files

# Words that mean the user got a raw exception or a bug report instead of a sentence.
RAW = ("Traceback", "unexpected error", "This is a bug", "Error(", "errno", "object has no")


# -- the window ------------------------------------------------------------------------------
class Window:
    """The real main window with torch loaded, and what the user has been shown."""

    def __init__(self, qtbot, window) -> None:
        self.qtbot = qtbot
        self.w = window
        self.notices: list[tuple[str, str]] = []
        window.appctx.notice.connect(lambda level, msg, details: self.notices.append((level,
                                                                                      msg)))

    @property
    def image(self):
        return self.w.tab_widgets["Image recognition"]

    @property
    def text(self):
        return self.w.tab_widgets["Text"].generate

    @property
    def speech(self):
        return self.w.tab_widgets["Speech"]

    @property
    def runs(self):
        return self.w.tab_widgets["Runs"]

    def show_tab(self, title: str) -> None:
        self.w.tabs.setCurrentWidget(self.w.tab_widgets[title])

    def status(self) -> str:
        return self.w.status.notice_text()

    def expect(self, *words: str, level: str | None = None) -> str:
        """The status bar shows one sentence containing ``words`` (case-insensitive), not a
        raw exception; no dialog is open."""
        text = self.status()
        assert text, "the status bar shows nothing"
        for word in words:
            assert word.lower() in text.lower(), f"{word!r} not in the status bar: {text!r}"
        for raw in RAW:
            assert raw.lower() not in text.lower(), f"raw error text in the status bar: {text!r}"
        assert "\n" not in text.strip(), f"more than a sentence: {text!r}"
        if level is not None:
            assert self.notices and self.notices[-1][0] == level, self.notices[-1:]
        assert_no_dialogs()
        return text

    def wait_idle(self, *runners, timeout: int = 30000) -> None:
        self.qtbot.waitUntil(lambda: not any(r.is_busy() for r in runners), timeout=timeout)


def drop_urls(widget, *urls: str) -> None:
    """Drop ``urls`` (not local files) on ``widget``, as a browser would."""
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl(u) for u in urls])
    pos = QPointF(widget.rect().center())
    QApplication.sendEvent(widget, QDragEnterEvent(
        pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier))
    QApplication.sendEvent(widget, QDropEvent(pos, Qt.DropAction.CopyAction, mime,
                                              Qt.MouseButton.LeftButton,
                                              Qt.KeyboardModifier.NoModifier))


def assert_no_dialogs() -> None:
    assert QApplication.activeModalWidget() is None
    shown = [w for w in QApplication.topLevelWidgets()
             if isinstance(w, QDialog) and w.isVisible()]
    assert not shown, f"dialogs opened: {[w.windowTitle() for w in shown]}"


@pytest.fixture
def no_modal(monkeypatch):
    """A modal dialog would block the test: record any instead (the storm the issue forbids)."""
    opened: list[str] = []

    def refuse(name, result):
        def fake(*args, **kwargs):
            opened.append(name)
            return result
        return fake

    for name in ("critical", "warning", "information", "question", "about"):
        monkeypatch.setattr(QMessageBox, name,
                            staticmethod(refuse(f"QMessageBox.{name}",
                                                QMessageBox.StandardButton.No)))
    monkeypatch.setattr(QMessageBox, "exec", refuse("QMessageBox.exec", 0))
    monkeypatch.setattr(QDialog, "exec", refuse("QDialog.exec", 0))
    for name, result in (("getOpenFileName", ("", "")), ("getOpenFileNames", ([], "")),
                         ("getExistingDirectory", ""), ("getSaveFileName", ("", ""))):
        monkeypatch.setattr(QFileDialog, name, staticmethod(refuse(f"QFileDialog.{name}",
                                                                   result)))
    yield opened
    assert opened == [], f"modal dialogs were opened: {opened}"


def _open(qtbot, monkeypatch, *, torch_ready: bool = True) -> Window:
    import torch  # noqa: F401 - as the app's warm-up thread does before torch_ready
    import torchvision  # noqa: F401

    from playground.speech import synth
    from playground.ui.app import create_window

    monkeypatch.setattr(synth, "espeak_path", lambda: None)  # the shipped clips, as on CI
    _, window = create_window()
    qtbot.addWidget(window)
    win = Window(qtbot, window)
    window.resize(1300, 850)
    window.show()
    if not torch_ready:
        return win
    image = window.tab_widgets["Image recognition"]
    with qtbot.waitSignal(image.data_runner.finished, timeout=60000):
        window.appctx.torch_loaded = True
        window.appctx.torch_ready.emit()
    return win


@pytest.fixture
def app(qtbot, monkeypatch, no_modal):
    win = _open(qtbot, monkeypatch)
    yield win
    win.w.shutdown()


def assert_usable(win: Window) -> None:
    """Nothing is stuck: Train buttons are enabled on every task tab and no dialog is open."""
    assert win.image.view.train_button.isEnabled()
    assert win.text.view.train_button.isEnabled()
    assert win.speech.view.train_button.isEnabled()
    assert_no_dialogs()


# -- tiny runs written by hand ---------------------------------------------------------------
def _finish(run, labels) -> None:
    if labels is not None:
        run.save_labels(labels)
    run.set_status("finished", result={"best_val_accuracy": 0.5})


def image_run(name: str = "tiny"):
    from playground.core import schema
    from playground.core.checkpoint import save_weights
    from playground.core.runs import RunStore
    from playground.vision.config import ImageTrainConfig
    from playground.vision.models import build_model

    cfg = ImageTrainConfig(image_size=16, augment_flip=False)
    run = RunStore().create("image", name, model=cfg.model, config=schema.to_dict(cfg))
    model = build_model(cfg.model, 2, pretrained=False, transfer="fine_tune",
                        dropout=cfg.dropout, image_size=cfg.image_size, load_pretrained=False)
    save_weights(model, run.best_checkpoint)
    _finish(run, ["circle", "square"])
    return run


def keyword_run(name: str = "kw"):
    from playground.core import schema
    from playground.core.checkpoint import save_weights
    from playground.core.runs import RunStore
    from playground.speech.models import build_keyword_model
    from playground.speech.train import KeywordTrainConfig

    cfg = KeywordTrainConfig(width=8, layers=1)
    run = RunStore().create("speech", name, model=cfg.model, config=schema.to_dict(cfg),
                            extra={"speech_task": "keywords"})
    save_weights(build_keyword_model(cfg, 2), run.best_checkpoint)
    _finish(run, ["yes", "no"])
    return run


def text_run(name: str = "gpt"):
    from playground.core import schema
    from playground.core.checkpoint import save_weights
    from playground.core.runs import RunStore
    from playground.text.models import build_model
    from playground.text.tokenizers import CharTokenizer
    from playground.text.train import TextTrainConfig

    cfg = TextTrainConfig(n_layer=1, n_head=2, n_embd=16, block_size=16)
    run = RunStore().create("text", name, model=cfg.model, config=schema.to_dict(cfg))
    tok = CharTokenizer("abc ")
    tok.save(run.path)
    save_weights(build_model(cfg, tok.vocab_size), run.best_checkpoint)
    run.set_status("finished", result={"best_val_loss": 1.0, "best_step": 1})
    return run


def png(path: Path, colour=(255, 0, 0)) -> Path:
    Image.new("RGB", (12, 12), colour).save(path)
    return path


def wav(path: Path, seconds: float = 0.5, rate: int = 16000) -> Path:
    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)
    return path


def wav_header(data_bytes: int, payload: bytes) -> bytes:
    """A RIFF/WAVE header (16 kHz mono 16-bit) claiming ``data_bytes``, then ``payload``."""
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE" + b"fmt "
            + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", data_bytes) + payload)


# == 1. dropped damaged files ================================================================
def test_damaged_images_dropped_on_the_predict_area(app, qtbot, tmp_path):
    run = image_run()
    v = app.image.view
    v.refresh_runs_button.click()
    assert v.run_combo.currentData() == str(run.path)
    app.show_tab("Image recognition")

    good = png(tmp_path / "good.png")
    noisy = tmp_path / "noisy.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), np.uint8)).save(noisy)
    half = tmp_path / "half.png"  # cut in the middle of its pixel data
    half.write_bytes(noisy.read_bytes()[: noisy.stat().st_size // 2])
    truncated = tmp_path / "truncated.png"  # cut inside its header
    truncated.write_bytes(good.read_bytes()[:40])
    text_jpg = tmp_path / "letter.jpg"
    text_jpg.write_text("Dear Sir, this is not a picture.")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    for bad, words in ((half, ("half.png", "truncated")),
                       (truncated, ("truncated.png", "could not be classified")),
                       (text_jpg, ("letter.jpg", "could not be classified")),
                       (empty, ("empty.png", "could not be classified"))):
        with qtbot.waitSignal(app.image.predict_runner.finished, timeout=30000) as blocker:
            drop_files(v.predict_drop, bad)
        assert isinstance(blocker.args[0], ev.Finished), blocker.args[0]
        app.expect(*words, level="warning")
        assert v.files_list.count() == 1 and bad.name in v.files_list.item(0).text()

    # all three with a good one: the good one is classified, the bad ones named
    with qtbot.waitSignal(app.image.predict_runner.finished, timeout=30000):
        drop_files(v.predict_drop, truncated, good, text_jpg, empty)
    app.expect("3 of 4", "truncated.png", "letter.jpg")

    drop_urls(v.predict_drop, "https://example.com/cat.png")  # a link from a browser
    app.expect("Only files on this computer", "cat.png", level="warning")
    assert v.files_list.count() == 4
    assert "good.png" in v.files_list.currentItem().text()
    assert len(v.bars.items()) == 2  # the good image's predictions are shown
    assert_usable(app)


def test_damaged_audio_dropped_on_the_speech_tab(app, qtbot, tmp_path):
    app.show_tab("Speech")
    s = app.speech
    app.wait_idle(s.data_runner)
    v = s.view
    cases = []
    garbage = tmp_path / "garbage.wav"  # a valid header over random bytes of the wrong length
    garbage.write_bytes(wav_header(32000, os.urandom(1001)))
    cases.append((garbage, "garbage.wav"))
    cut = tmp_path / "cut.wav"  # cut short inside the header
    cut.write_bytes(wav_header(32000, b"")[:30])
    cases.append((cut, "cut.wav"))
    text_wav = tmp_path / "notes.wav"
    text_wav.write_text("hello, this is text")
    cases.append((text_wav, "notes.wav"))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    cases.append((empty, "empty.wav"))
    png_wav = tmp_path / "photo.wav"  # a picture named .wav
    png(png_wav.with_suffix(".png")).rename(png_wav)
    cases.append((png_wav, "photo.wav"))
    for path, name in cases:
        with qtbot.waitSignal(s.clip.clip_runner.finished, timeout=30000) as blocker:
            drop_files(v.clip_drop, path)
        assert isinstance(blocker.args[0], ev.Failed), blocker.args[0]
        app.expect(name, level="error")
        assert name in v.clip_title.text()
        assert not v.waveform.has_clip()  # nothing half-shown

    folder_drop = tmp_path / "clips"
    folder_drop.mkdir()
    drop_files(v.clip_drop, folder_drop)  # a folder on the clip area: refused and said why
    app.expect("Folders are not taken here", level="warning")

    good = wav(tmp_path / "tone.wav")
    with qtbot.waitSignal(s.clip.clip_runner.finished, timeout=30000) as blocker:
        drop_files(v.clip_drop, good)
    assert isinstance(blocker.args[0], ev.Finished), blocker.args[0]
    assert v.waveform.has_clip() and "tone.wav" in v.clip_title.text()
    assert_usable(app)


def test_picture_named_mp3_is_called_not_audio(app, qtbot, tmp_path):
    app.show_tab("Speech")
    s = app.speech
    app.wait_idle(s.data_runner)
    picture = tmp_path / "song.mp3"
    png(picture.with_suffix(".png")).rename(picture)
    with qtbot.waitSignal(s.clip.clip_runner.finished, timeout=30000) as blocker:
        drop_files(s.view.clip_drop, picture)
    assert isinstance(blocker.args[0], ev.Failed), blocker.args[0]
    text = app.expect("song.mp3", "PNG image, not audio", level="error")
    assert "does not exist" not in text and "pipe" not in text


def test_damaged_corpus_files_on_the_text_tab(app, qtbot, tmp_path):
    t = app.text
    app.show_tab("Text")
    app.wait_idle(t.corpus_runner, t.tokenizer_runner)
    v = t.view
    binary = tmp_path / "binary.txt"
    binary.write_bytes(bytes(range(256)) * 4 + os.urandom(512))
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes("To be or not to be, that is the question.\n".encode("utf-16-le") * 8)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    for path in (binary, utf16, empty):
        with qtbot.waitSignal(t.corpus_runner.finished, timeout=30000) as blocker:
            drop_files(v.corpus_drop, path)
        end = blocker.args[0]
        app.wait_idle(t.corpus_runner, t.tokenizer_runner)
        if isinstance(end, ev.Failed):
            app.expect(path.name, level="error")
            assert path.name in v.corpus_summary.text()
        else:  # read, but with a warning naming what was wrong
            assert app.notices and app.notices[-1][0] == "warning", app.notices[-3:]
            app.expect(path.name)

    good = tmp_path / "good.txt"
    good.write_text("the quick brown fox jumps over the lazy dog\n" * 40)
    with qtbot.waitSignal(t.corpus_runner.finished, timeout=30000) as blocker:
        drop_files(v.corpus_drop, good)
    assert isinstance(blocker.args[0], ev.Finished), blocker.args[0]
    assert "good.txt" in v.corpus_summary.text()
    assert_usable(app)


# == 2. damaged runs picked in a run menu ====================================================
def _pick(combo, run) -> None:
    index = combo.findData(str(run.path))
    assert index >= 0, f"{run.name} is not offered"
    combo.setCurrentIndex(index)


def test_damaged_image_runs_picked_to_predict(app, qtbot, tmp_path):
    good = image_run("good")
    bad_labels = image_run("labels")
    (bad_labels.path / "labels.json").write_text(json.dumps({"circle": 1, "square": [2]}))
    bad_weights = image_run("weights")
    bad_weights.best_checkpoint.write_bytes(os.urandom(24))
    bad_json = image_run("json")  # damaged after it was offered in the menu
    v = app.image.view
    v.refresh_runs_button.click()
    app.show_tab("Image recognition")
    picture = png(tmp_path / "red.png")
    for run, words in ((bad_labels, ("labels.json", "list")),
                       (bad_weights, ("best.safetensors",)),
                       (bad_json, ("run.json", "not valid JSON"))):
        _pick(v.run_combo, run)
        if run is bad_json:
            (run.path / "run.json").write_text('{"task": "image", "model": ')
        with qtbot.waitSignal(app.image.predict_runner.finished, timeout=30000) as blocker:
            drop_files(v.predict_drop, picture)
        assert isinstance(blocker.args[0], ev.Failed), blocker.args[0]
        app.expect(*words, level="error")
        assert good.path.is_dir() and run.path.is_dir()  # nothing deleted

    v.refresh_runs_button.click()  # the run with a broken run.json is no longer offered
    assert v.run_combo.findData(str(bad_json.path)) < 0
    _pick(v.run_combo, good)
    with qtbot.waitSignal(app.image.predict_runner.finished, timeout=30000) as blocker:
        drop_files(v.predict_drop, picture)
    assert isinstance(blocker.args[0], ev.Finished), blocker.args[0]
    assert len(v.bars.items()) == 2
    assert_usable(app)


def test_damaged_keyword_runs_picked_to_recognise(app, qtbot, tmp_path):
    good = keyword_run("good")
    bad_weights = keyword_run("weights")
    bad_weights.best_checkpoint.write_bytes(os.urandom(16))
    bad_labels = keyword_run("labels")
    (bad_labels.path / "labels.json").write_text('["yes", 7]')
    app.show_tab("Speech")
    s = app.speech
    app.wait_idle(s.data_runner)
    v = s.view
    v.refresh_runs_button.click()
    _pick(v.run_combo, good)
    with qtbot.waitSignal(s.clip.predict_runner.finished, timeout=30000) as blocker:
        drop_files(v.clip_drop, wav(tmp_path / "yes_1.wav"))  # decoded, then recognised
    assert isinstance(blocker.args[0], ev.Finished), blocker.args[0]
    for run, words in ((bad_weights, ("best.safetensors",)),
                       (bad_labels, ("labels.json", "item 1"))):
        _pick(v.run_combo, run)
        with qtbot.waitSignal(s.clip.predict_runner.finished, timeout=30000) as blocker:
            v.predict_button.click()
        assert isinstance(blocker.args[0], ev.Failed), blocker.args[0]
        app.expect(*words, level="error")
    assert_usable(app)


def test_damaged_text_run_picked_to_generate(app, qtbot):
    good = text_run("good")
    bad = text_run("bad")
    t = app.text
    v = t.view
    app.show_tab("Text")
    v.refresh_runs_button.click()
    _pick(v.run_combo, bad)
    bad.best_checkpoint.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{broken!")
    v.prompt_edit.setPlainText("ab")
    with qtbot.waitSignal(t.generate_runner.finished, timeout=30000) as blocker:
        v.generate_button.click()
    assert isinstance(blocker.args[0], ev.Failed), blocker.args[0]
    app.expect("Generation failed", "best.safetensors", level="error")

    (bad.path / "run.json").write_bytes(b"\xff\xfe{ not json")
    _pick(v.run_combo, good)
    _pick(v.run_combo, bad)  # picked again: the run info says why it cannot be used
    assert "run.json" in v.run_info.text() and "cannot be used" in v.run_info.text()
    with qtbot.waitSignal(t.generate_runner.finished, timeout=30000) as blocker:
        v.generate_button.click()
    assert isinstance(blocker.args[0], ev.Failed), blocker.args[0]
    app.expect("Generation failed", "run.json", level="error")

    _pick(v.run_combo, good)
    with qtbot.waitSignal(t.generate_runner.finished, timeout=30000) as blocker:
        v.generate_button.click()
    assert isinstance(blocker.args[0], ev.Finished), blocker.args[0]
    assert v.output.text().startswith("ab") and len(v.output.text()) > 2
    assert_usable(app)


def _all_text(widget) -> str:
    """Every piece of text the user can see in ``widget``: labels, table cells, text boxes."""
    from PySide6.QtWidgets import QLabel, QPlainTextEdit, QTableWidget

    parts = [w.text() for w in widget.findChildren(QLabel) if w.isVisibleTo(widget)]
    parts += [w.toPlainText() for w in widget.findChildren(QPlainTextEdit)]
    for table in widget.findChildren(QTableWidget):
        parts += [table.item(r, c).text() for r in range(table.rowCount())
                  for c in range(table.columnCount()) if table.item(r, c) is not None]
    return "\n".join(parts)


def test_damaged_runs_in_the_runs_tab(app, qtbot):
    good = image_run("good")
    bad = image_run("json")
    (bad.path / "run.json").write_text("[1, 2")
    wrong = keyword_run("types")
    info = json.loads((wrong.path / "run.json").read_text())
    info["result"] = {"best_val_accuracy": "ninety percent"}
    (wrong.path / "run.json").write_text(json.dumps(info))
    (good.path / "metrics.jsonl").write_text('{"step": 1, "loss": 0.5}\n{"step": 2, "loss": \n')
    app.show_tab("Runs")
    r = app.runs
    r.refresh()
    shown = _all_text(r)
    for words in ((bad.name, "run.json", "not valid JSON"),
                  (wrong.name, "best_val_accuracy", "should be a number")):
        for word in words:
            assert word in shown, f"{word!r} is not shown in the Runs tab"
    names = [r.table.item(i, c).text() for i in range(r.table.rowCount())
             for c in range(r.table.columnCount()) if r.table.item(i, c) is not None]
    row = next(i for i in range(r.table.rowCount())
               if any(r.table.item(i, c) is not None and r.table.item(i, c).text() == good.name
                      for c in range(r.table.columnCount())))
    assert good.name in names
    r.table.clearSelection()
    r.table.selectRow(row)  # its cut-short metrics line is skipped, the rest is offered
    assert good.name in r.details.toPlainText()
    assert r.metric_combo.findText("loss") >= 0
    assert bad.path.is_dir() and wrong.path.is_dir()  # damaged runs are not deleted
    assert_usable(app)


# == 3. a hand-edited settings file ==========================================================
def _write_settings(text: str) -> None:
    from playground.ui.main_window import app_settings

    path = Path(app_settings().fileName())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def settings_file():
    from playground.ui.main_window import app_settings

    yield _write_settings
    settings = app_settings()
    settings.clear()
    settings.sync()


@pytest.mark.parametrize("text", [
    "[window]\ntab=banana\n[device]\nname=cuda:7\nthreads=-5\n",
    "[window]\ntab=99\ngeometry=@ByteArray(\\x1\\x2garbage)\n",
    "[window]\ntab=-3\n",
    "\x00\x01 not an ini file at all \xff\n[[[\n",
], ids=["tab-word-device-threads", "tab-out-of-range-garbage-geometry", "tab-negative",
        "binary"])
def test_hand_edited_settings_fall_back_to_defaults(qtbot, monkeypatch, no_modal,
                                                    settings_file, text):
    settings_file(text)
    win = _open(qtbot, monkeypatch, torch_ready=False)  # what is read at start-up
    try:
        w = win.w
        assert w.tabs.currentIndex() == 0
        assert w.device_combo.currentData() == "auto" and w.appctx.device == "auto"
        assert w.threads_spin.value() == 0
        assert w.width() >= 400 and w.height() >= 300
        assert not any(level == "error" for level, _ in win.notices), win.notices
        assert_usable(win)
    finally:
        win.w.shutdown()


@pytest.mark.parametrize("geometry", ["hello", "1, 2, 3", "@ByteArray(garbage)"],
                         ids=["text", "list", "bytes"])
def test_hand_edited_geometry_as_text_falls_back_to_defaults(qtbot, monkeypatch, no_modal,
                                                             settings_file, geometry):
    settings_file(f"[window]\ngeometry={geometry}\ntab=1\n")
    win = _open(qtbot, monkeypatch, torch_ready=False)
    try:
        assert win.w.width() >= 400 and win.w.height() >= 300
        assert_usable(win)
    finally:
        win.w.shutdown()


# == 4. absurd values typed in a form ========================================================
def _type(spin, text: str) -> str:
    """Select what the spin box shows and type ``text``, as a user would; what it shows."""
    line = spin.lineEdit()
    line.selectAll()
    QTest.keyClicks(line, text)
    return line.text()


def test_absurd_training_values_are_refused_with_the_range(app, qtbot):
    v = app.image.view
    app.show_tab("Image recognition")
    lr = v.form.widget_for("learning_rate")
    for typed in ("nan", "inf", "abc"):  # not numbers: the keystrokes are refused
        assert _type(lr, typed) == "3e-3"
        assert v.form.value().learning_rate == pytest.approx(3e-3)
    for field, typed, words in (("learning_rate", "1e9", ("Learning rate", "at most 10")),
                                ("learning_rate", "1e-12", ("Learning rate", "1e-07")),
                                ("batch_size", "0", ("Batch size", "between 1 and 4096"))):
        default = getattr(v.form.value(), field)
        assert _type(v.form.widget_for(field), typed) == typed
        v.train_button.click()
        app.expect(*words, level="error")
        assert not app.image.train_runner.is_busy() and v.train_button.isEnabled()
        v.form.widget_for(field).setValue(default)

    t = app.text
    app.show_tab("Text")
    app.wait_idle(t.corpus_runner, t.tokenizer_runner)
    form = t.view.form
    for field, typed, words in (("learning_rate", "5", ("Learning rate", "at most 1")),
                                ("batch_size", "0", ("Batch size", "at least 1"))):
        default = getattr(form.value(), field)
        assert _type(form.widget_for(field), typed) == typed
        t.view.train_button.click()
        app.expect(*words, level="error")
        assert not t.train_runner.is_busy() and t.view.train_button.isEnabled()
        form.widget_for(field).setValue(default)
    assert_usable(app)


def test_out_of_range_learning_rate_is_not_silently_replaced_by_the_minimum(app, qtbot):
    """Leaving the field with 1e9 typed gives the nearest bound (10), not Qt's minimum."""
    v = app.image.view
    app.show_tab("Image recognition")
    app.w.activateWindow()
    lr = v.form.widget_for("learning_rate")
    lr.setFocus()
    qtbot.waitUntil(lr.hasFocus, timeout=3000)
    assert _type(lr, "1e9") == "1e9"
    v.gradcam_check.setFocus()  # the user moves on (the click on Train does the same)
    qtbot.waitUntil(lambda: not lr.hasFocus(), timeout=3000)
    assert lr.value() != pytest.approx(1e-7), "1e9 became the minimum learning rate 1e-07"
    assert lr.value() == pytest.approx(lr.maximum()) and lr.lineEdit().text() == "10"


def test_absurd_label_patterns_are_refused(app, qtbot, tmp_path):
    app.show_tab("Speech")
    s = app.speech
    app.wait_idle(s.data_runner)
    v = s.view
    folder = tmp_path / "flat"
    folder.mkdir()
    for name in ("a" * 40 + ".wav", "a" * 41 + ".wav", "yes_1.wav", "no_1.wav"):
        wav(folder / name, seconds=0.1)
    with qtbot.waitSignal(s.data_runner.finished, timeout=30000):
        drop_files(v.data_drop, folder)
    app.wait_idle(s.data_runner)
    assert v.pattern_row.isVisibleTo(v)

    def enter(pattern: str) -> None:
        v.pattern_edit.setFocus()
        v.pattern_edit.selectAll()
        QTest.keyClicks(v.pattern_edit, pattern)
        QTest.keyClick(v.pattern_edit, Qt.Key.Key_Return)

    enter("(?P<label>[a-z")  # not a regular expression
    app.expect("not a valid regular expression", level="error")
    enter("^[a-z]+_")  # no label group
    app.expect("no group named 'label'", level="error")
    assert not s.data_runner.is_busy()

    with qtbot.waitSignal(s.data_runner.finished, timeout=30000) as blocker:
        enter("^(?P<label>(a+)+)b")  # catastrophic backtracking on "aaaa…a"
    assert isinstance(blocker.args[0], ev.Failed), blocker.args[0]
    app.expect("pattern", level="error")
    assert "pattern" in v.data_summary.text().lower()

    with qtbot.waitSignal(s.data_runner.finished, timeout=30000) as blocker:
        enter(r"^(?P<label>[a-z]+)_")  # a good one afterwards works
    assert isinstance(blocker.args[0], ev.Finished), blocker.args[0]
    assert v.class_table.rowCount() >= 2
    assert_usable(app)
