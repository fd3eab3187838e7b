"""Using a trained translate run: translations, n-best lists and attention maps.

::

    tr = Translator.from_run(run_dir, device="auto")         # best (else last) checkpoint
    out = tr.translate("ninety-seven", beam=4, nbest=3)      # a Translation
    out.text                        # "quatre-vingt-dix-sept"
    out.hypotheses                  # [(text, score, logprob), ...] best first
    out.attention["cross"]          # (layers, heads, target tokens, source tokens) float32
    out.attention_maps("cross")     # an AttentionMaps event for the heatmap view
    tr.translate_lines(["one", "", "two"], beam=4)           # ["un", "", "deux"]

:class:`Translator` is built through :func:`playground.core.loader.load` (validated run
folder, checkpoint checked against run.json before building, one shared model cache) and can
be reused for many requests. Input is cleaned the way the training pairs were (Unicode
normalisation, whitespace, lowercasing when the run lowercased).

Attention (numpy copies, float32): ``"cross"`` ``(L, H, T, S)`` for every model; the
Transformer adds ``"encoder"`` ``(L, H, S, S)`` and ``"decoder"`` ``(L, H, T, T)``. ``S``
counts the source pieces plus the end token (``Translation.source_tokens``); ``T`` the
output pieces plus the end token (``Translation.target_tokens``: row ``i`` is the step that
wrote token ``i``). The maps are computed for the best hypothesis.

Unknown characters (never seen in training): ``translate(text, strict=False)`` (the default)
translates anyway — a SentencePiece tokenizer reads them as its unknown piece, a character
tokenizer leaves them out — and lists them in ``Translation.unknown`` so the panel and the
CLI can say so; ``strict=True`` raises :class:`~playground.core.errors.TokenizerError` naming
them.

Jobs for the worker thread: ``make_translate_job(run_or_translator, text, beam=1, nbest=1,
length_penalty=0.6)`` emits one ``AttentionMaps`` per kind (cross first) and returns
``Translation.to_dict()``; the newest request replacing a queued one is the runner's
business, the job itself is cheap to cancel (checked before decoding and before the maps).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from playground.core import events as ev
from playground.core import loader
from playground.core.errors import ConfigError, RunError, TokenizerError
from playground.core.jobs import JobContext
from playground.core.loader import ModelCache
from playground.text.tokenizers import (
    BOS_ID,
    EOS_ID,
    PairTokenizer,
    display_piece,
    load_pair_tokenizer,
)

TASK = "translate"
MAX_BEAM = 64


@dataclass
class Translation:
    source: str                                  # the input as the model read it
    text: str                                    # the best translation
    hypotheses: list[tuple[str, float, float]]   # (text, score, logprob), best first
    source_tokens: tuple[str, ...] = ()
    target_tokens: tuple[str, ...] = ()
    attention: dict[str, np.ndarray] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)

    def attention_maps(self, kind: str = "cross") -> ev.AttentionMaps:
        if kind not in self.attention:
            raise ConfigError(f"This model has no {kind} attention; it has "
                              f"{', '.join(self.attention) or 'none'}.")
        weights = self.attention[kind]
        if kind == "cross":
            q, k, causal = self.target_tokens, self.source_tokens, False
        elif kind == "encoder":
            q, k, causal = self.source_tokens, self.source_tokens, False
        else:  # decoder self-attention: queries write target tokens, keys are its inputs
            q = self.target_tokens
            k = ("<s>",) + self.target_tokens[:-1]
            causal = True
        return ev.AttentionMaps(weights=weights.copy(), query_tokens=tuple(q),
                                key_tokens=tuple(k), kind="self" if kind != "cross" else kind,
                                causal=causal)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "text": self.text,
                "nbest": [{"text": t, "score": s, "logprob": lp}
                          for t, s, lp in self.hypotheses],
                "source_tokens": list(self.source_tokens),
                "target_tokens": list(self.target_tokens), "unknown": list(self.unknown)}


class Translator:
    """A translate run's model and tokenizers, ready on one device."""

    def __init__(self, model, tokenizer: PairTokenizer, *, config: Any = None,
                 run_dir: str | None = None, checkpoint: str | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.config = config
        self.run_dir = run_dir
        self.checkpoint = checkpoint

    @property
    def device(self):
        return next(self.model.parameters()).device

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike | None, device: Any = "cpu",
                 checkpoint: str = "best", *, cache: ModelCache | None = None) -> Translator:
        """Load through :func:`playground.core.loader.load` (the shared cache)."""
        if not run_dir:
            raise RunError("There is no translation model yet: train one first, e.g. "
                           "`playground train translate --pairs demo:numbers-en-fr`.")
        return loader.load(run_dir, TASK, cls.from_spec, device=device,
                           checkpoint=checkpoint, cache=cache)

    @classmethod
    def from_spec(cls, spec: loader.RunSpec, device: Any) -> Translator:
        from playground.core import schema
        from playground.text.translate_models import build_model
        from playground.text.translate_train import TranslateConfig

        tokenizer = load_pair_tokenizer(spec.path)
        cfg = schema.from_dict(TranslateConfig, spec.config)
        hints = [loader.ConfigHint("n_embd", cfg.n_embd, "tgt_emb.weight", 1, "wide")]
        model = loader.build_model(
            spec, lambda: build_model(cfg, tokenizer.source.vocab_size,
                                      tokenizer.target.vocab_size), device, hints=hints)
        return cls(model, tokenizer, config=cfg, run_dir=str(spec.path),
                   checkpoint=str(spec.checkpoint))

    # input ---------------------------------------------------------------------------------
    def prepare(self, text: str) -> str:
        """``text`` cleaned as the training pairs were."""
        from playground.text.pairs import clean

        cfg = self.config
        if cfg is None:
            return " ".join(text.split())
        return clean(text, cfg.normalize, cfg.lowercase)

    def unknown_chars(self, text: str) -> list[str]:
        """Characters of ``text`` the source tokenizer never saw (for a form to flag)."""
        prepared = self.prepare(text)
        return [c for c in self.tokenizer.source.unknown_chars(prepared) if not c.isspace()]

    def encode(self, text: str, strict: bool = False) -> tuple[list[int], list[str]]:
        prepared = self.prepare(text)
        unknown = self.unknown_chars(prepared)
        if unknown and strict:
            self.tokenizer.source.encode(prepared, strict=True)  # raises, naming them
        if unknown and self.tokenizer.source.base.kind == "char":
            prepared = "".join(c for c in prepared if c not in set(unknown))
        ids = self.tokenizer.source.encode(prepared) if prepared else []
        limit = self.model.max_len - 1
        if len(ids) > limit:
            raise TokenizerError(f"The text is {len(ids)} tokens long; this model reads at "
                                 f"most {limit}. Translate it a sentence at a time.")
        return ids, unknown

    # translation ---------------------------------------------------------------------------
    def translate(self, text: str, beam: int = 1, nbest: int = 1,
                  length_penalty: float = 0.6, *, attention: bool = True,
                  strict: bool = False) -> Translation:
        """The best translation of ``text`` (and up to ``nbest`` <= ``beam`` alternatives
        with their scores), with the attention maps of the best one."""
        import torch

        from playground.text.translate_decode import beam_search, pad_batch

        beam, nbest = _check_beam(beam, nbest)
        source = self.prepare(text)
        ids, unknown = self.encode(text, strict)
        if not ids:
            return Translation(source, "", [("", 0.0, 0.0)], unknown=unknown)
        src = pad_batch([ids + [EOS_ID]], self.device)                          # (1, S)
        hyps = beam_search(self.model, src, width=beam, nbest=nbest,
                           length_penalty_alpha=length_penalty)[0]
        dec = self.tokenizer.target.decode
        out = Translation(source, dec(hyps[0].ids),
                          [(dec(h.ids), h.score, h.logprob) for h in hyps], unknown=unknown)
        src_pieces = [self.tokenizer.source.id_to_piece(i) for i in ids] + ["</s>"]
        tgt_ids = list(hyps[0].ids)
        tgt_pieces = [self.tokenizer.target.id_to_piece(i) for i in tgt_ids] + ["</s>"]
        out.source_tokens = tuple(display_piece(p) for p in src_pieces)
        out.target_tokens = tuple(display_piece(p) for p in tgt_pieces)
        if attention:
            ys = torch.tensor([[BOS_ID] + tgt_ids], device=self.device)         # (1, T)
            with torch.no_grad():
                _, att = self.model(src, ys, return_attention=True)
            out.attention = {k: v[:, 0].float().cpu().numpy().astype(np.float32, copy=True)
                             for k, v in att.items()}                           # (L, H, q, k)
        return out

    def translate_lines(self, lines: list[str], beam: int = 1, length_penalty: float = 0.6,
                        batch_size: int = 64, ctx: JobContext | None = None) -> list[str]:
        """One translation per line, in order; an empty line gives an empty line."""
        from playground.text.translate_decode import translate_ids

        beam, _ = _check_beam(beam, 1)
        encoded = [self.encode(line)[0] if line.strip() else [] for line in lines]
        todo = [i for i, ids in enumerate(encoded) if ids]
        ids = translate_ids(self.model, [encoded[i] for i in todo], beam=beam,
                            length_penalty_alpha=length_penalty, batch_size=batch_size,
                            device=self.device,
                            cancelled=ctx.check_cancelled if ctx is not None else None)
        out = [""] * len(lines)
        for i, x in zip(todo, ids, strict=True):
            out[i] = self.tokenizer.target.decode(x)
        return out


