"""Built-in speech demo data, synthesised with espeak-ng (no download).

- :func:`espeak_path` ``() -> str | None``; :func:`require_espeak` raises DatasetError saying
  what is missing and how to install it.
- :func:`synthesize` ``(text, voice="en", speed=160, pitch=50, sample_rate=16000, trim=True)
  -> np.ndarray``: one utterance (``espeak-ng -v VOICE -s SPEED -p PITCH -w out.wav TEXT``),
  resampled to 16 kHz mono float32, leading/trailing silence trimmed.
- :func:`make_keyword_set` ``(out_dir, voices, speeds, pitches, words=DIGITS, fmt="flac")``:
  writes ``out_dir/<word>/<word>_<voice>_s<speed>_p<pitch>.<fmt>`` (a folder-per-label dataset
  whose names also carry the label for the file-name pattern).
- :func:`synth_words_folder` ``(out_dir, words, voices, val_voices=(), ...) -> Path``: a small
  "own recordings" keyword folder of any words: ``train/<word>/`` in ``voices`` and, with
  ``val_voices``, ``val/<word>/`` in those (the split-folder layout the keyword job validates
  on), e.g. the new words a keyword model is fine-tuned on in ``benchmarks/bench_finetune.py``.
- :func:`make_sequence_set` ``(out_dir, count, voices, ...)``: digit sequences ("three one
  four") as ``seq_<n>.wav`` plus ``metadata.csv`` (``file|transcript``) for CTC.
- :func:`demo_keyword_folder` ``(home=None, ctx=None, prefer_synth=True) -> Path``: the
  ``demo:digits`` keyword set: synthesised once into ``<home>/cache/speech_demo/`` when
  espeak-ng is installed (cached; a marker file says it is complete), else the small set
  shipped in ``playground/assets/speech_digits/`` (package data, so ``pip install .`` has it too).
- :func:`demo_sequence_folder` ``(home=None, ctx=None, count=...) -> Path``: the CTC demo;
  needs espeak-ng at run time (DatasetError naming what is missing otherwise).
- :data:`TRAIN_VOICES` / :data:`HELD_OUT_VOICES`: voices used for training and for held-out
  evaluation in the benchmarks.

``scripts/make_speech_demo.py`` regenerates the shipped assets with :func:`make_keyword_set`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from playground.core import events as ev
from playground.core.errors import DatasetError, JobCancelled
from playground.core.jobs import JobContext

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

# espeak-ng voices (language + optional "+variant"), all part of a standard espeak-ng install.
TRAIN_VOICES = ("en", "en-us", "en-gb-scotland", "en-029", "en-gb-x-gbclan", "en+f2",
                "en+m3", "en-us+f4", "en+m7", "en-gb-x-rp+f5", "en+m1", "en-us-nyc+m5")
HELD_OUT_VOICES = ("en-gb-x-rp", "en-gb-x-gbcwmd", "en+f3", "en-us+m2")
DEMO_SPEEDS = (120, 150, 185)
DEMO_PITCHES = (30, 50, 75)

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets" / "speech_digits"
DEMO_VERSION = "v1"
_MARKER = ".complete"


def espeak_path() -> str | None:
    """The espeak-ng executable (or classic espeak), or None when neither is installed."""
    return shutil.which("espeak-ng") or shutil.which("espeak")


def require_espeak(purpose: str = "synthesise the speech demo") -> str:
    exe = espeak_path()
    if exe is None:
        raise DatasetError(
            f"espeak-ng is not installed, and it is needed to {purpose}. Install it "
            "(Debian/Ubuntu: sudo apt install espeak-ng; macOS: brew install espeak-ng; "
            "Windows: the installer from github.com/espeak-ng/espeak-ng/releases) and try "
            "again, or use your own recordings.")
    return exe


def synthesize(text: str, voice: str = "en", speed: int = 160, pitch: int = 50,
               sample_rate: int = 16_000, trim: bool = True) -> np.ndarray:
    """Speak ``text`` with espeak-ng; float32 mono samples at ``sample_rate``."""
    from playground.speech.audio import load_audio, trim_silence

    exe = require_espeak()
    fd, tmp = tempfile.mkstemp(suffix=".wav", prefix="espeak-")
    os.close(fd)
    try:
        proc = subprocess.run([exe, "-v", voice, "-s", str(int(speed)), "-p", str(int(pitch)),
                               "-w", tmp, "--", text], capture_output=True, timeout=60,
                              check=False)
        if proc.returncode != 0 or os.path.getsize(tmp) <= 44:
            message = proc.stderr.decode("utf-8", "replace").strip()
            raise DatasetError(f"espeak-ng could not speak with voice {voice!r}"
                               f"{': ' + message if message else ''}. Check "
                               "`espeak-ng --voices` for the voices installed here.")
        samples, _ = load_audio(tmp, sample_rate)
    finally:
        os.unlink(tmp)
    if trim:
        samples = trim_silence(samples, sample_rate, threshold_db=-45.0, pad_seconds=0.04)
    return samples


def _voice_slug(voice: str) -> str:
    return voice.replace("/", "-").replace("_", "-")


def _write(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    import soundfile as sf

    from playground.core.checkpoint import atomic_write

    fmt = {".flac": "FLAC", ".wav": "WAV", ".ogg": "OGG"}[path.suffix.lower()]
    atomic_write(path, lambda tmp: sf.write(tmp, np.clip(samples, -1, 1), sample_rate,
                                            format=fmt, subtype="VORBIS" if fmt == "OGG"
                                            else "PCM_16"))


def keyword_file_name(word: str, voice: str, speed: int, pitch: int, fmt: str = "flac") -> str:
    return f"{word}_{_voice_slug(voice)}_s{speed}_p{pitch}.{fmt}"


def voice_of(path: str | os.PathLike) -> str:
    """The voice slug in a file written by :func:`make_keyword_set`."""
    parts = Path(path).stem.split("_")
    return parts[1] if len(parts) >= 4 else ""


def _parallel(jobs: Sequence, fn, ctx: JobContext | None, message: str) -> list:
    """``[fn(job) for job in jobs]`` on a few threads (espeak-ng runs as a subprocess)."""
    from concurrent.futures import ThreadPoolExecutor

    results = []
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(jobs), 32):
            if ctx is not None:
                ctx.check_cancelled()
            results += list(pool.map(fn, jobs[start:start + 32]))
            if ctx is not None:
                ctx.emit(ev.Progress(len(results), len(jobs), message, unit="clip"))
    return results


def make_keyword_set(out_dir: str | os.PathLike, voices: Sequence[str] = TRAIN_VOICES,
                     speeds: Sequence[int] = DEMO_SPEEDS, pitches: Sequence[int] = DEMO_PITCHES,
                     words: Sequence[str] = DIGITS, *, fmt: str = "flac",
                     sample_rate: int = 16_000, ctx: JobContext | None = None) -> list[Path]:
    """Synthesise every word in every voice/speed/pitch into ``out_dir/<word>/``."""
    out = Path(out_dir)
    require_espeak()
    jobs = [(w, v, s, p) for v in voices for s in speeds for p in pitches for w in words]

    def one(job: tuple[str, str, int, int]) -> Path:
        word, voice, speed, pitch = job
        path = out / word / keyword_file_name(word, voice, speed, pitch, fmt)
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            _write(path, synthesize(word, voice, speed, pitch, sample_rate), sample_rate)
        return path

    return _parallel(jobs, one, ctx, "synthesising digits")


def synth_words_folder(out_dir: str | os.PathLike, words: Sequence[str],
                       voices: Sequence[str], val_voices: Sequence[str] = (), *,
                       speeds: Sequence[int] = (150,), pitches: Sequence[int] = (50,),
                       val_speeds: Sequence[int] | None = None,
                       val_pitches: Sequence[int] | None = None, fmt: str = "wav",
                       sample_rate: int = 16_000, ctx: JobContext | None = None) -> Path:
    """Synthesise ``words`` into a keyword folder as a user's own recordings would be laid out.

    Without ``val_voices``: ``out_dir/<word>/`` (the job holds out part of each label). With
    them: ``out_dir/train/<word>/`` in ``voices`` and ``out_dir/val/<word>/`` in ``val_voices``
    (``val_speeds`` / ``val_pitches``, default the training ones), so validation is on voices
    never trained on. Each clip is ``len(speeds) * len(pitches)`` per voice and word; files
    already there are kept. Returns ``out_dir``.
    """
    out = Path(out_dir)
    words = [w.strip() for w in words]
    if not words or not all(words):
        raise DatasetError("Give at least one word to synthesise (empty words are not labels).")
    if not voices:
        raise DatasetError("Give at least one espeak-ng voice to speak the words with.")
    if not val_voices:
        make_keyword_set(out, voices, speeds, pitches, words, fmt=fmt,
                         sample_rate=sample_rate, ctx=ctx)
        return out
    make_keyword_set(out / "train", voices, speeds, pitches, words, fmt=fmt,
                     sample_rate=sample_rate, ctx=ctx)
    make_keyword_set(out / "val", val_voices,
                     speeds if val_speeds is None else val_speeds,
                     pitches if val_pitches is None else val_pitches, words, fmt=fmt,
                     sample_rate=sample_rate, ctx=ctx)
    return out


def make_sequence_set(out_dir: str | os.PathLike, count: int,
                      voices: Sequence[str] = TRAIN_VOICES, *, min_digits: int = 2,
                      max_digits: int = 5, speeds: Sequence[int] = (130, 160, 190),
                      pitches: Sequence[int] = (35, 50, 70), seed: int = 0,
                      sample_rate: int = 16_000, prefix: str = "seq",
                      ctx: JobContext | None = None) -> Path:
    """Write ``count`` spoken digit sequences and ``metadata.csv``; return the folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    require_espeak()
    rng = np.random.default_rng(seed)
    jobs = []
    for n in range(count):
        k = int(rng.integers(min_digits, max_digits + 1))
        text = " ".join(DIGITS[int(d)] for d in rng.integers(0, 10, size=k))
        voice = voices[int(rng.integers(len(voices)))]
        speed = int(speeds[int(rng.integers(len(speeds)))])
        pitch = int(pitches[int(rng.integers(len(pitches)))])
        jobs.append((f"{prefix}_{n:05d}.wav", text, voice, speed, pitch))

    def one(job: tuple[str, str, str, int, int]) -> str:
        name, text, voice, speed, pitch = job
        path = out / name
        if not path.is_file():
            _write(path, synthesize(text, voice, speed, pitch, sample_rate), sample_rate)
        return f"{name}|{text}"

    lines = _parallel(jobs, one, ctx, "synthesising digit sequences")
    from playground.core.checkpoint import atomic_write_text

    atomic_write_text(out / "metadata.csv", "\n".join(lines) + "\n")
    return out


