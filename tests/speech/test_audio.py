"""Loading audio: formats, rates, channels, resampling, bad input, streaming, silence."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from playground.core.errors import AudioDecodeError
from playground.speech import audio
from playground.speech.audio import (
    SUPPORTED_EXTENSIONS,
    is_silent,
    iter_chunks,
    load_audio,
    save_wav,
    trim_silence,
)
from tests.speech.helpers import tone


def _sine(sr: int, seconds: float = 0.5, freq: float = 1000.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * sr / len(x))


@pytest.mark.parametrize("sr", [8_000, 22_050, 44_100, 192_000])
def test_resampled_to_16k_keeps_pitch(tmp_path, sr):
    path = tmp_path / "a.wav"
    sf.write(path, _sine(sr), sr)
    x, out_sr = load_audio(path, 16_000)
    assert out_sr == 16_000 and x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - 8000) <= 2
    assert abs(_peak_hz(x, 16_000) - 1000.0) < 10


@pytest.mark.parametrize("fmt,subtype,ext", [
    ("WAV", "PCM_U8", "wav"), ("WAV", "PCM_16", "wav"), ("WAV", "PCM_24", "wav"),
    ("WAV", "PCM_32", "wav"), ("WAV", "FLOAT", "wav"), ("AIFF", "PCM_S8", "aiff"),
    ("FLAC", "PCM_16", "flac"), ("FLAC", "PCM_24", "flac"), ("OGG", "VORBIS", "ogg"),
    ("MP3", "MPEG_LAYER_III", "mp3"),
])
def test_formats_and_bit_depths(tmp_path, fmt, subtype, ext):
    if fmt not in sf.available_formats():
        pytest.skip(f"libsndfile here cannot write {fmt}")
    path = tmp_path / f"a.{ext}"
    sf.write(path, _sine(16_000), 16_000, format=fmt, subtype=subtype)
    x, sr = load_audio(path)
    assert sr == 16_000 and np.isfinite(x).all()
    assert abs(_peak_hz(x, sr) - 1000.0) < 15
    assert 0.3 < np.abs(x).max() <= 1.0


def test_multichannel_is_downmixed(tmp_path):
    left, right = _sine(48_000), np.zeros(24_000, np.float32)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right, left, right], axis=1), 48_000, subtype="PCM_24")
    x, sr = load_audio(path, None)
    assert sr == 48_000 and x.shape == (24_000,)
    assert np.allclose(x, left / 2, atol=1e-4)


def test_partial_read_and_native_rate(tmp_path):
    path = save_wav(tmp_path / "a.wav", np.linspace(-0.5, 0.5, 16_000, dtype=np.float32),
                    16_000)
    x, sr = load_audio(path, None, offset=0.5, duration=0.25)
    assert sr == 16_000 and len(x) == 4000
    assert x[0] == pytest.approx(0.0, abs=1e-3)


def test_bad_inputs_raise_clear_errors(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, _sine(16_000, 1.0), 16_000)
    data = good.read_bytes()

    cases = {}
    cases["missing"] = (tmp_path / "nope.wav", "does not exist")
    (tmp_path / "empty.wav").write_bytes(b"")
    cases["empty"] = (tmp_path / "empty.wav", "empty (0 bytes)")
    (tmp_path / "notes.wav").write_text("these are my notes, not audio\n", encoding="utf-8")
    cases["text"] = (tmp_path / "notes.wav", "is a text file")
    (tmp_path / "photo.mp3").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))
    cases["picture"] = (tmp_path / "photo.mp3", "is a PNG image, not audio")
    (tmp_path / "scan.flac").write_bytes(b"%PDF-1.7\n" + bytes(range(256)))
    cases["pdf"] = (tmp_path / "scan.flac", "is a PDF document, not audio")
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
    cases["truncated wav"] = (tmp_path / "cut.wav", "truncated")
    sf.write(tmp_path / "good.flac", _sine(16_000, 1.0), 16_000)
    flac = (tmp_path / "good.flac").read_bytes()
    (tmp_path / "cut.flac").write_bytes(flac[: len(flac) // 2])
    cases["truncated flac"] = (tmp_path / "cut.flac", "corrupt")
    (tmp_path / "garbage.wav").write_bytes(bytes(np.random.default_rng(0).integers(
        0, 256, 4000, dtype=np.uint8)))
    cases["corrupt"] = (tmp_path / "garbage.wav", "could not be decoded")
    sf.write(tmp_path / "zero.wav", np.zeros(0, np.float32), 16_000)
    cases["zero length"] = (tmp_path / "zero.wav", "no audio samples")
    (tmp_path / "song.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(200))
    cases["m4a"] = (tmp_path / "song.m4a", "Supported formats: WAV")
    (tmp_path / "blob.xyz").write_bytes(bytes(range(256)) * 4)
    cases["unknown"] = (tmp_path / "blob.xyz", "not in a supported audio format")
    sf.write(tmp_path / "low.wav", _sine(2_000), 2_000)
    cases["low rate"] = (tmp_path / "low.wav", "below the 4000 Hz")
    sf.write(tmp_path / "high.wav", _sine(400_000, 0.05), 400_000)
    cases["high rate"] = (tmp_path / "high.wav", "above the 384000 Hz")
    for what, (path, expected) in cases.items():
        with pytest.raises(AudioDecodeError) as info:
            load_audio(path)
        assert expected in str(info.value), (what, str(info.value))
        assert path.name in str(info.value), what
    x, _ = load_audio(tmp_path / "cut.wav", strict=False)  # what is there, when asked
    assert 0.4 < len(x) / 16_000 < 0.6


def test_supported_extensions_cover_the_common_formats():
    for ext in (".wav", ".flac", ".ogg"):
        assert ext in SUPPORTED_EXTENSIONS
    assert audio.supported_formats_text().startswith("WAV, ")


def test_silence_is_loadable_but_flagged(tmp_path):
    path = save_wav(tmp_path / "quiet.wav", np.zeros(16_000, np.float32), 16_000)
    x, _ = load_audio(path)
    assert is_silent(x)
    assert is_silent(np.random.default_rng(0).normal(0, 1e-5, 16_000))
    assert not is_silent(tone(440, 0.5))
    trimmed = trim_silence(np.concatenate([np.zeros(8000), tone(440, 0.5), np.zeros(8000)])
                           .astype(np.float32), 16_000)
    assert 0.5 <= len(trimmed) / 16_000 < 0.65


def test_long_files_are_streamed_in_chunks(tmp_path, monkeypatch):
    sr = 16_000
    x = np.tile(tone(300, 1.0), 65)  # 65 s
    path = save_wav(tmp_path / "long.wav", x, sr)

    def no_whole_read(*args, **kwargs):
        raise AssertionError("iter_chunks must not read the whole file")

    monkeypatch.setattr(sf, "read", no_whole_read)
    chunks = list(iter_chunks(path, 20.0, overlap=2.0))
    assert [c.start for c in chunks] == [0.0, 18.0, 36.0, 54.0]
    assert all(c.total == 4 for c in chunks)
    assert [len(c.samples) for c in chunks[:3]] == [20 * sr] * 3
    assert len(chunks[-1].samples) == 11 * sr
    assert chunks[1].samples[:10] == pytest.approx(x[18 * sr:18 * sr + 10], abs=1e-4)


def test_save_wav_roundtrip(tmp_path):
    x = tone(1000, 0.25)
    path = save_wav(tmp_path / "sub" / "r.wav", x, 16_000)
    y, sr = load_audio(path, None)
    assert sr == 16_000 and np.allclose(x, y, atol=1e-4)
    assert sf.info(path).subtype == "PCM_16"
