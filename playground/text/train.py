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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from playground.core import distributed, schema
from playground.core import events as ev
from playground.core.engine import TrainTask
from playground.core.errors import ConfigError, DatasetError
from playground.core.jobs import JobContext
from playground.core.schema import option
from playground.text.corpus import Corpus, load_corpus
from playground.text.models import TEXT_MODELS
from playground.text.tokenizers import Tokenizer, build_tokenizer, parse_spec

SAMPLE_TEMPERATURE = 0.8
RANK_SEED_STRIDE = 1_000_003  # under torchrun, rank r draws windows from seed + r * this


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
    if cfg.model.startswith("graph:"):
        shape = f"a Builder graph, context {cfg.block_size}"
    elif cfg.model == "gpt":
        shape = (f"{cfg.n_layer} layers x {cfg.n_head} heads, width {cfg.n_embd}, context "
                 f"{cfg.block_size}")
    else:
        shape = (f"{cfg.lstm_layers} LSTM layers, hidden {cfg.lstm_hidden}, embedding "
                 f"{cfg.n_embd}, context {cfg.block_size}")
    return (f"{shape}; tokenizer {tok.spec} ({tok.vocab_size} tokens); "
            f"{tokens_per_step:,} tokens per step")


class LanguageModelTask(TrainTask):
    """Next-token prediction for the one loop (iteration mode): random windows drawn by the
    task's own generators, evaluation on random batches of both splits, a sample each time."""

    primary = "val_loss"
    higher_is_better = False

    def __init__(self, ctx: JobContext, cfg: TextTrainConfig, model, data: TextData) -> None:
        import torch

        self.ctx, self.cfg, self.model, self.tok = ctx, cfg, model, data.tokenizer
        device = ctx.device
        train_t = torch.from_numpy(data.train).to(device)
        val_t = torch.from_numpy(data.val).to(device)
        # Under torchrun batch_size is global: each process draws its share of the windows
        # from its own stream (rank 0's is the single-process one).
        world = distributed.current()
        distributed.check_batch(cfg.batch_size, world)
        lo, hi = distributed.share(cfg.batch_size, world)
        own = cfg.seed + RANK_SEED_STRIDE * world.rank
        self.sampler = BatchSampler(train_t, cfg.block_size, hi - lo, own)
        self.eval_samplers = {
            "train": BatchSampler(train_t, cfg.block_size, hi - lo, own + 1),
            "val": BatchSampler(val_t, cfg.block_size, hi - lo, own + 2)}
        self.tokens_per_step = cfg.batch_size * cfg.block_size
        self.eval_seconds = 0.0
        self._rate_start, self._rate_steps = time.perf_counter(), 0

    def build_optimizer(self, total_steps: int):
        from playground.core.optim import make_optimizer, make_scheduler

        c = self.cfg
        optimizer = make_optimizer("adamw", self.model, c.learning_rate, c.weight_decay,
                                   betas=(c.beta1, c.beta2))
        return optimizer, make_scheduler("cosine", optimizer, total_steps, c.warmup_iters,
                                         min_ratio=c.min_lr / c.learning_rate)

    def batches(self, epoch: int, start: int):
        while True:
            yield self.sampler()

    def loss(self, batch):
        x, y = batch
        return self.forward_model(x, y)[1], len(x)

    def after_step(self, batch, loss) -> None:
        self._rate_steps += 1
        now = time.perf_counter()
        if now - self._rate_start >= 1.0:
            rate = self._rate_steps * self.tokens_per_step / (now - self._rate_start)
            self.ctx.emit(ev.Metric("tokens_per_s", rate, self.step, "train"))
            self._rate_start, self._rate_steps = now, 0

    @property
    def step(self) -> int:
        return getattr(self, "_step", 0)

    def evaluate(self, ctx: JobContext, step: int, epoch: int | None) -> dict[str, float]:
        from playground.text.sampling import iter_tokens

        start = time.perf_counter()
        self._step = step
        losses = estimate_loss(self.model, self.eval_samplers, self.cfg.eval_iters,
                               self.precision, ctx)
        val_loss, train_loss = losses["val"], losses["train"]
        ctx.emit(ev.Metric("loss", val_loss, step, "val"))
        ctx.emit(ev.Metric("perplexity", math.exp(min(val_loss, 50.0)), step, "val"))
        ctx.emit(ev.Metric("perplexity", math.exp(min(train_loss, 50.0)), step, "train"))
        cfg = self.cfg
        if cfg.sample_tokens:
            pieces = []
            for _, text in iter_tokens(self.model, self.tok, cfg.sample_prompt,
                                       cfg.sample_tokens, SAMPLE_TEMPERATURE, 0, 1.0,
                                       seed=cfg.seed):
                ctx.check_cancelled()
                pieces.append(text)
            ctx.emit(ev.SampleText(step, "".join(pieces), cfg.sample_prompt))
        self.model.train()
        spent = time.perf_counter() - start
        self.eval_seconds += spent
        self._rate_start += spent  # tokens/s counts training time only
        return {"eval_train_loss": train_loss, "val_loss": val_loss,
                "val_perplexity": math.exp(min(val_loss, 50.0))}

    def describe_eval(self, metrics: dict[str, float], step: int, epoch: int | None) -> str:
        return (f"step {step}: train loss {metrics['eval_train_loss']:.4f}, val loss "
                f"{metrics['val_loss']:.4f} (perplexity {metrics['val_perplexity']:.2f})")

    def finish(self, result: dict[str, Any]) -> None:
        evals = [{"step": h["step"], "train_loss": h["eval_train_loss"],
                  "val_loss": h["val_loss"]} for h in result.get("evals", [])
                 if "val_loss" in h]
        steps = result.get("steps") or 0
        loop_seconds = result.get("train_seconds") or 0.0  # optimisation steps only
        result.update(evals=evals, best_val_loss=result.get("best"),
                      final_val_loss=evals[-1]["val_loss"] if evals else None,
                      final_train_loss=evals[-1]["train_loss"] if evals else None,
                      eval_seconds=self.eval_seconds,
                      train_seconds=loop_seconds + self.eval_seconds,
                      ms_per_iter=1000.0 * loop_seconds / steps if steps else None,
                      tokens_per_s=(steps * self.tokens_per_step / loop_seconds
                                    if steps and loop_seconds else None))

    def state_dict(self) -> dict[str, Any]:
        state = {"sampler": self.sampler.generator.get_state()}
        for split, sampler in self.eval_samplers.items():
            state[f"eval_{split}"] = sampler.generator.get_state()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "sampler" in state:
            self.sampler.generator.set_state(state["sampler"])
            for split, sampler in self.eval_samplers.items():
                sampler.generator.set_state(state[f"eval_{split}"])

    def reseed_for_rank(self, rank: int, step: int) -> None:
        own = self.cfg.seed + RANK_SEED_STRIDE * rank + 7919 * step
        for k, sampler in enumerate((self.sampler, *self.eval_samplers.values())):
            sampler.generator.manual_seed(own + k)


