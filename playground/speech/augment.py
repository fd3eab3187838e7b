"""Data augmentation for speech: on the waveform and on the spectrogram.

- :class:`WaveAugment` ``(gain_db=6, shift_seconds=0.1, noise_prob=0.5, snr_db=(10, 30),
  sample_rate=16000)``: called as ``aug(samples, rng) -> samples`` on one float32 clip (numpy)
  in the dataset: random gain within ±``gain_db``, a random time shift within
  ±``shift_seconds`` (zero-filled, length kept), and with probability ``noise_prob`` generated
  background noise (white, pink or brown) at a random signal-to-noise ratio.
- :func:`colored_noise` ``(n, color, rng) -> np.ndarray``: unit-RMS noise with a 1/f^k spectrum.
- :class:`SpecAugment` ``(freq_mask=8, time_mask=10, n_masks=2)``: frequency and time masking
  (Park et al., "SpecAugment", 2019) with ``torchaudio.transforms.FrequencyMasking`` /
  ``TimeMasking``, per example, on ``(B, F, T)`` features, active in training mode only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torchaudio.transforms as T
from torch import nn

NOISE_COLORS = {"white": 0.0, "pink": 1.0, "brown": 2.0}


def colored_noise(n: int, color: str = "white", rng: np.random.Generator | None = None
                  ) -> np.ndarray:
    """``n`` samples of noise with power spectrum ~ 1/f^k (white 0, pink 1, brown 2), RMS 1."""
    rng = rng or np.random.default_rng()
    white = rng.standard_normal(n)
    k = NOISE_COLORS[color]
    if k:
        spec = np.fft.rfft(white)
        f = np.arange(len(spec), dtype=np.float64)
        f[0] = 1.0
        white = np.fft.irfft(spec / f ** (k / 2.0), n)
    rms = float(np.sqrt(np.mean(white ** 2))) or 1.0
    return (white / rms).astype(np.float32)


@dataclass
class WaveAugment:
    gain_db: float = 6.0
    shift_seconds: float = 0.1
    noise_prob: float = 0.5
    snr_db: tuple[float, float] = (10.0, 30.0)
    sample_rate: int = 16_000

    def __call__(self, samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = np.asarray(samples, dtype=np.float32)
        if self.shift_seconds > 0 and len(x):
            limit = int(self.shift_seconds * self.sample_rate)
            shift = int(rng.integers(-limit, limit + 1))
            if shift:
                out = np.zeros_like(x)
                if shift > 0:
                    out[shift:] = x[:-shift]
                else:
                    out[:shift] = x[-shift:]
                x = out
        if self.gain_db > 0:
            x = x * np.float32(10 ** (rng.uniform(-self.gain_db, self.gain_db) / 20))
        if self.noise_prob > 0 and rng.random() < self.noise_prob and len(x):
            rms = float(np.sqrt(np.mean(x ** 2)))
            if rms > 0:
                snr = rng.uniform(*self.snr_db)
                color = ("white", "pink", "brown")[int(rng.integers(3))]
                x = x + colored_noise(len(x), color, rng) * np.float32(rms / 10 ** (snr / 20))
        return np.clip(x, -1.0, 1.0).astype(np.float32, copy=False)


class SpecAugment(nn.Module):
    """Frequency and time masks on ``(B, F, T)`` features; masked cells are set to 0 (the
    per-clip mean after normalisation). Does nothing in eval mode."""

    def __init__(self, freq_mask: int = 8, time_mask: int = 10, n_masks: int = 2) -> None:
        super().__init__()
        self.n_masks = n_masks
        self.freq = T.FrequencyMasking(freq_mask, iid_masks=True) if freq_mask > 0 else None
        self.time = T.TimeMasking(time_mask, iid_masks=True) if time_mask > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        x = x.unsqueeze(1)                                  # (B, 1, F, T): a mask per example
        for _ in range(self.n_masks):
            if self.freq is not None:
                x = self.freq(x)
            if self.time is not None:
                x = self.time(x)
        return x.squeeze(1)
