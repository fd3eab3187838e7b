"""Microphone recording and clip playback with QtMultimedia, behind small interfaces.

Recording
    An :class:`AudioSource` is anything with ``start()``, ``read() -> float32 samples`` (what
    arrived since the last read, mono, in [-1, 1]), ``stop()``, a ``sample_rate`` and a
    ``name``; an :class:`AudioBackend` lists input devices and opens a source for one. The app
    uses :class:`QtAudioBackend` (``QMediaDevices.audioInputs()`` and ``QAudioSource`` in pull
    mode); tests inject a backend whose source generates a sine or noise, or refuses to open.
    :class:`Recorder` polls the source on a ~30 Hz timer on the UI thread (reading a few
    milliseconds of buffered audio costs nothing), emits each new chunk and its level, and
    stops by itself at the maximum length. A missing microphone, one that refuses to open, or
    one that fails while recording ends in ``failed(message)`` with a message saying what to
    do, never in an exception reaching Qt.

Playback
    :class:`ClipPlayer` plays float samples through ``QAudioSink`` from an in-memory buffer
    (16-bit PCM, or the output device's preferred format when it does not take that), and
    reports the position for a playhead. Without an output device (a server, the tests'
    offscreen platform) :meth:`ClipPlayer.play` raises :class:`AudioDeviceError` with a clear
    message; nothing crashes.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QTimer, Signal

from playground.core.errors import PlaygroundError

log = logging.getLogger(__name__)

RECORD_RATE = 16_000
POLL_MS = 30
_SCALE = {"UInt8": 128.0, "Int16": 32768.0, "Int32": 2147483648.0}
_DTYPES = {"UInt8": np.uint8, "Int16": np.int16, "Int32": np.int32, "Float": np.float32}

NO_MICROPHONE = ("No microphone was found. Connect one (and allow this app to use it in the "
                 "system's privacy settings), then press Refresh next to the device list.")


class AudioDeviceError(PlaygroundError):
    """A microphone or audio output that is missing, refuses to open, or fails."""


@dataclass(frozen=True)
class InputDevice:
    id: str
    name: str
    default: bool = False


class AudioSource(Protocol):
    """Where recorded samples come from (a microphone, or a generator in tests)."""

    sample_rate: int
    name: str

    def start(self) -> None:
        """Open the device; raise :class:`AudioDeviceError` saying why when it cannot."""

    def read(self) -> np.ndarray:
        """float32 mono samples in [-1, 1] that arrived since the last call (maybe none)."""

    def stop(self) -> None:
        """Close the device (safe to call twice)."""


class AudioBackend(Protocol):
    def input_devices(self) -> list[InputDevice]:
        """The microphones present now (the default first)."""

    def open(self, device_id: str | None, sample_rate: int) -> AudioSource:
        """A source for ``device_id`` (None: the default input), not yet started."""


# ------------------------------------------------------------------------------------------
# PCM conversion (pure numpy)
# ------------------------------------------------------------------------------------------
def decode_pcm(raw: bytes, sample_format: str, channels: int) -> np.ndarray:
    """Interleaved PCM bytes -> float32 mono in [-1, 1] (channels averaged)."""
    dtype = _DTYPES.get(sample_format)
    if dtype is None:
        raise AudioDeviceError(f"The device delivers audio as {sample_format!r}, a sample format "
                               "this app cannot read.")
    width = np.dtype(dtype).itemsize * max(1, channels)
    usable = len(raw) - len(raw) % width
    data = np.frombuffer(raw[:usable], dtype=dtype)
    if sample_format == "UInt8":
        x = (data.astype(np.float32) - 128.0) / 128.0
    elif sample_format == "Float":
        x = data.astype(np.float32)
    else:
        x = data.astype(np.float32) / _SCALE[sample_format]
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def encode_pcm(samples: np.ndarray, sample_format: str, channels: int) -> bytes:
    """float mono samples -> interleaved PCM bytes in ``sample_format`` on ``channels``."""
    x = np.clip(np.asarray(samples, dtype=np.float32).ravel(), -1.0, 1.0)
    if sample_format == "Float":
        data = x
    elif sample_format == "UInt8":
        data = np.round(x * 127.0 + 128.0).astype(np.uint8)
    elif sample_format in ("Int16", "Int32"):
        scale = _SCALE[sample_format] - 1.0
        data = np.round(x * scale).astype(_DTYPES[sample_format])
    else:
        raise AudioDeviceError(f"The output device wants audio as {sample_format!r}, a sample "
                               "format this app cannot write.")
    if channels > 1:
        data = np.repeat(data[:, None], channels, axis=1).ravel()
    return data.tobytes()


def resample_linear(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Linear-interpolation resampling (good enough for listening; models use torchaudio)."""
    x = np.asarray(samples, dtype=np.float32)
    if rate == target or x.size == 0:
        return x
    n = max(1, int(round(len(x) * target / rate)))
    t = np.arange(n) * (rate / target)
    return np.interp(t, np.arange(len(x)), x).astype(np.float32)


