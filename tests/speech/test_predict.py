"""Using trained speech models: keyword predictions and saliency, transcription of long
files in chunks, wav2vec 2.0 loading offline, and the jobs the Speech tab runs."""

from __future__ import annotations

import urllib.error
import urllib.request

import numpy as np
import pytest

from playground.core import events as ev
from playground.core.errors import AudioDecodeError, RunError, WeightsUnavailable
from playground.core.jobs import CollectingContext, run_job
from playground.core.loader import ModelCache
from playground.speech import predict as predict_mod
from playground.speech.audio import save_wav
from playground.speech.jobs import keyword_predict_job, transcribe_clip_job
from playground.speech.predict import (
    KeywordPredictor,
    Transcriber,
    make_transcribe_job,
    wav2vec2_weights_path,
)
from tests.speech.helpers import SR, long_tone_recording, oracle_transcriber, tone


def _digit(data, label):
    return sorted((data / label).iterdir())[0]


def test_keyword_predictor_round_trip(keyword_run):
    result, _, data = keyword_run
    predictor = KeywordPredictor.from_run(result["run_dir"])
    files = [_digit(data, "one"), _digit(data, "two")]
    preds = predictor.predict(files, top_k=2)
    assert len(preds) == 2 and all(len(p) == 2 for p in preds)
    for p in preds:
        assert p[0][1] >= p[1][1] and {lab for lab, _ in p} <= {"one", "two", "three"}
    assert predictor.predict(str(files[0]), top_k=5)[0][0][0] == preds[0][0][0]  # one clip
    assert len(predictor.predict(str(files[0]), top_k=5)[0]) == 3
    # arrays at the run's rate, or (array, rate) at another rate
    samples = tone(440, 0.6)
    assert len(predictor.predict(samples)) == 1
    resampled = tone(440, 0.6, 44_100)
    probs = predictor.probabilities((resampled, 44_100))
    assert probs.shape == (3,) and probs.sum() == pytest.approx(1.0, abs=1e-5)
    # silence is predicted but flagged
    quiet = predictor.predict_clips([np.zeros(SR, np.float32)])[0]
    assert quiet["silent"] and "silent" in quiet["note"]
    assert not predictor.predict_clips([files[0]])[0]["silent"]
    # saliency: same shape as the log-mel input, in [0, 1]
    log_mel, sal = predictor.saliency(files[0])
    assert log_mel.shape == sal.shape == (40, 101)
    assert sal.min() >= 0.0 and sal.max() == pytest.approx(1.0)
    # the clip's own sound (not its padding) carries the evidence
    energy = log_mel.mean(axis=0)
    loud = energy > np.median(energy)
    assert sal[:, loud].mean() > sal[:, ~loud].mean()
    info = predictor.explain(files[1], top_k=3)
    assert info["times"].shape == (101,) and info["freqs"].shape == (40,)
    assert [lab for lab, _ in info["predictions"]] == [
        lab for lab, _ in predictor.predict(files[1], top_k=3)[0]]
    assert 0 <= info["class_index"] < 3


def test_keyword_predict_job_reuses_the_cached_model(keyword_run, tmp_path):
    result, _, data = keyword_run
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio", encoding="utf-8")
    cache = ModelCache()
    job = keyword_predict_job(result["run_dir"], "good", str(_digit(data, "three")), top_k=2,
                              cache=cache)
    event = run_job(job, CollectingContext())
    assert isinstance(event, ev.Finished)
    good = event.result
    assert good["saliency"].shape == good["log_mel"].shape and len(good["predictions"]) == 2
    assert len(cache) == 1  # the predictor is reused by the next job
    predictor = predict_mod.get_predictor(result["run_dir"], cache=cache)
    assert predictor is KeywordPredictor.from_run(result["run_dir"], cache=cache)
    broken = run_job(keyword_predict_job(result["run_dir"], "bad", str(bad), cache=cache),
                     CollectingContext())
    assert isinstance(broken, ev.Failed) and "text file" in broken.message
    with pytest.raises(AudioDecodeError):
        predictor.predict_clips([str(bad)])


def test_run_kind_mismatch(keyword_run, ctc_run):
    with pytest.raises(RunError, match="speech-to-text run"):
        KeywordPredictor.from_run(ctc_run[0]["run_dir"])
    with pytest.raises(RunError, match="keyword run"):
        Transcriber.from_run(keyword_run[0]["run_dir"])


def test_transcriber_from_a_ctc_run(ctc_run, tmp_path):
    result, _, data = ctc_run
    transcriber = Transcriber.from_run(result["run_dir"])
    assert transcriber.frame_seconds == pytest.approx(0.02) and transcriber.beam_width == 4
    clip = sorted(data.glob("*.wav"))[0]
    out = transcriber.transcribe(clip)
    assert set(out) >= {"text", "segments", "words", "duration", "rtf", "chunks"}
    assert out["chunks"] == 1 and out["duration"] > 0.3 and out["rtf"] > 0
    assert set(out["text"]) <= {"a", "b", " "}
    ctx = CollectingContext()
    event = run_job(transcribe_clip_job(result["run_dir"], "clip", str(clip)), ctx)
    align = ctx.of_type(ev.Alignment)[0]
    assert align.posteriors.shape[1] == 4
    assert event.result["alignment"]["log_mel"].shape[0] == 64


