"""Tiny trained speech runs shared by the tests of one module (trained once, in seconds)."""

from __future__ import annotations

import pytest
import torch

from playground.core import events as ev
from playground.core.jobs import CollectingContext, run_job
from playground.speech.train import (
    CTCTrainConfig,
    KeywordTrainConfig,
    make_ctc_job,
    make_keyword_job,
)
from tests.speech.helpers import copy_digits, make_tone_transcripts


def train_keywords(tmp_path_factory, **overrides):
    torch.manual_seed(0)
    data = copy_digits(tmp_path_factory.mktemp("digits"), ("one", "two", "three"))
    home = tmp_path_factory.mktemp("home")
    options = dict(epochs=4, batch_size=16, width=12, layers=2, learning_rate=1e-2,
                   noise=False, seed=0)
    options.update(overrides)
    ctx = CollectingContext()
    event = run_job(make_keyword_job(KeywordTrainConfig(**options), str(data), home=home), ctx)
    assert isinstance(event, ev.Finished), getattr(event, "details", event)
    return event.result, ctx, data


def train_ctc(tmp_path_factory, model: str = "ctc_rnn", epochs: int = 3, clips: int = 32,
              **overrides):
    torch.manual_seed(0)
    data = make_tone_transcripts(tmp_path_factory.mktemp("tones"), clips)
    home = tmp_path_factory.mktemp("home")
    options = dict(model=model, epochs=epochs, batch_size=8, width=32, layers=1,
                   learning_rate=5e-3, val_fraction=0.25, noise=False, gain_db=0.0,
                   spec_augment=False, warmup_fraction=0.0, beam_width=4, seed=0)
    options.update(overrides)
    ctx = CollectingContext()
    event = run_job(make_ctc_job(CTCTrainConfig(**options), str(data), home=home), ctx)
    assert isinstance(event, ev.Finished), getattr(event, "details", event)
    return event.result, ctx, data


@pytest.fixture(scope="package")
def keyword_run(tmp_path_factory):
    return train_keywords(tmp_path_factory)


@pytest.fixture(scope="package")
def ctc_run(tmp_path_factory):
    return train_ctc(tmp_path_factory)
