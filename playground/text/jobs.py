"""Small jobs the Text tab runs off the UI thread: corpus preview, model size, generation and
attention maps with the loaded model kept between calls.

Each job is ``job(ctx) -> result`` and returns plain data the tab renders (plus, for the
corpus, the loaded :class:`~playground.text.corpus.Corpus` so training does not read the files
again). Nothing here imports torch at module level.

* ``GenerateOptions``: the sampling options of the Generate page as a schema (the same names
  as ``playground generate``'s flags: ``--max-new-tokens --temperature --top-k --top-p
  --seed``); ``seed`` -1 means a different draw each time.
* ``corpus_job(spec, excerpt_chars=1200)`` loads a corpus (a file, a folder, a list of them or
  ``demo:pydoc``), emits each reading warning as ``Log(level="warning")``, and returns
  ``{"corpus", "source", "title", "stats" {characters, lines, words, files}, "warnings",
  "excerpt", "distinct_chars", "train_chars", "val_chars"}``. Bad files raise
  :class:`~playground.core.errors.DatasetError` naming the file.
* ``model_info_job(cfg, vocab_size)`` returns ``{"title", "family", "description",
  "parameters", "tokens_per_step", "attention"}`` for ``cfg`` sized for ``vocab_size`` tokens
  (weights on the meta device: nothing is allocated).
* ``get_generator(run_dir, device, cache=None)`` the run's :class:`TextGenerator`, reused
  from the shared model cache (:data:`playground.core.loader.MODELS`) until the run's
  checkpoint file changes (e.g. a newer best checkpoint).
* ``make_run_generate_job(run_dir, prompt, ..., cache=None)`` and
  ``make_run_attention_job(run_dir, text, max_tokens=128, cache=None)``: the jobs of
  :mod:`playground.text.generate`, loading the model through ``get_generator`` on the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playground.core import events as ev
from playground.core.errors import RunError
from playground.core.jobs import JobContext
from playground.core.schema import option
from playground.text.corpus import DEMO_CORPORA, Corpus, load_corpus

if TYPE_CHECKING:
    from playground.core.loader import ModelCache

EXCERPT_CHARS = 1200


@dataclass
class GenerateOptions:
    """How to sample a continuation (the Generate page's form)."""

    max_new_tokens: int = option(300, label="Max new tokens", min=0, max=100_000, step=50,
                                 help="How many tokens to generate.")
    temperature: float = option(0.8, label="Temperature", min=0.0, max=5.0, step=0.05,
                                help="Below 1: safer, more repetitive; above 1: more "
                                     "surprising; 0: always the most likely token (greedy).")
    top_k: int = option(0, label="Top-k", min=0, max=65_536,
                        help="Sample only from the k most likely tokens; 0 = off.")
    top_p: float = option(0.95, label="Top-p", min=0.01, max=1.0, step=0.01,
                          help="Sample from the smallest set of likely tokens whose "
                               "probabilities add up to p (nucleus sampling); 1 = off.")
    seed: int = option(-1, label="Seed", min=-1, max=2**31 - 1,
                       help="The same seed and settings give the same text; -1 = a "
                            "different draw each time.")

    @property
    def seed_or_none(self) -> int | None:
        return None if self.seed < 0 else self.seed


def corpus_job(spec: Any, excerpt_chars: int = EXCERPT_CHARS
               ) -> Callable[[JobContext], dict[str, Any]]:
    """Load ``spec`` and describe it (see the module docstring)."""

    def job(ctx: JobContext) -> dict[str, Any]:
        ctx.emit(ev.Progress(0, 0, "reading the corpus", unit="file"))
        corpus: Corpus = load_corpus(spec)
        ctx.check_cancelled()
        for warning in corpus.warnings:
            ctx.emit(ev.Log(warning, level="warning"))
        train, val = corpus.split()
        if corpus.source in DEMO_CORPORA:
            title = f"Built-in: {DEMO_CORPORA[corpus.source]}"
        elif len(corpus.files) == 1:
            title = Path(corpus.files[0]).name
        else:
            title = f"{len(corpus.files)} files from {corpus.source}"
        return {"corpus": corpus, "source": corpus.source, "title": title,
                "stats": corpus.stats.as_dict(), "warnings": list(corpus.warnings),
                "excerpt": corpus.text[:excerpt_chars],
                "distinct_chars": len(set(corpus.text)),
                "train_chars": len(train), "val_chars": len(val)}

    return job


def model_info_job(cfg: Any, vocab_size: int) -> Callable[[JobContext], dict[str, Any]]:
    """Parameter count and tokens per step of ``cfg`` for a vocabulary of ``vocab_size``."""

    def job(ctx: JobContext) -> dict[str, Any]:
        from playground.text.models import TEXT_MODELS, describe_model
        from playground.text.train import check_config

        check_config(cfg)
        entry = TEXT_MODELS.get(cfg.model)
        info = describe_model(cfg, max(1, int(vocab_size)))
        return {"title": entry.title, "family": entry.family,
                "description": entry.description, "vocab_size": int(vocab_size),
                "attention": bool(entry.extra.get("attention")), **info}

    return job


def get_generator(run_dir: str | None, device: Any, cache: ModelCache | None = None):
    """The :class:`~playground.text.generate.TextGenerator` of ``run_dir`` on ``device``,
    from the shared model cache (``cache`` overrides it) while the run's best (else last)
    checkpoint file is unchanged."""
    from playground.text.generate import TextGenerator

    if not run_dir:
        raise RunError("There is no model to generate with yet: train a text model first, "
                       "or pick a saved text run.")
    return TextGenerator.from_run(run_dir, device, cache=cache)


def make_run_generate_job(run_dir: str | None, prompt: str, max_new_tokens: int = 200,
                          temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                          seed: int | None = None, *,
                          cache: ModelCache | None = None):
    """``job(ctx)`` streaming ``TextChunk`` events from the run's model (see
    :func:`playground.text.generate.make_generate_job`); the result adds ``run_dir`` and
    ``attention`` (whether the model has attention maps to show)."""

    def job(ctx: JobContext) -> dict[str, Any]:
        from playground.text.generate import make_generate_job

        gen = get_generator(run_dir, ctx.device, cache)
        ctx.check_cancelled()
        result = make_generate_job(gen, prompt, max_new_tokens, temperature, top_k, top_p,
                                   seed)(ctx)
        result.update(run_dir=str(run_dir), attention=gen.has_attention)
        return result

    return job


def make_run_attention_job(run_dir: str | None, text: str, max_tokens: int = 128, *,
                           cache: ModelCache | None = None):
    """``job(ctx)`` that emits one ``AttentionMaps`` for ``text`` with the run's model."""

    def job(ctx: JobContext) -> dict[str, int]:
        from playground.text.generate import make_attention_job

        gen = get_generator(run_dir, ctx.device, cache)
        return make_attention_job(gen, text, max_tokens)(ctx)

    return job
