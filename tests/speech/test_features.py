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