def train_text_model(ctx: JobContext, cfg: TextTrainConfig, corpus: Any, *,
                     store=None, name: str | None = None,
                     tokenizer: Tokenizer | None = None, init_from: str | None = None,
                     freeze: bool = False, resume: str | Path | None = None,
                     home: str | Path | None = None) -> dict[str, Any]:
    """Everything the job does; ``store`` None (and no ``resume``) trains without a run.

    ``init_from`` (``RUN_DIR[:best|:last]``) starts from another text run's weights and uses
    its tokenizer (pretrain on one corpus, fine-tune on another); ``resume`` continues a run
    folder with its own tokenizer.
    """
    from playground.core.data import seed_everything
    from playground.core.engine import LoopConfig, begin_run, fit
    from playground.core.engine import init_from as load_parent
    from playground.text.models import build_model
    from playground.text.sampling import prompt_ids

    check_config(cfg)
    device = ctx.device
    source = resume or (parse_init(init_from) if init_from else None)
    if source is not None and tokenizer is None:
        from playground.text.tokenizers import load_tokenizer

        tokenizer = load_tokenizer(Path(source))
    data = prepare_data(cfg, corpus, ctx, tokenizer)
    tok = data.tokenizer
    if cfg.sample_tokens and cfg.sample_prompt:
        prompt_ids(tok, cfg.sample_prompt)  # unknown characters fail now, not at step 0
    seed_everything(cfg.seed)
    model = build_model(cfg, tok.vocab_size).to(device)
    parent = None
    if init_from and not resume:
        parent = load_parent(model, init_from, freeze=freeze, task="text")
    n_params = sum(p.numel() for p in model.parameters())
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    tokens_per_step = cfg.batch_size * cfg.block_size

    run = None
    spec = corpus_spec(corpus, data.corpus)
    if store is not None or resume:
        run_name = name or f"{cfg.model}-{tok.spec.replace(':', '')}"
        run = begin_run("text", ctx=ctx, resume=resume, home=home, name=run_name,
                        model=cfg.model,
                        config=schema.to_dict(cfg), data_spec=spec,
                        dataset=data.corpus.describe(), parent=parent,
                        extra={"tokenizer": tok.describe(), "parameters": n_params})
        if not resume:
            tok.save(run.path)
        ctx.emit(ev.RunStarted(str(run.path), "text", run.name))
        if parent is not None:
            ctx.emit(ev.Log(parent.summary()))
    ctx.emit(ev.ModelSummary(cfg.model, n_params, n_trainable,
                             _summary_details(cfg, tok, tokens_per_step)))
    stats = data.corpus.stats
    ctx.emit(ev.Log(f"Corpus: {stats.characters:,} characters, {stats.lines:,} lines, "
                    f"{stats.words:,} words in {stats.files} file{'s' * (stats.files != 1)}; "
                    f"{len(data.train):,} training and {len(data.val):,} validation tokens."))
    task = LanguageModelTask(ctx, cfg, model, data)
    loop = LoopConfig(total_steps=cfg.max_iters, eval_interval=cfg.eval_interval,
                      eval_at_start=True, grad_clip=cfg.grad_clip,
                      mixed_precision=cfg.mixed_precision)
    result: dict[str, Any] = {
        "model": cfg.model, "parameters": n_params, "tokens_per_step": tokens_per_step,
        "tokenizer": tok.spec, "vocab_size": tok.vocab_size}
    return fit(ctx, task, run, loop, resume=bool(resume), result=result)


