"""Speech runs (keywords with augmentation, CTC): stop and resume equals an uninterrupted
run; a keyword model fine-tuned on other words keeps its features and gets a new output."""

from __future__ import annotations

import pytest

from playground.core import events as ev
from playground.core.checkpoint import load_weights
from playground.core.jobs import CollectingContext, run_job
from playground.core.runs import open_run
from playground.speech.train import (
    CTCTrainConfig,
    KeywordTrainConfig,
    make_ctc_job,
    make_keyword_job,
    make_resume_job,
)
from tests.speech.helpers import copy_digits, make_tone_transcripts
from tests.stopping import StopAtStep

pytestmark = pytest.mark.usefixtures("one_thread")


def _same_runs(a_dir: str, b_dir: str, key: str) -> None:
    a = load_weights(open_run(a_dir).last_checkpoint)
    b = load_weights(open_run(b_dir).last_checkpoint)
    assert max(float((a[k].float() - b[k].float()).abs().max()) for k in a) <= 1e-6
    ra = [r[key] for r in open_run(a_dir).metrics() if key in r]
    rb = [r[key] for r in open_run(b_dir).metrics() if key in r]
    assert len(ra) == len(rb) >= 2 and rb == pytest.approx(ra, abs=1e-6)


def _stop_resume(make, stop: int, home) -> tuple[str, str]:
    whole = run_job(make(), CollectingContext())
    part = run_job(make(), StopAtStep(stop, epochs_only=True))
    assert isinstance(part, ev.Finished) and part.stopped, part
    run_dir = part.result["run_dir"]
    resumed = run_job(make_resume_job(run_dir, home=home), CollectingContext())
    assert isinstance(resumed, ev.Finished) and not resumed.stopped, resumed
    assert resumed.result["steps"] == whole.result["steps"]
    return whole.result["run_dir"], run_dir


def test_keywords_with_augmentation_resume_exactly(tmp_path):
    data = copy_digits(tmp_path / "digits", ("one", "two", "three"))
    cfg = KeywordTrainConfig(epochs=2, batch_size=16, width=8, layers=2, learning_rate=1e-2,
                             noise=True, gain_db=6.0, time_shift=0.1, spec_augment=True,
                             seed=0)
    home = tmp_path / "home"
    whole, part = _stop_resume(lambda: make_keyword_job(cfg, str(data), home=home), 5, home)
    _same_runs(whole, part, "val_accuracy")


def test_ctc_resumes_exactly(tmp_path):
    data = make_tone_transcripts(tmp_path / "tones", 24)
    cfg = CTCTrainConfig(epochs=2, batch_size=8, width=16, layers=1, learning_rate=5e-3,
                         val_fraction=0.25, noise=True, gain_db=3.0, spec_augment=True,
                         warmup_fraction=0.2, seed=0)
    home = tmp_path / "home"
    whole, part = _stop_resume(lambda: make_ctc_job(cfg, str(data), home=home), 3, home)
    _same_runs(whole, part, "val_cer")


def test_keyword_fine_tune_on_other_words(tmp_path):
    home = tmp_path / "home"
    cfg = KeywordTrainConfig(epochs=1, batch_size=16, width=8, layers=2, noise=False, seed=0)
    base = copy_digits(tmp_path / "base", ("one", "two", "three"))
    parent = run_job(make_keyword_job(cfg, str(base), home=home), CollectingContext())
    mine = copy_digits(tmp_path / "mine", ("four", "five"))
    ctx = CollectingContext()
    child = run_job(make_keyword_job(cfg, str(mine), home=home,
                                     init_from=parent.result["run_dir"], freeze=True), ctx)
    assert isinstance(child, ev.Finished) and not child.stopped, child
    parent_info = open_run(child.result["run_dir"]).info()["parent"]
    assert parent_info["run"] == parent.result["run_dir"] and parent_info["reused"] > 0
    assert len(parent_info["new"]) >= 1  # the output layer for two labels instead of three
    summary = ctx.of_type(ev.ModelSummary)[0]
    assert 0 < summary.trainable < summary.parameters
