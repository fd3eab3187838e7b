"""Use trained speech models: keyword predictions with saliency, and transcription.

Keyword runs — :class:`KeywordPredictor`:

- ``KeywordPredictor.from_run(run_dir, device="cpu", checkpoint="best")``.
- ``.predict(clips, top_k=5) -> list[list[(label, prob)]]`` (one list per clip, most probable
  first; the same shape as the image predictor). A clip is a path, a float array at the run's
  sample rate, or ``(array, sample_rate)``; a single clip may be passed without a list.
- ``.predict_clips(clips, top_k=5) -> list[dict]``: ``{"predictions", "duration", "silent",
  "note"}``; ``note`` says when a clip is silent (its predictions are then meaningless) or when
  only part of a long file was searched.
- ``.saliency(clip, target=None) -> (log_mel, saliency)``: float32 ``(n_mels, frames)`` each,
  saliency in [0, 1] (see :mod:`playground.speech.saliency`).
- ``.explain(clip, top_k=5) -> dict``: predictions, ``log_mel``, ``saliency``, ``class_index``,
  ``times`` (s) and ``freqs`` (Hz) axes of the spectrogram, ``silent``, ``note``.

Speech-to-text — :class:`Transcriber`:

- ``Transcriber.from_run(run_dir, device="cpu", checkpoint="best")`` for CTC runs.
- ``Transcriber.wav2vec2(ctx=None, device="cpu")``: torchaudio's WAV2VEC2_ASR_BASE_960H. Its
  weights are fetched with :func:`playground.core.download.download_file` (progress, cancel)
  into the file torchaudio itself uses, ``<torch.hub.get_dir()>/checkpoints/
  wav2vec2_fairseq_base_ls960_asr_ls960.pth`` (:func:`wav2vec2_weights_path`), and loaded with
  ``torch.load(weights_only=True)``. Offline: WeightsUnavailable naming the file and folder.
- ``.transcribe(source, ctx=None, *, beam_width=None, chunk_seconds=None) -> {"text",
  "segments": [{"start", "end", "text"}], "words": [...], "duration", "rtf", "chunks",
  "model", "note"}``. Files longer than ``chunk_seconds`` are streamed in overlapping chunks
  (:func:`~playground.speech.audio.iter_chunks`; never loaded whole into the model), with a
  Progress event per chunk and cancellation between chunks; timestamps come from the frames
  at which CTC emits each character (``rtf`` = processing time / audio duration).
- ``.alignment(source) -> dict``: for the alignment view of a clip: ``posteriors`` (frames,
  symbols), ``labels``, ``emissions`` [(frame, symbol)], ``frame_seconds``, ``text``, and the
  clip's ``log_mel`` / ``times`` / ``freqs`` for the spectrogram above it.

Loading goes through :mod:`playground.core.loader` (validated run folder, config checked against
the checkpoint, one shared model cache): :func:`get_predictor` / :func:`get_transcriber`. The
Speech tab's jobs are in :mod:`playground.speech.jobs`; :func:`make_transcribe_job` serves
``playground transcribe``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from playground.core import events as ev
from playground.core import loader
from playground.core.errors import (
    AudioDecodeError,
    CheckpointError,
    RunError,
    WeightsUnavailable,
)
from playground.core.jobs import JobContext
from playground.core.loader import ModelCache

CHECKPOINTS = loader.CHECKPOINTS
MAX_KEYWORD_SECONDS = 30.0
WAV2VEC2_BUNDLE = "WAV2VEC2_ASR_BASE_960H"
WAV2VEC2_SOURCE = "wav2vec2"
SILENT_NOTE = "The clip is silent (below -60 dBFS): there is nothing to recognise."


def _is_single(clips: Any) -> bool:
    if isinstance(clips, (str, os.PathLike)):
        return True
    if isinstance(clips, tuple) and len(clips) == 2 and isinstance(clips[0], np.ndarray) \
            and np.isscalar(clips[1]):
        return True
    return isinstance(clips, np.ndarray) and clips.ndim == 1


def read_clip(clip: Any, sample_rate: int, max_seconds: float | None = None
              ) -> tuple[np.ndarray, float, bool]:
    """``(samples at sample_rate, full duration in s, truncated)`` from a path, an array at
    ``sample_rate`` or ``(array, sr)``."""
    from playground.speech.audio import audio_info, load_audio, resample, to_mono

    if isinstance(clip, (str, os.PathLike)):
        info = audio_info(clip)
        samples, _ = load_audio(clip, sample_rate, duration=max_seconds)
        truncated = max_seconds is not None and info.duration > max_seconds + 1e-6
        return samples, info.duration, truncated
    if isinstance(clip, tuple):
        data, sr = clip
        samples = resample(to_mono(np.asarray(data, dtype=np.float32)), int(sr), sample_rate)
    else:
        samples = to_mono(np.asarray(clip, dtype=np.float32))
    if samples.size == 0:
        raise AudioDecodeError("The clip is empty (no samples).")
    duration = len(samples) / sample_rate
    if max_seconds is not None and duration > max_seconds:
        return samples[: int(max_seconds * sample_rate)], duration, True
    return samples, duration, False


def _speech_task(info: dict[str, Any]) -> str:
    task = info.get("speech_task")
    if task:
        return task
    from playground.speech.models import REGISTRY

    model = info.get("model", "")
    return REGISTRY.get(model).extra.get("task", "") if model in REGISTRY else ""


# ------------------------------------------------------------------------------------------
# Keywords
# ------------------------------------------------------------------------------------------
class KeywordPredictor:
    """A trained keyword recognizer, ready to predict."""

    def __init__(self, model, labels: Sequence[str], cfg, device: Any = "cpu",
                 run_dir: str | os.PathLike | None = None,
                 checkpoint_path: str | os.PathLike | None = None) -> None:
        import torch

        self.device = torch.device(device) if isinstance(device, str) else device
        self.model = model.to(self.device).eval()
        self.labels = [str(x) for x in labels]
        self.cfg = cfg
        self.sample_rate = int(cfg.sample_rate)
        self.clip_samples = int(round(float(cfg.clip_seconds) * self.sample_rate))
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, device: Any = "cpu",
                 checkpoint: str = "best", *, cache: ModelCache | None = None
                 ) -> KeywordPredictor:
        """Load a keyword run through :func:`playground.core.loader.load` (shared cache)."""
        return loader.load(run_dir, "speech", cls.from_spec, device=device,
                           checkpoint=checkpoint, kind="keywords", cache=cache)

    @classmethod
    def from_spec(cls, spec: loader.RunSpec, device: Any) -> KeywordPredictor:
        from playground.core import schema
        from playground.speech.models import build_keyword_model
        from playground.speech.train import KeywordTrainConfig

        if _speech_task(spec.info) != "keywords":
            raise RunError(f"{spec.path} is a speech-to-text run; use `playground transcribe "
                           "--run` (or the Transcribe panel) with it.")
        cfg = schema.from_dict(KeywordTrainConfig, spec.config)
        labels = spec.run.class_labels("keyword labels")
        model = loader.build_model(spec, lambda: build_keyword_model(cfg, len(labels)), device)
        return cls(model, labels, cfg, device, run_dir=spec.path,
                   checkpoint_path=spec.checkpoint)

    def prepare(self, clip: Any) -> tuple[np.ndarray, dict[str, Any]]:
        """The model's fixed-length input for ``clip`` (its loudest window) and facts about it."""
        from playground.speech.audio import is_silent
        from playground.speech.datasets import fit_length

        samples, duration, truncated = read_clip(clip, self.sample_rate, MAX_KEYWORD_SECONDS)
        silent = is_silent(samples)
        notes = []
        if silent:
            notes.append(SILENT_NOTE)
        if truncated:
            notes.append(f"Only the first {MAX_KEYWORD_SECONDS:g} s of the {duration:.1f} s file "
                         "were searched for a keyword.")
        wave = fit_length(samples, self.clip_samples, "loudest")
        return wave, {"duration": duration, "silent": silent, "note": " ".join(notes)}

    def _probabilities(self, waves: np.ndarray) -> np.ndarray:
        import torch

        x = torch.from_numpy(np.ascontiguousarray(waves, dtype=np.float32)).to(self.device)
        with torch.inference_mode():
            return self.model(x).float().softmax(dim=1).cpu().numpy()

    def _top(self, probs: np.ndarray, top_k: int) -> list[tuple[str, float]]:
        from playground.core.metrics import top_k as top

        return top(probs, self.labels, max(1, min(int(top_k), len(self.labels))))

    def predict_clips(self, clips: Any, top_k: int = 5) -> list[dict[str, Any]]:
        items = [clips] if _is_single(clips) else list(clips)
        if not items:
            return []
        prepared = [self.prepare(c) for c in items]
        probs = self._probabilities(np.stack([w for w, _ in prepared]))
        return [{"predictions": self._top(p, top_k), **meta}
                for p, (_, meta) in zip(probs, prepared, strict=True)]

    def predict(self, clips: Any, top_k: int = 5) -> list[list[tuple[str, float]]]:
        """Top-k ``(label, probability)`` per clip, most probable first."""
        return [r["predictions"] for r in self.predict_clips(clips, top_k)]

    def probabilities(self, clip: Any) -> np.ndarray:
        wave, _ = self.prepare(clip)
        return self._probabilities(wave[None])[0]

    def saliency(self, clip: Any, target: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(log_mel, saliency)`` of the clip's model input, both ``(n_mels, frames)``."""
        from playground.speech.saliency import keyword_saliency

        wave, _ = self.prepare(clip)
        result = keyword_saliency(self.model, wave, target)
        return result.log_mel, result.saliency

    def explain(self, clip: Any, top_k: int = 5) -> dict[str, Any]:
        """Predictions and the saliency map of one clip in one pass (what the tab shows)."""
        from playground.speech.features import mel_band_centres
        from playground.speech.saliency import keyword_saliency

        wave, meta = self.prepare(clip)
        result = keyword_saliency(self.model, wave)
        fcfg = self.model.front.cfg
        frames = result.log_mel.shape[1]
        return {"predictions": self._top(result.probs, top_k), "class_index": result.target,
                "log_mel": result.log_mel, "saliency": result.saliency, "wave": wave,
                "times": (np.arange(frames) * fcfg.frame_seconds).astype(np.float32),
                "freqs": mel_band_centres(fcfg.n_mels, fcfg.f_min,
                                          fcfg.f_max or fcfg.sample_rate / 2),
                **meta}


# ------------------------------------------------------------------------------------------
# wav2vec 2.0 weights
# ------------------------------------------------------------------------------------------
def _wav2vec2_bundle():
    import torchaudio.pipelines as pipelines

    return getattr(pipelines, WAV2VEC2_BUNDLE)


def wav2vec2_weights_path() -> Path:
    """Where torchaudio keeps the bundle's weights: ``<torch hub dir>/checkpoints/<file>``
    (``torch.hub.load_state_dict_from_url``'s cache, ``$TORCH_HOME/hub`` by default)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / Path(_wav2vec2_bundle()._path).name


def wav2vec2_url() -> str:
    path = _wav2vec2_bundle()._path
    return path if path.startswith("https") else \
        f"https://download.pytorch.org/torchaudio/models/{path}"


def ensure_wav2vec2_weights(ctx: JobContext | None = None) -> Path:
    """Download the weights (progress, cancel) unless already in the cache; return the path."""
    from playground.core.download import download_file

    return download_file(wav2vec2_url(), wav2vec2_weights_path(), ctx,
                         what="wav2vec 2.0 weights (about 360 MB)")


def wav2vec2_model():
    """The bundle's architecture with fresh (random) weights: ``wav2vec2_model(**params)``."""
    from torchaudio.models import wav2vec2_model as build

    return build(**_wav2vec2_bundle()._params)


def load_wav2vec2(ctx: JobContext | None = None, device: Any = "cpu"):
    """``(model in eval mode, labels)`` of WAV2VEC2_ASR_BASE_960H, weights from the cache."""
    import torch

    bundle = _wav2vec2_bundle()
    path = ensure_wav2vec2_weights(ctx)
    if ctx is not None:
        ctx.emit(ev.Progress(0, 0, "loading wav2vec 2.0", unit="step"))
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure means the file is unusable
        raise WeightsUnavailable(
            f"The wav2vec 2.0 weights at {path} could not be read ({type(exc).__name__}); the "
            f"file is damaged. Delete it (folder {path.parent}) and download it again.") from exc
    model = wav2vec2_model()
    aux = state.get("aux.weight") if isinstance(state, dict) else None
    expected = model.aux.weight.shape[0] if model.aux is not None else 0
    remove = getattr(bundle, "_remove_aux_axis", ())
    if aux is not None and remove and aux.shape[0] == expected + len(remove):
        # fairseq's dictionary carries 3 unused symbols; torchaudio drops them the same way.
        keep = [i for i in range(aux.shape[0]) if i not in remove]
        state["aux.weight"] = state["aux.weight"][keep]
        state["aux.bias"] = state["aux.bias"][keep]
    try:
        model.load_state_dict(state)
    except (RuntimeError, AttributeError) as exc:
        raise CheckpointError(f"{path} does not hold {WAV2VEC2_BUNDLE} weights "
                              f"({str(exc).splitlines()[0][:200]}). Delete it and download "
                              "it again.") from exc
    return model.to(device).eval(), tuple(bundle.get_labels())


# ------------------------------------------------------------------------------------------
# Transcription
# ------------------------------------------------------------------------------------------
class Transcriber:
    """A CTC acoustic model with its symbols: audio in, timed transcript out."""

    def __init__(self, model, symbols: Sequence[str], sample_rate: int, frame_seconds: float,
                 *, kind: str, name: str, device: Any = "cpu", blank: int = 0,
                 separator: str = " ", lowercase_output: bool = False, beam_width: int = 1,
                 chunk_seconds: float = 10.0, overlap_seconds: float = 1.0,
                 checkpoint_path: str | os.PathLike | None = None) -> None:
        import torch

        self.device = torch.device(device) if isinstance(device, str) else device
        self.model = model.to(self.device).eval()
        self.symbols = [str(s) for s in symbols]
        self.sample_rate = int(sample_rate)
        self.frame_seconds = float(frame_seconds)
        self.kind = kind  # "ctc" (a run) or "wav2vec2"
        self.name = name
        self.blank = blank
        self.separator = separator
        self.lowercase_output = lowercase_output
        self.beam_width = max(1, int(beam_width))
        self.chunk_seconds = float(chunk_seconds)
        self.overlap_seconds = float(overlap_seconds)
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, device: Any = "cpu",
                 checkpoint: str = "best", *, cache: ModelCache | None = None) -> Transcriber:
        """Load a CTC run through :func:`playground.core.loader.load` (shared cache)."""
        return loader.load(run_dir, "speech", cls.from_spec, device=device,
                           checkpoint=checkpoint, kind="transcriber", cache=cache)

    @classmethod
    def from_spec(cls, spec: loader.RunSpec, device: Any) -> Transcriber:
        from playground.core import schema
        from playground.core.validate import validate_ctc_labels
        from playground.speech.datasets import CharVocab
        from playground.speech.models import build_ctc_model
        from playground.speech.train import CTCTrainConfig

        if _speech_task(spec.info) != "ctc":
            raise RunError(f"{spec.path} is a keyword run, not speech-to-text; use `playground "
                           "predict speech --run` with it.")
        cfg = schema.from_dict(CTCTrainConfig, spec.config)
        vocab = CharVocab.from_json(validate_ctc_labels(spec.run.labels()))
        model = loader.build_model(spec, lambda: build_ctc_model(cfg, len(vocab)), device)
        return cls(model, vocab.symbols, cfg.sample_rate, model.frame_seconds, kind="ctc",
                   name=spec.path.name, device=device, beam_width=cfg.beam_width,
                   chunk_seconds=10.0, overlap_seconds=1.0, checkpoint_path=spec.checkpoint)

    @classmethod
    def wav2vec2(cls, ctx: JobContext | None = None, device: Any = "cpu") -> Transcriber:
        """torchaudio's wav2vec 2.0 base fine-tuned on LibriSpeech 960 h (English)."""
        from playground.core.device import resolve_device

        dev = resolve_device(device) if isinstance(device, str) else device
        model, labels = load_wav2vec2(ctx, dev)
        # The feature encoder's strides multiply to 320 samples = 20 ms per frame at 16 kHz.
        return cls(model, labels, 16_000, 320 / 16_000, kind="wav2vec2",
                   name=WAV2VEC2_BUNDLE, device=dev, separator="|", lowercase_output=True,
                   beam_width=1, chunk_seconds=20.0, overlap_seconds=2.0,
                   checkpoint_path=wav2vec2_weights_path())

    # -- model ---------------------------------------------------------------------------------
    def log_probs(self, samples: np.ndarray) -> np.ndarray:
        """Per-frame log-probabilities ``(frames, symbols)`` of one chunk of audio."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))[None]
        with torch.inference_mode():
            out, lengths = self.model(x.to(self.device))
            out = out.float()
            if self.kind == "wav2vec2":
                out = out.log_softmax(dim=-1)
        n = int(lengths[0]) if lengths is not None else out.shape[1]
        return out[0, :n].cpu().numpy()

    def decode(self, log_probs: np.ndarray, beam_width: int | None = None
               ) -> list[tuple[int, int, str]]:
        """``(start_frame, end_frame, symbol)`` of the best hypothesis (greedy or beam search,
        the latter timed on its forced alignment)."""
        from playground.speech.decode import beam_search, forced_spans, greedy_spans

        width = self.beam_width if beam_width is None else max(1, int(beam_width))
        if width <= 1:
            spans = greedy_spans(log_probs, self.blank)
        else:
            ids = list(beam_search(log_probs, width, self.blank)[0][0])
            spans = forced_spans(log_probs, ids, self.blank)
        return [(s, e, self._symbol(i)) for s, e, i in spans]

    def _symbol(self, i: int) -> str:
        label = self.symbols[i]
        if label == self.separator:
            return " "
        return label.lower() if self.lowercase_output else label

    # -- transcription -------------------------------------------------------------------------
    def _chunks(self, source: Any, chunk: float, overlap: float):
        """Yield ``(index, total, start_seconds, samples)`` and set ``self._duration``."""
        from playground.speech.audio import audio_info, iter_chunks

        if isinstance(source, (str, os.PathLike)):
            info = audio_info(source)
            self._duration = info.duration
            if info.frames == 0:
                raise AudioDecodeError(f"{Path(source).name} contains no audio samples.")
            if info.duration <= chunk + overlap:
                samples, _, _ = read_clip(source, self.sample_rate)
                yield 0, 1, 0.0, samples
                return
            for c in iter_chunks(source, chunk, overlap, self.sample_rate):
                yield c.index, c.total, c.start, c.samples
            return
        samples, duration, _ = read_clip(source, self.sample_rate)
        self._duration = duration
        size, hop = int(chunk * self.sample_rate), int((chunk - overlap) * self.sample_rate)
        if len(samples) <= size + int(overlap * self.sample_rate):
            yield 0, 1, 0.0, samples
            return
        lap = size - hop
        total = max(1, int(np.ceil(max(0, len(samples) - lap) / hop)))
        for k in range(total):
            yield k, total, k * hop / self.sample_rate, samples[k * hop:k * hop + size]

    def transcribe(self, source: Any, ctx: JobContext | None = None, *,
                   beam_width: int | None = None, chunk_seconds: float | None = None
                   ) -> dict[str, Any]:
        """Transcribe a file or array; see the module docstring for the result."""
        from playground.speech.audio import is_silent
        from playground.speech.decode import phrases, timed_words

        chunk = float(chunk_seconds or self.chunk_seconds)
        overlap = min(self.overlap_seconds, chunk / 4)
        start_time = time.perf_counter()
        timed: list[tuple[float, float, str]] = []
        silent_chunks = chunks = 0
        self._duration = 0.0
        for index, total, start, samples in self._chunks(source, chunk, overlap):
            if ctx is not None:
                ctx.check_cancelled()
                ctx.emit(ev.Progress(index, total, "transcribing", unit="chunk"))
            chunks += 1
            if is_silent(samples):
                silent_chunks += 1
                continue
            # Keep what this chunk emits inside its own core; the overlaps belong to the
            # neighbour that sees more context around them.
            lo = start + (overlap / 2 if index > 0 else 0.0)
            hi = start + len(samples) / self.sample_rate - (overlap / 2 if index < total - 1
                                                            else -1.0)
            for first, last, symbol in self.decode(self.log_probs(samples), beam_width):
                t = start + first * self.frame_seconds
                if lo <= t < hi:
                    timed.append((t, start + last * self.frame_seconds, symbol))
        if ctx is not None:
            ctx.emit(ev.Progress(chunks, chunks, "transcribed", unit="chunk"))
        words = timed_words(timed)
        segments = phrases(words)
        elapsed = time.perf_counter() - start_time
        duration = self._duration
        note = ""
        if chunks and silent_chunks == chunks:
            note = "The audio is silent (below -60 dBFS): there is nothing to transcribe."
        elif not words:
            note = "No speech was recognised."
        return {"text": " ".join(w["text"] for w in words), "segments": segments,
                "words": words, "duration": round(duration, 3),
                "rtf": round(elapsed / duration, 4) if duration else 0.0,
                "seconds": round(elapsed, 3), "chunks": chunks, "model": self.name,
                "note": note}

    def alignment(self, source: Any, max_seconds: float = 30.0) -> dict[str, Any]:
        """Posteriorgram, emissions and spectrogram of a clip (its first ``max_seconds``)."""
        from playground.speech.decode import emissions
        from playground.speech.features import log_mel_for_display

        samples, _, _ = read_clip(source, self.sample_rate, max_seconds)
        lp = self.log_probs(samples)
        post = np.exp(lp).astype(np.float32)
        labels = [" " if s == self.separator else s for s in self.symbols]
        emitted = emissions(post, labels, self.blank)
        spec = log_mel_for_display(samples, self.sample_rate)
        return {"posteriors": post, "labels": labels, "emissions": emitted,
                "frame_seconds": self.frame_seconds,
                "text": "".join(s for _, s in emitted).strip(),
                "log_mel": spec.values, "times": spec.times, "freqs": spec.freqs,
                "wave": samples}


# ------------------------------------------------------------------------------------------
# Jobs
# ------------------------------------------------------------------------------------------
def get_predictor(run_dir: str | os.PathLike, device: Any = "cpu",
                  cache: ModelCache | None = None) -> KeywordPredictor:
    """The :class:`KeywordPredictor` of ``run_dir``, from the shared model cache (``cache``
    overrides it) until its checkpoint changes on disk."""
    return KeywordPredictor.from_run(run_dir, device=device, cache=cache)


def get_transcriber(source: str, device: Any = "cpu", ctx: JobContext | None = None,
                    cache: ModelCache | None = None) -> Transcriber:
    """``source`` is a CTC run folder or ``"wav2vec2"``; from the shared model cache."""
    if str(source) != WAV2VEC2_SOURCE:
        return Transcriber.from_run(source, device, cache=cache)
    dev = loader.resolve(device)
    ensure_wav2vec2_weights(ctx)  # a download (progress, cancel) only when not cached
    return (loader.MODELS if cache is None else cache).get_or_load(
        ("wav2vec2", WAV2VEC2_BUNDLE, "best", str(dev)),
        loader.file_stamp(wav2vec2_weights_path()), lambda: Transcriber.wav2vec2(ctx, dev))


def _name_of(source: Any, k: int) -> str:
    return os.path.basename(str(source)) if isinstance(source, (str, os.PathLike)) \
        else f"clip {k + 1}"


def make_transcribe_job(source: str, inputs: Sequence[Any], *, beam_width: int | None = None,
                        chunk_seconds: float | None = None, device: Any = "cpu",
                        cache: ModelCache | None = None
                        ) -> Callable[[JobContext], list[dict[str, Any]]]:
    """Transcribe files or arrays with a CTC run folder or ``"wav2vec2"``.

    ``inputs`` are clips or ``(name, clip)`` pairs. Each result is :meth:`Transcriber.
    transcribe`'s dict plus ``"name"``, or ``{"name", "error"}`` for an unreadable input.
    Loading wav2vec 2.0 may download its weights first (Progress in bytes; Stop cancels).
    """

    def job(ctx: JobContext) -> list[dict[str, Any]]:
        transcriber = get_transcriber(source, device, ctx, cache)
        results: list[dict[str, Any]] = []
        for k, item in enumerate(inputs):
            name, clip = item if (isinstance(item, tuple) and len(item) == 2
                                  and isinstance(item[0], str)) else (_name_of(item, k), item)
            ctx.check_cancelled()
            ctx.emit(ev.Log(f"transcribing {name}"))
            try:
                results.append({"name": name, **transcriber.transcribe(
                    clip, ctx, beam_width=beam_width, chunk_seconds=chunk_seconds)})
            except AudioDecodeError as exc:
                results.append({"name": name, "error": str(exc)})
        return results

    return job
