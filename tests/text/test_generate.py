from __future__ import annotations

import numpy as np
import pytest

from playground.core import events as ev
from playground.core.errors import RunError, TokenizerError
from playground.core.jobs import CollectingContext, JobContext, run_job
from playground.core.runs import RunStore
from playground.text.generate import (
    TextGenerator,
    latest_text_run,
    make_attention_job,
    make_generate_job,
)
from playground.text.tokenizers import CharTokenizer
from playground.text.train import make_train_job

from .conftest import REPEATED, tiny_config


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A trained tiny GPT run and a trained tiny LSTM run (trained once for this module)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    home = tmp_path_factory.mktemp("home")
    corpus = home / "corpus.txt"
    corpus.write_text(REPEATED * 100, encoding="utf-8")
    out = {}
    for model in ("gpt", "lstm"):
        cfg = tiny_config(model=model, max_iters=60, eval_interval=60, sample_tokens=0)
        event = run_job(make_train_job(cfg, str(corpus), home=home), CollectingContext())
        assert isinstance(event, ev.Finished), event
        out[model] = event.result["run_dir"]
    torch.set_num_threads(threads)
    return out


def test_stream_continues_the_prompt_reproducibly(runs):
    gen = TextGenerator.from_run(runs["gpt"], "cpu")
    pieces = list(gen.stream("the lazy ", max_new_tokens=40, temperature=0.5, seed=3))
    assert len(pieces) == 40 and all(pieces)
    text = "".join(pieces)
    assert text == gen.generate("the lazy ", 40, temperature=0.5, seed=3)
    words = set(REPEATED.split())
    assert any(w in words for w in text.split())  # it learned some of the corpus' words


def test_generate_job_emits_chunks_with_rate(runs):
    ctx = CollectingContext()
    event = run_job(make_generate_job(runs["lstm"], "a lazy", 30, 0.8, top_k=5, top_p=0.9,
                                      seed=1), ctx)
    assert isinstance(event, ev.Finished) and not event.stopped, event
    chunks = ctx.of_type(ev.TextChunk)
    assert "".join(c.text for c in chunks) == event.result["text"]
    assert sum(c.tokens for c in chunks) == event.result["tokens"] == 30
    assert chunks[-1].tokens_per_s > 0 and event.result["tokens_per_s"] > 0


def test_generate_job_stops_on_cancel_with_text_so_far(runs):
    gen = TextGenerator.from_run(runs["gpt"], "cpu")
    seen: list = []

    def on_event(event):
        seen.append(event)
        if isinstance(event, ev.TextChunk):
            ctx.cancel()

    ctx = JobContext(emit=on_event, device="cpu")
    event = run_job(make_generate_job(gen, "the", 100_000, seed=0, emit_interval=0.0), ctx)
    assert isinstance(event, ev.Finished) and event.stopped
    assert 1 <= event.result["tokens"] < 100_000
    assert event.result["text"] == "".join(e.text for e in seen if isinstance(e, ev.TextChunk))


def test_attention_maps_for_the_heatmap(runs):
    ctx = CollectingContext()
    text = REPEATED * 2
    event = run_job(make_attention_job(runs["gpt"], text, max_tokens=10), ctx)
    assert isinstance(event, ev.Finished), event
    maps = ctx.of_type(ev.AttentionMaps)[0]
    assert maps.weights.dtype == np.float32
    assert maps.weights.shape == (1, 2, 10, 10)  # (L, H, T, T), capped at max_tokens
    assert maps.query_tokens == maps.key_tokens and len(maps.query_tokens) == 10
    assert maps.query_tokens[-1] == "\u21b5"  # the final newline, made visible
    assert np.allclose(maps.weights.sum(-1), 1.0, atol=1e-5)
    assert maps.causal and maps.kind == "self"
    assert event.result == {"tokens": 10, "layers": 1, "heads": 2}
    long = TextGenerator.from_run(runs["gpt"]).attention(text * 5, max_tokens=128)
    assert long.weights.shape[-1] == 16  # and never more than the block size


def test_lstm_has_no_attention_to_show(runs):
    with pytest.raises(RunError, match="LSTM.*no attention"):
        TextGenerator.from_run(runs["lstm"]).attention("the lazy dog")


def test_unknown_prompt_characters_are_named(runs):
    gen = TextGenerator.from_run(runs["gpt"])
    with pytest.raises(TokenizerError, match="'Q'"):
        gen.generate("Quick", 5)


def test_generating_before_any_model_exists(tmp_path):
    with pytest.raises(RunError, match="train a text model first"):
        TextGenerator.from_run(None)
    with pytest.raises(RunError, match="does not exist"):
        TextGenerator.from_run(tmp_path / "missing")
    run = RunStore().create("text", "untrained", model="gpt",
                            config={"model": "gpt", "n_layer": 1})
    CharTokenizer.from_text("abc").save(run.path)
    event = run_job(make_generate_job(str(run.path), "ab", 5), CollectingContext())
    assert isinstance(event, ev.Failed)
    assert "no trained model yet" in event.message
    assert latest_text_run() is None  # a run without a checkpoint is not offered


def _tiny_text_run(**config):
    from playground.core import schema
    from playground.core.checkpoint import save_weights
    from playground.core.runs import RunStore
    from playground.text.models import build_model
    from playground.text.tokenizers import CharTokenizer
    from playground.text.train import TextTrainConfig

    cfg = TextTrainConfig(**config)
    run = RunStore().create("text", "tiny", model=cfg.model, config=schema.to_dict(cfg))
    tok = CharTokenizer("abc ")
    tok.save(run.path)
    save_weights(build_model(cfg, tok.vocab_size), run.best_checkpoint)
    return run, cfg


def test_damaged_run_json_is_refused_before_a_huge_model_is_built(monkeypatch):
    """Issue 9 class 9: a run.json whose GPT is 48 layers x 8192 wide with an 8192 context
    would build a ~155 GB model; it is compared with the checkpoint's header first."""
    from playground.core import loader
    from playground.core.errors import CheckpointError, DeviceError
    from playground.text import models as text_models

    run, cfg = _tiny_text_run(n_layer=1, n_head=2, n_embd=32, block_size=16)
    assert TextGenerator.from_run(run.path).generate("ab", 3, seed=1) is not None
    built = []
    real = text_models.build_model
    monkeypatch.setattr(text_models, "build_model",
                        lambda *a, **k: built.append(1) or real(*a, **k))
    huge = {**run.info()["config"], "n_layer": 48, "n_embd": 8192, "block_size": 8192}
    run.update(config=huge)
    with pytest.raises(CheckpointError, match="run.json says n_embd 8192 but the checkpoint's "
                                              "weights are 32 wide: the run folder is damaged"):
        TextGenerator.from_run(run.path)
    assert built == []  # refused from the header alone
    run.update(config={**huge, "n_embd": 32, "block_size": 16})  # only the depth is wrong
    with pytest.raises(CheckpointError, match="run.json describes a model with .* weight"):
        TextGenerator.from_run(run.path)
    assert len(built) == 1  # once, on the meta device
    # a model that matches its checkpoint but not the free memory is refused too
    run.update(config={**huge, "n_layer": 1, "n_embd": 32, "block_size": 16})
    monkeypatch.setattr(loader, "available_memory", lambda where: 10_000)
    with pytest.raises(DeviceError, match="needs about .* of memory, but only"):
        TextGenerator.from_run(run.path, cache=loader.ModelCache())
