"""Speech features from torchaudio: log-mel spectrograms and MFCCs.

- :class:`FeatureConfig` (plain dataclass): ``sample_rate`` (16000), ``n_mels`` (40),
  ``n_fft`` (400 = 25 ms), ``hop_length`` (160 = 10 ms), ``n_mfcc`` (20), ``f_min``/``f_max``.
- :class:`FrontEnd` ``(cfg, kind="logmel"|"mfcc", normalize=True)``: an ``nn.Module`` taking
  waveforms ``(B, samples)`` and returning ``(B, features, frames)``. ``logmel`` is
  ``log(mel + 1e-6)`` (``torchaudio.transforms.MelSpectrogram``); ``mfcc`` is that times the
  DCT matrix, exactly ``torchaudio.transforms.MFCC(log_mels=True)``, so a saliency map can
  always be taken over the log-mel input (:meth:`FrontEnd.log_mel` then :meth:`FrontEnd.finish`).
  ``normalize`` subtracts each clip's per-band mean over time and divides by its overall
  standard deviation (robust to microphone gain).
- :func:`log_mel_transform` / :func:`mfcc_transform`: the torchaudio transforms for a config.
- :func:`num_frames` ``(num_samples, hop_length) -> int`` (centred STFT frames).
- :func:`log_mel_for_display` ``(samples, sr, n_mels=64, hop_seconds=0.01, f_max=None) ->
  Spectrogram(values, times, freqs)``: numpy, ``values`` in dB ``(n_mels, frames)`` (row =
  mel band, low to high), ``times`` the frame centres in seconds, ``freqs`` the band centres in
  Hz. For the waveform / spectrogram views; long clips are fine (no model involved).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torchaudio.functional as AF
import torchaudio.transforms as T
from torch import nn

FEATURE_KINDS = ("logmel", "mfcc")
LOG_OFFSET = 1e-6


@dataclass(frozen=True)
class FeatureConfig:
    sample_rate: int = 16_000
    n_mels: int = 40
    n_fft: int = 400          # 25 ms window at 16 kHz
    hop_length: int = 160     # 10 ms hop at 16 kHz
    n_mfcc: int = 20
    f_min: float = 20.0
    f_max: float | None = None  # None: half the sample rate

    @property
    def frame_seconds(self) -> float:
        return self.hop_length / self.sample_rate

    def dims(self, kind: str) -> int:
        """Feature rows per frame for ``kind``."""
        return self.n_mfcc if kind == "mfcc" else self.n_mels


def num_frames(num_samples: int, hop_length: int) -> int:
    """Frames of a centred STFT over ``num_samples`` samples."""
    return int(num_samples) // int(hop_length) + 1


def log_mel_transform(cfg: FeatureConfig):
    """``torchaudio.transforms.MelSpectrogram`` (power 2, HTK mel scale) for ``cfg``."""
    return T.MelSpectrogram(sample_rate=cfg.sample_rate, n_fft=cfg.n_fft,
                            hop_length=cfg.hop_length, n_mels=cfg.n_mels, f_min=cfg.f_min,
                            f_max=cfg.f_max, power=2.0)


def mfcc_transform(cfg: FeatureConfig):
    """``torchaudio.transforms.MFCC`` over the same log-mel (``log_mels=True``)."""
    return T.MFCC(sample_rate=cfg.sample_rate, n_mfcc=cfg.n_mfcc, log_mels=True,
                  melkwargs={"n_fft": cfg.n_fft, "hop_length": cfg.hop_length,
                             "n_mels": cfg.n_mels, "f_min": cfg.f_min, "f_max": cfg.f_max})


class FrontEnd(nn.Module):
    """Waveform ``(B, samples)`` -> features ``(B, dims, frames)``."""

    def __init__(self, cfg: FeatureConfig, kind: str = "logmel", normalize: bool = True) -> None:
        super().__init__()
        if kind not in FEATURE_KINDS:
            raise ValueError(f"feature kind must be one of {FEATURE_KINDS}, got {kind!r}")
        self.cfg = cfg
        self.kind = kind
        self.normalize = normalize
        self.mel = log_mel_transform(cfg)
        if kind == "mfcc":
            dct = AF.create_dct(cfg.n_mfcc, cfg.n_mels, "ortho")  # (n_mels, n_mfcc)
            self.register_buffer("dct", dct, persistent=False)
        self.out_dims = cfg.dims(kind)

    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        """``(B, samples)`` -> ``(B, n_mels, frames)`` natural-log mel energies (fp32)."""
        with torch.autocast(device_type=wave.device.type, enabled=False):
            return torch.log(self.mel(wave.float()) + LOG_OFFSET)

    def project(self, logmel: torch.Tensor) -> torch.Tensor:
        """Log-mel -> the feature kind (MFCC: times the DCT matrix), not normalised."""
        if self.kind == "mfcc":
            return torch.matmul(logmel.transpose(-1, -2), self.dct).transpose(-1, -2)
        return logmel

    def finish(self, logmel: torch.Tensor) -> torch.Tensor:
        """Log-mel -> the model's input (MFCC if asked, then per-clip normalisation)."""
        x = self.project(logmel)
        if self.normalize:
            x = x - x.mean(dim=-1, keepdim=True)
            x = x / (x.flatten(-2).std(dim=-1)[..., None, None] + 1e-5)
        return x

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.finish(self.log_mel(wave))


class Spectrogram(NamedTuple):
    values: np.ndarray   # (n_mels, frames) dB, float32
    times: np.ndarray    # (frames,) seconds
    freqs: np.ndarray    # (n_mels,) Hz


def mel_band_centres(n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """Centre frequencies (Hz) of ``n_mels`` HTK-mel triangular bands."""
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)

    mels = np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2)[1:-1]
    return (700.0 * (10 ** (mels / 2595.0) - 1.0)).astype(np.float32)


def log_mel_for_display(samples: np.ndarray, sr: int, n_mels: int = 64,
                        hop_seconds: float = 0.01, f_max: float | None = None,
                        top_db: float = 80.0) -> Spectrogram:
    """Log-mel spectrogram in dB for the UI, with its time and frequency axes (numpy)."""
    x = np.asarray(samples, dtype=np.float32).ravel()
    hop = max(1, int(round(hop_seconds * sr)))
    n_fft = 1
    while n_fft < 2.5 * hop:
        n_fft *= 2
    f_max = float(f_max or sr / 2)
    f_min = 0.0
    if x.size == 0:
        return Spectrogram(np.zeros((n_mels, 0), np.float32), np.zeros(0, np.float32),
                           mel_band_centres(n_mels, f_min, f_max))
    mel = T.MelSpectrogram(sample_rate=int(sr), n_fft=n_fft, hop_length=hop, n_mels=n_mels,
                           f_min=f_min, f_max=f_max, power=2.0)
    to_db = T.AmplitudeToDB(stype="power", top_db=top_db)
    with torch.no_grad():
        spec = to_db(mel(torch.from_numpy(x)))
    values = spec.numpy().astype(np.float32)
    times = (np.arange(values.shape[1]) * hop / sr).astype(np.float32)
    return Spectrogram(values, times, mel_band_centres(n_mels, f_min, f_max))