def corpus_spec(corpus: Any, loaded: Corpus) -> str | list[str]:
    """What run.json records so the same corpus can be read again (resume)."""
    import os

    if isinstance(corpus, str) and corpus.startswith("demo:"):
        return corpus
    if isinstance(corpus, (str, os.PathLike)):
        return str(Path(corpus).expanduser().resolve())
    if isinstance(corpus, (list, tuple)):
        return [str(Path(p).expanduser().resolve()) for p in corpus]
    return [str(Path(f).resolve()) for f in loaded.files if Path(f).is_file()]


def parse_init(spec: str) -> Path:
    from playground.core.engine import parse_init_spec

    return parse_init_spec(spec)[0]


def make_train_job(cfg: TextTrainConfig, corpus: Any, *, name: str | None = None,
                   home: str | Path | None = None, tokenizer: Tokenizer | None = None,
                   init_from: str | None = None, freeze: bool = False,
                   resume: str | Path | None = None):
    """``job(ctx) -> result dict`` that trains ``cfg`` on ``corpus`` into a new text run.

    ``corpus``: a path, a folder, a list of paths, ``"demo:pydoc"`` or a loaded
    :class:`~playground.text.corpus.Corpus`. ``tokenizer``: one already built for this corpus
    (e.g. by :func:`~playground.text.tokenizers.make_tokenizer_job` for the preview), used
    instead of building ``cfg.tokenizer`` again. ``home``: the data folder (default: the
    app's / ``$PLAYGROUND_HOME``). ``init_from`` / ``freeze`` / ``resume``: see
    :func:`train_text_model`.
    """
    from playground.core.engine import open_parent

    open_parent(init_from if not resume else None, "text")  # a parent's Builder graph
    check_config(cfg)

    def job(ctx: JobContext) -> dict[str, Any]:
        from playground.core.runs import RunStore

        return train_text_model(ctx, cfg, corpus, store=RunStore(home), name=name,
                                tokenizer=tokenizer, init_from=init_from, freeze=freeze,
                                resume=resume, home=home)

    return job


def make_resume_job(run_dir: str | Path, *, max_iters: int | None = None,
                    home: str | Path | None = None):
    """Continue the text run in ``run_dir`` from its last checkpoint, on the same corpus with
    its own tokenizer; ``max_iters`` sets a new total so a finished run can be trained
    further."""
    from playground.core.engine import resume_settings

    cfg, corpus = resume_settings(run_dir, "text", TextTrainConfig, max_iters=max_iters)
    return make_train_job(cfg, corpus, home=home, resume=run_dir)
