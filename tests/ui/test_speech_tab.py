"""The Speech tab end to end: keyword demo → train briefly → curves and confusion matrix →
drop a clip → probabilities with the saliency overlay; record from a fake microphone → the
waveform → save as WAV → add to a label; no or failing microphone, a text file named .wav,
the speech-to-text demo without espeak-ng, and wav2vec 2.0 offline all end in clear notices."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request

import numpy as np
import pytest
import soundfile as sf

from playground.core import events as ev
from playground.speech.synth import ASSETS_DIR
from tests.ui.fake_audio import FakeBackend
from tests.ui.qt_helpers import drop_files, open_tab


def _make_tab(qtbot, monkeypatch, backend):
    import torch  # noqa: F401 - the tab waits for torch like the app does

    from playground.speech import synth
    from playground.ui.tabs.speech_tab import SpeechTab

    monkeypatch.setattr(synth, "espeak_path", lambda: None)  # the shipped clips, as on CI
    widget = open_tab(qtbot, lambda appctx: SpeechTab(appctx, audio_backend=backend))
    appctx = widget.appctx
    with qtbot.waitSignal(widget.data_runner.finished, timeout=60000):
        appctx.torch_loaded = True
        appctx.torch_ready.emit()
    return widget


@pytest.fixture
def tab(qtbot, monkeypatch):
    widget = _make_tab(qtbot, monkeypatch, FakeBackend())
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


def _notice(tab, level, *words):
    return any(lv == level and all(w.lower() in msg.lower() for w in words)
               for lv, msg in tab.notices)


def test_train_keywords_then_recognise_a_dropped_clip(tab, qtbot, tmp_path):
    v = tab.view
    assert v.source_combo.currentData() == "demo:digits"
    assert v.class_table.rowCount() == 10 and "shipped" in v.data_summary.text()
    assert v.label_combo.count() == 10
    for name, value in (("epochs", 1), ("batch_size", 32), ("width", 8), ("layers", 1),
                        ("noise", False)):
        _set(v.keyword_form, name, value)
    assert v.keyword_form.value().epochs == 1

    with qtbot.waitSignal(tab.train_runner.finished, timeout=120000) as blocker:
        v.train_button.click()
        assert not v.train_button.isEnabled() and v.stop_button.isEnabled()
        assert not v.ctc_button.isEnabled()  # no task switch while training
    end = blocker.args[0]
    assert isinstance(end, ev.Finished), getattr(end, "details", end)
    assert len(v.curves.series("loss", "train", "step")[0]) >= 1
    assert len(v.curves.series("accuracy", "val", "epoch")[0]) == 1
    counts = v.confusion.counts()
    assert counts.shape == (10, 10) and counts.sum() > 0
    assert v.report.rowCount() >= 10
    assert v.train_button.isEnabled() and v.ctc_button.isEnabled()
    assert tab.current_run and v.run_combo.currentData() == tab.current_run

    clip = tmp_path / "three_test.flac"
    shutil.copy(sorted((ASSETS_DIR / "three").iterdir())[0], clip)
    with qtbot.waitSignal(tab.clip.predict_runner.finished, timeout=60000) as blocker:
        drop_files(v.clip_drop, clip)  # decoded, shown, then recognised automatically
    assert isinstance(blocker.args[0], ev.Finished), blocker.args[0]
    assert v.waveform.has_clip() and v.spectrogram.has_spectrogram()
    assert "three_test.flac" in v.clip_title.text()
    preds = v.bars.items()
    assert 1 <= len(preds) <= 5 and preds == sorted(preds, key=lambda p: -p[1])
    assert {label for label, _ in preds} <= {str(d) for d in tab.data_info["keywords"]["labels"]}
    assert v.spectrogram.overlay_visible()
    start, end = v.spectrogram.overlay_span()
    assert end - start == pytest.approx(1.0)  # the 1 s window the model heard
    v.saliency_check.setChecked(False)
    assert not v.spectrogram.overlay_visible()


def test_record_save_and_add_to_labels(tab, qtbot, tmp_path):
    v = tab.view
    assert v.device_combo.currentData() == "fake-mic"
    v.max_seconds_spin.setValue(1)
    levels = []
    tab.clip.recorder.level.connect(lambda rms, peak: levels.append(rms))
    with qtbot.waitSignal(tab.clip.clip_runner.finished, timeout=10000) as blocker:
        v.record_button.click()
        assert tab.clip.recorder.is_recording() and v.spec_stack.currentIndex() == 1
        assert not v.clip_drop.isEnabled()
    assert isinstance(blocker.args[0], ev.Finished), blocker.args[0]
    assert levels and v.live_spectrogram.frames_seen() > 50
    assert v.spec_stack.currentIndex() == 0 and v.record_button.text() == "● Record"
    assert v.waveform.has_clip() and v.waveform.duration() == pytest.approx(1.0, abs=0.01)
    assert "recording 1" in v.clip_title.text()
    assert _notice(tab, "info", "recorded 1.0 s", "maximum length")

    saved = tab.clip.save_clip_as(str(tmp_path / "rec"))
    data, sr = sf.read(saved)
    assert saved.name == "rec.wav" and sr == 16_000 and len(data) == 16_000
    assert np.abs(data).max() == pytest.approx(0.3, abs=0.01)

    # The demo is read-only: clips go to "My recordings", which becomes the data source.
    v.label_combo.setEditText("yes")
    with qtbot.waitSignal(tab.data_runner.finished, timeout=30000) as blocker:
        v.add_button.click()
    assert v.source_combo.currentData() == "recordings"
    assert isinstance(blocker.args[0], ev.Failed)  # one label cannot train a recognizer
    assert "only one label" in v.data_summary.text()
    from playground.speech.jobs import recordings_folder

    assert len(list((recordings_folder() / "yes").glob("yes_rec-*.wav"))) == 1
    v.label_combo.setEditText("no")
    with qtbot.waitSignal(tab.data_runner.finished, timeout=30000) as blocker:
        v.add_button.click()
    assert isinstance(blocker.args[0], ev.Finished)
    assert v.class_table.rowCount() == 2 and "My recordings" in v.add_target.text()
    v.label_combo.setEditText("_bad")
    v.add_button.click()
    assert _notice(tab, "error", "starts with '_'")

    played = len(tab.notices)
    v.play_button.click()  # offscreen there is usually no output: a clear notice, no crash
    if not tab.clip.player.is_playing():
        assert any("play" in msg for _, msg in tab.notices[played:])
    tab.clip.player.stop()


@pytest.mark.parametrize("backend, words", [
    (FakeBackend(devices=()), ("no microphone was found",)),
    (FakeBackend(fail_on_start="The microphone 'Fake microphone' could not be opened "
                               "(OpenError). Check that it is connected."),
     ("could not be opened",)),
])
def test_missing_or_failing_microphone(qtbot, monkeypatch, backend, words):
    tab = _make_tab(qtbot, monkeypatch, backend)
    try:
        v = tab.view
        if not backend.devices:
            assert v.device_combo.currentText() == "No microphone found"
        v.record_button.click()
        assert _notice(tab, "error", *words)
        assert not tab.clip.recorder.is_recording()
        assert not v.record_button.isChecked() and v.clip_drop.isEnabled()
    finally:
        tab.shutdown()


def test_text_file_named_wav_and_predict_without_a_run(tab, qtbot, tmp_path):
    fake = tmp_path / "fake.wav"
    fake.write_text("this is a text file, not audio")
    with qtbot.waitSignal(tab.clip.clip_runner.finished, timeout=30000) as blocker:
        drop_files(tab.view.clip_drop, fake)
    assert isinstance(blocker.args[0], ev.Failed)
    assert _notice(tab, "error", "fake.wav", "text file")
    assert "text file" in tab.view.clip_title.text()

    notes = tmp_path / "notes.txt"
    notes.write_text("not audio")
    drop_files(tab.view.clip_drop, notes)
    assert _notice(tab, "warning", "notes.txt", ".wav")

    tab.view.predict_button.click()
    assert _notice(tab, "error", "no trained keyword model")


def test_speech_to_text_offline_and_without_espeak(tab, qtbot, monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    v = tab.view
    with qtbot.waitSignal(tab.data_runner.finished, timeout=30000) as blocker:
        v.ctc_button.click()
    assert tab.task == "ctc" and v.forms.currentWidget() is v.ctc_form
    assert isinstance(blocker.args[0], ev.Failed)
    assert "espeak-ng is not installed" in v.data_summary.text()
    assert _notice(tab, "warning", "espeak-ng")
    assert v.posteriorgram.isVisible() and not v.label_combo.isVisible()

    clip = tmp_path / "seven.flac"
    shutil.copy(sorted((ASSETS_DIR / "seven").iterdir())[0], clip)
    with qtbot.waitSignal(tab.clip.clip_runner.finished, timeout=30000):
        drop_files(v.clip_drop, clip)
    assert v.transcriber_combo.currentData() == "wav2vec2"
    with qtbot.waitSignal(tab.clip.transcribe_runner.finished, timeout=60000) as blocker:
        v.transcribe_button.click()
    end = blocker.args[0]
    assert isinstance(end, ev.Failed) and end.error_type == "WeightsUnavailable"
    from playground.speech.predict import wav2vec2_weights_path

    path = wav2vec2_weights_path()
    assert _notice(tab, "warning", path.name, str(path.parent), "offline")
    assert path.name in v.transcript_note.text()
    assert v.transcribe_button.isEnabled() and not v.transcribe_progress.isVisible()