def _cached(folder: Path, build, ctx: JobContext | None) -> Path:
    """Build ``folder`` once (``build(tmp_folder)``), renaming it into place when complete.

    Under torchrun rank 0 builds it while the other processes wait, then they read it."""
    from playground.core.distributed import main_first

    with main_first():
        return _build_once(folder, build, ctx)


def _build_once(folder: Path, build, ctx: JobContext | None) -> Path:
    if (folder / _MARKER).is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:
        build(tmp)
        (tmp / _MARKER).write_text("ok\n", encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except (JobCancelled, Exception):
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if ctx is not None:
        ctx.emit(ev.Log(f"Demo data written to {folder}"))
    return folder


def demo_root(home: str | os.PathLike | None = None) -> Path:
    from playground.core.paths import cache_dir

    return cache_dir(home) / "speech_demo"


def shipped_keyword_folder() -> Path:
    """The small digit set shipped in ``playground/assets/speech_digits`` (no espeak needed)."""
    if not ASSETS_DIR.is_dir():
        raise DatasetError(f"The shipped demo clips are missing ({ASSETS_DIR}). Reinstall the "
                           "app, or install espeak-ng so the demo can be synthesised.")
    return ASSETS_DIR


def demo_keyword_folder(home: str | os.PathLike | None = None, ctx: JobContext | None = None,
                        *, prefer_synth: bool = True) -> Path:
    """The ``demo:digits`` keyword dataset folder (synthesised and cached, or shipped)."""
    if not prefer_synth or espeak_path() is None:
        if ctx is not None:
            ctx.emit(ev.Log("Using the shipped spoken-digit clips (espeak-ng is not installed, "
                            "so no larger set is synthesised)."
                            if prefer_synth else "Using the shipped spoken-digit clips."))
        return shipped_keyword_folder()
    folder = demo_root(home) / f"digits-{DEMO_VERSION}"
    return _cached(folder, lambda tmp: make_keyword_set(tmp, ctx=ctx), ctx)


def demo_sequence_folder(home: str | os.PathLike | None = None, ctx: JobContext | None = None,
                         *, count: int = 1200) -> Path:
    """The CTC demo: ``count`` spoken digit sequences (needs espeak-ng at run time)."""
    require_espeak("synthesise the speech-to-text demo (spoken digit sequences)")
    folder = demo_root(home) / f"sequences-{DEMO_VERSION}-{count}"
    return _cached(folder, lambda tmp: make_sequence_set(tmp, count, ctx=ctx), ctx)
