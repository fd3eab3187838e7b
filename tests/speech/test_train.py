"""Tiny keyword and CTC models train a few steps with falling loss and write their runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from playground.core import events as ev
from playground.core.errors import ConfigError
from playground.core.jobs import CollectingContext, run_job
from playground.speech.train import (
    CTCTrainConfig,
    KeywordTrainConfig,
    make_ctc_job,
    make_keyword_job,
)
from tests.speech.conftest import train_ctc, train_keywords


def _epoch_values(ctx, name, split):
    return [m.value for m in ctx.of_type(ev.Metric)
            if m.name == name and m.split == split and m.axis == "epoch"]


def test_keyword_model_learns(keyword_run):
    result, ctx, _ = keyword_run
    losses = _epoch_values(ctx, "loss", "train")
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert result["best_val_accuracy"] > 0.5  # three labels: chance is 1/3
    run = Path(result["run_dir"])
    info = json.loads((run / "run.json").read_text())
    assert info["task"] == "speech" and info["speech_task"] == "keywords"
    assert info["status"] == "finished" and info["dataset"]["layout"] == "folders"
    assert json.loads((run / "labels.json").read_text()) == ["one", "three", "two"]
    assert (run / "checkpoints" / "best.safetensors").is_file()
    cm = ctx.of_type(ev.ConfusionMatrix)[-1]
    assert cm.matrix.shape == (3, 3) and cm.labels == ("one", "three", "two")
    assert ctx.of_type(ev.ClassReport) and ctx.of_type(ev.RunStarted)
    summary = ctx.of_type(ev.ModelSummary)[0]
    assert "logmel features" in summary.details


def test_keyword_gru_with_lstm_cell_runs(tmp_path_factory):
    result, ctx, _ = train_keywords(tmp_path_factory, model="kw_gru", rnn_cell="lstm",
                                    epochs=1, width=16, layers=1)
    assert result["steps"] > 0 and "mfcc features" in ctx.of_type(ev.ModelSummary)[0].details


def test_ctc_model_learns_and_reports(ctc_run):
    result, ctx, _ = ctc_run
    losses = _epoch_values(ctx, "loss", "train")
    assert len(losses) == 3 and losses[-1] < 0.8 * losses[0]
    assert _epoch_values(ctx, "loss", "val")[-1] < _epoch_values(ctx, "loss", "val")[0]
    cers = _epoch_values(ctx, "cer", "val")
    wers = _epoch_values(ctx, "wer", "val")
    assert len(cers) == len(wers) == len(losses)
    assert result["best_cer"] == min(cers) and 0.0 <= result["best_cer"] <= 1.0
    align = ctx.of_type(ev.Alignment)[-1]
    frames, symbols = align.posteriors.shape
    assert symbols == len(align.labels) == 4 and align.labels[0] == "∅"
    assert np.allclose(align.posteriors.sum(1), 1.0, atol=1e-4)
    assert all(0 <= f < frames for f, _ in align.emissions)
    assert align.frame_seconds == pytest.approx(0.02)
    assert ctx.of_type(ev.SampleText)[-1].text.startswith("ref: ")
    run = Path(result["run_dir"])
    info = json.loads((run / "run.json").read_text())
    assert info["speech_task"] == "ctc" and info["status"] == "finished"
    assert json.loads((run / "labels.json").read_text())["vocab"] == ["∅", " ", "a", "b"]
    best = ctx.of_type(ev.CheckpointSaved)
    assert any(c.kind == "best" for c in best)


def test_conformer_trains(tmp_path_factory):
    result, ctx, _ = train_ctc(tmp_path_factory, model="ctc_conformer", epochs=2, width=32,
                               layers=1, learning_rate=2e-3)
    losses = _epoch_values(ctx, "loss", "train")
    assert len(losses) == 2 and np.isfinite(losses).all()


def test_stop_keeps_a_checkpoint(tmp_path_factory):
    from tests.speech.helpers import make_tone_transcripts

    data = make_tone_transcripts(tmp_path_factory.mktemp("stop"), 12)
    ctx = CollectingContext()
    seen = []

    def emit(event):
        seen.append(event)
        if isinstance(event, ev.Progress) and event.message.startswith("epoch 2"):
            ctx.cancel()

    ctx._emit = emit
    cfg = CTCTrainConfig(epochs=5, batch_size=4, width=16, layers=1, val_fraction=0.25)
    event = run_job(make_ctc_job(cfg, str(data), home=tmp_path_factory.mktemp("h")), ctx)
    assert isinstance(event, ev.Finished) and event.stopped
    run = Path(event.result["run_dir"])
    assert (run / "checkpoints" / "last.safetensors").is_file()
    assert json.loads((run / "run.json").read_text())["status"] == "stopped"


def test_configuration_errors(tmp_path):
    with pytest.raises(ConfigError, match="must be one of kw_cnn, kw_gru"):
        make_keyword_job(KeywordTrainConfig(model="ctc_rnn"), "demo:digits")
    with pytest.raises(ConfigError, match="must be one of ctc_rnn, ctc_conformer"):
        make_ctc_job(CTCTrainConfig(model="kw_cnn"), "demo:digits")
    with pytest.raises(ConfigError, match="label"):
        make_keyword_job(KeywordTrainConfig(), str(tmp_path), label_pattern="(x)")
    event = run_job(make_keyword_job(KeywordTrainConfig(), str(tmp_path / "none")),
                    CollectingContext())
    assert isinstance(event, ev.Failed) and "does not exist" in event.message
