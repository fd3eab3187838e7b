"""Image runs: stop and resume equals an uninterrupted run; fine-tuning from another run."""

from __future__ import annotations

import pytest

from playground.core import events as ev
from playground.core.checkpoint import load_weights
from playground.core.errors import RunError
from playground.core.jobs import CollectingContext, run_job
from playground.core.runs import open_run
from playground.vision.train import ImageTrainConfig, make_resume_job, make_train_job
from tests.stopping import StopAtStep

pytestmark = pytest.mark.usefixtures("one_thread")

CFG = ImageTrainConfig(image_size=16, batch_size=32, epochs=1, learning_rate=3e-3, seed=0,
                       val_fraction=0.1)


def _evals(run_dir):
    return [(r["step"], r["val_loss"], r["val_accuracy"])
            for r in open_run(run_dir).metrics() if "val_loss" in r]


def test_stop_and_resume_matches_uninterrupted(tmp_path):
    whole = run_job(make_train_job(CFG, "demo:shapes", home=tmp_path, max_steps=24),
                    CollectingContext())
    assert isinstance(whole, ev.Finished) and not whole.stopped
    stopped = run_job(make_train_job(CFG, "demo:shapes", home=tmp_path, max_steps=24),
                      StopAtStep(10, total=24))
    assert isinstance(stopped, ev.Finished) and stopped.stopped
    run_dir = stopped.result["run_dir"]
    assert open_run(run_dir).info()["status"] == "stopped"
    resumed = run_job(make_resume_job(run_dir, home=tmp_path, max_steps=24),
                      CollectingContext())
    assert isinstance(resumed, ev.Finished) and not resumed.stopped, resumed
    assert resumed.result["steps"] == 24
    a = load_weights(open_run(whole.result["run_dir"]).last_checkpoint)
    b = load_weights(open_run(run_dir).last_checkpoint)
    assert max(float((a[k].float() - b[k].float()).abs().max()) for k in a) <= 1e-6
    ours, theirs = _evals(run_dir), _evals(whole.result["run_dir"])
    assert len(ours) == len(theirs) == 1
    assert list(ours[0]) == pytest.approx(list(theirs[0]), abs=1e-6)


def test_a_finished_run_trains_further(tmp_path):
    done = run_job(make_train_job(CFG, "demo:shapes", home=tmp_path, max_steps=5),
                   CollectingContext())
    with pytest.raises(RunError, match="not a 'text' run"):
        from playground.core.engine import resume_settings
        from playground.text.train import TextTrainConfig

        resume_settings(done.result["run_dir"], "text", TextTrainConfig)
    more = run_job(make_resume_job(done.result["run_dir"], epochs=2, home=tmp_path,
                                   max_steps=8), CollectingContext())
    assert isinstance(more, ev.Finished) and more.result["steps"] == 8


def test_fine_tune_from_another_run_with_other_classes(tmp_path):
    digits = ImageTrainConfig(image_size=16, batch_size=32, epochs=1, seed=0, model="small_cnn")
    parent = run_job(make_train_job(digits, "demo:digits", home=tmp_path, max_steps=6),
                     CollectingContext())
    assert isinstance(parent, ev.Finished)
    ctx = CollectingContext()
    child = run_job(make_train_job(CFG, "demo:shapes", home=tmp_path, max_steps=4,
                                   init_from=parent.result["run_dir"] + ":last", freeze=True),
                    ctx)
    assert isinstance(child, ev.Finished) and not child.stopped, child
    info = open_run(child.result["run_dir"]).info()
    assert info["parent"]["run"] == parent.result["run_dir"]
    assert info["parent"]["checkpoint"] == "last" and info["parent"]["new"]
    summary = ctx.of_type(ev.ModelSummary)[0]
    assert summary.trainable < summary.parameters  # the reused layers are frozen
    assert any("started from" in e.message for e in ctx.of_type(ev.Log))
