"""Audio in and out through soundfile (libsndfile), never torchaudio's own loader.

torchaudio's loader needs FFmpeg libraries that many machines lack; soundfile ships libsndfile,
which reads WAV, FLAC, OGG (Vorbis/Opus), MP3 (libsndfile >= 1.1), AIFF, CAF and a few more.

Public API (all Qt-free, all numpy):

- :func:`load_audio` ``(path, target_sr=16000, *, offset=0.0, duration=None, strict=True)
  -> (samples, sr)``: float32 mono in [-1, 1] (channels averaged), resampled with
  ``torchaudio.functional.resample`` when ``target_sr`` differs (``None`` keeps the file's rate).
- :func:`audio_info` ``(path) -> AudioInfo`` (header only: rate, channels, frames, duration).
- :func:`iter_chunks` ``(path, seconds, overlap=0.0, target_sr=16000) -> Iterator[AudioChunk]``:
  streams a long file block by block, so it is never held whole in memory or in a model.
- :func:`save_wav` ``(path, samples, sr)``: 16-bit PCM WAV written atomically.
- :func:`is_silent` / :func:`level_db` / :func:`trim_silence`: simple level helpers.
- :data:`SUPPORTED_EXTENSIONS`, :func:`supported_formats_text`.

Every problem a user can cause raises :class:`~playground.core.errors.AudioDecodeError` whose
message names the file, says what is wrong (missing, a broken link, not a regular file, cannot
be read with the reason such as permission denied, empty, a text file, an unsupported
container, corrupt or truncated, NaN or infinite samples, no samples, an extreme sample rate)
and what to do. A file the system refuses to read is never called damaged.
"""

from __future__ import annotations

import functools
import logging
import os
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from playground.core.data import os_reason
from playground.core.errors import AudioDecodeError

log = logging.getLogger(__name__)

MIN_SAMPLE_RATE = 4_000
MAX_SAMPLE_RATE = 384_000
SILENCE_DB = -60.0

# libsndfile's major formats -> the file extensions that carry them.
_FORMAT_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "WAV": (".wav",), "WAVEX": (".wav",), "RF64": (".rf64",), "W64": (".w64",),
    "FLAC": (".flac",), "OGG": (".ogg", ".oga", ".opus"), "MP3": (".mp3",),
    "AIFF": (".aif", ".aiff", ".aifc"), "AU": (".au", ".snd"), "CAF": (".caf",),
    "VOC": (".voc",), "IRCAM": (".sf",), "NIST": (".nist", ".sph"),
}
# Containers people often try that libsndfile cannot read.
_KNOWN_UNSUPPORTED = {".m4a": "AAC/ALAC in MP4", ".aac": "AAC", ".mp4": "MP4", ".wma": "WMA",
                      ".webm": "WebM", ".amr": "AMR", ".mkv": "Matroska", ".mov": "QuickTime",
                      ".3gp": "3GP", ".ac3": "AC-3", ".ape": "Monkey's Audio"}


def _available_formats() -> dict[str, str]:
    import soundfile as sf

    return dict(sf.available_formats())


def _supported_extensions() -> tuple[str, ...]:
    formats = _available_formats()
    exts: list[str] = []
    for fmt, fmt_exts in _FORMAT_EXTENSIONS.items():
        if fmt in formats:
            exts += [e for e in fmt_exts if e not in exts]
    return tuple(exts)


SUPPORTED_EXTENSIONS: tuple[str, ...] = _supported_extensions()
"""File extensions this machine's libsndfile can read (lower case, with the dot)."""


def supported_formats_text() -> str:
    """``"WAV, FLAC, OGG, MP3, ..."``: what error messages and file dialogs list."""
    names = [fmt for fmt in _FORMAT_EXTENSIONS if fmt in _available_formats()
             and fmt not in ("WAVEX",)]
    return ", ".join(names)


