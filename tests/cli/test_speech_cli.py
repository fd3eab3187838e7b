"""``playground train speech``, ``predict speech`` and ``transcribe`` run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from playground.cli import main
from playground.speech.audio import save_wav
from tests.speech.helpers import SR, copy_digits, long_tone_recording, make_tone_transcripts


@pytest.fixture
def keep_threads():
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_train_keywords_then_predict(tmp_path, capsys, keep_threads):
    data = copy_digits(tmp_path / "digits", ("four", "five"), per_label=8)
    home = tmp_path / "home"
    code = main(["train", "speech", "--task", "keywords", "--data", str(data), "--epochs", "2",
                 "--batch-size", "8", "--width", "8", "--layers", "1", "--no-noise",
                 "--name", "cli kw", "--home", str(home), "--device", "cpu", "--threads", "1",
                 "--quiet"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    run = Path(out[-1])
    assert run.parent == home / "runs" / "speech" and (run / "checkpoints").is_dir()
    assert any(line.startswith("best_val_accuracy: ") for line in out)
    info = json.loads((run / "run.json").read_text())
    assert info["speech_task"] == "keywords" and info["config"]["width"] == 8
    assert info["config"]["noise"] is False

    good = sorted((data / "four").iterdir())[0]
    quiet = save_wav(tmp_path / "quiet.wav", np.zeros(SR, np.float32), SR)
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio", encoding="utf-8")
    code = main(["predict", "speech", "--run", str(run), str(good), str(quiet), str(bad),
                 "--top-k", "2", "--json", "--home", str(home)])
    rows = json.loads(capsys.readouterr().out)
    assert code == 1  # one file failed; the others were still classified
    assert [r["file"] for r in rows] == [str(good), str(quiet), str(bad)]
    preds = rows[0]["predictions"]
    assert len(preds) == 2 and {p["label"] for p in preds} == {"four", "five"}
    assert preds[0]["prob"] >= preds[1]["prob"] and "note" not in rows[0]
    assert "silent" in rows[1]["note"]
    assert "predictions" not in rows[2] and "text file" in rows[2]["error"]

    code = main(["predict", "speech", "--run", str(run), str(good), "--home", str(home)])
    text = capsys.readouterr().out.splitlines()
    assert code == 0 and text[0] == str(good) and len(text) == 3 and "%" in text[1]


def test_train_ctc_then_transcribe(tmp_path, capsys, keep_threads):
    data = make_tone_transcripts(tmp_path / "tones", 12)
    home = tmp_path / "home"
    code = main(["train", "speech", "--task", "ctc", "--data", str(data), "--epochs", "1",
                 "--batch-size", "4", "--width", "16", "--layers", "1", "--model", "ctc_rnn",
                 "--beam-width", "2", "--home", str(home), "--device", "cpu", "--quiet"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0, out
    run = Path(out[-1])
    assert any(line.startswith("val_cer: ") for line in out)
    assert json.loads((run / "labels.json").read_text())["vocab"][0] == "∅"

    samples, _ = long_tone_recording(["ab", "b", "a"] * 6)
    long = save_wav(tmp_path / "long.wav", samples, SR)
    code = main(["transcribe", "--run", str(run), str(long), "--chunk-seconds", "5",
                 "--json", "--home", str(home)])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and rows[0]["file"] == str(long)
    assert rows[0]["chunks"] >= 3 and rows[0]["duration"] == pytest.approx(len(samples) / SR,
                                                                           abs=1e-3)
    assert set(rows[0]) >= {"text", "segments", "words", "rtf"}
    code = main(["transcribe", "--run", str(run), str(long), "--home", str(home)])
    text = capsys.readouterr().out.splitlines()
    assert code == 0 and text[0].startswith(f"{long} (") and "real-time factor" in text[0]


def test_speech_cli_errors(tmp_path, capsys, monkeypatch):
    home = ["--home", str(tmp_path / "home")]
    code = main(["train", "speech", "--task", "ctc", "--data", "demo:digits",
                 "--clip-seconds", "2", *home])
    err = capsys.readouterr().err
    assert code == 1 and "--clip-seconds is not an option of --task ctc" in err
    code = main(["train", "speech", "--task", "keywords", "--data", "x", "--model", "ctc_rnn",
                 *home])
    assert code == 1 and "ctc model, not one for --task keywords" in capsys.readouterr().err
    code = main(["train", "speech", "--data", str(tmp_path / "missing"), "--quiet", *home])
    assert code == 1 and "does not exist" in capsys.readouterr().err
    monkeypatch.setattr("shutil.which", lambda name: None)
    code = main(["train", "speech", "--task", "ctc", "--data", "demo:digits", "--quiet", *home])
    assert code == 1 and "espeak-ng is not installed" in capsys.readouterr().err
    code = main(["transcribe", "--run", str(tmp_path), "x.wav", *home])
    assert code == 1 and "not a run folder" in capsys.readouterr().err
