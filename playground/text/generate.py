"""Using a trained text run: streaming generation and attention maps.

::

    gen = TextGenerator.from_run(run_dir, device="auto")     # best (else last) checkpoint
    for piece in gen.stream("ROMEO:", max_new_tokens=200, temperature=0.8, top_k=0,
                            top_p=0.95, seed=1):
        print(piece, end="")
    maps = gen.attention("ROMEO: what light", max_tokens=128)   # an AttentionMaps event

:class:`TextGenerator` holds the model and tokenizer of one run; it can be built once and
reused for many prompts (the tab keeps one per opened run). ``stream`` yields text pieces as
tokens are sampled (a piece can be empty-held until a multi-byte character completes, and
only non-empty pieces are yielded). ``attention`` runs the GPT's explicit attention path on
``text`` (cropped to its last ``min(max_tokens, block_size)`` tokens) and returns
``AttentionMaps(weights (L, H, T, T) float32, query_tokens, key_tokens, kind="self",
causal=True)``; token labels have their whitespace made visible (``▁``, ``↵``, ``→``). An LSTM
run raises :class:`~playground.core.errors.RunError` explaining LSTMs have no attention.

Jobs for the worker thread:

* ``make_generate_job(run_or_generator, prompt, max_new_tokens, temperature, top_k, top_p,
  seed)`` emits ``TextChunk(text, tokens, tokens_per_s)`` as text streams (``tokens``: how
  many tokens the chunk covers; ``tokens_per_s``: the running rate), checks ``ctx.cancelled``
  every token, and returns ``{"prompt", "text", "tokens", "seconds", "tokens_per_s"}``. Stop
  ends it with ``Finished(stopped=True)`` and that dict as result (text so far).
* ``make_attention_job(run_or_generator, text, max_tokens=128)`` emits one ``AttentionMaps``
  and returns ``{"tokens": T, "layers": L, "heads": H}``.

Errors: a missing folder, a non-text run, or a run without a checkpoint yet ("train first")
raise :class:`~playground.core.errors.RunError`; prompt characters the tokenizer never saw
raise :class:`~playground.core.errors.TokenizerError` naming them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from playground.core import events as ev
from playground.core import loader
from playground.core.errors import ConfigError, JobCancelled, RunError
from playground.core.jobs import JobContext
from playground.core.loader import ModelCache
from playground.text.tokenizers import Tokenizer, display_piece, load_tokenizer

DEFAULT_ATTENTION_TOKENS = 128


class TextGenerator:
    """A text run's model and tokenizer, ready to generate on one device."""

    def __init__(self, model, tokenizer: Tokenizer, *, run_dir: str | None = None,
                 model_name: str = "gpt", checkpoint: str | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.run_dir = run_dir
        self.model_name = model_name
        self.checkpoint = checkpoint

    @property
    def device(self):
        return next(self.model.parameters()).device

    @property
    def block_size(self) -> int:
        return int(self.model.block_size)

    @property
    def has_attention(self) -> bool:
        return bool(getattr(self.model, "has_attention", False))

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike | None, device: Any = "cpu",
                 checkpoint: str = "best", *, cache: ModelCache | None = None
                 ) -> TextGenerator:
        """Load a text run's tokenizer and its ``best`` (default; else ``last``) weights,
        through :func:`playground.core.loader.load` (shared cache)."""
        if not run_dir:
            raise RunError("There is no model to generate with yet: train a text model first, "
                           "or open a saved text run.")
        return loader.load(run_dir, "text", cls.from_spec, device=device,
                           checkpoint=checkpoint, cache=cache)

    @classmethod
    def from_spec(cls, spec: loader.RunSpec, device: Any) -> TextGenerator:
        from playground.core import schema
        from playground.text.models import build_model
        from playground.text.train import TextTrainConfig

        tokenizer = load_tokenizer(spec.path)
        cfg = schema.from_dict(TextTrainConfig, spec.config)
        # The settings a damaged run.json most often gets wrong, named in its own terms.
        width = "transformer.wte.weight" if cfg.model == "gpt" else "embedding.weight"
        hints = [loader.ConfigHint("n_embd", getattr(cfg, "n_embd", None), width, 1, "wide")]
        if cfg.model == "gpt":
            hints.append(loader.ConfigHint("block_size", cfg.block_size,
                                           "transformer.wpe.weight", 0, "positions long"))
        model = loader.build_model(spec, lambda: build_model(cfg, tokenizer.vocab_size),
                                   device, hints=[h for h in hints if h.value is not None])
        return cls(model, tokenizer, run_dir=str(spec.path), model_name=cfg.model,
                   checkpoint=str(spec.checkpoint))

    # generation ------------------------------------------------------------------------------
    def tokens(self, prompt: str, max_new_tokens: int = 200, temperature: float = 1.0,
               top_k: int = 0, top_p: float = 1.0, seed: int | None = None
               ) -> Iterator[tuple[int, str]]:
        """``(token_id, text)`` per sampled token (see ``sampling.iter_tokens``)."""
        from playground.text.sampling import iter_tokens

        return iter_tokens(self.model, self.tokenizer, prompt, max_new_tokens, temperature,
                           top_k, top_p, seed)

    def stream(self, prompt: str, max_new_tokens: int = 200, temperature: float = 1.0,
               top_k: int = 0, top_p: float = 1.0, seed: int | None = None) -> Iterator[str]:
        """Yield the continuation of ``prompt`` piece by piece (the prompt is not repeated)."""
        for _, text in self.tokens(prompt, max_new_tokens, temperature, top_k, top_p, seed):
            if text:
                yield text

    def generate(self, prompt: str, max_new_tokens: int = 200, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0, seed: int | None = None) -> str:
        return "".join(self.stream(prompt, max_new_tokens, temperature, top_k, top_p, seed))

    # attention -------------------------------------------------------------------------------
    def attention(self, text: str, max_tokens: int = DEFAULT_ATTENTION_TOKENS
                  ) -> ev.AttentionMaps:
        """Self-attention weights of every layer and head over ``text``'s last tokens."""
        import torch

        if not self.has_attention:
            raise RunError(f"This run's model is an {self.model_name.upper()}: it reads one "
                           "token at a time and keeps a hidden state, so it has no attention "
                           "weights to show. Train a GPT to see attention maps.")
        if max_tokens < 1:
            raise ConfigError(f"The attention map needs at least 1 token; got {max_tokens}.")
        if not text:
            raise ConfigError("Type or generate some text first: the attention map is drawn "
                              "over its tokens.")
        ids = self.tokenizer.encode(text, strict=True)
        ids = ids[-min(max_tokens, self.block_size):]
        idx = torch.tensor([ids], dtype=torch.long, device=self.device)  # (1, T)
        with torch.no_grad():
            _, _, att = self.model(idx, return_attention=True)  # (L, 1, H, T, T)
        weights = att[:, 0].float().cpu().numpy().astype(np.float32, copy=True)  # (L, H, T, T)
        labels = tuple(display_piece(self.tokenizer.id_to_piece(i)) for i in ids)
        return ev.AttentionMaps(weights=weights, query_tokens=labels, key_tokens=labels,
                                kind="self", causal=True)


