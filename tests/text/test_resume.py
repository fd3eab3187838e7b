"""Text runs: stop and resume equals an uninterrupted run (GPT with dropout, LSTM); a killed
run resumes; pretraining then fine-tuning with the parent's tokenizer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from playground.core import events as ev
from playground.core.checkpoint import load_weights
from playground.core.engine import read_resume_state
from playground.core.errors import RunError
from playground.core.jobs import CollectingContext, run_job
from playground.core.runs import open_run
from playground.text.train import make_resume_job, make_train_job
from tests.stopping import StopAtStep

from .conftest import tiny_config

ROOT = Path(__file__).resolve().parents[2]


def _evals(run_dir):
    return [(r["step"], r["val_loss"], r["eval_train_loss"])
            for r in open_run(run_dir).metrics() if "val_loss" in r]


@pytest.mark.parametrize("model,stop", [("gpt", 13), ("gpt", 20), ("lstm", 27)])
def test_stop_and_resume_matches_uninterrupted(tmp_path, small_corpus, model, stop):
    cfg = tiny_config(model=model, dropout=0.1, max_iters=40, eval_interval=10)
    whole = run_job(make_train_job(cfg, str(small_corpus), home=tmp_path), CollectingContext())
    part = run_job(make_train_job(cfg, str(small_corpus), home=tmp_path), StopAtStep(stop))
    assert isinstance(part, ev.Finished) and part.stopped
    run_dir = part.result["run_dir"]
    resumed = run_job(make_resume_job(run_dir, home=tmp_path), CollectingContext())
    assert isinstance(resumed, ev.Finished) and not resumed.stopped, resumed
    assert resumed.result["steps"] == 40
    a = load_weights(open_run(whole.result["run_dir"]).last_checkpoint)
    b = load_weights(open_run(run_dir).last_checkpoint)
    assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-6
    ours, theirs = _evals(run_dir), _evals(whole.result["run_dir"])
    assert [r[0] for r in ours] == [0, 10, 20, 30, 40]
    for x, y in zip(ours, theirs, strict=True):
        assert x == pytest.approx(y, abs=1e-6)


def test_more_iterations_and_a_lower_total(tmp_path, small_corpus):
    cfg = tiny_config(max_iters=10, eval_interval=5, sample_tokens=0)
    done = run_job(make_train_job(cfg, str(small_corpus), home=tmp_path), CollectingContext())
    run_dir = done.result["run_dir"]
    with pytest.raises(RunError, match="already trained 10 iterations"):
        make_resume_job(run_dir, max_iters=5, home=tmp_path)
    more = run_job(make_resume_job(run_dir, max_iters=20, home=tmp_path), CollectingContext())
    assert isinstance(more, ev.Finished) and more.result["steps"] == 20
    assert [r[0] for r in _evals(run_dir)] == [0, 5, 10, 15, 20]
    assert open_run(run_dir).info()["config"]["max_iters"] == 20


def test_fine_tune_uses_the_parents_tokenizer(tmp_path, small_corpus):
    cfg = tiny_config(max_iters=10, eval_interval=10, sample_tokens=0)
    parent = run_job(make_train_job(tiny_config(max_iters=40, sample_tokens=0),
                                    str(small_corpus), home=tmp_path), CollectingContext())
    other = tmp_path / "other.txt"
    other.write_text("the lazy dog sleeps. the quick cat runs.\n" * 80, encoding="utf-8")
    ctx = CollectingContext()
    child = run_job(make_train_job(cfg, str(other), home=tmp_path,
                                   init_from=parent.result["run_dir"]), ctx)
    assert isinstance(child, ev.Finished) and not child.stopped, child
    info = open_run(child.result["run_dir"]).info()
    assert info["parent"]["run"] == parent.result["run_dir"] and info["parent"]["new"] == []
    assert info["tokenizer"] == open_run(parent.result["run_dir"]).info()["tokenizer"]
    # fine-tuning starts where the parent ended: its first validation beats a fresh model's
    fresh = run_job(make_train_job(cfg, str(other), home=tmp_path), CollectingContext())
    assert child.result["evals"][0]["val_loss"] < fresh.result["evals"][0]["val_loss"] - 0.5
    assert child.result["final_val_loss"] < fresh.result["final_val_loss"]


KILL_SCRIPT = """
import sys, torch
torch.set_num_threads(1)
from playground.core.jobs import JobContext, run_job
from playground.text.train import TextTrainConfig, make_train_job
cfg = TextTrainConfig(n_layer=1, n_head=2, n_embd=32, block_size=16, batch_size=8,
                      max_iters=100000, eval_interval=25, eval_iters=2, sample_tokens=0)
run_job(make_train_job(cfg, sys.argv[2], home=sys.argv[1]), JobContext(device="cpu"))
"""


def test_sigkill_mid_run_resumes_from_the_last_checkpoint(tmp_path, small_corpus):
    home = tmp_path / "home"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(home), str(small_corpus)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        state: list[Path] = []
        while time.monotonic() < deadline and proc.poll() is None:
            state = list(home.glob("runs/text/*/checkpoints/optimizer.pt"))
            if state and read_resume_state(open_run(state[0].parents[1]))["loop"]["step"] >= 50:
                break
            time.sleep(0.1)
        assert state, proc.stderr.read().decode() if proc.poll() is not None else "timeout"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    run = open_run(state[0].parents[1])
    assert run.info()["status"] == "training"  # on disk; listings call it interrupted
    step = read_resume_state(run)["loop"]["step"]
    job = make_resume_job(run.path, max_iters=step + 10, home=home)
    ctx = CollectingContext()
    event = run_job(job, ctx)
    assert isinstance(event, ev.Finished) and not event.stopped, event
    assert event.result["steps"] == step + 10
    assert run.info()["status"] == "finished"
    steps = [r["step"] for r in run.metrics() if "val_loss" in r]
    assert steps == sorted(set(steps)) and steps[-1] == step + 10  # no duplicated rows
