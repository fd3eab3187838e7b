"""The recorder with an injected fake microphone, PCM conversion, playback without an output
device, and the live audio widgets (level meter, streaming log-mel, scrolling spectrogram)."""

from __future__ import annotations

import numpy as np
import pytest

from playground.ui.recorder import (
    NO_MICROPHONE,
    AudioDeviceError,
    ClipPlayer,
    QtAudioBackend,
    Recorder,
    decode_pcm,
    encode_pcm,
    level_dbfs,
    resample_linear,
)
from playground.ui.widgets.audio_views import (
    LevelMeter,
    ScrollingSpectrogram,
    StreamingMel,
    mel_filterbank,
)
from tests.ui.fake_audio import FakeBackend


@pytest.mark.parametrize("fmt", ["Int16", "Int32", "Float", "UInt8"])
def test_pcm_round_trip(fmt):
    x = (0.5 * np.sin(np.linspace(0, 20, 400))).astype(np.float32)
    back = decode_pcm(encode_pcm(x, fmt, 2), fmt, 2)  # stereo, averaged back to mono
    assert back.shape == x.shape and back.dtype == np.float32
    assert np.max(np.abs(back - x)) < (0.01 if fmt == "UInt8" else 1e-4)
    assert decode_pcm(encode_pcm(x, fmt, 1)[:-1], fmt, 1).shape == (399,)  # partial frame


def test_unknown_sample_format_is_a_clear_error():
    with pytest.raises(AudioDeviceError, match="sample format"):
        decode_pcm(b"\x00" * 8, "Unknown", 1)


def test_resample_linear_and_levels():
    x = np.sin(2 * np.pi * 440 * np.arange(48_000) / 48_000).astype(np.float32)
    y = resample_linear(x, 48_000, 16_000)
    assert len(y) == 16_000
    rms, peak = level_dbfs(0.5 * y)
    assert rms == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.2)
    assert peak == pytest.approx(20 * np.log10(0.5), abs=0.1)
    assert level_dbfs(np.zeros(10)) == (-120.0, -120.0)


def test_recorder_records_a_fake_sine_until_max_length(qtbot):
    backend = FakeBackend(sample_rate=48_000)
    recorder = Recorder(backend)
    chunks, levels = [], []
    recorder.chunk.connect(chunks.append)
    recorder.level.connect(lambda rms, peak: levels.append(rms))
    with qtbot.waitSignal(recorder.stopped, timeout=5000) as blocker:
        assert recorder.start("fake-mic", max_seconds=0.4)
        assert recorder.is_recording()
    samples, rate, reason = blocker.args
    assert rate == 48_000 and "maximum length" in reason
    assert len(samples) == int(0.4 * 48_000)  # cut exactly at the maximum
    assert len(chunks) >= 2 and np.allclose(np.concatenate(chunks), samples)
    assert levels and levels[-1] == pytest.approx(20 * np.log10(0.3 / np.sqrt(2)), abs=1.0)
    assert not recorder.is_recording() and backend.sources[0].stopped


def test_recorder_stop_returns_what_was_recorded(qtbot):
    recorder = Recorder(FakeBackend(kind="noise"))
    assert recorder.start("fake-mic", max_seconds=30)
    qtbot.wait(150)
    with qtbot.waitSignal(recorder.stopped, timeout=2000) as blocker:
        samples = recorder.stop()
    assert samples is not None and samples.size > 0
    assert blocker.args[2] == "stopped" and recorder.stop() is None


def test_microphone_that_refuses_to_open(qtbot):
    recorder = Recorder(FakeBackend(fail_on_start="The microphone 'Fake' could not be opened "
                                                  "(OpenError)."))
    with qtbot.waitSignal(recorder.failed, timeout=2000) as blocker:
        assert not recorder.start("fake-mic")
    assert "could not be opened" in blocker.args[0]
    assert not recorder.is_recording()


def test_microphone_failing_while_recording_keeps_the_partial_clip(qtbot):
    recorder = Recorder(FakeBackend(fail_after=0.2))
    stopped = []
    recorder.stopped.connect(lambda s, sr, reason: stopped.append((len(s), reason)))
    with qtbot.waitSignal(recorder.failed, timeout=5000) as blocker:
        recorder.start("fake-mic", max_seconds=10)
    assert "unplugged" in blocker.args[0]
    assert stopped and stopped[0][0] > 0 and stopped[0][1] == "the microphone failed"


def test_qt_backend_without_devices_says_so(qtbot):
    backend = QtAudioBackend()
    devices = backend.input_devices()
    if devices:
        pytest.skip("this machine has a microphone")
    source = backend.open(None, 16_000)
    with pytest.raises(AudioDeviceError) as info:
        source.start()
    assert str(info.value) == NO_MICROPHONE


def test_playback_without_an_output_device_is_a_clear_error(qtbot):
    from PySide6.QtMultimedia import QMediaDevices

    player = ClipPlayer()
    with pytest.raises(AudioDeviceError, match="empty"):
        player.play(np.zeros(0, np.float32), 16_000)
    if not QMediaDevices.defaultAudioOutput().isNull():
        pytest.skip("this machine has an audio output")
    with pytest.raises(AudioDeviceError, match="No audio output device"):
        player.play(np.zeros(1600, np.float32), 16_000)
    assert not player.is_playing()


def test_streaming_mel_is_the_same_in_pieces_and_finds_the_tone():
    sr = 16_000
    x = (0.5 * np.sin(2 * np.pi * 1000 * np.arange(sr) / sr)).astype(np.float32)
    whole = StreamingMel(sr).push(x)
    pieces = StreamingMel(sr)
    parts = [pieces.push(x[i:i + 333]) for i in range(0, sr, 333)]
    joined = np.concatenate(parts, axis=1)
    assert joined.shape == whole.shape == (64, (sr - 400) // 160 + 1)
    assert np.allclose(joined, whole, atol=1e-3)
    fb = mel_filterbank(512, sr, 64)
    centre_hz = fb.argmax(axis=1) * sr / 512
    band = int(np.argmax(whole[:, 50]))
    assert abs(centre_hz[band] - 1000) < 120
    assert -12 < whole[band, 50] < 0


def test_live_widgets(qtbot):
    meter = LevelMeter()
    qtbot.addWidget(meter)
    meter.set_level(-20.0, -6.0)
    assert meter.level() == (-20.0, -6.0) and meter.text() == "-20 dB"
    meter.set_level(-200.0, 5.0)
    assert meter.level() == (LevelMeter.FLOOR, 0.0)
    meter.reset()
    assert meter.text() == "—"
    view = ScrollingSpectrogram(seconds=1.0)
    qtbot.addWidget(view)
    view.reset(16_000)
    tone = (0.3 * np.sin(2 * np.pi * 500 * np.arange(8000) / 16_000)).astype(np.float32)
    view.push(tone[:4000])
    view.push(tone[4000:])
    assert view.frames_seen() == (8000 - 400) // 160 + 1
    image = view.image()
    assert image.shape == (64, 100)
    assert image[:, -1].max() > -30 and image[:, 0].max() == -100.0  # new on the right
