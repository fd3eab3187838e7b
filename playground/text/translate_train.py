"""Training a translation model on sentence pairs, as a job on the one training loop.

``make_train_job(cfg, pairs, name=None, home=None, init_from=None, freeze=False,
resume=None)`` returns ``job(ctx)`` for the worker thread (the Translate mode of the Text tab)
or the terminal (``playground train translate``). ``pairs`` is a TSV path or
``demo:numbers-en-fr``. The job:

1. reads and cleans the pairs (:func:`~playground.text.pairs.load_pairs`; each warning, e.g.
   lines without a tab or pairs over the length limit, is emitted as ``Log(level=
   "warning")``), splits them (seeded, every translation of a source sentence on one side;
   the test part is held out and never used here), builds the tokenizers (``cfg.tokenizer``,
   shared or one per side; a fork or a resume reuses its run's) and encodes every pair.
   Nothing is written before these checks pass (``DatasetError`` / ``TokenizerError``);
2. creates the run (task ``translate``): ``run.json`` (config, data description, tokenizers,
   split sizes), the tokenizer files; emits ``RunStarted``, ``ModelSummary`` and a ``Log`` with
   the data figures;
3. trains ``epochs`` epochs through :func:`playground.core.engine.fit` (AdamW, linear warm-up
   then cosine decay, gradient clipping, mixed precision on CUDA, teacher forcing, label
   smoothing). Batches are shuffled pairs (:class:`~playground.core.engine.EpochBatches`);
   their order depends only on (seed, epoch), so a resume sees the same batches. Events: the loop's
   ``Progress`` and ``Metric("loss"|"lr"|"samples_per_s", split="train")``, and
   ``Metric("tokens_per_s")`` about once a second;
4. after each epoch evaluates on the validation pairs: ``Metric`` ``loss`` (train and val),
   ``bleu``, ``chrf`` and ``exact`` (share of translations equal to the reference), all with
   ``axis="epoch"``; a ``Log`` line that includes sacreBLEU's signature strings; a
   :class:`~playground.core.events.TranslationSamples` with the same ``samples`` validation
   sentences each time, beside their references; ``last`` checkpoint, and ``best`` when the
   validation BLEU is the highest so far (``CheckpointSaved``);
5. returns (and stores in run.json under ``result``) a dict with ``run_dir``, ``steps``,
   ``epochs_done``, ``val_loss``, ``val_bleu``, ``val_chrf``, ``val_exact`` (last
   evaluation), ``best_val_bleu``, ``best_epoch``, ``bleu_signature``, ``chrf_signature``,
   ``samples`` (list of ``{"source", "reference", "hypothesis"}``), ``parameters``,
   ``tokenizer``, ``split`` (pair counts), ``train_seconds``, ``evals`` (one row per epoch).

Stop saves ``last`` and raises :class:`~playground.core.errors.JobCancelled` carrying the
result; :func:`make_resume_job` continues the run exactly (the resume tests check it to 1e-6).
BLEU and chrF come from sacreBLEU (:func:`corpus_scores`), never from our own counting.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.core import events as ev
from playground.core import schema
from playground.core.engine import EpochBatches, TrainTask
from playground.core.errors import ConfigError
from playground.core.jobs import JobContext
from playground.core.schema import option
from playground.text.pairs import NORMALIZATIONS, PairData, PairSplit, load_pairs
from playground.text.seq2seq import POSITIONS
from playground.text.tokenizers import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    PairTokenizer,
    build_pair_tokenizer,
    load_pair_tokenizer,
    parse_spec,
)
from playground.text.translate_models import TRANSLATE_MODELS

TASK = "translate"


@dataclass
class TranslateConfig:
    """Options of a translation run (defaults tuned on the numbers demo and eng-deu).

    Measured on 5,000 eng-deu pairs, 10 epochs (``benchmarks/bench_translate.py``, tuned on
    validation BLEU): one vocabulary per language, an output layer of its own and batches of
    32 reach test BLEU 12.2 (10.6–13.6 over 3 seeds) where one shared, three-way tied
    vocabulary at batch 64 reached 2.2 (1.6, 2.9); each change alone gave about 7.5.
    """

    model: str = option("transformer", label="Model", choices=TRANSLATE_MODELS.names,
                        group="Model", help="transformer: encoder–decoder Transformer; "
                                            "gru-attention / lstm-attention: recurrent baseline.")
    tokenizer: str = option("bpe:2000", label="Tokenizer", group="Tokenizer",
                            help="char, bpe:N or unigram:N (SentencePiece with at most N "
                                 "pieces; a small corpus gets fewer).")
    shared_vocab: bool = option(False, label="One vocabulary for both languages",
                                group="Tokenizer", help="One tokenizer trained on both sides "
                                                        "(and one embedding); off: one each.")
    swap: bool = option(False, label="Swap direction", group="Data",
                        help="Translate from the second column to the first.")
    max_length: int = option(200, label="Longest sentence (characters)", min=1, max=100_000,
                             group="Data", help="Pairs with a longer side are left out "
                                                "(counted in the log).")
    lowercase: bool = option(False, label="Lowercase", group="Data")
    normalize: str = option("NFC", label="Unicode normalisation", choices=NORMALIZATIONS,
                            group="Data", advanced=True)
    dedupe: bool = option(True, label="Remove duplicate pairs", group="Data")
    val_fraction: float = option(0.1, label="Validation share", min=0.001, max=0.5,
                                 step=0.01, group="Data")
    test_fraction: float = option(0.1, label="Test share (held out)", min=0.0, max=0.5,
                                  step=0.01, group="Data",
                                  help="Never trained or validated on; for scoring later.")
    n_layer: int = option(2, label="Layers", min=1, max=24, group="Transformer",
                          help="Blocks in the encoder and in the decoder.")
    n_head: int = option(4, label="Attention heads", min=1, max=64, group="Transformer",
                         help="Must divide the embedding width.")
    n_embd: int = option(128, label="Embedding width", min=8, max=4096, step=8, group="Model")
    ff_dim: int = option(512, label="Feed-forward width", min=8, max=16_384, step=8,
                         group="Transformer")
    positions: str = option("sinusoidal", label="Positions", choices=POSITIONS,
                            group="Transformer")
    tie_embeddings: bool = option(False, label="Tie embeddings", group="Model",
                                  help="The output layer shares the target embedding.")
    dropout: float = option(0.1, label="Dropout", min=0.0, max=0.9, step=0.05, group="Model")
    rnn_hidden: int = option(128, label="RNN hidden size", min=8, max=4096, step=8,
                             group="RNN")
    rnn_layers: int = option(1, label="RNN layers", min=1, max=8, group="RNN")
    max_len: int = option(128, label="Longest sequence (tokens)", min=4, max=4096,
                          group="Model", advanced=True,
                          help="Longer tokenised sentences are cut for training.")
    epochs: int = option(10, label="Epochs", min=1, max=10_000, group="Training")
    batch_size: int = option(32, label="Batch size", min=1, max=4096, group="Training",
                             help="Sentence pairs per step.")
    learning_rate: float = option(2e-3, label="Learning rate", min=1e-7, max=1.0, log=True,
                                  group="Training", help="Peak rate after warm-up.")
    warmup_fraction: float = option(0.05, label="Warm-up share", min=0.0, max=0.5,
                                    step=0.01, group="Training")
    weight_decay: float = option(0.01, label="Weight decay", min=0.0, max=1.0, step=0.01,
                                 group="Training")
    label_smoothing: float = option(0.1, label="Label smoothing", min=0.0, max=0.5,
                                    step=0.05, group="Training")
    grad_clip: float = option(1.0, label="Gradient clip", min=0.0, max=100.0, step=0.5,
                              group="Training", help="Max gradient norm; 0 = off.")
    patience: int = option(0, label="Early-stopping patience", min=0, max=1000,
                           group="Training", help="Epochs without a better BLEU; 0 = off.")
    seed: int = option(1, label="Seed", min=0, max=2**31 - 1, group="Training")
    val_sentences: int = option(1000, label="Sentences scored per evaluation", min=1,
                                max=1_000_000, group="Evaluation",
                                help="Validation pairs translated for BLEU / chrF.")
    samples: int = option(5, label="Sample translations shown", min=0, max=100,
                          group="Evaluation")
    mixed_precision: bool = option(True, label="Mixed precision on CUDA", group="Training",
                                   advanced=True)


def check_config(cfg: TranslateConfig) -> TranslateConfig:
    """Schema bounds plus the checks that involve two fields; raises ConfigError."""
    schema.validate(cfg)
    parse_spec(cfg.tokenizer)
    if cfg.model == "transformer" and cfg.n_embd % cfg.n_head:
        raise ConfigError(f"The embedding width ({cfg.n_embd}) must be divisible by the number "
                          f"of heads ({cfg.n_head}); e.g. use "
                          f"{cfg.n_head * max(1, round(cfg.n_embd / cfg.n_head))}.")
    if cfg.val_fraction + cfg.test_fraction >= 0.9:
        raise ConfigError(f"The validation and test shares ({cfg.val_fraction:g} + "
                          f"{cfg.test_fraction:g}) leave too little to train on; keep their "
                          "sum below 0.9.")
    return cfg


# --------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------
def corpus_scores(hypotheses: list[str], references: list[str]) -> dict[str, Any]:
    """Corpus BLEU and chrF from sacreBLEU with their signature strings (one reference each)."""
    from sacrebleu.metrics import BLEU, CHRF

    if len(hypotheses) != len(references):
        raise ValueError("one hypothesis per reference")
    bleu, chrf = BLEU(), CHRF()
    b = bleu.corpus_score(hypotheses, [references])
    c = chrf.corpus_score(hypotheses, [references])
    exact = sum(h == r for h, r in zip(hypotheses, references, strict=True))
    return {"bleu": float(b.score), "chrf": float(c.score),
            "exact": exact / max(1, len(references)),
            "bleu_signature": str(bleu.get_signature()),
            "chrf_signature": str(chrf.get_signature())}


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
@dataclass
class TranslationData:
    pairs: PairData
    split: PairSplit
    tokenizer: PairTokenizer
    train_src: list[list[int]]   # ids of each training source + end token
    train_tgt: list[list[int]]   # begin + ids + end of each training target
    val_src: list[list[int]]
    val_tgt: list[list[int]]
    truncated: int = 0


def read_pairs(cfg: TranslateConfig, source: Any) -> PairData:
    if isinstance(source, PairData):
        return source
    return load_pairs(source, swap=cfg.swap, max_length=cfg.max_length,
                      lowercase=cfg.lowercase, normalize=cfg.normalize, dedupe=cfg.dedupe)


def prepare_data(cfg: TranslateConfig, source: Any, ctx: JobContext | None = None,
                 tokenizer: PairTokenizer | None = None) -> TranslationData:
    """Read, split, tokenise and encode; raises DatasetError / TokenizerError."""
    data = read_pairs(cfg, source)
    if ctx is not None:
        for warning in data.warnings:
            ctx.emit(ev.Log(warning, level="warning"))
        ctx.check_cancelled()
    split = data.split(cfg.val_fraction, cfg.test_fraction, cfg.seed)
    tok = tokenizer or build_pair_tokenizer(
        cfg.tokenizer, [s for s, _ in split.train], [t for _, t in split.train],
        shared=cfg.shared_vocab, ctx=ctx)
    limit = cfg.max_len - 1
    cut = 0

    def encode(pairs):
        nonlocal cut
        src, tgt = [], []
        for s, t in pairs:
            a, b = tok.source.encode(s), tok.target.encode(t)
            if len(a) > limit or len(b) > limit:
                cut += 1
            src.append(a[:limit] + [EOS_ID])
            tgt.append([BOS_ID] + b[:limit] + [EOS_ID])
        return src, tgt

    train_src, train_tgt = encode(split.train)
    val_src, val_tgt = encode(split.val)
    if ctx is not None and cut:
        ctx.emit(ev.Log(f"{cut:,} pair{'s' * (cut != 1)} longer than {limit} tokens were cut "
                        "to fit (raise 'Longest sequence (tokens)' to keep them whole).",
                        level="warning"))
    return TranslationData(data, split, tok, train_src, train_tgt, val_src, val_tgt, cut)


def _pad(seqs: list[list[int]]):
    import torch

    width = max(len(s) for s in seqs)
    out = torch.full((len(seqs), width), PAD_ID, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.tensor(s, dtype=torch.long)
    return out


# --------------------------------------------------------------------------------------------
# The task on the one loop
# --------------------------------------------------------------------------------------------
class TranslationTask(TrainTask):
    """Teacher-forced cross-entropy with label smoothing; the best checkpoint has the highest
    validation BLEU (greedy decoding)."""

    primary = "val_bleu"
    higher_is_better = True

    def __init__(self, ctx: JobContext, cfg: TranslateConfig, model, data: TranslationData
                 ) -> None:
        import torch

        self.ctx, self.cfg, self.model, self.data = ctx, cfg, model, data
        self.device = ctx.device
        self.tok = data.tokenizer
        # Plain shuffled batches. Grouping sentences of similar length would pad less, but
        # measured on the numbers demo it made every batch one kind of number and learning
        # several times slower (validation loss 1.46 vs 0.23 after 200 steps).
        self.sampler = EpochBatches(len(data.train_src), cfg.batch_size, seed=cfg.seed,
                                    distributed=True)
        self._loss_sum = torch.zeros((), device=self.device)
        self._batches = 0
        self._rate_start, self._rate_tokens = time.perf_counter(), 0
        self.step = 0
        # the fixed validation sentences: up to val_sentences pairs, samples from their head
        n = min(cfg.val_sentences, len(data.val_src))
        self.val_pairs = data.split.val[:n]
        self.val_ids = [ids[:-1] for ids in data.val_src[:n]]  # decoding adds the end
        self.samples: list[dict[str, str]] = []
        self.signatures: dict[str, str] = {}

    @property
    def steps_per_epoch(self) -> int:
        return len(self.sampler)

    def build_optimizer(self, total_steps: int):
        from playground.core.optim import make_optimizer, make_scheduler

        c = self.cfg
        optimizer = make_optimizer("adamw", self.model, c.learning_rate, c.weight_decay,
                                   betas=(0.9, 0.98))
        return optimizer, make_scheduler("cosine", optimizer, total_steps,
                                         int(c.warmup_fraction * total_steps), min_ratio=0.0)

    def batches(self, epoch: int, start: int):
        d = self.device
        self.sampler.set_epoch(epoch, start)
        for idx in self.sampler:
            src = _pad([self.data.train_src[i] for i in idx])                  # (B, S)
            tgt = _pad([self.data.train_tgt[i] for i in idx])                  # (B, T+1)
            yield (src.to(d, non_blocking=True), tgt[:, :-1].to(d, non_blocking=True),
                   tgt[:, 1:].to(d, non_blocking=True))

    def criterion(self, logits, target, smoothing: float):
        import torch.nn.functional as F

        return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)),
                               target.reshape(-1), ignore_index=PAD_ID,
                               label_smoothing=smoothing)

    def loss(self, batch):
        src, tgt_in, tgt_out = batch
        logits = self.forward_model(src, tgt_in)                               # (B, T, V)
        return self.criterion(logits, tgt_out, self.cfg.label_smoothing), len(src)

    def after_step(self, batch, loss) -> None:
        self._loss_sum += loss
        self._batches += 1
        self.step += 1
        self._rate_tokens += int(batch[0].numel() + batch[1].numel())
        now = time.perf_counter()
        if now - self._rate_start >= 1.0:
            rate = self._rate_tokens / (now - self._rate_start)
            self.ctx.emit(ev.Metric("tokens_per_s", rate, self.step, "train"))
            self._rate_start, self._rate_tokens = now, 0

    def epoch_metrics(self, epoch: int) -> dict[str, float]:
        import torch

        loss = float(self._loss_sum) / max(1, self._batches)
        self._loss_sum, self._batches = torch.zeros((), device=self.device), 0
        self.ctx.emit(ev.Metric("loss", loss, epoch, "train", "epoch"))
        return {"train_loss": loss}

    def val_loss(self, ctx: JobContext) -> float:
        import torch

        total, tokens = 0.0, 0
        src_all, tgt_all = self.data.val_src, self.data.val_tgt
        b = max(self.cfg.batch_size, 64)
        with torch.no_grad():
            for i in range(0, len(src_all), b):
                ctx.check_cancelled()
                src = _pad(src_all[i:i + b]).to(self.device)
                tgt = _pad(tgt_all[i:i + b]).to(self.device)
                with self.precision.autocast():
                    logits = self.model(src, tgt[:, :-1])
                n = int(tgt[:, 1:].ne(PAD_ID).sum())
                total += float(self.criterion(logits, tgt[:, 1:], 0.0)) * n
                tokens += n
        return total / max(1, tokens)

    def translate_val(self, ctx: JobContext) -> list[str]:
        from playground.text.translate_decode import translate_ids

        with self.precision.autocast():
            ids = translate_ids(self.model, self.val_ids, beam=1, device=self.device,
                                batch_size=max(64, self.cfg.batch_size),
                                cancelled=ctx.check_cancelled)
        return [self.tok.target.decode(x) for x in ids]

    def evaluate(self, ctx: JobContext, step: int, epoch: int | None) -> dict[str, float]:
        start = time.perf_counter()
        self.model.eval()
        loss = self.val_loss(ctx)
        hyps = self.translate_val(ctx)
        refs = [t for _, t in self.val_pairs]
        scores = corpus_scores(hyps, refs)
        self.signatures = {"bleu_signature": scores["bleu_signature"],
                           "chrf_signature": scores["chrf_signature"]}
        e = epoch or 0
        ctx.emit(ev.Metric("loss", loss, e, "val", "epoch"))
        for key in ("bleu", "chrf", "exact"):
            ctx.emit(ev.Metric(key, scores[key], e, "val", "epoch"))
        k = min(self.cfg.samples, len(hyps))
        self.samples = [{"source": s, "reference": r, "hypothesis": h}
                        for (s, r), h in zip(self.val_pairs[:k], hyps[:k], strict=True)]
        if k:
            ctx.emit(ev.TranslationSamples(step, e, tuple(s for s, _ in self.val_pairs[:k]),
                                           tuple(refs[:k]), tuple(hyps[:k])))
        self.model.train()
        self._rate_start += time.perf_counter() - start  # tokens/s counts training only
        return {"val_loss": loss, "val_bleu": scores["bleu"], "val_chrf": scores["chrf"],
                "val_exact": scores["exact"]}

    def describe_eval(self, metrics: dict[str, float], step: int, epoch: int | None) -> str:
        text = f"epoch {epoch}: train loss {metrics.get('train_loss', float('nan')):.4f}"
        if "val_bleu" in metrics:
            text += (f", val loss {metrics['val_loss']:.4f}, BLEU {metrics['val_bleu']:.2f}, "
                     f"chrF {metrics['val_chrf']:.2f}, exact {metrics['val_exact']:.1%} "
                     f"({self.signatures.get('bleu_signature', '')})")
        return text

    def finish(self, result: dict[str, Any]) -> None:
        result.update(self.signatures, samples=self.samples,
                      best_val_bleu=result.get("best"))

    def state_dict(self) -> dict[str, Any]:
        return {"loss_sum": self._loss_sum.detach().cpu(), "batches": self._batches,
                "step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "loss_sum" in state:
            self._loss_sum = state["loss_sum"].to(self.device)
            self._batches = int(state["batches"])
            self.step = int(state["step"])


# --------------------------------------------------------------------------------------------
# The job
# --------------------------------------------------------------------------------------------
def _default_name(cfg: TranslateConfig, spec: str) -> str:
    stem = spec.split(":", 1)[1] if spec.startswith("demo:") else Path(spec).stem
    return f"{cfg.model}-{stem}"


def pairs_spec(source: Any, data: PairData) -> str:
    """What run.json records so the same pairs can be read again (resume)."""
    if isinstance(source, str) and source.startswith("demo:"):
        return source
    return data.spec


def _count(model) -> tuple[int, int]:
    # a tied weight is one parameter (parameters() yields it once)
    params = list(model.parameters())
    return (sum(p.numel() for p in params),
            sum(p.numel() for p in params if p.requires_grad))


def train_translation(ctx: JobContext, cfg: TranslateConfig, source: Any, *,
                      name: str | None = None, home: str | Path | None = None,
                      init_from: str | None = None, freeze: bool = False,
                      resume: str | Path | None = None, store: bool = True,
                      max_steps: int | None = None) -> dict[str, Any]:
    """Everything the job does (``store`` False trains without a run folder)."""
    from playground.core.data import seed_everything
    from playground.core.engine import LoopConfig, begin_run, fit, parse_init_spec
    from playground.core.engine import init_from as load_parent
    from playground.text.translate_models import build_model

    check_config(cfg)
    tokenizer = None
    if resume:
        tokenizer = load_pair_tokenizer(resume)
    elif init_from:
        tokenizer = load_pair_tokenizer(parse_init_spec(init_from)[0])
    data = prepare_data(cfg, source, ctx, tokenizer)
    tok = data.tokenizer
    seed_everything(cfg.seed)
    model = build_model(cfg, tok.source.vocab_size, tok.target.vocab_size).to(ctx.device)
    parent = None
    if init_from and not resume:
        parent = load_parent(model, init_from, freeze=freeze, task=TASK)
    n_params, n_trainable = _count(model)
    spec = pairs_spec(source, data.pairs)
    sizes = data.split.sizes()
    run = None
    if store or resume:
        run = begin_run(TASK, ctx=ctx, resume=resume, home=home,
                        name=name or _default_name(cfg, spec), model=cfg.model,
                        config=schema.to_dict(cfg), data_spec=spec,
                        dataset=data.pairs.describe(), parent=parent,
                        same={"tokenizer": tok.describe()},
                        extra={"tokenizer": tok.describe(), "parameters": n_params,
                               "split": sizes,
                               "model_title": TRANSLATE_MODELS.get(cfg.model).title})
        if not resume:
            tok.save(run.path)
        ctx.emit(ev.RunStarted(str(run.path), TASK, run.name))
        if parent is not None:
            ctx.emit(ev.Log(parent.summary()))
    vocab = (f"shared vocabulary of {tok.source.vocab_size}" if tok.shared else
             f"vocabularies of {tok.source.vocab_size} (source) and "
             f"{tok.target.vocab_size} (target)")
    ctx.emit(ev.ModelSummary(cfg.model, n_params, n_trainable,
                             f"{TRANSLATE_MODELS.get(cfg.model).title}; {cfg.tokenizer} "
                             f"tokens, {vocab}"))
    ctx.emit(ev.Log(f"{len(data.pairs):,} pairs: {sizes['train']:,} training, "
                    f"{sizes['val']:,} validation, {sizes['test']:,} test (held out)."))
    task = TranslationTask(ctx, cfg, model, data)
    steps_per_epoch = task.steps_per_epoch
    total = cfg.epochs * steps_per_epoch
    if max_steps:
        total = min(total, max_steps)
    loop = LoopConfig(total_steps=total, steps_per_epoch=steps_per_epoch,
                      grad_clip=cfg.grad_clip, mixed_precision=cfg.mixed_precision,
                      patience=cfg.patience, epochs=cfg.epochs)
    result: dict[str, Any] = {"model": cfg.model, "parameters": n_params,
                              "tokenizer": tok.describe(), "split": sizes}
    return fit(ctx, task, run, loop, resume=bool(resume), result=result)


def make_train_job(cfg: TranslateConfig, pairs: Any, *, name: str | None = None,
                   home: str | Path | None = None, init_from: str | None = None,
                   freeze: bool = False, resume: str | Path | None = None,
                   max_steps: int | None = None):
    """``job(ctx) -> result dict`` that trains ``cfg`` on ``pairs`` (a TSV path,
    ``demo:numbers-en-fr`` or a loaded :class:`~playground.text.pairs.PairData`) into a new
    translate run; see the module docstring. ``init_from`` (``RUN_DIR[:best|:last]``) starts
    from another translate run's weights and tokenizers (fine-tuning on new pairs),
    ``freeze`` keeps the reused layers fixed; ``resume`` continues a run folder."""
    check_config(cfg)

    def job(ctx: JobContext) -> dict[str, Any]:
        return train_translation(ctx, cfg, pairs, name=name, home=home, init_from=init_from,
                                 freeze=freeze, resume=resume, max_steps=max_steps)

    return job


def make_resume_job(run_dir: str | Path, *, epochs: int | None = None,
                    home: str | Path | None = None, max_steps: int | None = None):
    """Continue the translate run in ``run_dir`` from its last checkpoint, on the same pairs
    with its own tokenizers; ``epochs`` sets a new total so a finished run can train
    further."""
    from playground.core.engine import resume_settings

    cfg, pairs = resume_settings(run_dir, TASK, TranslateConfig, epochs=epochs)
    return make_train_job(cfg, pairs, home=home, resume=run_dir, max_steps=max_steps)


def make_preview_job(pairs: Any, cfg: TranslateConfig | None = None, examples: int = 5):
    """``job(ctx) -> {"stats": PairStats, "split": {"train", "val", "test"}, "warnings"}``:
    what the form shows about a pairs file before training (counts, length histograms,
    random examples); raises DatasetError like training would."""
    cfg = cfg or TranslateConfig()

    def job(ctx: JobContext) -> dict[str, Any]:
        data = read_pairs(cfg, pairs)
        for warning in data.warnings:
            ctx.emit(ev.Log(warning, level="warning"))
        split = data.split(cfg.val_fraction, cfg.test_fraction, cfg.seed)
        return {"stats": data.stats(cfg.seed, examples), "split": split.sizes(),
                "warnings": list(data.warnings)}

    return job