def _format_name(fmt) -> str:
    return fmt.sampleFormat().name


def _error_name(error) -> str:
    return getattr(error, "name", str(error))


# ------------------------------------------------------------------------------------------
# QtMultimedia microphone
# ------------------------------------------------------------------------------------------
def _check_permission() -> None:
    """Raise when the OS says this app may not use the microphone (macOS, some Linux)."""
    try:
        from PySide6.QtCore import QCoreApplication, QMicrophonePermission, Qt
    except ImportError:  # a Qt without the permission API asks nothing
        return
    app = QCoreApplication.instance()
    if app is None:
        return
    permission = QMicrophonePermission()
    status = app.checkPermission(permission)
    if status == Qt.PermissionStatus.Denied:
        raise AudioDeviceError("This app is not allowed to use the microphone. Allow it in the "
                               "system's privacy settings (Microphone), then try again.")
    if status == Qt.PermissionStatus.Undetermined:
        app.requestPermission(permission, app, lambda *_: None)
        raise AudioDeviceError("The system is asking whether this app may use the microphone. "
                               "Allow it, then press Record again.")


class QtMicrophone:
    """An input device through ``QAudioSource`` (pull mode: ``read`` drains its buffer)."""

    def __init__(self, device, sample_rate: int = RECORD_RATE) -> None:
        self.device = device
        self.requested_rate = int(sample_rate)
        self.sample_rate = int(sample_rate)
        self.name = device.description() if not device.isNull() else "no microphone"
        self._source = None
        self._io = None
        self._format = ""
        self._channels = 1

    def start(self) -> None:
        from PySide6.QtMultimedia import QAudioFormat, QAudioSource

        if self.device.isNull():
            raise AudioDeviceError(NO_MICROPHONE)
        _check_permission()
        fmt = QAudioFormat()
        fmt.setSampleRate(self.requested_rate)
        fmt.setChannelCount(1)
        fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
        if not self.device.isFormatSupported(fmt):
            fmt = self.device.preferredFormat()
        self._format = _format_name(fmt)
        self._channels = max(1, fmt.channelCount())
        self.sample_rate = int(fmt.sampleRate()) or self.requested_rate
        self._source = QAudioSource(self.device, fmt)
        self._io = self._source.start()
        error = _error_name(self._source.error())
        if self._io is None or error != "NoError":
            self.stop()
            raise AudioDeviceError(
                f"The microphone '{self.name}' could not be opened ({error}). Check that it is "
                "connected, that no other program holds it, and that this app may use it; "
                "or choose another input device.")

    def read(self) -> np.ndarray:
        if self._source is None or self._io is None:
            return np.zeros(0, np.float32)
        error = _error_name(self._source.error())
        if error not in ("NoError", "UnderrunError"):
            raise AudioDeviceError(f"The microphone '{self.name}' stopped delivering audio "
                                   f"({error}); it may have been unplugged.")
        raw = bytes(self._io.readAll().data())
        return decode_pcm(raw, self._format, self._channels)

    def stop(self) -> None:
        if self._source is not None:
            self._source.stop()
            self._source.deleteLater()
        self._source = None
        self._io = None


