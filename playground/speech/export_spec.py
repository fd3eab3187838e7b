"""What a speech run (keywords or CTC speech-to-text) gives the exporter.

The exported graph takes raw waveforms at the run's sample rate: the log-mel (and MFCC)
features are *inside* it, computed as the app computes them (``torchaudio``'s
``MelSpectrogram``: centred, reflect-padded, periodic Hann window, power 2, HTK mel bands,
``log(mel + 1e-6)``, then the app's normalisation). ``torch.stft`` itself is not used in the
graph: ONNX Runtime's ``STFT`` of a 400-point (non power of two) frame differs from torch's
FFT by up to 2e-4 relative, more than the export tolerance, so the DFT is written as a strided
``Conv1d`` whose kernels are the windowed cosines and sines (float64, then float32). Recurrent
layers go through :class:`~playground.core.export_ops.ScanRNN` so any length works, and the
Conformer's padding mask is built from the frame count instead of ``max(lengths).item()``.

- Keywords: ``wave`` float32 ``(batch, samples)`` (the app feeds ``clip_seconds`` of audio, the
  loudest window of a file) -> ``logits`` ``(batch, labels)``.
- CTC: ``wave`` ``(batch, samples)``, ``lengths`` int64 ``(batch,)`` (real samples per row) ->
  ``log_probs`` ``(batch, frames, symbols)`` (blank = 0), ``out_lengths`` ``(batch,)``.

Parity: validation clips of the run's data (the same split as training) where the files are
still there, else deterministic synthetic tones; at another batch size and length than traced
(CTC: a padded batch of clips of different lengths).

``predict.py FILE…`` (onnxruntime, numpy, soundfile) prints the top labels with their
probabilities, or the greedy CTC transcript. It resamples other rates with a numpy port of
torchaudio's sinc resampler (the app's), and picks a keyword clip's loudest window as the app
does. Long recordings are read whole (the app streams them in 10 s chunks).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from playground.speech.features import LOG_OFFSET

TRACED_BATCH, CHECK_BATCH = 2, 3

PREDICT_PY = '''"""Recognise audio files with the exported speech model; needs onnxruntime,
numpy and soundfile.

    python predict.py clip.wav other.flac [--top-k 3]

Keyword runs print, for each file, its name and then the top labels with their probabilities,
best first; speech-to-text runs print the file's name, a tab and its transcript (greedy CTC).
Written by Model Playground beside model.onnx; model.json holds the labels and audio settings.
The log-mel features are computed inside model.onnx, from the raw waveform.
"""

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import soundfile as sf

HERE = Path(__file__).resolve().parent


def resample(x, sr, target):
    """torchaudio.functional.resample (sinc, Hann window, width 6, rolloff 0.99) in numpy."""
    if sr == target or x.size == 0:
        return x
    g = math.gcd(sr, target)
    orig, new = sr // g, target // g
    base = min(orig, new) * 0.99
    width = math.ceil(6 * orig / base)
    idx = np.arange(-width, width + orig, dtype=np.float64)[None, :] / orig
    t = (np.arange(0, -new, -1, dtype=np.float64)[:, None] / new + idx) * base
    t = np.clip(t, -6, 6)
    window = np.cos(t * math.pi / 6 / 2) ** 2
    t = t * math.pi
    with np.errstate(invalid="ignore", divide="ignore"):
        kernel = np.where(t == 0, 1.0, np.sin(t) / t)
    kernel = (kernel * window * base / orig).astype(np.float32)          # (new, K)
    padded = np.pad(x.astype(np.float32), (width, width + orig))
    frames = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape[1])[::orig]
    out = (frames @ kernel.T).reshape(-1)
    return out[: int(math.ceil(new * len(x) / orig))].astype(np.float32)


def read(path, sr):
    data, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return resample(np.ascontiguousarray(x, np.float32), int(file_sr), sr)


def loudest(x, length):
    """The app's fit_length(..., "loudest"): pad (centred) or keep the loudest window."""
    if len(x) == length:
        return x
    if len(x) < length:
        out = np.zeros(length, np.float32)
        start = (length - len(x)) // 2
        out[start:start + len(x)] = x
        return out
    energy = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    start = int(np.argmax(energy[length:] - energy[:-length]))
    return x[start:start + length]


def greedy(log_probs, symbols, blank=0):
    out, prev = [], None
    for p in log_probs.argmax(-1).tolist():
        if p != prev and p != blank:
            out.append(symbols[p])
        prev = p
    return " ".join("".join(out).split())


