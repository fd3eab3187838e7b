"""Data augmentation for speech: on the waveform and on the spectrogram.

- :class:`WaveAugment` ``(gain_db=6, shift_seconds=0.1, noise_prob=0.5, snr_db=(10, 30),
  sample_rate=16000)``: called as ``aug(samples, rng) -> samples`` on one float32 clip (numpy)
  in the dataset: random gain within ±``gain_db``, a random time shift within
  ±``shift_seconds`` (zero-filled, length kept), and with probability ``noise_prob`` generated
  background noise (white, pink or brown) at a random signal-to-noise ratio; with ``speed``
  > 0, first a random speed change within ±``speed`` (:func:`speed_perturb`: tempo and pitch,
  as unseen speakers differ).
- :func:`colored_noise` ``(n, color, rng) -> np.ndarray``: unit-RMS noise with a 1/f^k spectrum.
- :class:`SpecAugment` ``(freq_mask=8, time_mask=10, n_masks=2)``: frequency and time masking
  (Park et al., "SpecAugment", 2019) with ``torchaudio.transforms.FrequencyMasking`` /
  ``TimeMasking``, per example, on ``(B, F, T)`` features, active in training mode only; with
  ``freq_shift`` > 0, first a random shift of the bands (:func:`shift_bands`).
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
    speed: float = 0.0

    def __call__(self, samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = np.asarray(samples, dtype=np.float32)
        if self.speed > 0 and len(x) > 1:
            x = speed_perturb(x, float(rng.uniform(1 - self.speed, 1 + self.speed)))
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


def speed_perturb(x: np.ndarray, factor: float) -> np.ndarray:
    """Play ``x`` ``factor`` times faster (tempo and pitch together, as a tape would: Ko et
    al., "Audio augmentation for speech recognition", 2015), keeping its length: the result is
    centred and cut or zero-padded. Linear interpolation (cheap; the small aliasing above
    8 kHz does not matter for 40 mel bands)."""
    n = len(x)
    m = max(2, int(round(n / factor)))
    stretched = np.interp(np.arange(m) * (n - 1) / (m - 1), np.arange(n), x).astype(np.float32)
    if m >= n:
        start = (m - n) // 2
        return stretched[start:start + n]
    out = np.zeros(n, dtype=np.float32)
    start = (n - m) // 2
    out[start:start + m] = stretched
    return out


def shift_bands(x: torch.Tensor, limit: int) -> torch.Tensor:
    """Shift each example's ``(F, T)`` features by a random whole number of bands within
    ±``limit`` (edge bands repeated): a voice higher or lower, as a vocal tract length
    perturbation does (Jaitly & Hinton, 2013), for models whose bands are channels."""
    bands = x.shape[1]
    shift = torch.randint(-limit, limit + 1, (x.shape[0], 1), device=x.device)
    index = (torch.arange(bands, device=x.device)[None, :] - shift).clamp(0, bands - 1)
    return torch.gather(x, 1, index[:, :, None].expand(-1, -1, x.shape[2]))


class SpecAugment(nn.Module):
    """Frequency and time masks on ``(B, F, T)`` features; masked cells are set to 0 (the
    per-clip mean after normalisation). Does nothing in eval mode."""

    def __init__(self, freq_mask: int = 8, time_mask: int = 10, n_masks: int = 2,
                 freq_shift: int = 0) -> None:
        super().__init__()
        self.n_masks = n_masks
        self.freq_shift = int(freq_shift)
        self.freq = T.FrequencyMasking(freq_mask, iid_masks=True) if freq_mask > 0 else None
        self.time = T.TimeMasking(time_mask, iid_masks=True) if time_mask > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        if self.freq_shift > 0:
            x = shift_bands(x, self.freq_shift)
        x = x.unsqueeze(1)                                  # (B, 1, F, T): a mask per example
        for _ in range(self.n_masks):
            if self.freq is not None:
                x = self.freq(x)
            if self.time is not None:
                x = self.time(x)
        return x.squeeze(1)