class QtAudioBackend:
    """Input devices from ``QMediaDevices``; sources are :class:`QtMicrophone`."""

    def input_devices(self) -> list[InputDevice]:
        from PySide6.QtMultimedia import QMediaDevices

        default = QMediaDevices.defaultAudioInput()
        default_id = bytes(default.id().data()) if not default.isNull() else b""
        devices = []
        for device in QMediaDevices.audioInputs():
            raw = bytes(device.id().data())
            devices.append(InputDevice(raw.decode("utf-8", "replace"), device.description(),
                                       raw == default_id))
        devices.sort(key=lambda d: not d.default)
        return devices

    def open(self, device_id: str | None, sample_rate: int) -> AudioSource:
        from PySide6.QtMultimedia import QMediaDevices

        if device_id is None:
            return QtMicrophone(QMediaDevices.defaultAudioInput(), sample_rate)
        for device in QMediaDevices.audioInputs():
            if bytes(device.id().data()).decode("utf-8", "replace") == device_id:
                return QtMicrophone(device, sample_rate)
        raise AudioDeviceError("The chosen microphone is no longer connected. Press Refresh and "
                               "choose another input device.")


# ------------------------------------------------------------------------------------------
# Recorder
# ------------------------------------------------------------------------------------------
def level_dbfs(samples: np.ndarray) -> tuple[float, float]:
    """(RMS, peak) of ``samples`` in dB full scale, floored at -120 dB."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0:
        return -120.0, -120.0
    rms = float(np.sqrt(np.mean(x * x)))
    peak = float(np.max(np.abs(x)))
    return (max(-120.0, 20.0 * np.log10(rms)) if rms > 0 else -120.0,
            max(-120.0, 20.0 * np.log10(peak)) if peak > 0 else -120.0)


class Recorder(QObject):
    """Records from an :class:`AudioSource` on the UI thread's event loop.

    Signals: ``started(name)``, ``chunk(samples)`` (float32, each new block), ``level(rms_db,
    peak_db)``, ``stopped(samples, sample_rate, reason)`` (the whole recording; also after a
    failure when something was recorded) and ``failed(message)``.
    """

    started = Signal(str)
    chunk = Signal(object)
    level = Signal(float, float)
    stopped = Signal(object, int, str)
    failed = Signal(str)

    def __init__(self, backend: AudioBackend | None = None, parent: QObject | None = None, *,
                 sample_rate: int = RECORD_RATE, interval_ms: int = POLL_MS) -> None:
        super().__init__(parent)
        self.backend: AudioBackend = backend or QtAudioBackend()
        self.requested_rate = int(sample_rate)
        self.sample_rate = int(sample_rate)
        self.max_seconds = 10.0
        self._source: AudioSource | None = None
        self._chunks: list[np.ndarray] = []
        self._count = 0
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._poll)

    def devices(self) -> list[InputDevice]:
        try:
            return list(self.backend.input_devices())
        except Exception:  # noqa: BLE001 - a broken audio stack means "no devices", logged
            log.exception("listing audio inputs failed")
            return []

    def is_recording(self) -> bool:
        return self._source is not None

    def elapsed(self) -> float:
        return self._count / self.sample_rate if self.sample_rate else 0.0

    def samples(self) -> np.ndarray:
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)

    def start(self, device_id: str | None = None, max_seconds: float = 10.0) -> bool:
        """Start recording; on failure emit ``failed`` with the reason and return False."""
        if self._source is not None:
            return False
        self.max_seconds = max(0.1, float(max_seconds))
        try:
            source = self.backend.open(device_id, self.requested_rate)
            source.start()
        except AudioDeviceError as exc:
            self.failed.emit(str(exc))
            return False
        except Exception as exc:  # noqa: BLE001 - any backend failure is a device failure
            log.exception("opening the microphone failed")
            self.failed.emit(f"The microphone could not be opened ({exc}). Choose another input "
                             "device or check the system's sound settings.")
            return False
        self._source = source
        self.sample_rate = int(source.sample_rate)
        self._chunks = []
        self._count = 0
        self._timer.start()
        self.started.emit(source.name)
        return True

    def stop(self, reason: str = "stopped") -> np.ndarray | None:
        """Stop and emit ``stopped`` with everything recorded; returns it (None if idle)."""
        source = self._source
        if source is None:
            return None
        # a failing last read keeps what was recorded before it
        with contextlib.suppress(AudioDeviceError):
            self._drain(source)
        self._close()
        samples = self.samples()
        self.stopped.emit(samples, self.sample_rate, reason)
        return samples

    def _close(self) -> None:
        self._timer.stop()
        source, self._source = self._source, None
        if source is not None:
            try:
                source.stop()
            except Exception:  # noqa: BLE001 - closing a failed device must not raise
                log.exception("closing the microphone failed")

    def _drain(self, source: AudioSource) -> None:
        data = np.asarray(source.read(), dtype=np.float32).ravel()
        if data.size == 0:
            return
        room = int(self.max_seconds * self.sample_rate) - self._count
        data = data[:max(0, room)]
        if data.size:
            self._chunks.append(data)
            self._count += data.size
            self.chunk.emit(data)
            self.level.emit(*level_dbfs(data))

    def _poll(self) -> None:
        source = self._source
        if source is None:
            return
        try:
            self._drain(source)
        except AudioDeviceError as exc:
            self._fail(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a broken device must not crash the app
            log.exception("reading the microphone failed")
            self._fail(f"Reading the microphone failed ({exc}).")
            return
        if self._count >= int(self.max_seconds * self.sample_rate):
            self.stop(f"maximum length ({self.max_seconds:g} s) reached")

    def _fail(self, message: str) -> None:
        self._close()
        self.failed.emit(message)
        if self._count:
            self.stopped.emit(self.samples(), self.sample_rate, "the microphone failed")


# ------------------------------------------------------------------------------------------
# Playback
# ------------------------------------------------------------------------------------------
class ClipPlayer(QObject):
    """Plays float samples through the default audio output (``QAudioSink``).

    ``position(seconds)`` is emitted while playing, ``playing_changed(bool)`` on start/stop.
    """

    position = Signal(float)
    playing_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, *, interval_ms: int = POLL_MS) -> None:
        super().__init__(parent)
        self._sink = None
        self._buffer: QBuffer | None = None
        self._duration = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def is_playing(self) -> bool:
        return self._sink is not None

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        """Play ``samples`` from the start; AudioDeviceError when there is no usable output."""
        from PySide6.QtMultimedia import QAudioFormat, QAudioSink, QMediaDevices

        self.stop()
        x = np.asarray(samples, dtype=np.float32).ravel()
        if x.size == 0:
            raise AudioDeviceError("The clip is empty: there is nothing to play.")
        device = QMediaDevices.defaultAudioOutput()
        if device.isNull():
            raise AudioDeviceError("No audio output device was found, so the clip cannot be "
                                   "played here. Connect speakers or headphones (the clip can "
                                   "still be saved as WAV).")
        fmt = QAudioFormat()
        fmt.setSampleRate(int(sample_rate))
        fmt.setChannelCount(1)
        fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
        if not device.isFormatSupported(fmt):
            fmt = device.preferredFormat()
        rate = int(fmt.sampleRate()) or int(sample_rate)
        data = encode_pcm(resample_linear(x, int(sample_rate), rate), _format_name(fmt),
                          max(1, fmt.channelCount()))
        buffer = QBuffer(self)
        buffer.setData(QByteArray(data))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        sink = QAudioSink(device, fmt, self)
        sink.start(buffer)
        error = _error_name(sink.error())
        if error != "NoError":
            sink.stop()
            sink.deleteLater()
            buffer.deleteLater()
            raise AudioDeviceError(f"The audio output '{device.description()}' could not be "
                                   f"opened ({error}). Check the system's sound settings.")
        sink.stateChanged.connect(self._on_state)
        self._sink, self._buffer = sink, buffer
        self._duration = len(x) / float(sample_rate)
        self._timer.start()
        self.playing_changed.emit(True)

    def stop(self) -> None:
        sink, buffer = self._sink, self._buffer
        if sink is None:
            return
        self._sink = self._buffer = None
        self._timer.stop()
        sink.stateChanged.disconnect(self._on_state)
        sink.stop()
        sink.deleteLater()
        if buffer is not None:
            buffer.deleteLater()
        self.position.emit(-1.0)
        self.playing_changed.emit(False)

    def _tick(self) -> None:
        if self._sink is not None:
            self.position.emit(min(self._duration, self._sink.processedUSecs() / 1e6))

    def _on_state(self, state) -> None:
        if getattr(state, "name", "") in ("IdleState", "StoppedState"):
            self.stop()