def _generator(run_or_generator: Any, device: Any) -> TextGenerator:
    if isinstance(run_or_generator, TextGenerator):
        return run_or_generator
    return TextGenerator.from_run(run_or_generator, device)


def make_generate_job(run_or_generator: str | os.PathLike | TextGenerator | None, prompt: str,
                      max_new_tokens: int = 200, temperature: float = 1.0, top_k: int = 0,
                      top_p: float = 1.0, seed: int | None = None, *,
                      emit_interval: float = 0.03):
    """``job(ctx)`` streaming ``TextChunk`` events (see the module docstring).

    Chunks are coalesced to at most one every ``emit_interval`` seconds so a fast model does
    not flood the UI; every token is still checked against ``ctx.cancelled``.
    """

    def job(ctx: JobContext) -> dict[str, Any]:
        gen = _generator(run_or_generator, ctx.device)
        result: dict[str, Any] = {"prompt": prompt, "text": "", "tokens": 0, "seconds": 0.0,
                                  "tokens_per_s": 0.0}
        pieces: list[str] = []
        pending: list[str] = []
        pending_tokens = 0
        start = last = time.perf_counter()
        n = 0

        def flush(now: float) -> None:
            nonlocal pending_tokens
            if pending:
                rate = n / max(1e-9, now - start)
                ctx.emit(ev.TextChunk("".join(pending), pending_tokens, rate))
                pending.clear()
                pending_tokens = 0

        def finish() -> dict[str, Any]:
            now = time.perf_counter()
            flush(now)
            result.update(text="".join(pieces), tokens=n, seconds=now - start,
                          tokens_per_s=n / max(1e-9, now - start) if n else 0.0)
            return result

        try:
            for token, text in gen.tokens(prompt, max_new_tokens, temperature, top_k, top_p,
                                          seed):
                if token >= 0:
                    n += 1
                    pending_tokens += 1
                if text:
                    pieces.append(text)
                    pending.append(text)
                now = time.perf_counter()
                if now - last >= emit_interval:
                    flush(now)
                    last = now
                if ctx.cancelled:
                    raise JobCancelled()
        except JobCancelled as exc:
            exc.result = finish()
            raise
        return finish()

    return job


def make_attention_job(run_or_generator: str | os.PathLike | TextGenerator | None, text: str,
                       max_tokens: int = DEFAULT_ATTENTION_TOKENS):
    """``job(ctx)`` that emits one ``AttentionMaps`` for ``text`` (see the module docstring)."""

    def job(ctx: JobContext) -> dict[str, int]:
        gen = _generator(run_or_generator, ctx.device)
        ctx.check_cancelled()
        maps = gen.attention(text, max_tokens)
        ctx.emit(maps)
        layers, heads, tokens, _ = maps.weights.shape
        return {"tokens": tokens, "layers": layers, "heads": heads}

    return job


def latest_text_run(home: str | Path | None = None) -> str | None:
    """The newest text run folder that has a checkpoint, or None."""
    from playground.core.runs import RunStore

    for run in RunStore(home).list("text"):
        if run.best_checkpoint.is_file() or run.last_checkpoint.is_file():
            return str(run.path)
    return None
