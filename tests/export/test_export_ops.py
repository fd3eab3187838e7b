"""The export-friendly pieces, each against what it stands in for: the scanned GRU/LSTM
against ``nn.GRU`` / ``nn.LSTM`` (plain and packed), the Conv1d log-mel against torchaudio's,
predict.py's numpy resampler against the app's, and the operator named in exporter errors."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from playground.core.export import failing_operator
from playground.core.export_ops import ScanRNN, with_scan_rnns


@pytest.mark.parametrize("cell", [nn.GRU, nn.LSTM])
def test_scan_rnn_computes_what_the_rnn_does(cell):
    torch.manual_seed(0)
    rnn = cell(5, 7, num_layers=2, batch_first=True, bidirectional=True).eval()
    x = torch.randn(3, 6, 5)
    scanned = ScanRNN(rnn)
    lengths = torch.tensor([6, 3, 1])
    with torch.no_grad():
        want, want_h = rnn(x)
        got, got_h = scanned(x)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                   enforce_sorted=False)
        p_out, p_h = rnn(packed)
        p_out, _ = nn.utils.rnn.pad_packed_sequence(p_out, batch_first=True, total_length=6)
        m_out, m_h = scanned(x, valid=torch.arange(6)[None] < lengths[:, None])
    flat = (lambda h: torch.cat(h)) if cell is nn.LSTM else (lambda h: h)
    assert torch.allclose(got, want, atol=1e-6) and torch.allclose(flat(got_h), flat(want_h),
                                                                   atol=1e-6)
    assert torch.allclose(m_out, p_out, atol=1e-6)  # padded outputs are zeros, as packed
    assert torch.allclose(flat(m_h), flat(p_h), atol=1e-6)


def test_with_scan_rnns_leaves_the_model_alone():
    model = nn.Sequential(nn.Linear(3, 3), nn.GRU(3, 4, batch_first=True))
    copy = with_scan_rnns(model)
    assert isinstance(model[1], nn.GRU) and isinstance(copy[1], ScanRNN)
    plain = nn.Sequential(nn.Linear(3, 3))
    assert with_scan_rnns(plain) is plain


def test_conv_log_mel_matches_torchaudio():
    from playground.speech.export_spec import ConvLogMel
    from playground.speech.features import LOG_OFFSET, FeatureConfig, FrontEnd

    front = FrontEnd(FeatureConfig(), "logmel", normalize=False)
    rng = np.random.default_rng(0)
    t = np.arange(12_345) / 16_000
    wave = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), rng.normal(0, 0.05, len(t))])
    x = torch.from_numpy(wave.astype(np.float32))
    with torch.no_grad():
        app, got = front.log_mel(x), ConvLogMel(front)(x)
        exact = torch.log(copy.deepcopy(front.mel).double()(x.double()) + LOG_OFFSET)
    assert got.shape == app.shape
    # float32 rounding dominates in near-empty bands (a pure tone's far bands): there the
    # Conv1d DFT is as close to the float64 result as torch's own float32 FFT, or closer
    app_error = float((app.double() - exact).abs().max())
    assert float((got.double() - exact).abs().max()) <= app_error
    loud = exact > np.log(1e-4)
    assert float((got.double() - exact)[loud].abs().max()) < 5e-5


def test_predict_py_resamples_like_the_app():
    from playground.speech.audio import resample
    from playground.speech.export_spec import PREDICT_PY

    namespace: dict = {"__file__": "predict.py", "__name__": "predict"}
    exec(compile(PREDICT_PY, "predict.py", "exec"), namespace)  # noqa: S102 - our own text
    x = np.random.default_rng(1).normal(0, 0.1, 22_050).astype(np.float32)
    for sr in (22_050, 44_100, 8_000):
        want = resample(x, sr, 16_000)
        got = namespace["resample"](x, sr, 16_000)
        assert got.shape == want.shape and float(np.abs(got - want).max()) < 1e-5


def test_the_failing_operator_is_found_in_exporter_messages():
    class E(Exception):
        pass

    assert failing_operator(E("No ONNX function found for <OpOverload(op='aten.stft', "
                              "overload='default')>")) == "aten.stft"
    assert failing_operator(E("Dispatch failed: aten::unique_consecutive")) == \
        "aten::unique_consecutive"
    assert failing_operator(E("something else")) is None


@pytest.mark.parametrize("cell", [nn.GRU, nn.LSTM])
def test_scan_rnn_step_is_one_time_step(cell):
    torch.manual_seed(1)
    rnn = cell(4, 6, num_layers=2, batch_first=True).eval()
    x = torch.randn(3, 4)
    h = torch.randn(2, 3, 6)
    state = (h, torch.randn(2, 3, 6)) if cell is nn.LSTM else h
    with torch.no_grad():
        want, want_state = rnn(x[:, None], state)
        got, got_state = ScanRNN(rnn).step(x, state)
    flat = (lambda s: torch.cat(s)) if cell is nn.LSTM else (lambda s: s)
    assert torch.allclose(got, want[:, 0], atol=1e-6)
    assert torch.allclose(flat(got_state), flat(want_state), atol=1e-6)


def test_the_tolerance_is_relative_beyond_one_and_exact_for_integers():
    from playground.core.export import TOLERANCE, Comparison, measure, parity_failure

    rng = np.random.default_rng(0)
    big = (rng.normal(0, 1, (5, 5)) * 400).astype(np.float32)   # an AlexNet after one step
    small = rng.normal(0, 0.3, (5, 5)).clip(-1, 1).astype(np.float32)
    ulps = np.nextafter(big, np.inf) + 2 * np.spacing(big)      # 3 float32 steps: ~1e-4 here

    def ok(got, want):
        figures = measure([Comparison("logits", got, want, True)])
        return figures["max_scaled_diff"] <= TOLERANCE, figures

    passed, figures = ok(ulps, big)
    assert passed and figures["max_abs_diff"] > TOLERANCE and figures["scale"] > 400
    assert not ok(big + 0.5, big)[0]                             # 1e-3 of 400: wrong
    assert not ok(small + 2e-4, small)[0]                        # within ±1: absolute
    lengths = np.array([50, 40, 30])
    assert not ok(lengths + np.array([0, 1, 0]), lengths)[0]     # integers: exact
    assert ok(lengths.copy(), lengths)[0]
    message = parity_failure({**measure([Comparison("logits", big + 0.5, big)]), "samples": 5,
                              "batch_size": 5})
    scale = float(np.abs(big).max())
    assert message.startswith(f"The exported model differs from the app's by up to 5.00e-01, "
                              f"{0.5 / scale:.2e} relative to outputs as large as {scale:.3g} "
                              "(tolerance 0.0001; top-1 agreement 100.0%")
