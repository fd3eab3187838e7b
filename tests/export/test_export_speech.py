"""Export of speech runs, waveform in (the log-mel front end inside the graph): keyword CNN and
GRU, CTC recurrent and Conformer. Parity on the run's validation clips at another batch size
and length; predict.py prints what the app prints for the same file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from playground.speech.audio import save_wav
from tests.export.helpers import exported, names, run_predict, train
from tests.speech.helpers import SR, copy_digits, make_tone_transcripts, speak_tones


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    return copy_digits(tmp_path_factory.mktemp("digits"), per_label=6)


@pytest.fixture(scope="module")
def tones(tmp_path_factory) -> Path:
    return make_tone_transcripts(tmp_path_factory.mktemp("tones"), 12)


def _keywords(digits: Path, home: Path, model: str) -> Path:
    return train(["speech", "--task", "keywords", "--data", str(digits), "--model", model,
                  "--epochs", "1", "--batch-size", "8", "--width", "8", "--layers", "1",
                  "--no-noise", "--name", model, "--threads", "1"], home)


@pytest.mark.parametrize("model", ["kw_cnn", "kw_gru"])
def test_keyword_models_and_predict_py(digits, tmp_path, model):
    from playground.speech.predict import KeywordPredictor

    run = _keywords(digits, tmp_path / "home", model)
    out = tmp_path / model
    result = exported(run, "onnx", out)
    p = result["parity"]
    assert "validation clips of" in p["source"] and p["seq_len"] == 16000  # a 1 s clip
    assert names(result) == {"model.onnx", "model.json", "predict.py"}
    meta = json.loads((out / "model.json").read_text())
    assert sorted(meta["labels"]) == ["one", "three", "two"] and meta["sample_rate"] == SR
    clip = sorted((digits / "two").iterdir())[0]
    lines = run_predict(out, [str(clip), "--top-k", "3"], tmp_path)
    assert lines[0] == str(clip) and len(lines) == 4
    app = KeywordPredictor.from_run(run, "cpu").predict(clip, top_k=3)[0]
    got = [(line.split("\t")[0].strip(), float(line.split("\t")[1])) for line in lines[1:]]
    assert [label for label, _ in got] == [label for label, _ in app]
    assert np.allclose([q for _, q in got], [q for _, q in app], atol=1e-3)


def _ctc(tones: Path, home: Path, model: str) -> Path:
    return train(["speech", "--task", "ctc", "--data", str(tones), "--epochs", "2",
                  "--batch-size", "4", "--width", "16", "--layers", "1", "--model", model,
                  "--name", model], home)


@pytest.mark.parametrize("model", ["ctc_rnn", "ctc_conformer"])
def test_ctc_models_and_predict_py(tones, tmp_path, model):
    from playground.speech.predict import Transcriber

    run = _ctc(tones, tmp_path / "home", model)
    out = tmp_path / model
    result = exported(run, "onnx", out)
    p = result["parity"]
    assert "validation and 2 training clips of" in p["source"]  # 12 clips: 1 held out
    assert set(p["per_output"]) == {"log_probs", "out_lengths"}
    assert p["per_output"]["out_lengths"] == 0
    meta = json.loads((out / "model.json").read_text())
    assert meta["symbols"][0] == "∅" and meta["speech_task"] == "ctc"
    clip = tmp_path / "ab.wav"
    save_wav(clip, speak_tones("ab ba", np.random.default_rng(5)), SR)
    lines = run_predict(out, [str(clip)], tmp_path)
    app = Transcriber.from_run(run, "cpu").transcribe(clip, beam_width=1)["text"]
    assert lines == [f"{clip}\t{app}"]
    if model == "ctc_rnn":  # the scan over time in a .pt2 as well
        assert names(exported(run, "pt2", tmp_path / "pt2")) == {"model.pt2", "model.json"}