def is_audio_path(path: str | os.PathLike) -> bool:
    """Whether the file's extension is one :func:`load_audio` reads."""
    return Path(path).suffix.lower() in SUPPORTED_EXTENSIONS


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says."""

    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str      # e.g. "WAV"
    subtype: str     # e.g. "PCM_16"

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


@dataclass(frozen=True)
class AudioChunk:
    """One block of a streamed file: ``samples`` (float32 mono at ``sample_rate``) from
    ``start`` seconds; ``index`` counts blocks from 0 and ``total`` is the number of blocks."""

    index: int
    total: int
    start: float
    samples: np.ndarray
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


# ------------------------------------------------------------------------------------------
# Checks before libsndfile is asked
# ------------------------------------------------------------------------------------------
def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at the end of the sniffed block is still text.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.95 * max(1, len(text))


_NOT_REGULAR = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
                (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _unreadable(path: Path, exc: OSError) -> AudioDecodeError:
    hint = (" Check the file's permissions." if isinstance(exc, PermissionError)
            else " Check the file and the drive it is on.")
    return AudioDecodeError(f"{path.name} cannot be read ({os_reason(exc)}).{hint}")


# What a file really is when it is not audio (its first bytes), for a message that says so.
_NOT_AUDIO_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"), (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive"),
    (b"BM", "a BMP image"), (b"\x7fELF", "a program"), (b"MZ", "a Windows program"),
)
# libsndfile's texts that are false or meaningless here: the file was checked to exist and
# be a regular file before decoding, so these only mean "not a format it can read".
_MISLEADING = ("does not exist", "possibly a pipe")


def _precheck(path: Path) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise AudioDecodeError(f"{path.name} is a link to a file that does not exist.") \
                from None
        raise AudioDecodeError(f"Audio file {path} does not exist.") from None
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    if stat.S_ISDIR(st.st_mode):
        raise AudioDecodeError(f"{path} is a folder, not an audio file.")
    if not stat.S_ISREG(st.st_mode):  # reading a named pipe would wait forever
        kind = next((k for test, k in _NOT_REGULAR if test(st.st_mode)), "a special file")
        raise AudioDecodeError(f"{path.name} is {kind}, not an audio file.")
    size = st.st_size
    if size == 0:
        raise AudioDecodeError(f"{path.name} is empty (0 bytes): it holds no audio. Record or "
                               "export it again.")
    ext = path.suffix.lower()
    if ext in _KNOWN_UNSUPPORTED:
        raise AudioDecodeError(
            f"{path.name} is {_KNOWN_UNSUPPORTED[ext]}, a container this app cannot read. "
            f"Supported formats: {supported_formats_text()}. Convert it, e.g. "
            f"`ffmpeg -i {path.name} {path.stem}.wav`.")
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    if _looks_like_text(head):
        raise AudioDecodeError(f"{path.name} is a text file, not audio (it starts with "
                               f"{head[:24].decode('utf-8', 'replace')!r}). Choose an audio "
                               f"file ({supported_formats_text()}).")
    kind = next((k for magic, k in _NOT_AUDIO_MAGIC if head.startswith(magic)), None)
    if kind is None and head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        kind = "a WebP image"
    if kind is not None:
        raise AudioDecodeError(f"{path.name} is {kind}, not audio (despite its name). Choose "
                               f"an audio file ({supported_formats_text()}).")


def _wav_declared_frames(path: Path) -> int | None:
    """Frames a RIFF/WAVE header promises in its ``data`` chunk (None if not a plain WAV)."""
    try:
        with open(path, "rb") as fh:
            riff = fh.read(12)
            if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
                return None
            block_align = 0
            while True:
                header = fh.read(8)
                if len(header) < 8:
                    return None
                cid, size = header[:4], struct.unpack("<I", header[4:])[0]
                if cid == b"fmt ":
                    fmt = fh.read(size)
                    if len(fmt) >= 14:
                        block_align = struct.unpack("<H", fmt[12:14])[0]
                    if size % 2:
                        fh.read(1)
                elif cid == b"data":
                    if not block_align or size in (0, 0xFFFFFFFF):
                        return None  # streaming writers leave the size open
                    return size // block_align
                else:
                    fh.seek(size + (size % 2), os.SEEK_CUR)
    except OSError:
        return None


def _decode_error(path: Path, exc: Exception) -> AudioDecodeError:
    if isinstance(exc, OSError) and exc.errno is not None:
        return _unreadable(path, exc)  # the system failed to read it: not a damaged file
    reason = str(exc).split(":", 1)[-1].strip() if str(exc) else type(exc).__name__
    if any(m in reason for m in _MISLEADING):
        reason = "not a format it can read"
    if "Format not recognised" in str(exc) and path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        return AudioDecodeError(
            f"{path.name} is not in a supported audio format. Supported formats: "
            f"{supported_formats_text()}.")
    return AudioDecodeError(
        f"{path.name} could not be decoded ({reason}): the file is corrupt, truncated or not "
        f"really {path.suffix.lstrip('.').upper() or 'audio'}. Re-export or re-record it.")


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """The file's header (rate, channels, frames) without decoding the samples."""
    import soundfile as sf

    path = Path(path)
    _precheck(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise _decode_error(path, exc) from exc
    result = AudioInfo(str(path), int(info.samplerate), int(info.channels), int(info.frames),
                       str(info.format), str(info.subtype))
    _check_rate(path, result.sample_rate)
    return result


def _check_rate(path: Path, sr: int) -> None:
    if sr < MIN_SAMPLE_RATE:
        raise AudioDecodeError(
            f"{path.name} has a sample rate of {sr} Hz, below the {MIN_SAMPLE_RATE} Hz this app "
            "accepts: it cannot carry speech. Record or export it at 16 kHz or more.")
    if sr > MAX_SAMPLE_RATE:
        raise AudioDecodeError(
            f"{path.name} has a sample rate of {sr} Hz, above the {MAX_SAMPLE_RATE} Hz this "
            "app accepts. Export it at 48 kHz or less.")


# ------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------
def to_mono(data: np.ndarray) -> np.ndarray:
    """Average the channels of ``(frames, channels)`` data; float32 1-D."""
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 2:
        data = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.ascontiguousarray(data, dtype=np.float32)


def resample(samples: np.ndarray, sr: int, target_sr: int | None) -> np.ndarray:
    """Resample float32 mono ``samples`` from ``sr`` to ``target_sr`` (torchaudio's sinc)."""
    if not target_sr or int(target_sr) == int(sr) or samples.size == 0:
        return np.asarray(samples, dtype=np.float32)
    import torch

    with torch.no_grad():
        out = _resampler(int(sr), int(target_sr))(
            torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)))
    return out.numpy().astype(np.float32, copy=False)


