from __future__ import annotations

import json
from pathlib import Path

import pytest

from playground.core import events as ev
from playground.core.errors import ConfigError, TokenizerError
from playground.core.jobs import CollectingContext, JobContext, run_job
from playground.core.runs import RunStore
from playground.text.tokenizers import load_tokenizer
from playground.text.train import TextTrainConfig, check_config, make_train_job

from .conftest import tiny_config


def train(cfg, corpus, ctx=None):
    ctx = ctx or CollectingContext()
    event = run_job(make_train_job(cfg, str(corpus)), ctx)
    return event, ctx


@pytest.mark.parametrize("model", ["gpt", "lstm"])
def test_tiny_model_loss_falls_and_run_is_saved(model, small_corpus):
    event, ctx = train(tiny_config(model=model), small_corpus)
    assert isinstance(event, ev.Finished) and not event.stopped, event
    result = event.result
    evals = result["evals"]
    assert [e["step"] for e in evals] == [0, 20, 40]
    assert evals[-1]["val_loss"] < evals[0]["val_loss"] - 0.8
    assert result["best_val_loss"] == min(e["val_loss"] for e in evals)
    assert result["steps"] == 40 and result["tokens_per_step"] == 8 * 16

    started = ctx.of_type(ev.RunStarted)[0]
    summary = ctx.of_type(ev.ModelSummary)[0]
    assert summary.model == model and summary.parameters == result["parameters"] > 0
    assert "128 tokens per step" in summary.details
    metrics = ctx.of_type(ev.Metric)
    assert {(m.name, m.split) for m in metrics} >= {("loss", "train"), ("loss", "val"),
                                                   ("perplexity", "val"), ("lr", "train")}
    val_points = [m for m in metrics if m.name == "loss" and m.split == "val"]
    assert [m.x for m in val_points] == [0, 20, 40] and all(m.axis == "step" for m in val_points)
    samples = ctx.of_type(ev.SampleText)
    assert [s.step for s in samples] == [0, 20, 40] and all(s.text for s in samples)
    kinds = {c.kind for c in ctx.of_type(ev.CheckpointSaved)}
    assert kinds == {"best", "last"}

    run_dir = Path(started.run_dir)
    assert run_dir.parent.name == "text"
    assert (run_dir / "tokenizer.json").is_file()
    assert (run_dir / "checkpoints" / "best.safetensors").is_file()
    assert (run_dir / "checkpoints" / "last.safetensors").is_file()
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "finished" and info["config"]["model"] == model
    assert info["dataset"]["characters"] == 8800
    assert info["result"]["best_val_loss"] == result["best_val_loss"]


def test_sentencepiece_run_saves_its_model(small_corpus):
    event, ctx = train(tiny_config(tokenizer="bpe:60", max_iters=4, eval_interval=4,
                                   sample_tokens=5), small_corpus)
    assert isinstance(event, ev.Finished), event
    run_dir = Path(event.result["run_dir"])
    assert (run_dir / "tokenizer.model").is_file()
    tok = load_tokenizer(run_dir)
    assert tok.spec == "bpe:60" and event.result["vocab_size"] == 60
    assert any(p.unit == "char" for p in ctx.of_type(ev.Progress))  # tokenizer progress


def test_stop_keeps_what_was_learned(small_corpus):
    holder: dict = {}

    def on_event(event):
        holder.setdefault("events", []).append(event)
        if isinstance(event, ev.Metric) and event.name == "loss" and event.x >= 3:
            holder["ctx"].cancel()

    ctx = JobContext(emit=on_event, device="cpu")
    holder["ctx"] = ctx
    cfg = tiny_config(max_iters=100_000, eval_interval=100_000, sample_tokens=0)
    event = run_job(make_train_job(cfg, str(small_corpus)), ctx)
    assert isinstance(event, ev.Finished) and event.stopped
    result = event.result
    assert 3 <= result["steps"] < 100_000
    run_dir = Path(result["run_dir"])
    assert (run_dir / "checkpoints" / "last.safetensors").is_file()
    assert json.loads((run_dir / "run.json").read_text())["status"] == "stopped"


def test_corpus_shorter_than_block_fails_before_creating_a_run(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("just a few words here, fewer than a block.\n" * 3, encoding="utf-8")
    event, _ = train(tiny_config(block_size=64), path)
    assert isinstance(event, ev.Failed)
    assert "block size of 64" in event.message
    assert "has 13 tokens" in event.message and "block size + 1 = 65" in event.message
    assert RunStore().list("text") == []


def test_bad_input_reaches_the_user_as_a_failed_event(tmp_path, small_corpus):
    path = tmp_path / "blob.txt"
    path.write_bytes(b"\x00\x01binary")
    event, _ = train(tiny_config(), path)
    assert isinstance(event, ev.Failed) and "blob.txt is a binary file" in event.message
    event, _ = train(tiny_config(tokenizer="bpe:5000"), small_corpus)
    assert isinstance(event, ev.Failed) and "supports at most" in event.message
    assert RunStore().list("text") == []
    with pytest.raises(TokenizerError, match="from 8 to"):
        make_train_job(tiny_config(tokenizer="bpe:100000"), str(small_corpus))


def test_warnings_of_the_corpus_are_logged(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("caf\xe9 au lait ".encode("latin-1") * 200)
    _, ctx = train(tiny_config(max_iters=1, eval_interval=1, eval_iters=1, sample_tokens=0),
                   path)
    warnings = [e for e in ctx.of_type(ev.Log) if e.level == "warning"]
    assert warnings and "200 bytes" in warnings[0].message


def test_unknown_sample_prompt_characters_fail_early(small_corpus):
    event, _ = train(tiny_config(sample_prompt="Zürich"), small_corpus)
    assert isinstance(event, ev.Failed) and "'Z'" in event.message
    assert RunStore().list("text") == []


def test_config_checks():
    with pytest.raises(ConfigError, match="divisible"):
        check_config(TextTrainConfig(n_embd=30, n_head=4))
    with pytest.raises(ConfigError, match="Final learning rate|final learning rate"):
        check_config(TextTrainConfig(learning_rate=1e-4, min_lr=1e-3))
    with pytest.raises(Exception, match="Unknown tokenizer"):
        check_config(TextTrainConfig(tokenizer="words"))
    check_config(TextTrainConfig(model="lstm", n_embd=30, n_head=4))  # heads: GPT only