def test_long_file_is_transcribed_in_chunks_with_timestamps(tmp_path):
    rng = np.random.default_rng(3)
    words = ["".join(rng.choice(["a", "b"], size=int(rng.integers(1, 4)))) for _ in range(45)]
    samples, onsets = long_tone_recording(words)
    path = save_wav(tmp_path / "long.wav", samples, SR)
    duration = len(samples) / SR
    assert duration > 35
    transcriber = oracle_transcriber()
    ctx = CollectingContext()
    out = transcriber.transcribe(path, ctx, chunk_seconds=10)
    assert out["text"] == " ".join(words)
    assert out["chunks"] == int(np.ceil((duration - 1.0) / 9.0))
    assert out["duration"] == pytest.approx(duration, abs=1e-3)
    starts = [w["start"] for w in out["words"]]
    assert np.abs(np.array(starts) - np.array(onsets)).max() < 0.03
    assert all(w["end"] > w["start"] for w in out["words"])
    ends = [w["end"] for w in out["words"]]
    assert np.all(np.diff(starts) > 0) and np.all(np.array(starts[1:]) >= np.array(ends[:-1]))
    progress = ctx.of_type(ev.Progress)
    assert progress[-1].done == progress[-1].total == out["chunks"]
    joined = " ".join(s["text"] for s in out["segments"])
    assert joined == out["text"] and out["segments"][0]["start"] == starts[0]
    whole = transcriber.transcribe(samples, chunk_seconds=1000, beam_width=4)
    assert whole["text"] == out["text"] and whole["chunks"] == 1


def test_transcribe_job_silence_errors_and_cancel(tmp_path, monkeypatch):
    silent = save_wav(tmp_path / "silent.wav", np.zeros(2 * SR, np.float32), SR)
    broken = tmp_path / "broken.flac"
    broken.write_bytes(b"fLaC" + bytes(100))
    transcriber = oracle_transcriber()
    out = transcriber.transcribe(silent)
    assert out["text"] == "" and "silent" in out["note"]
    monkeypatch.setattr(predict_mod, "get_transcriber", lambda *a, **k: transcriber)
    job = make_transcribe_job("oracle", [str(silent), ("named", str(broken))])
    event = run_job(job, CollectingContext())
    assert [r["name"] for r in event.result] == ["silent.wav", "named"]
    assert "error" in event.result[1]
    long = save_wav(tmp_path / "long.wav", np.tile(tone(600, 1.0), 30), SR)
    ctx = CollectingContext()
    ctx.cancel()
    stopped = run_job(make_transcribe_job("oracle", [str(long)]), ctx)
    assert isinstance(stopped, ev.Finished) and stopped.stopped


def _offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_wav2vec2_offline_names_file_and_folder(monkeypatch):
    _offline(monkeypatch)
    path = wav2vec2_weights_path()
    assert path.name == "wav2vec2_fairseq_base_ls960_asr_ls960.pth"
    assert path.parent.name == "checkpoints" and "torch-home" in str(path)  # TORCH_HOME
    event = run_job(make_transcribe_job("wav2vec2", ["x.wav"]), CollectingContext())
    assert isinstance(event, ev.Failed) and event.error_type == "WeightsUnavailable"
    assert path.name in event.message and str(path.parent) in event.message
    with pytest.raises(WeightsUnavailable, match="offline"):
        Transcriber.wav2vec2()


@pytest.mark.slow
def test_wav2vec2_loads_cached_weights_without_network(monkeypatch, tmp_path):
    import torch

    from playground.speech.predict import wav2vec2_model

    _offline(monkeypatch)
    model = wav2vec2_model()
    state = model.state_dict()
    # the published file keeps fairseq's 32-symbol output; torchaudio drops rows 1-3
    aux_w, aux_b = state["aux.weight"], state["aux.bias"]
    state["aux.weight"] = torch.cat([aux_w[:1], torch.zeros(3, aux_w.shape[1]), aux_w[1:]])
    state["aux.bias"] = torch.cat([aux_b[:1], torch.full((3,), -50.0), aux_b[1:]])
    path = wav2vec2_weights_path()
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    try:
        transcriber = Transcriber.wav2vec2()
        loaded = transcriber.model.state_dict()
        assert torch.equal(loaded["aux.weight"], aux_w)
        assert torch.equal(loaded["encoder.transformer.layers.0.attention.k_proj.weight"],
                           state["encoder.transformer.layers.0.attention.k_proj.weight"])
        out = transcriber.transcribe(tone(300, 1.5) + tone(800, 1.5))
        assert out["model"] == "WAV2VEC2_ASR_BASE_960H" and out["duration"] == 1.5
        assert set(out["text"]) <= set("abcdefghijklmnopqrstuvwxyz' ")
    finally:
        path.unlink()
