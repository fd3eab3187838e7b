"""Translation training on the one loop: a tiny run learns and writes what it should, stop
and resume equals an uninterrupted run, fine-tuning reuses the parent's tokenizers, the
Translator loads through the shared loader, and bad input is refused with a clear message."""

from __future__ import annotations

import pytest

from playground.core import events as ev
from playground.core.checkpoint import load_weights
from playground.core.errors import DatasetError
from playground.core.jobs import CollectingContext, run_job
from playground.core.runs import open_run
from playground.text.numbers_fr import demo_pairs
from playground.text.translate_train import TranslateConfig, make_resume_job, make_train_job
from tests.stopping import StopAtStep


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield


@pytest.fixture
def pairs_file(tmp_path):
    path = tmp_path / "numbers.tsv"
    rows = demo_pairs()[:2000:9]  # 223 pairs
    path.write_text("".join(f"{a}\t{b}\n" for a, b in rows), encoding="utf-8")
    return path


def tiny(**changes):
    base = dict(n_layer=1, n_head=2, n_embd=32, ff_dim=64, rnn_hidden=32, dropout=0.1,
                epochs=3, batch_size=16, learning_rate=3e-3, tokenizer="bpe:300",
                val_sentences=20, samples=2, max_len=48)
    base.update(changes)
    return TranslateConfig(**base)


def _evals(run_dir):
    return [(r["epoch"], r["val_loss"], r["val_bleu"], r["train_loss"])
            for r in open_run(run_dir).metrics() if "val_bleu" in r]


@pytest.mark.parametrize("model, shared", [("transformer", False), ("gru-attention", True)])
def test_a_tiny_run_learns_and_writes_its_folder(tmp_path, pairs_file, model, shared):
    ctx = CollectingContext()
    event = run_job(make_train_job(tiny(model=model, shared_vocab=shared), str(pairs_file),
                                   home=tmp_path), ctx)
    assert isinstance(event, ev.Finished) and not event.stopped, event
    result = event.result
    run = open_run(result["run_dir"])
    assert run.info()["task"] == "translate" and run.best_checkpoint.is_file()
    if shared:  # one tokenizer for both sides, else one each
        assert (run.path / "tokenizer.model").is_file()
    else:
        for side in ("source_tokenizer", "target_tokenizer"):
            assert (run.path / side / "tokenizer.model").is_file()
    losses = [m.value for m in ctx.of_type(ev.Metric)
              if m.name == "loss" and m.split == "train" and m.axis == "epoch"]
    assert len(losses) == 3 and losses[-1] < losses[0]
    samples = ctx.of_type(ev.TranslationSamples)
    assert len(samples) == 3 and samples[0].sources == samples[-1].sources
    assert len(samples[0].hypotheses) == 2
    assert result["bleu_signature"].startswith("nrefs:1|")
    assert result["best_val_bleu"] == max(r["val_bleu"] for r in result["evals"])
    assert result["split"]["test"] > 0


def test_stop_and_resume_matches_uninterrupted(tmp_path, pairs_file):
    cfg = tiny(epochs=2)
    whole = run_job(make_train_job(cfg, str(pairs_file), home=tmp_path), CollectingContext())
    part = run_job(make_train_job(cfg, str(pairs_file), home=tmp_path),
                   StopAtStep(14, unit=None, epochs_only=True))
    assert isinstance(part, ev.Finished) and part.stopped, part
    run_dir = part.result["run_dir"]
    resumed = run_job(make_resume_job(run_dir, home=tmp_path), CollectingContext())
    assert isinstance(resumed, ev.Finished) and not resumed.stopped, resumed
    assert resumed.result["steps"] == whole.result["steps"]
    a = load_weights(open_run(whole.result["run_dir"]).last_checkpoint)
    b = load_weights(open_run(run_dir).last_checkpoint)
    assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-6
    ours, theirs = _evals(run_dir), _evals(whole.result["run_dir"])
    assert [r[0] for r in ours] == [1, 2]
    for x, y in zip(ours, theirs, strict=True):
        assert x == pytest.approx(y, abs=1e-6)