def main(argv=None):
    parser = argparse.ArgumentParser(description="Recognise audio files with model.onnx.")
    parser.add_argument("files", nargs="+")
    parser.add_argument("--top-k", type=int, default=5)
    args = parser.parse_args(argv)
    meta = json.loads((HERE / "model.json").read_text(encoding="utf-8"))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(HERE / meta["file"]), options,
                                   providers=["CPUExecutionProvider"])
    sr, status = meta["sample_rate"], 0
    for name in args.files:
        try:
            x = read(name, sr)
        except (OSError, RuntimeError) as exc:
            print(f"{name}: cannot read it as audio ({exc})", file=sys.stderr)
            status = 1
            continue
        if meta["speech_task"] == "keywords":
            wave = loudest(x, meta["clip_samples"])[None]
            logits = session.run(None, {"wave": wave})[0][0]
            p = np.exp(logits - logits.max())
            p /= p.sum()
            labels = meta["labels"]
            print(name)
            for i in np.argsort(-p)[: max(1, min(args.top_k, len(labels)))]:
                print(f"  {labels[i]}\\t{p[i]:.4f}")
        else:
            if len(x) < meta["min_samples"]:
                x = np.pad(x, (0, meta["min_samples"] - len(x)))
            log_probs, lengths = session.run(None, {"wave": x[None],
                                                    "lengths": np.array([len(x)], np.int64)})
            print(f"{name}\\t{greedy(log_probs[0, :int(lengths[0])], meta['symbols'])}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
'''


# ------------------------------------------------------------------------------------------
# Export modules
# ------------------------------------------------------------------------------------------
class ConvLogMel(nn.Module):
    """``log(MelSpectrogram(wave) + 1e-6)`` of the app's front end, the DFT as a Conv1d."""

    def __init__(self, front) -> None:
        super().__init__()
        spec, mel = front.mel.spectrogram, front.mel.mel_scale
        n_fft, hop = int(spec.n_fft), int(spec.hop_length)
        if spec.win_length != n_fft or not spec.center or spec.pad_mode != "reflect" \
                or spec.normalized or spec.power != 2.0 or spec.pad:
            raise ValueError("ConvLogMel mirrors a centred, reflect-padded power spectrogram")
        window = spec.window.double()                                        # (n_fft,)
        k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]       # (F, 1)
        n = torch.arange(n_fft, dtype=torch.float64)[None, :]                # (1, n_fft)
        angle = 2 * math.pi * k * n / n_fft
        kernels = torch.cat([window * torch.cos(angle), -window * torch.sin(angle)])
        self.register_buffer("kernels", kernels.float()[:, None, :])         # (2F, 1, n_fft)
        self.register_buffer("fb", mel.fb.float().clone())                   # (F, n_mels)
        self.n_fft, self.hop, self.freqs = n_fft, hop, n_fft // 2 + 1

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        p = self.n_fft // 2
        x = F.pad(wave[:, None], (p, p), mode="reflect")                     # (B, 1, L + 2p)
        z = F.conv1d(x, self.kernels, stride=self.hop)                       # (B, 2F, frames)
        power = z[:, : self.freqs] ** 2 + z[:, self.freqs:] ** 2             # (B, F, frames)
        mel = torch.matmul(power.transpose(1, 2), self.fb).transpose(1, 2)   # (B, n_mels, T)
        return torch.log(mel + LOG_OFFSET)


class KeywordExport(nn.Module):
    """The app's KeywordModel in eval mode (augmentation is off there): wave -> logits."""

    def __init__(self, model) -> None:
        super().__init__()
        from playground.core.export_ops import with_scan_rnns

        self.log_mel = ConvLogMel(model.front)
        self.front = model.front
        self.net = with_scan_rnns(model.net)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = self.front.project(self.log_mel(wave))                           # (B, F, T)
        if self.front.normalize:  # FrontEnd.finish, with the std over two axes instead of a
            # flatten (torch.export cannot prove the flattened view valid for every length)
            x = x - x.mean(dim=-1, keepdim=True)
            x = x / (x.std(dim=(-2, -1))[..., None, None] + 1e-5)
        return self.net(x)


class CTCExport(nn.Module):
    """The app's CTCModel in eval mode: (wave, lengths) -> (log_probs, out_lengths)."""

    def __init__(self, model) -> None:
        super().__init__()
        from playground.core.export_ops import with_scan_rnns
        from playground.speech.nets import CTCConformer

        self.model = model
        self.log_mel = ConvLogMel(model.front)
        self.conformer = isinstance(model.net, CTCConformer)
        self.net = model.net if self.conformer else with_scan_rnns(model.net)

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor):
        from playground.speech.nets import masked_normalize

        m = self.model
        frames = m.frame_lengths(lengths)
        logmel = self.log_mel(wave)                                          # (B, F, T)
        mask = torch.arange(logmel.shape[-1], device=wave.device)[None, :] < frames[:, None]
        x = masked_normalize(m.front.project(logmel), mask)
        if not self.conformer:
            return self.net(x, frames)
        net = self.net
        h, out_lengths = net.front(x, frames)                                # (B, T', W)
        out_lengths = out_lengths.clamp(min=1, max=h.shape[1])
        # torchaudio's Conformer builds this mask from max(lengths).item(), which torch.export
        # cannot trace; in the app max(lengths) is the padded length, so T' here is the same
        pad = torch.arange(h.shape[1], device=h.device)[None, :] >= out_lengths[:, None]
        y = h.transpose(0, 1)                                                # (T', B, W)
        for layer in net.conformer.conformer_layers:
            y = layer(y, pad)
        return F.log_softmax(net.head(y.transpose(0, 1)), dim=-1), out_lengths


# ------------------------------------------------------------------------------------------
# Held-out clips
# ------------------------------------------------------------------------------------------
def _spread(indices, n: int) -> list[int]:
    indices = list(indices)
    if len(indices) <= n:
        return indices
    return [indices[int(i)] for i in np.linspace(0, len(indices) - 1, n).round()]


def held_out_keywords(spec, predictor, n: int):
    """Up to ``n`` validation clips as the app prepares them ``(n, clip_samples)``."""
    from playground.core.data import split_indices
    from playground.speech.train import resolve_keyword_data

    data_spec = spec.info.get("data_spec")
    cfg = predictor.cfg
    if not data_spec:
        return None
    try:
        data = resolve_keyword_data(str(data_spec))
        if data.has_own_val:
            items = list(data.val_items)
        else:
            labels = [label for _, label in data.items]
            _, va = split_indices(len(labels), cfg.val_fraction, cfg.seed, labels)
            items = [data.items[i] for i in va] or list(data.items)
        picked = [items[i] for i in _spread(range(len(items)), n)]
        waves = np.stack([predictor.prepare(path)[0] for path, _ in picked])
    except Exception:  # noqa: BLE001 - the clips are gone or unreadable: synthetic instead
        return None
    if len(waves) < 2:
        return None
    return waves, f"{len(waves)} validation clips of {data_spec}"


def held_out_transcribed(spec, cfg, n: int):
    """Up to ``n`` clips of the run's validation split (samples at the run's rate)."""
    from playground.core.data import split_indices
    from playground.speech.audio import load_audio
    from playground.speech.train import resolve_transcript_data

    data_spec = spec.info.get("data_spec")
    if not data_spec or str(data_spec).startswith("demo:"):
        return None  # the demo is synthesised with espeak-ng on demand: not redone here
    try:
        data = resolve_transcript_data(str(data_spec), cfg)
        tr, va = split_indices(len(data.items), cfg.val_fraction, cfg.seed)
        picked = _spread(va, n)
        extra = _spread(tr, n - len(picked)) if len(picked) < n else []  # a tiny split
        clips = [load_audio(data.items[i][0], int(cfg.sample_rate))[0] for i in picked + extra]
    except Exception:  # noqa: BLE001 - synthetic instead
        return None
    if len(clips) < 2:
        return None
    if extra:
        return clips, (f"{len(picked)} validation and {len(extra)} training clips of "
                       f"{data_spec}")
    return clips, f"{len(clips)} validation clips of {data_spec}"


def _tones(n: int, sr: int, seconds: list[float], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        t = np.arange(int(seconds[k % len(seconds)] * sr)) / sr
        x = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 3000) * t)
        out.append((x + rng.normal(0, 0.01, len(t))).astype(np.float32))
    return out


def _padded(clips: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(c) for c in clips)
    wave = np.zeros((len(clips), width), np.float32)
    for i, c in enumerate(clips):
        wave[i, :len(c)] = c
    return torch.from_numpy(wave), torch.tensor([len(c) for c in clips], dtype=torch.long)


# ------------------------------------------------------------------------------------------
# The spec
# ------------------------------------------------------------------------------------------
def speech_export_spec(spec) -> Any:
    """The ExportSpec of an opened speech run (a :class:`playground.core.loader.RunSpec`)."""
    from playground.speech.predict import KeywordPredictor, Transcriber, _speech_task

    if _speech_task(spec.info) == "keywords":
        return _keyword_spec(spec, KeywordPredictor.from_spec(spec, "cpu"))
    return _ctc_spec(spec, Transcriber.from_spec(spec, "cpu"))


def _features(front) -> dict[str, Any]:
    cfg = front.cfg
    return {"kind": front.kind, "normalize": bool(front.normalize), "n_mels": cfg.n_mels,
            "n_fft": cfg.n_fft, "hop_length": cfg.hop_length, "n_mfcc": cfg.n_mfcc,
            "f_min": cfg.f_min, "f_max": cfg.f_max, "log_offset": LOG_OFFSET,
            "computed": "inside the exported graph, from the waveform"}


def _keyword_spec(spec, predictor) -> Any:
    from playground.core.export import ExportSpec, Graph, direct_check

    model = predictor.model.float().eval()
    sr, clip = predictor.sample_rate, predictor.clip_samples
    traced_len = max(model.front.cfg.n_fft * 2, clip // 2)
    example = torch.from_numpy(np.stack(_tones(TRACED_BATCH, sr, [traced_len / sr])))
    real = held_out_keywords(spec, predictor, CHECK_BATCH + 1)
    if real is not None and len(real[0]) != TRACED_BATCH:
        waves, source = real
    else:
        waves = np.stack([np.resize(x, clip) for x in _tones(CHECK_BATCH, sr, [clip / sr])])
        source = f"{CHECK_BATCH} synthetic tones (the run's clips are not available here)"
    check = torch.from_numpy(np.ascontiguousarray(waves, dtype=np.float32))
    with torch.no_grad():
        want = model(check).float().numpy()
    graph = Graph("model", KeywordExport(model), (example,), ["wave"], ["logits"],
                  {"wave": {0: "batch", 1: "samples"}})
    sidecar = {"task": "speech", "speech_task": "keywords", "model": spec.model,
               "labels": predictor.labels, "sample_rate": sr, "clip_samples": clip,
               "features": _features(model.front),
               "input_layout": "wave float32 (batch, samples) at sample_rate, mono; the app "
                               "feeds clip_samples (the loudest window of a file)",
               "output": "logits (batch, labels); softmax gives the probabilities"}
    inputs = {"samples": int(check.shape[0]), "batch_size": int(check.shape[0]),
              "seq_len": int(check.shape[1]), "traced_batch_size": TRACED_BATCH,
              "traced_seq_len": int(traced_len), "source": source, "seq_unit": "samples"}
    dims = {"batch": (1, 1024), "samples": (max(model.front.cfg.n_fft, sr // 10), sr * 600)}
    return ExportSpec(graphs=[graph], check=direct_check("model", (check,), [want], ["logits"]),
                      inputs=inputs, sidecar=sidecar, dims=dims, predict_script=PREDICT_PY)


def _ctc_spec(spec, transcriber) -> Any:
    from playground.core import schema
    from playground.core.export import Comparison, ExportSpec, Graph
    from playground.speech.train import CTCTrainConfig

    model = transcriber.model.float().eval()
    cfg = schema.from_dict(CTCTrainConfig, spec.config)
    sr = transcriber.sample_rate
    n_fft = model.front.cfg.n_fft
    ex_wave, ex_len = _padded(_tones(TRACED_BATCH, sr, [0.5, 0.4], seed=1))
    real = held_out_transcribed(spec, cfg, CHECK_BATCH)
    if real is not None and len(real[0]) != TRACED_BATCH:
        clips, source = real
    else:
        clips = _tones(CHECK_BATCH, sr, [0.9, 0.7, 0.8], seed=2)
        source = f"{CHECK_BATCH} synthetic tones (the run's clips are not available here)"
    clips = [np.pad(c, (0, max(0, n_fft - len(c)))) for c in clips]
    wave, lengths = _padded(clips)
    with torch.no_grad():
        want_lp, want_len = (t.numpy() for t in model(wave, lengths))
    valid = np.arange(want_lp.shape[1])[None, :] < want_len[:, None]          # (B, T')

    def check(run):
        got_lp, got_len = run("model", (wave, lengths))
        return [Comparison("log_probs", got_lp, want_lp, True, valid),
                Comparison("out_lengths", got_len, want_len)]

    graph = Graph("model", CTCExport(model), (ex_wave, ex_len), ["wave", "lengths"],
                  ["log_probs", "out_lengths"],
                  {"wave": {0: "batch", 1: "samples"}, "lengths": {0: "batch"}})
    sidecar = {"task": "speech", "speech_task": "ctc", "model": spec.model,
               "symbols": transcriber.symbols, "blank": 0, "sample_rate": sr,
               "frame_seconds": transcriber.frame_seconds, "min_samples": n_fft,
               "features": _features(model.front),
               "input_layout": "wave float32 (batch, samples) at sample_rate, mono, padded "
                               "with zeros; lengths int64 (batch,): real samples per row",
               "output": "log_probs (batch, frames, symbols), blank = 0; out_lengths "
                         "(batch,): valid frames per row"}
    inputs = {"samples": len(clips), "batch_size": len(clips), "seq_len": int(wave.shape[1]),
              "traced_batch_size": TRACED_BATCH, "traced_seq_len": int(ex_wave.shape[1]),
              "source": source, "seq_unit": "samples"}
    dims = {"batch": (1, 1024), "samples": (n_fft, sr * 600)}
    return ExportSpec(graphs=[graph], check=check, inputs=inputs, sidecar=sidecar, dims=dims,
                      predict_script=PREDICT_PY)