def _check_beam(beam: int, nbest: int) -> tuple[int, int]:
    if not 1 <= int(beam) <= MAX_BEAM:
        raise ConfigError(f"The beam width must be between 1 and {MAX_BEAM}; got {beam}.")
    if not 1 <= int(nbest) <= int(beam):
        raise ConfigError(f"The n-best list can hold 1 to beam width ({beam}) translations; "
                          f"got {nbest}. Raise the beam width to list more.")
    return int(beam), int(nbest)


def _translator(run_or_translator: Any, device: Any) -> Translator:
    if isinstance(run_or_translator, Translator):
        return run_or_translator
    return Translator.from_run(run_or_translator, device)


def make_translate_job(run_or_translator: str | os.PathLike | Translator | None, text: str,
                       beam: int = 1, nbest: int = 1, length_penalty: float = 0.6):
    """``job(ctx)``: translate ``text``, emit its ``AttentionMaps`` (cross, then the encoder's
    and decoder's self-attention where the model has them) and return
    ``Translation.to_dict()`` (see the module docstring)."""
    _check_beam(beam, nbest)

    def job(ctx: JobContext) -> dict[str, Any]:
        tr = _translator(run_or_translator, ctx.device)
        ctx.check_cancelled()
        out = tr.translate(text, beam, nbest, length_penalty)
        ctx.check_cancelled()
        for kind in ("cross", "encoder", "decoder"):
            if kind in out.attention:
                ctx.emit(out.attention_maps(kind))
        return out.to_dict()

    return job


def latest_translate_run(home: str | os.PathLike | None = None) -> str | None:
    """The newest translate run folder that has a checkpoint, or None."""
    from playground.core.runs import RunStore

    for run in RunStore(home).list(TASK):
        if run.best_checkpoint.is_file() or run.last_checkpoint.is_file():
            return str(run.path)
    return None