def test_fine_tuning_reuses_the_parents_tokenizers(tmp_path, pairs_file):
    parent = run_job(make_train_job(tiny(epochs=1), str(pairs_file), home=tmp_path),
                     CollectingContext())
    other = tmp_path / "other.tsv"
    other.write_text("".join(f"{a}\t{b}\n" for a, b in demo_pairs()[5000:5300:3]),
                     encoding="utf-8")
    child = run_job(make_train_job(tiny(epochs=1), str(other), home=tmp_path,
                                   init_from=parent.result["run_dir"]), CollectingContext())
    assert isinstance(child, ev.Finished), child
    info = open_run(child.result["run_dir"]).info()
    assert info["parent"]["new"] == []
    assert info["tokenizer"] == open_run(parent.result["run_dir"]).info()["tokenizer"]


def test_translator_loads_through_the_loader_and_reports_unknown_characters(tmp_path,
                                                                           pairs_file):
    from playground.core.loader import MODELS
    from playground.text.translate_predict import Translator, make_translate_job

    done = run_job(make_train_job(tiny(epochs=1), str(pairs_file), home=tmp_path),
                   CollectingContext())
    run_dir = done.result["run_dir"]
    tr = Translator.from_run(run_dir)
    assert Translator.from_run(run_dir) is tr and MODELS.peek(
        ("translate", str(open_run(run_dir).path.resolve()), "best", "cpu")) is tr
    out = tr.translate("two hundred and one", beam=3, nbest=2)
    assert len(out.hypotheses) == 2 and out.hypotheses[0][1] >= out.hypotheses[1][1]
    cross = out.attention["cross"]
    assert cross.shape == (1, 2, len(out.target_tokens), len(out.source_tokens))
    assert abs(cross.sum(-1) - 1).max() < 1e-5
    assert set(out.attention) == {"cross", "encoder", "decoder"}
    weird = tr.translate("two hundred ß€")
    assert weird.unknown == ["ß", "€"]
    ctx = CollectingContext()
    result = run_job(make_translate_job(tr, "one hundred", beam=2, nbest=2), ctx)
    assert isinstance(result, ev.Finished), result
    maps = ctx.of_type(ev.AttentionMaps)
    assert [m.kind for m in maps] == ["cross", "self", "self"]
    assert maps[0].weights.shape[2:] == (len(maps[0].query_tokens), len(maps[0].key_tokens))
    assert tr.translate_lines(["one", "", "two"]) [1] == ""


def test_bad_pairs_fail_before_a_run_folder_is_made(tmp_path):
    few = tmp_path / "few.tsv"
    few.write_text("a\tb\nc\td\ne\tf\n", encoding="utf-8")
    event = run_job(make_train_job(tiny(), str(few), home=tmp_path / "home"),
                    CollectingContext())
    assert isinstance(event, ev.Failed) and "Too few sentence pairs" in event.message
    assert not (tmp_path / "home" / "runs").exists()
    missing = run_job(make_train_job(tiny(), str(tmp_path / "missing.tsv"), home=tmp_path),
                      CollectingContext())
    assert isinstance(missing, ev.Failed) and "does not exist" in missing.message
    assert DatasetError.__name__ in missing.error_type or missing.error_type == ""


def test_validation_sentences_at_the_length_limit_decode(tmp_path, pairs_file):
    # Every sentence is longer than max_len and cut to it: validation decoding must not add a
    # second end token (which made a cut sentence one token too long for the model).
    cfg = tiny(model="transformer", tokenizer="char", max_len=12, epochs=1)
    event = run_job(make_train_job(cfg, str(pairs_file), home=tmp_path), CollectingContext())
    assert isinstance(event, ev.Finished) and not event.stopped, event
    assert event.result["evals"][-1]["val_bleu"] >= 0.0
