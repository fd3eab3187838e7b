"""Feature shapes: log-mel, MFCC (equal to torchaudio's), display spectrogram axes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.speech.features import (
    FeatureConfig,
    FrontEnd,
    log_mel_for_display,
    mfcc_transform,
    num_frames,
)
from tests.speech.helpers import tone


@pytest.mark.parametrize("kind,dims", [("logmel", 40), ("mfcc", 20)])
def test_front_end_shapes(kind, dims):
    cfg = FeatureConfig()
    front = FrontEnd(cfg, kind)
    out = front(torch.randn(3, 16_000))
    assert out.shape == (3, dims, num_frames(16_000, cfg.hop_length)) == (3, dims, 101)
    # per-clip normalisation: zero mean over time in every band, unit overall scale
    assert out.mean(dim=-1).abs().max() < 1e-4
    assert out.flatten(1).std(dim=1).sub(1).abs().max() < 1e-3


def test_mfcc_matches_torchaudio():
    cfg = FeatureConfig(n_mels=32, n_mfcc=13)
    wave = torch.from_numpy(tone(700, 0.5))[None]
    ours = FrontEnd(cfg, "mfcc", normalize=False)(wave)
    theirs = mfcc_transform(cfg)(wave)
    assert torch.allclose(ours, theirs, atol=1e-4)


def test_other_rates_and_sizes():
    cfg = FeatureConfig(sample_rate=8000, n_mels=24, n_fft=200, hop_length=80)
    out = FrontEnd(cfg, "logmel")(torch.randn(2, 4000))
    assert out.shape == (2, 24, 51)


def test_display_spectrogram_has_axes():
    sr = 22_050
    x = tone(2000, 1.0, sr)
    spec = log_mel_for_display(x, sr, n_mels=64)
    assert spec.values.shape == (64, len(spec.times)) and spec.values.dtype == np.float32
    assert spec.times[1] == pytest.approx(0.01, abs=1e-3)
    assert spec.times[-1] == pytest.approx(1.0, abs=0.02)
    assert spec.freqs.shape == (64,) and np.all(np.diff(spec.freqs) > 0)
    assert spec.freqs[-1] < sr / 2
    band = int(np.argmax(spec.values[:, len(spec.times) // 2]))
    assert spec.freqs[band] == pytest.approx(2000, rel=0.1)
    empty = log_mel_for_display(np.zeros(0, np.float32), sr)
    assert empty.values.shape == (64, 0)


def test_speed_perturbation_changes_tempo_and_pitch_and_keeps_the_length():
    from playground.speech.augment import WaveAugment, speed_perturb

    sr = 16_000
    t = np.arange(sr) / sr
    x = (np.sin(2 * np.pi * 440 * t) * ((t >= 0.25) & (t < 0.75))).astype(np.float32)  # 0.5 s
    for factor in (0.9, 1.1):
        y = speed_perturb(x, factor)
        assert y.shape == x.shape and y.dtype == np.float32
        spectrum = np.abs(np.fft.rfft(y))
        assert np.fft.rfftfreq(len(y), 1 / sr)[spectrum.argmax()] == pytest.approx(
            440 * factor, rel=0.01)  # pitch follows the speed
        voiced = np.flatnonzero(np.abs(y) > 0.1)
        assert (voiced[-1] - voiced[0]) / sr == pytest.approx(0.5 / factor, rel=0.02)
    aug = WaveAugment(gain_db=0, shift_seconds=0, noise_prob=0, speed=0.1)
    a, b = (aug(x, np.random.default_rng(s)) for s in (0, 1))
    assert a.shape == x.shape and not np.allclose(a, b)
    assert np.array_equal(WaveAugment(gain_db=0, shift_seconds=0, noise_prob=0)(
        x, np.random.default_rng(0)), x)  # off by default in the augmenter itself


def test_band_shift_moves_whole_bands_in_training_only():
    from playground.speech.augment import SpecAugment, shift_bands

    x = torch.arange(10, dtype=torch.float32)[None, :, None].expand(64, 10, 5).clone()
    y = shift_bands(x, 2)
    offsets = (y[:, 5, 0] - x[:, 5, 0])  # a middle band: its value tells the shift
    assert set(offsets.tolist()) <= {-2.0, -1.0, 0.0, 1.0, 2.0} and len(set(offsets.tolist())) > 2
    assert torch.equal(y[:, :, 0:1].expand_as(y), y)  # the same shift at every frame
    assert y.min() >= 0 and y.max() <= 9  # edge bands repeated, nothing invented
    aug = SpecAugment(freq_mask=0, time_mask=0, freq_shift=3).eval()
    assert torch.equal(aug(x), x)