@functools.lru_cache(maxsize=16)
def _resampler(sr: int, target_sr: int):
    """``torchaudio.transforms.Resample`` (sinc, the same as ``functional.resample``) with its
    kernel computed once per rate pair; building the kernel costs more than applying it."""
    import torchaudio.transforms as T

    return T.Resample(sr, target_sr)


def load_audio(path: str | os.PathLike, target_sr: int | None = 16_000, *, offset: float = 0.0,
               duration: float | None = None, strict: bool = True) -> tuple[np.ndarray, int]:
    """Decode ``path`` to float32 mono samples at ``target_sr`` (``None``: the file's rate).

    ``offset`` / ``duration`` (seconds) read only part of the file. With ``strict`` a WAV
    whose data stops before its header says, or a file that decodes to fewer frames than its
    header promises, is an error; with ``strict=False`` what is there is returned.
    Returns ``(samples, sample_rate)``.
    """
    import soundfile as sf

    path = Path(path)
    info = audio_info(path)
    if info.frames == 0:
        raise AudioDecodeError(f"{path.name} contains no audio samples (zero length, or cut "
                               "off right after its header). Record or export it again.")
    if strict and info.format == "WAV":
        declared = _wav_declared_frames(path)
        if declared is not None and declared > info.frames:
            raise AudioDecodeError(
                f"{path.name} is truncated: its header promises {declared / info.sample_rate:.2f}"
                f" s of audio but the file ends after {info.duration:.2f} s. Re-export or "
                "re-record it.")
    start = max(0, int(round(offset * info.sample_rate)))
    frames = -1 if duration is None else max(0, int(round(duration * info.sample_rate)))
    if start >= info.frames:
        raise AudioDecodeError(f"{path.name} is {info.duration:.2f} s long; there is no audio "
                               f"after {offset:.2f} s.")
    try:
        data, sr = sf.read(str(path), start=start, frames=frames, dtype="float32",
                           always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise _decode_error(path, exc) from exc
    expected = info.frames - start if frames < 0 else min(frames, info.frames - start)
    if len(data) == 0:
        raise AudioDecodeError(f"{path.name} decoded to no samples: the file is corrupt or "
                               "truncated. Re-export or re-record it.")
    if strict and len(data) < 0.98 * expected:
        raise AudioDecodeError(
            f"{path.name} is truncated or corrupt: its header promises {expected / sr:.2f} s "
            f"but only {len(data) / sr:.2f} s could be decoded. Re-export or re-record it.")
    samples = to_mono(data)
    if not np.isfinite(samples).all():
        raise AudioDecodeError(f"{path.name} contains invalid (NaN or infinite) samples: the "
                               "file is damaged. Re-export or re-record it.")
    return resample(samples, sr, target_sr), int(target_sr or sr)


def iter_chunks(path: str | os.PathLike, seconds: float, overlap: float = 0.0,
                target_sr: int | None = 16_000) -> Iterator[AudioChunk]:
    """Stream ``path`` in blocks of ``seconds`` that overlap by ``overlap`` seconds.

    Only one block is decoded at a time (``soundfile.blocks``), so files of any length can be
    processed. Chunk ``start`` times are in seconds from the beginning of the file.
    """
    import soundfile as sf

    if seconds <= 0 or overlap < 0 or overlap >= seconds:
        raise ValueError("iter_chunks needs seconds > 0 and 0 <= overlap < seconds")
    path = Path(path)
    info = audio_info(path)
    if info.frames == 0:
        raise AudioDecodeError(f"{path.name} contains no audio samples.")
    sr = info.sample_rate
    block = max(1, int(round(seconds * sr)))
    lap = int(round(overlap * sr))
    hop = block - lap
    total = max(1, int(np.ceil(max(0, info.frames - lap) / hop)))
    out_sr = int(target_sr or sr)
    try:
        for index, data in enumerate(sf.blocks(str(path), blocksize=block, overlap=lap,
                                               dtype="float32", always_2d=True)):
            if index >= total:
                break  # soundfile yields a last block made only of the overlap
            yield AudioChunk(index, total, index * hop / sr,
                             resample(to_mono(data), sr, target_sr), out_sr)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise _decode_error(path, exc) from exc


def save_wav(path: str | os.PathLike, samples: np.ndarray, sr: int) -> Path:
    """Write float samples (mono 1-D or ``(frames, channels)``) as 16-bit PCM WAV, atomically."""
    import soundfile as sf

    from playground.core.checkpoint import atomic_write

    data = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    return atomic_write(path, lambda tmp: sf.write(tmp, data, int(sr), format="WAV",
                                                   subtype="PCM_16"))


# ------------------------------------------------------------------------------------------
# Levels
# ------------------------------------------------------------------------------------------
def level_db(samples: np.ndarray) -> float:
    """RMS level in dB relative to full scale (-inf for digital silence)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(x * x)))
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")


def is_silent(samples: np.ndarray, threshold_db: float = SILENCE_DB) -> bool:
    """True when the clip's RMS level and its peak are both below ``threshold_db`` dBFS."""
    x = np.asarray(samples, dtype=np.float32)
    if x.size == 0:
        return True
    peak = float(np.max(np.abs(x)))
    peak_db = 20.0 * np.log10(peak) if peak > 0 else float("-inf")
    return level_db(x) < threshold_db and peak_db < threshold_db + 20.0


def trim_silence(samples: np.ndarray, sr: int, threshold_db: float = -40.0,
                 pad_seconds: float = 0.05) -> np.ndarray:
    """Cut leading and trailing parts quieter than ``threshold_db`` below the clip's peak
    (10 ms frames), keeping ``pad_seconds`` around the sound."""
    x = np.asarray(samples, dtype=np.float32)
    frame = max(1, sr // 100)
    n = len(x) // frame
    if n == 0:
        return x
    energy = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1))
    peak = float(energy.max())
    if peak <= 0:
        return x[:0]
    loud = np.flatnonzero(20 * np.log10(np.maximum(energy, 1e-12) / peak) > threshold_db)
    pad = int(pad_seconds * sr)
    start = max(0, loud[0] * frame - pad)
    stop = min(len(x), (loud[-1] + 1) * frame + pad)
    return x[start:stop]
