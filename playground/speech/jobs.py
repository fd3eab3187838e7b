"""Small jobs the Speech tab runs off the UI thread, and helpers for recorded clips.

Each job is a plain ``job(ctx) -> dict`` returning numbers, strings and numpy arrays for the
tab to render (no tensors):

- :func:`keyword_preview_job` ``(spec, label_pattern, home=None)``: scan a keyword dataset
  (a folder or ``demo:digits``): labels, counts, clip-length statistics, unreadable files.
- :func:`transcript_preview_job` ``(spec, lowercase=True, demo_clips=1200, home=None)``: the
  same for a speech-to-text dataset; the ``demo:digits`` sequences are only scanned when they
  have been synthesised already (training synthesises them), and a missing espeak-ng fails
  with a message saying what to install.
- :func:`load_clip_job` ``(source, name=None, max_seconds=600)``: decode a file or a recorded
  ``(samples, sample_rate)`` for display: 16 kHz samples, duration, level, and the log-mel
  spectrogram with its time and frequency axes. Longer files show their first ``max_seconds``.
- :func:`model_info_job` ``(cfg, task, num_classes)``: title, description, parameter counts.
- :func:`keyword_predict_job` ``(run_dir, name, clip, …)``: top-k probabilities, the saliency
  map over the log-mel the model saw, and where in the clip that window starts (``offset``).
- :func:`transcribe_clip_job` ``(source, name, clip, …)``: a timed transcript (long files
  chunked with progress) plus the alignment (posteriorgram, emissions) of its first 30 s;
  ``source`` is a CTC run folder or ``"wav2vec2"`` (whose weights may be downloaded first).

Helpers (no job needed, quick file writes): :func:`recordings_folder`, :func:`add_to_label`
(save a clip into a keyword dataset under a label), :func:`list_speech_runs`.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from playground.core import events as ev
from playground.core.errors import ConfigError, DatasetError
from playground.core.jobs import JobContext
from playground.speech.datasets import DEFAULT_LABEL_PATTERN

if TYPE_CHECKING:
    from playground.core.loader import ModelCache

DISPLAY_RATE = 16_000
DISPLAY_MAX_SECONDS = 600.0
ALIGN_MAX_SECONDS = 30.0
DEMO_SPEC = "demo:digits"
_BAD_LABEL = re.compile(r"[\\/:*?\"<>|\x00-\x1f]")


def _reasons(pairs) -> list[tuple[str, str]]:
    return [(Path(p).name, str(r)) for p, r in pairs]


# ------------------------------------------------------------------------------------------
# Data previews
# ------------------------------------------------------------------------------------------
def keyword_preview_job(spec: str, label_pattern: str = DEFAULT_LABEL_PATTERN, *,
                        home: str | os.PathLike | None = None
                        ) -> Callable[[JobContext], dict[str, Any]]:
    """Describe the keyword dataset ``spec`` (folder or ``demo:digits``) as training sees it."""

    def job(ctx: JobContext) -> dict[str, Any]:
        from playground.speech.synth import ASSETS_DIR
        from playground.speech.train import resolve_keyword_data

        data = resolve_keyword_data(spec, home=home, ctx=ctx, label_pattern=label_pattern)
        stats = data.stats()
        if spec == DEMO_SPEC:
            shipped = Path(data.root).resolve() == ASSETS_DIR.resolve()
            title = ("Spoken digits (the small set shipped with the app)" if shipped
                     else "Spoken digits (synthesised with espeak-ng)")
        else:
            title = Path(data.root).name or str(data.root)
        return {"spec": spec, "title": title, "root": str(data.root), "layout": data.layout,
                "labels": list(data.labels), "counts": data.counts(), "stats": stats,
                "summary": data.summary_text(), "unreadable": _reasons(data.unreadable),
                "unlabeled": [Path(p).name for p in data.unlabeled],
                "label_pattern": label_pattern}

    return job


def demo_sequences_ready(count: int, home: str | os.PathLike | None = None) -> Path | None:
    """The synthesised CTC demo folder for ``count`` sequences if it exists (it is renamed into
    place only when complete), else None."""
    from playground.speech.synth import DEMO_VERSION, demo_root

    folder = demo_root(home) / f"sequences-{DEMO_VERSION}-{int(count)}"
    return folder if folder.is_dir() else None


def transcript_preview_job(spec: str, *, lowercase: bool = True, demo_clips: int = 1200,
                           home: str | os.PathLike | None = None
                           ) -> Callable[[JobContext], dict[str, Any]]:
    """Describe the speech-to-text dataset ``spec`` (folder or ``demo:digits``)."""

    def job(ctx: JobContext) -> dict[str, Any]:
        from playground.speech.datasets import scan_transcript_folder
        from playground.speech.synth import require_espeak

        if spec.startswith("demo:"):
            if spec != DEMO_SPEC:
                raise ConfigError(f"Unknown demo {spec!r}: the speech demo is {DEMO_SPEC}.")
            require_espeak("synthesise the speech-to-text demo (spoken digit sequences)")
            folder = demo_sequences_ready(demo_clips, home)
            title = "Spoken digit sequences (synthesised with espeak-ng)"
            if folder is None:
                return {"spec": spec, "title": title, "pending": True,
                        "summary": f"{demo_clips:,} spoken digit sequences will be synthesised "
                                   "with espeak-ng when training starts (once; they are "
                                   "cached).",
                        "unreadable": [], "warnings": []}
        else:
            folder = Path(spec)
            title = folder.name or str(folder)
        data = scan_transcript_folder(folder, lowercase=lowercase, ctx=ctx)
        stats = data.stats()
        return {"spec": spec, "title": title, "pending": False, "root": str(data.root),
                "source": data.source, "stats": stats, "vocab": "".join(data.vocab.chars),
                "summary": data.summary_text(), "unreadable": _reasons(data.unreadable),
                "warnings": list(data.warnings),
                "examples": [(Path(p).name, t) for p, t in data.items[:5]]}

    return job


# ------------------------------------------------------------------------------------------
# Clips
# ------------------------------------------------------------------------------------------
def load_clip_job(source: Any, name: str | None = None, *,
                  max_seconds: float = DISPLAY_MAX_SECONDS
                  ) -> Callable[[JobContext], dict[str, Any]]:
    """Decode a path or ``(samples, sample_rate)`` for the waveform and spectrogram views."""

    def job(ctx: JobContext) -> dict[str, Any]:
        from playground.core.errors import AudioDecodeError
        from playground.speech.audio import (
            audio_info,
            is_silent,
            level_db,
            load_audio,
            resample,
            to_mono,
        )
        from playground.speech.features import log_mel_for_display

        ctx.emit(ev.Progress(0, 0, "reading audio", unit="file"))
        details: dict[str, Any] = {}
        if isinstance(source, (str, os.PathLike)):
            info = audio_info(source)
            samples, _ = load_audio(source, DISPLAY_RATE, duration=max_seconds)
            duration = info.duration
            details = {"format": info.format, "subtype": info.subtype,
                       "channels": info.channels, "file_rate": info.sample_rate}
            path = str(source)
        else:
            data, sr = source
            samples = resample(to_mono(np.asarray(data, dtype=np.float32)), int(sr),
                               DISPLAY_RATE)
            if samples.size == 0:
                raise AudioDecodeError("The recording is empty: no samples arrived from the "
                                       "microphone.")
            duration = len(samples) / DISPLAY_RATE
            samples = samples[: int(max_seconds * DISPLAY_RATE)]
            details = {"format": "recording", "subtype": "", "channels": 1,
                       "file_rate": int(sr)}
            path = None
        ctx.check_cancelled()
        spec = log_mel_for_display(samples, DISPLAY_RATE)
        return {"name": name or (Path(path).name if path else "recording"), "path": path,
                "samples": np.ascontiguousarray(samples, dtype=np.float32),
                "sample_rate": DISPLAY_RATE, "duration": float(duration),
                "shown_seconds": len(samples) / DISPLAY_RATE,
                "truncated": duration > len(samples) / DISPLAY_RATE + 1e-3,
                "level_db": level_db(samples), "silent": is_silent(samples),
                "log_mel": spec.values, "times": spec.times, "freqs": spec.freqs, **details}

    return job


def model_info_job(cfg: Any, task: str, num_classes: int = 10
                   ) -> Callable[[JobContext], dict[str, Any]]:
    """Title, family, description and parameter counts of ``cfg.model`` as configured."""

    def job(ctx: JobContext) -> dict[str, Any]:
        from playground.speech.models import REGISTRY, build_ctc_model, build_keyword_model

        entry = REGISTRY.get(cfg.model)
        if task == "keywords":
            model = build_keyword_model(cfg, max(2, int(num_classes)))
        else:
            model = build_ctc_model(cfg, max(2, int(num_classes)))
        params = list(model.parameters())
        return {"name": entry.name, "title": entry.title, "family": entry.family,
                "description": entry.description, "task": task,
                "parameters": sum(p.numel() for p in params),
                "trainable": sum(p.numel() for p in params if p.requires_grad)}

    return job


def loudest_window_start(samples: np.ndarray, length: int) -> int:
    """Where (in samples, negative when padded) the window ``datasets.fit_length(…,
    "loudest")`` keeps begins in ``samples``."""
    x = np.asarray(samples, dtype=np.float64)
    n = len(x)
    if n <= length:
        return -((length - n) // 2)
    energy = np.concatenate([[0.0], np.cumsum(x ** 2)])
    return int(np.argmax(energy[length:] - energy[:-length]))


def keyword_predict_job(run_dir: str | os.PathLike, name: str, clip: Any, *, top_k: int = 5,
                        device: str = "cpu",
                        cache: ModelCache | None = None
                        ) -> Callable[[JobContext], dict[str, Any]]:
    """Predictions and saliency of one clip with a keyword run; see the module docstring.

    The result has :meth:`KeywordPredictor.explain`'s keys plus ``name``, ``offset`` (s, where
    the window the model heard starts in the clip), ``window_seconds`` and ``labels``.
    """

    def job(ctx: JobContext) -> dict[str, Any]:
        from playground.speech.predict import MAX_KEYWORD_SECONDS, get_predictor, read_clip

        predictor = get_predictor(run_dir, device, cache)
        ctx.emit(ev.Progress(0, 1, f"recognising {name}", unit="file"))
        sr = predictor.sample_rate
        samples, duration, truncated = read_clip(clip, sr, MAX_KEYWORD_SECONDS)
        ctx.check_cancelled()
        out = predictor.explain(samples, top_k)
        if truncated:
            out["note"] = " ".join(filter(None, [out.get("note", ""), (
                f"Only the first {MAX_KEYWORD_SECONDS:g} s of the {duration:.1f} s clip were "
                "searched for a keyword.")]))
        out.update(name=name, duration=duration, labels=list(predictor.labels),
                   offset=loudest_window_start(samples, predictor.clip_samples) / sr,
                   window_seconds=predictor.clip_samples / sr)
        ctx.emit(ev.Progress(1, 1, f"recognised {name}", unit="file"))
        return out

    return job


def transcribe_clip_job(source: str, name: str, clip: Any, *, beam_width: int | None = None,
                        chunk_seconds: float | None = None, device: str = "cpu",
                        cache: ModelCache | None = None,
                        align_seconds: float = ALIGN_MAX_SECONDS
                        ) -> Callable[[JobContext], dict[str, Any]]:
    """Transcribe one clip and align its first ``align_seconds``; see the module docstring."""

    def job(ctx: JobContext) -> dict[str, Any]:
        from playground.speech.predict import get_transcriber

        transcriber = get_transcriber(source, device, ctx, cache)
        ctx.emit(ev.Log(f"transcribing {name} with {transcriber.name}"))
        result = transcriber.transcribe(clip, ctx, beam_width=beam_width,
                                        chunk_seconds=chunk_seconds)
        ctx.check_cancelled()
        alignment = transcriber.alignment(clip, max_seconds=align_seconds)
        ctx.emit(ev.Alignment(alignment["posteriors"].copy(), tuple(alignment["labels"]),
                              tuple(alignment["emissions"]), float(alignment["frame_seconds"])))
        return {"name": name, **result, "alignment": alignment,
                "aligned_seconds": min(align_seconds, float(result.get("duration") or 0.0))}

    return job


# ------------------------------------------------------------------------------------------
# Recordings into datasets
# ------------------------------------------------------------------------------------------
def recordings_folder(home: str | os.PathLike | None = None) -> Path:
    """``<home>/recordings/keywords``: clips recorded in the app, one sub-folder per label."""
    from playground.core.paths import home_dir

    folder = home_dir(home) / "recordings" / "keywords"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def check_label(label: str) -> str:
    """The label stripped, or ConfigError saying why it cannot name a folder of clips."""
    text = (label or "").strip()
    if not text:
        raise ConfigError("Type a label (the word you recorded, e.g. 'yes') before adding the "
                          "clip to the dataset.")
    if _BAD_LABEL.search(text) or text in (".", ".."):
        raise ConfigError(f"The label {text!r} cannot be a folder name: leave out \\ / : * ? \" "
                          "< > | and control characters.")
    if text.startswith((".", "_")):
        raise ConfigError(f"The label {text!r} starts with '{text[0]}': folders named like that "
                          "are skipped when a dataset is scanned. Choose another label.")
    return text


def add_to_label(root: str | os.PathLike, label: str, samples: np.ndarray, sample_rate: int,
                 *, layout: str = "folders", label_pattern: str = DEFAULT_LABEL_PATTERN,
                 stamp: str | None = None) -> Path:
    """Save ``samples`` as a 16-bit WAV in the keyword dataset at ``root`` under ``label``.

    ``layout="folders"`` writes ``root/<label>/<label>_rec-<stamp>.wav``; ``"filenames"``
    writes ``root/<label>_rec-<stamp>.wav`` and checks that ``label_pattern`` reads the label
    back from that name. Returns the written path (never overwrites a file).
    """
    from playground.speech.audio import save_wav
    from playground.speech.datasets import label_from_name

    label = check_label(label)
    x = np.asarray(samples, dtype=np.float32).ravel()
    if x.size == 0:
        raise DatasetError("The clip is empty: there is nothing to add to the dataset.")
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"The dataset folder {root} does not exist.")
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    folder = root if layout == "filenames" else root / label
    base = f"{label}_rec-{stamp}"
    path = folder / f"{base}.wav"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{base}-{n}.wav"
    if layout == "filenames" and label_from_name(path.name, label_pattern) != label:
        raise ConfigError(f"The label pattern {label_pattern!r} would not read the label "
                          f"{label!r} back from the file name {path.name}. Choose a label "
                          "without '_' or edit the pattern.")
    folder.mkdir(parents=True, exist_ok=True)
    return save_wav(path, x, int(sample_rate))


def list_speech_runs(speech_task: str, home: str | os.PathLike | None = None
                     ) -> list[dict[str, Any]]:
    """Finished or stopped speech runs of ``speech_task`` ("keywords" / "ctc"), newest first:
    ``{"path", "name", "model", "status", "result"}``. Damaged runs are left out."""
    from playground.core.runs import RunStore

    runs = []
    for run in RunStore(home).list("speech"):
        try:
            info = run.info()
        except Exception:  # noqa: BLE001 - a damaged run.json is not offered
            continue
        if info.get("speech_task") != speech_task:
            continue
        if info.get("status") not in ("finished", "stopped"):
            continue
        if not (run.best_checkpoint.is_file() or run.last_checkpoint.is_file()):
            continue
        runs.append({"path": str(run.path), "name": run.name, "model": info.get("model", ""),
                     "status": info.get("status"), "result": info.get("result") or {}})
    return runs
