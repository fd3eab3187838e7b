"""Training a language model (GPT or LSTM) on a text corpus, as a job.

``make_train_job(cfg, corpus, name=None, home=None, tokenizer=None)`` returns ``job(ctx)``
for the worker thread (the Text tab) or the terminal (``playground train text``). The job:

1. loads the corpus (:func:`~playground.text.corpus.load_corpus`; each reading warning is
   emitted as ``Log(level="warning")``), builds the tokenizer ``cfg.tokenizer`` (SentencePiece
   training reports ``Progress``) unless one is passed in, tokenises the contiguous 90 / 10
   split, and checks both parts are longer than ``block_size`` (``DatasetError`` naming both
   numbers otherwise). Nothing is written to disk before these checks pass;
2. creates the run (task ``text``): ``run.json`` (config, corpus description, tokenizer),
   ``tokenizer.model`` / ``tokenizer.json``; emits ``RunStarted`` and ``ModelSummary``
   (``details`` gives layers, tokenizer and tokens per step) and a ``Log`` with corpus
   figures;
3. trains ``max_iters`` steps with the core :class:`~playground.core.trainer.Trainer` (AdamW
   with betas ``(beta1, beta2)``, decoupled weight decay on matrices and embeddings, linear
   warm-up then cosine decay from ``learning_rate`` to ``min_lr``, gradient clipping, mixed
   precision on CUDA). The Trainer emits ``Metric("loss"|"lr"|"samples_per_s", split="train")``
   about 20 times a second; the job adds ``Metric("tokens_per_s")`` about once a second and
   ``Progress(step, max_iters)`` about 10 times a second;
4. evaluates at step 0, every ``eval_interval`` steps and at the end over ``eval_iters``
   random batches of each split: ``Metric("loss", split="val")``, ``Metric("perplexity",
   split="val")`` and ``Metric("perplexity", split="train")`` (axis ``step``), a ``Log`` line,
   a ``SampleText`` of ``sample_tokens`` tokens generated from ``sample_prompt`` (fixed seed,
   temperature 0.8), ``checkpoints/last.safetensors`` and, when the validation loss is the
   lowest so far, ``checkpoints/best.safetensors`` (``CheckpointSaved`` events);
5. returns (and stores in run.json under ``result``) a dict: ``run_dir``, ``steps``,
   ``evals`` (list of ``{"step", "train_loss", "val_loss"}``), ``final_val_loss``,
   ``best_val_loss``, ``best_step``, ``parameters``, ``tokens_per_step``, ``tokenizer``,
   ``vocab_size``, ``train_seconds`` (the whole loop), ``eval_seconds``, ``ms_per_iter``
   (optimisation steps only) and ``tokens_per_s``.

Stop (``ctx.cancel()``) saves ``last.safetensors`` with what was learned so far and raises
:class:`~playground.core.errors.JobCancelled` carrying the result dict, so the runner reports
``Finished(stopped=True, result=...)``.

Speed: batches are drawn with one ``torch.randint`` and one gather from the tokenised corpus
held on the device; losses stay on the device between the Trainer's throttled reads; the
training forward uses ``scaled_dot_product_attention`` (the explicit attention path is only
for heatmaps).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from playground.core import events as ev
from playground.core import schema
from playground.core.errors import ConfigError, DatasetError, JobCancelled
from playground.core.jobs import JobContext
from playground.core.schema import option
from playground.text.corpus import Corpus, load_corpus
from playground.text.models import TEXT_MODELS
from playground.text.tokenizers import Tokenizer, build_tokenizer, parse_spec

SAMPLE_TEMPERATURE = 0.8


@dataclass
class TextTrainConfig:
    """Options of a language-model training run (defaults: nanoGPT's Shakespeare CPU run)."""

    model: str = option("gpt", label="Model", choices=TEXT_MODELS.names, group="Model",
                        help="gpt: decoder-only Transformer; lstm: recurrent baseline.")
    tokenizer: str = option("char", label="Tokenizer", group="Data",
                            help="char (one token per character), bpe:N or unigram:N "
                                 "(SentencePiece with N pieces, e.g. bpe:500).")
    n_layer: int = option(4, label="Layers", min=1, max=48, group="Model",
                          help="Transformer blocks (GPT).")
    n_head: int = option(4, label="Attention heads", min=1, max=64, group="Model",
                         help="Heads per attention layer (GPT); must divide n_embd.")
    n_embd: int = option(128, label="Embedding width", min=8, max=8192, step=8, group="Model",
                         help="Width of token embeddings and of the residual stream.")
    block_size: int = option(64, label="Context length (block size)", min=2, max=8192,
                             group="Model", help="Tokens the model sees at once.")
    dropout: float = option(0.0, label="Dropout", min=0.0, max=0.9, step=0.05, group="Model")
    bias: bool = option(False, label="Biases in Linear/LayerNorm", group="Model",
                        advanced=True, help="GPT only; off is a little faster.")
    lstm_hidden: int = option(256, label="LSTM hidden size", min=8, max=8192, step=8,
                              group="LSTM", help="Width of the LSTM state.")
    lstm_layers: int = option(2, label="LSTM layers", min=1, max=8, group="LSTM")
    batch_size: int = option(12, label="Batch size", min=1, max=4096, group="Training",
                             help="Sequences per step (tokens per step = batch x block).")
    max_iters: int = option(2000, label="Iterations", min=1, max=10_000_000, group="Training")
    learning_rate: float = option(1e-3, label="Learning rate", min=1e-7, max=1.0, log=True,
                                  group="Training", help="Peak rate after warm-up.")
    min_lr: float = option(1e-4, label="Final learning rate", min=0.0, max=1.0, log=True,
                           group="Training", help="Cosine decay ends here.")
    warmup_iters: int = option(100, label="Warm-up iterations", min=0, max=10_000_000,
                               group="Training")
    weight_decay: float = option(0.1, label="Weight decay", min=0.0, max=1.0, step=0.01,
                                 group="Training")
    beta1: float = option(0.9, label="AdamW beta1", min=0.0, max=0.9999, step=0.01,
                          group="Training", advanced=True)
    beta2: float = option(0.99, label="AdamW beta2", min=0.0, max=0.9999, step=0.001,
                          group="Training", advanced=True)
    grad_clip: float = option(1.0, label="Gradient clip", min=0.0, max=100.0, step=0.5,
                              group="Training", help="Max gradient norm; 0 = off.")
    eval_interval: int = option(250, label="Evaluate every", min=1, max=10_000_000,
                                group="Evaluation", help="Iterations between evaluations.")
    eval_iters: int = option(20, label="Evaluation batches", min=1, max=10_000,
                             group="Evaluation", help="Batches averaged per evaluation.")
    seed: int = option(1337, label="Seed", min=0, max=2**31 - 1, group="Training")
    sample_prompt: str = option("", label="Sample prompt", group="Evaluation",
                                help="Text the samples during training continue; empty: "
                                     "start from a new line.")
    sample_tokens: int = option(200, label="Sample length", min=0, max=10_000,
                                group="Evaluation", help="Tokens per sample; 0 = no samples.")
    mixed_precision: bool = option(True, label="Mixed precision on CUDA", group="Training",
                                   advanced=True)


def check_config(cfg: TextTrainConfig) -> TextTrainConfig:
    """Schema bounds plus the checks that involve two fields; raises ConfigError."""
    schema.validate(cfg)
    parse_spec(cfg.tokenizer)
    if cfg.model == "gpt" and cfg.n_embd % cfg.n_head:
        raise ConfigError(f"The embedding width ({cfg.n_embd}) must be divisible by the number "
                          f"of heads ({cfg.n_head}); e.g. use n_embd "
                          f"{cfg.n_head * max(1, round(cfg.n_embd / cfg.n_head))}.")
    if cfg.min_lr > cfg.learning_rate:
        raise ConfigError(f"The final learning rate ({cfg.min_lr:g}) is above the peak "
                          f"learning rate ({cfg.learning_rate:g}); lower it.")
    return cfg


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
@dataclass
class TextData:
    corpus: Corpus
    tokenizer: Tokenizer
    train: np.ndarray  # int64 token ids, the first 90 % of the text
    val: np.ndarray    # the last 10 %


def prepare_data(cfg: TextTrainConfig, corpus: Any, ctx: JobContext | None = None,
                 tokenizer: Tokenizer | None = None) -> TextData:
    """Load, tokenise and split; raise DatasetError if a part is shorter than a block."""
    data = corpus if isinstance(corpus, Corpus) else load_corpus(corpus)
    if ctx is not None:
        for warning in data.warnings:
            ctx.emit(ev.Log(warning, level="warning"))
        ctx.check_cancelled()
    tok = tokenizer or build_tokenizer(cfg.tokenizer, data.text, ctx)
    train_text, val_text = data.split()
    train, val = tok.encode_array(train_text), tok.encode_array(val_text)
    need = cfg.block_size + 1
    for part, ids, share in (("training", train, "first 90 %"), ("validation", val,
                                                                 "last 10 %")):
        if len(ids) < need:
            total = len(train) + len(val)
            fits = max(1, min(len(train), len(val)) - 1)
            raise DatasetError(
                f"The corpus is too short for a block size of {cfg.block_size}: its "
                f"{part} part (the {share}) has {len(ids)} tokens ({total} in all), but "
                f"each example needs block size + 1 = {need}. Lower the block size to "
                f"{fits} or less, or add more text.")
    return TextData(data, tok, train, val)


class BatchSampler:
    """Random windows of ``block_size + 1`` tokens: inputs and next-token targets.

    One ``torch.randint`` and one gather per batch, on the data's device.
    """

    def __init__(self, data, block_size: int, batch_size: int, seed: int) -> None:
        import torch

        self.data = data  # 1-D int64 tensor on the device
        self.block_size = block_size
        self.batch_size = batch_size
        self.offsets = torch.arange(block_size + 1, device=data.device)  # (T+1,)
        self.generator = torch.Generator(device=data.device)
        self.generator.manual_seed(seed)
        self.high = len(data) - block_size

    def __call__(self):
        import torch

        start = torch.randint(self.high, (self.batch_size, 1), device=self.data.device,
                              generator=self.generator)  # (B, 1)
        chunk = self.data[start + self.offsets]           # (B, T+1)
        return chunk[:, :-1], chunk[:, 1:]                # (B, T), (B, T)


def estimate_loss(model, samplers: dict[str, BatchSampler], eval_iters: int, precision,
                  ctx: JobContext | None = None) -> dict[str, float]:
    """Mean loss over ``eval_iters`` random batches of each split (no gradients)."""
    import torch

    model.eval()
    out = {}
    with torch.no_grad():
        for split, sampler in samplers.items():
            total = None
            for _ in range(eval_iters):
                if ctx is not None:
                    ctx.check_cancelled()
                x, y = sampler()
                with precision.autocast():
                    _, loss = model(x, y)
                loss = loss.float()
                total = loss if total is None else total + loss
            out[split] = float(total) / eval_iters
    model.train()
    return out


# --------------------------------------------------------------------------------------------
# The job
# --------------------------------------------------------------------------------------------
def _summary_details(cfg: TextTrainConfig, tok: Tokenizer, tokens_per_step: int) -> str:
    if cfg.model == "gpt":
        shape = (f"{cfg.n_layer} layers x {cfg.n_head} heads, width {cfg.n_embd}, context "
                 f"{cfg.block_size}")
    else:
        shape = (f"{cfg.lstm_layers} LSTM layers, hidden {cfg.lstm_hidden}, embedding "
                 f"{cfg.n_embd}, context {cfg.block_size}")
    return (f"{shape}; tokenizer {tok.spec} ({tok.vocab_size} tokens); "
            f"{tokens_per_step:,} tokens per step")


def train_text_model(ctx: JobContext, cfg: TextTrainConfig, corpus: Any, *,
                     store=None, name: str | None = None,
                     tokenizer: Tokenizer | None = None) -> dict[str, Any]:
    """Everything the job does; ``store`` (a RunStore) None trains without saving a run."""
    import torch

    from playground.core.data import seed_everything
    from playground.core.device import Precision
    from playground.core.optim import make_optimizer, make_scheduler
    from playground.core.trainer import Trainer
    from playground.text.models import build_model
    from playground.text.sampling import iter_tokens, prompt_ids

    check_config(cfg)
    device = ctx.device
    data = prepare_data(cfg, corpus, ctx, tokenizer)
    tok = data.tokenizer
    if cfg.sample_tokens and cfg.sample_prompt:
        prompt_ids(tok, cfg.sample_prompt)  # unknown characters fail now, not at step 0
    seed_everything(cfg.seed)
    model = build_model(cfg, tok.vocab_size).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    tokens_per_step = cfg.batch_size * cfg.block_size

    run = None
    if store is not None:
        run_name = name or f"{cfg.model}-{tok.spec.replace(':', '')}"
        run = store.create("text", run_name, model=cfg.model, config=schema.to_dict(cfg),
                           dataset=data.corpus.describe(),
                           extra={"tokenizer": tok.describe(), "parameters": n_params})
        tok.save(run.path)
        ctx.emit(ev.RunStarted(str(run.path), "text", run_name))
    ctx.emit(ev.ModelSummary(cfg.model, n_params, n_trainable,
                             _summary_details(cfg, tok, tokens_per_step)))
    stats = data.corpus.stats
    ctx.emit(ev.Log(f"Corpus: {stats.characters:,} characters, {stats.lines:,} lines, "
                    f"{stats.words:,} words in {stats.files} file{'s' * (stats.files != 1)}; "
                    f"{len(data.train):,} training and {len(data.val):,} validation tokens."))

    train_t = torch.from_numpy(data.train).to(device)
    val_t = torch.from_numpy(data.val).to(device)
    train_batch = BatchSampler(train_t, cfg.block_size, cfg.batch_size, cfg.seed)
    eval_samplers = {"train": BatchSampler(train_t, cfg.block_size, cfg.batch_size, cfg.seed + 1),
                     "val": BatchSampler(val_t, cfg.block_size, cfg.batch_size, cfg.seed + 2)}

    optimizer = make_optimizer("adamw", model, cfg.learning_rate, cfg.weight_decay,
                               betas=(cfg.beta1, cfg.beta2))
    scheduler = make_scheduler("cosine", optimizer, cfg.max_iters, cfg.warmup_iters,
                               min_ratio=cfg.min_lr / cfg.learning_rate)
    trainer = Trainer(model, optimizer, ctx, scheduler=scheduler, grad_clip=cfg.grad_clip,
                      mixed_precision=cfg.mixed_precision, run=run)
    precision: Precision = trainer.precision

    result: dict[str, Any] = {
        "run_dir": str(run.path) if run else None, "model": cfg.model, "parameters": n_params,
        "tokens_per_step": tokens_per_step, "tokenizer": tok.spec,
        "vocab_size": tok.vocab_size, "evals": []}
    best = {"loss": math.inf, "step": -1}
    timing = {"eval": 0.0, "start": time.perf_counter()}

    def sample(step: int) -> None:
        if not cfg.sample_tokens:
            return
        pieces = []
        for _, text in iter_tokens(model, tok, cfg.sample_prompt, cfg.sample_tokens,
                                   SAMPLE_TEMPERATURE, 0, 1.0, seed=cfg.seed):
            ctx.check_cancelled()
            pieces.append(text)
        ctx.emit(ev.SampleText(step, "".join(pieces), cfg.sample_prompt))

    def evaluate(step: int) -> None:
        start = time.perf_counter()
        trainer.flush_metrics()
        losses = estimate_loss(model, eval_samplers, cfg.eval_iters, precision, ctx)
        val_loss, train_loss = losses["val"], losses["train"]
        ctx.emit(ev.Metric("loss", val_loss, step, "val"))
        ctx.emit(ev.Metric("perplexity", math.exp(min(val_loss, 50.0)), step, "val"))
        ctx.emit(ev.Metric("perplexity", math.exp(min(train_loss, 50.0)), step, "train"))
        result["evals"].append({"step": step, "train_loss": train_loss, "val_loss": val_loss})
        result.update(final_val_loss=val_loss, final_train_loss=train_loss)
        if run is not None:
            run.log_metrics(step=step, eval_train_loss=train_loss, val_loss=val_loss,
                            val_perplexity=math.exp(min(val_loss, 50.0)))
        ctx.emit(ev.Log(f"step {step}: train loss {train_loss:.4f}, val loss {val_loss:.4f} "
                        f"(perplexity {math.exp(min(val_loss, 50.0)):.2f})"))
        meta = {"val_loss": f"{val_loss:.6f}"}
        trainer.save("last", val_loss, metadata=meta)
        if val_loss < best["loss"]:
            best.update(loss=val_loss, step=step)
            trainer.save("best", val_loss, metadata=meta)
        sample(step)
        timing["eval"] += time.perf_counter() - start

    def finish(status: str) -> dict[str, Any]:
        elapsed = time.perf_counter() - timing["start"]
        steps = trainer.step_count
        train_only = max(1e-9, elapsed - timing["eval"])
        result.update(steps=steps, best_val_loss=best["loss"] if best["step"] >= 0 else None,
                      best_step=best["step"], train_seconds=elapsed,
                      eval_seconds=timing["eval"],
                      ms_per_iter=1000.0 * train_only / steps if steps else None,
                      tokens_per_s=steps * tokens_per_step / train_only if steps else None)
        if run is not None:
            run.set_status(status, result=result)
        return result

    compute_loss: Callable[[], Any] = lambda: model(*train_batch())[1]  # noqa: E731
    if run is not None:
        run.set_status("training")
    last_progress = last_rate = time.perf_counter()
    rate_steps, rate_eval = 0, timing["eval"]
    try:
        evaluate(0)
        while trainer.step_count < cfg.max_iters:
            trainer.step(compute_loss, batch_size=cfg.batch_size)
            step = trainer.step_count
            rate_steps += 1
            now = time.perf_counter()
            if now - last_progress >= 0.1:
                ctx.emit(ev.Progress(step, cfg.max_iters, "training", unit="step"))
                last_progress = now
            if now - last_rate >= 1.0:
                spent = now - last_rate - (timing["eval"] - rate_eval)
                ctx.emit(ev.Metric("tokens_per_s", rate_steps * tokens_per_step
                                   / max(1e-9, spent), step, "train"))
                last_rate, rate_steps, rate_eval = now, 0, timing["eval"]
            if step % cfg.eval_interval == 0 or step == cfg.max_iters:
                evaluate(step)
        ctx.emit(ev.Progress(cfg.max_iters, cfg.max_iters, "training", unit="step"))
    except JobCancelled as exc:
        trainer.flush_metrics()
        trainer.save("last", metadata={"stopped": "true"})
        exc.result = finish("stopped")
        raise
    except BaseException:
        if run is not None:
            run.set_status("failed")
        raise
    return finish("finished")


def make_train_job(cfg: TextTrainConfig, corpus: Any, *, name: str | None = None,
                   home: str | Path | None = None, tokenizer: Tokenizer | None = None):
    """``job(ctx) -> result dict`` that trains ``cfg`` on ``corpus`` into a new text run.

    ``corpus``: a path, a folder, a list of paths, ``"demo:pydoc"`` or a loaded
    :class:`~playground.text.corpus.Corpus`. ``tokenizer``: one already built for this corpus
    (e.g. by :func:`~playground.text.tokenizers.make_tokenizer_job` for the preview), used
    instead of building ``cfg.tokenizer`` again. ``home``: the data folder (default: the
    app's / ``$PLAYGROUND_HOME``).
    """
    check_config(cfg)

    def job(ctx: JobContext) -> dict[str, Any]:
        from playground.core.runs import RunStore

        return train_text_model(ctx, cfg, corpus, store=RunStore(home), name=name,
                                tokenizer=tokenizer)

    return job
