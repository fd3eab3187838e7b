"""Speech training jobs: keyword recognition and CTC speech-to-text.

Schemas (one schema, three faces: the Speech tab's form, ``playground train speech`` flags,
run.json):

- :class:`KeywordTrainConfig` (a :class:`~playground.core.trainer.ClassifierTrainConfig`):
  ``model`` (kw_cnn / kw_gru), ``features`` (auto / logmel / mfcc), ``sample_rate``,
  ``clip_seconds``, ``n_mels``, ``n_mfcc``, ``width``, ``layers``, ``rnn_cell``, ``dropout``,
  augmentation toggles (``spec_augment``, ``freq_mask``, ``time_mask``, ``gain_db``,
  ``time_shift``, ``noise``, ``noise_snr_db``).
- :class:`CTCTrainConfig`: the training options (epochs, batch size, optimizer, learning rate,
  schedule, warm-up, clipping, validation split, seed) plus ``model`` (ctc_rnn /
  ctc_conformer), the feature and size options above, ``lowercase``, ``max_clip_seconds`` and
  ``demo_clips`` (how many digit sequences ``demo:digits`` synthesises).

Jobs (plain ``job(ctx) -> dict``; see ``playground.core.jobs``):

- :func:`make_keyword_job` ``(cfg, data_spec, *, name=None, home=None, max_steps=None,
  label_pattern=DEFAULT_LABEL_PATTERN)``. ``data_spec`` is a folder or ``demo:digits``.
  Events: Progress (scan, synthesis, decoding), Log (dataset summary, unreadable files),
  RunStarted, ModelSummary, then ``core.trainer.train_classifier``'s Metric (loss/accuracy per
  step and epoch), ConfusionMatrix, ClassReport and CheckpointSaved. The run (task "speech")
  has ``"speech_task": "keywords"`` in run.json and the label list in labels.json. Returns the
  classifier result (run_dir, val_accuracy, best_val_accuracy, per_class, confusion, ...).
- :func:`make_ctc_job` ``(cfg, data_spec, *, name=None, home=None, max_steps=None,
  val_data=None)``. ``val_data`` is an optional second folder used as the validation set
  (otherwise ``val_fraction`` of the data). Events: as above, then per step Metric
  ``loss``/``lr``/``samples_per_s``; per epoch Metric ``loss`` (train, val), ``wer`` and
  ``cer`` (split "val", axis "epoch"), SampleText (reference vs. greedy hypothesis), one
  Alignment (posteriorgram of the same validation clip each epoch), CheckpointSaved (``best``
  by lowest CER). run.json has ``"speech_task": "ctc"``; labels.json holds the vocabulary
  (``{"speech_task": "ctc", "vocab": [blank, chars...], "blank": 0}``). Returns run_dir,
  best_cer, best_wer, best_epoch, val_cer, val_wer, train_loss, steps, epochs_done, samples.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from playground.core import events as ev
from playground.core import schema
from playground.core.engine import TrainTask
from playground.core.errors import ConfigError, DatasetError
from playground.core.jobs import JobContext
from playground.core.optim import OPTIMIZERS, SCHEDULES
from playground.core.schema import option
from playground.core.trainer import ClassifierTrainConfig
from playground.speech.datasets import DEFAULT_LABEL_PATTERN
from playground.speech.models import REGISTRY, ctc_model_names, keyword_model_names

DEMO_SPEC = "demo:digits"
RNN_CELLS = ("gru", "lstm")


@dataclass
class KeywordTrainConfig(ClassifierTrainConfig):
    """Classification options plus the model, features and augmentation of keyword spotting."""

    epochs: int = option(8, label="Epochs", min=1, max=10000, group="Training",
                         help="Passes over the training set.")
    batch_size: int = option(64, label="Batch size", min=1, max=4096, group="Training")
    model: str = option("kw_cnn", label="Model", choices=keyword_model_names, group="Model",
                        help="kw_cnn: a CNN over the log-mel spectrogram; kw_gru: a recurrent "
                             "network over MFCC frames.")
    features: str = option("auto", label="Features", choices=("auto", "logmel", "mfcc"),
                           group="Features", help="auto: log-mel for the CNN, MFCC for the GRU.")
    sample_rate: int = option(16000, label="Sample rate (Hz)", min=8000, max=48000, step=8000,
                              group="Features", advanced=True,
                              help="Clips are resampled to this rate.")
    clip_seconds: float = option(1.0, label="Clip length (s)", min=0.25, max=10.0, step=0.25,
                                 group="Features", help="Clips are padded or cut (keeping the "
                                 "loudest part) to this length.")
    n_mels: int = option(40, label="Mel bands", min=16, max=128, group="Features")
    n_mfcc: int = option(20, label="MFCC coefficients", min=8, max=64, group="Features",
                         advanced=True, help="Used when the features are MFCC.")
    width: int = option(0, label="Width", min=0, max=1024, group="Model",
                        help="Channels of the first CNN block / RNN hidden size; 0 = the "
                             "model's default.")
    layers: int = option(0, label="Layers", min=0, max=12, group="Model",
                         help="CNN blocks / RNN layers; 0 = the model's default.")
    rnn_cell: str = option("gru", label="RNN cell", choices=RNN_CELLS, group="Model",
                           help="For the recurrent model: GRU or LSTM.")
    dropout: float = option(0.1, label="Dropout", min=0.0, max=0.9, step=0.05,
                            group="Regularisation")
    spec_augment: bool = option(True, label="SpecAugment", group="Augmentation",
                                help="Mask random frequency bands and time spans in training.")
    freq_mask: int = option(6, label="Frequency mask (bands)", min=0, max=64,
                            group="Augmentation", advanced=True)
    time_mask: int = option(10, label="Time mask (frames)", min=0, max=200,
                            group="Augmentation", advanced=True)
    freq_shift: int = option(2, label="Band shift (± bands)", min=0, max=16,
                             group="Augmentation", advanced=True,
                             help="With SpecAugment: shift the mel bands of each training clip "
                                  "up or down by up to this many, as a higher or lower voice "
                                  "would.")
    gain_db: float = option(6.0, label="Random gain (± dB)", min=0.0, max=30.0, step=1.0,
                            group="Augmentation")
    time_shift: float = option(0.1, label="Time shift (± s)", min=0.0, max=1.0, step=0.05,
                               group="Augmentation")
    noise: bool = option(True, label="Background noise", group="Augmentation",
                         help="Add generated white/pink/brown noise to half the clips.")
    speed_perturb: float = option(0.1, label="Speed / pitch (± share)", min=0.0, max=0.3,
                                  step=0.05, group="Augmentation",
                                  help="Play each training clip up to this share faster or "
                                       "slower (tempo and pitch), as other speakers would.")
    noise_snr_db: float = option(10.0, label="Noise SNR from (dB)", min=-5.0, max=60.0,
                                 step=5.0, group="Augmentation", advanced=True,
                                 help="Noise is added at a signal-to-noise ratio between this "
                                      "and 20 dB more.")


@dataclass
class CTCTrainConfig:
    """Options of a CTC speech-to-text run."""

    model: str = option("ctc_rnn", label="Model", choices=ctc_model_names, group="Model",
                        help="ctc_rnn: conv front end + bidirectional GRU/LSTM; ctc_conformer: "
                             "conv subsampling + Conformer blocks.")
    epochs: int = option(30, label="Epochs", min=1, max=10000, group="Training")
    batch_size: int = option(16, label="Batch size", min=1, max=1024, group="Training")
    optimizer: str = option("adamw", label="Optimizer", choices=OPTIMIZERS, group="Training")
    learning_rate: float = option(2e-3, label="Learning rate", min=1e-7, max=10.0, log=True,
                                  group="Training")
    schedule: str = option("cosine", label="LR schedule", choices=SCHEDULES, group="Training")
    warmup_fraction: float = option(0.05, label="Warm-up share", min=0.0, max=0.5, step=0.01,
                                    group="Training", advanced=True,
                                    help="Share of the steps spent ramping the learning rate "
                                         "up (constant, step and cosine schedules).")
    weight_decay: float = option(1e-4, label="Weight decay", min=0.0, max=1.0, step=1e-4,
                                 group="Regularisation")
    grad_clip: float = option(5.0, label="Gradient clip", min=0.0, max=100.0, step=0.5,
                              group="Training", advanced=True, help="Max gradient norm; 0 = off.")
    momentum: float = option(0.9, label="Momentum", min=0.0, max=0.999, step=0.05,
                             group="Training", advanced=True, help="For SGD and RMSprop.")
    val_fraction: float = option(0.1, label="Validation split", min=0.0, max=0.9, step=0.05,
                                 group="Data")
    seed: int = option(0, label="Seed", min=0, max=2**31 - 1, group="Data")
    mixed_precision: bool = option(True, label="Mixed precision on CUDA", group="Training",
                                   advanced=True)
    sample_rate: int = option(16000, label="Sample rate (Hz)", min=8000, max=48000, step=8000,
                              group="Features", advanced=True)
    n_mels: int = option(40, label="Mel bands", min=16, max=128, group="Features")
    width: int = option(0, label="Width", min=0, max=1024, group="Model",
                        help="RNN hidden size / Conformer width; 0 = the model's default.")
    layers: int = option(0, label="Layers", min=0, max=24, group="Model",
                         help="RNN / Conformer layers; 0 = the model's default.")
    rnn_cell: str = option("lstm", label="RNN cell", choices=RNN_CELLS, group="Model",
                           help="For ctc_rnn. On a CPU PyTorch's fused LSTM kernel is several "
                                "times faster than its GRU.")
    dropout: float = option(0.1, label="Dropout", min=0.0, max=0.9, step=0.05,
                            group="Regularisation")
    spec_augment: bool = option(True, label="SpecAugment", group="Augmentation")
    freq_mask: int = option(6, label="Frequency mask (bands)", min=0, max=64,
                            group="Augmentation", advanced=True)
    time_mask: int = option(15, label="Time mask (frames)", min=0, max=200,
                            group="Augmentation", advanced=True)
    gain_db: float = option(6.0, label="Random gain (± dB)", min=0.0, max=30.0, step=1.0,
                            group="Augmentation")
    noise: bool = option(True, label="Background noise", group="Augmentation")
    noise_snr_db: float = option(15.0, label="Noise SNR from (dB)", min=-5.0, max=60.0,
                                 step=5.0, group="Augmentation", advanced=True)
    lowercase: bool = option(True, label="Lower-case transcripts", group="Data",
                             help="Fold upper and lower case into one character set.")
    max_clip_seconds: float = option(20.0, label="Longest clip (s)", min=1.0, max=600.0,
                                     group="Data", advanced=True,
                                     help="Longer clips are left out of training.")
    demo_clips: int = option(1200, label="Demo sequences", min=20, max=20000, group="Data",
                             help="How many spoken digit sequences demo:digits synthesises.")
    beam_width: int = option(8, label="Beam width", min=1, max=128, group="Decoding",
                             help="Beam search width when transcribing with the run "
                                  "(validation uses greedy decoding); 1 = greedy.")


# ------------------------------------------------------------------------------------------
# Datasets in memory
# ------------------------------------------------------------------------------------------
def _wave_augment(cfg: Any):
    from playground.speech.augment import WaveAugment

    shift = float(getattr(cfg, "time_shift", 0.0))
    return WaveAugment(gain_db=float(cfg.gain_db), shift_seconds=shift,
                       noise_prob=0.5 if cfg.noise else 0.0,
                       snr_db=(float(cfg.noise_snr_db), float(cfg.noise_snr_db) + 20.0),
                       sample_rate=int(cfg.sample_rate),
                       speed=float(getattr(cfg, "speed_perturb", 0.0)))


class ClipSet:
    """Fixed-length clips ``(N, L)`` with labels; waveform augmentation in training."""

    def __init__(self, waves: np.ndarray, labels: np.ndarray, augment=None, seed: int = 0):
        self.waves = waves
        self.labels = labels
        self.augment = augment
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.labels)

    def state_dict(self) -> dict[str, Any]:  # the augmentation RNG, for exact resume
        from playground.core.engine import generator_state

        return {"rng": generator_state(self.rng)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        from playground.core.engine import set_generator_state

        set_generator_state(self.rng, state["rng"])

    def __getitem__(self, i: int):
        import torch

        x = self.waves[i]
        if self.augment is not None:
            x = self.augment(x, self.rng)
        return torch.from_numpy(np.ascontiguousarray(x)), int(self.labels[i])


class TranscriptClips:
    """Variable-length clips (int16 in memory) with target ids; see :func:`collate_ctc`."""

    def __init__(self, waves: list[np.ndarray], targets: list[list[int]], texts: list[str],
                 augment=None, seed: int = 0):
        self.waves = waves
        self.targets = targets
        self.texts = texts
        self.augment = augment
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.waves)

    state_dict = ClipSet.state_dict
    load_state_dict = ClipSet.load_state_dict

    def __getitem__(self, i: int):
        import torch

        x = self.waves[i].astype(np.float32) / 32767.0
        if self.augment is not None:
            x = self.augment(x, self.rng)
        return torch.from_numpy(x), torch.tensor(self.targets[i], dtype=torch.long), i


class LengthBuckets:
    """A batch sampler that groups clips of similar length (little padding per batch).

    Each epoch: shuffle, cut into pools of 50 batches, sort each pool by length, split it into
    batches, shuffle the batches. The order of epoch ``e`` depends only on (seed, e), and
    :meth:`set_epoch` can skip the first batches (resume). ``shuffle=False`` gives
    length-sorted batches (validation).
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, *, shuffle: bool = True,
                 seed: int = 0) -> None:
        from playground.core import distributed

        # Under torchrun the training batches are global: each process takes its share.
        self.world = distributed.current() if shuffle else distributed.World()
        distributed.check_batch(int(batch_size), self.world)
        self.lengths = np.asarray(lengths)
        self.batch_size = max(1, int(batch_size))
        self.shuffle = shuffle
        self.seed = int(seed)
        self.epoch, self.start = 1, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def __iter__(self):
        from playground.core.distributed import take_share

        n, b = len(self.lengths), self.batch_size
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            yield from (order[i:i + b].tolist() for i in range(0, n, b))
            return
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(n)
        batches = []
        for start in range(0, n, 50 * b):
            pool = order[start:start + 50 * b]
            pool = pool[np.argsort(self.lengths[pool], kind="stable")]
            batches += [pool[i:i + b].tolist() for i in range(0, len(pool), b)]
        if len(batches) > 1 and len(batches[-1]) == 1:
            batches[-2] += batches.pop()  # a batch of one breaks batch norm
        if batches and len(batches[-1]) < b and not self._keeps_partial(len(batches[-1])):
            batches.pop()
        for k in rng.permutation(len(batches))[self.start:]:
            yield take_share(batches[k], self.world)

    def _keeps_partial(self, rest: int) -> bool:
        from playground.core.distributed import keeps_partial

        return keeps_partial(rest, self.world)

    def __len__(self) -> int:
        n, b = len(self.lengths), self.batch_size
        full, rest = divmod(n, b)
        partial = rest > 1 or (rest == 1 and full == 0)
        return full + (1 if partial and self._keeps_partial(rest) else 0)


def ctc_loader(dataset: TranscriptClips, batch_size: int, *, shuffle: bool, device=None,
               seed: int = 0):
    """A DataLoader with length-bucketed batches and :func:`collate_ctc` (no worker
    processes: the clips are already in memory)."""
    import torch
    from torch.utils.data import DataLoader

    lengths = [len(w) for w in dataset.waves]
    generator = torch.Generator()  # iterator seeds come from here, not torch's global RNG
    generator.manual_seed(seed)
    return DataLoader(dataset, batch_sampler=LengthBuckets(lengths, batch_size, shuffle=shuffle,
                                                           seed=seed),
                      collate_fn=collate_ctc, generator=generator,
                      pin_memory=getattr(device, "type", "") == "cuda")


def collate_ctc(batch):
    """Pad a batch: ``(waves (B, S), wave_lengths, targets (sum L), target_lengths, indices)``."""
    import torch

    waves, targets, idx = zip(*batch, strict=True)
    lengths = torch.tensor([len(w) for w in waves], dtype=torch.long)
    padded = torch.zeros(len(waves), int(lengths.max()))
    for k, w in enumerate(waves):
        padded[k, :len(w)] = w
    target_lengths = torch.tensor([len(t) for t in targets], dtype=torch.long)
    return padded, lengths, torch.cat(targets), target_lengths, torch.tensor(idx)


# ------------------------------------------------------------------------------------------
# Keyword job
# ------------------------------------------------------------------------------------------
def _default_name(model: str, data: str) -> str:
    source = data[5:] if data.startswith("demo:") else (Path(data).expanduser().name or "data")
    return f"{model}-{source}"


def resolve_keyword_data(data_spec: str, *, home: str | os.PathLike | None = None,
                         ctx: JobContext | None = None,
                         label_pattern: str = DEFAULT_LABEL_PATTERN):
    """Scan ``data_spec`` (a folder or ``demo:digits``) into a KeywordDataset."""
    from playground.speech.datasets import scan_keyword_folder
    from playground.speech.synth import demo_keyword_folder

    if data_spec.startswith("demo:"):
        if data_spec != DEMO_SPEC:
            raise ConfigError(f"Unknown demo {data_spec!r}: the speech demo is {DEMO_SPEC}.")
        return scan_keyword_folder(demo_keyword_folder(home, ctx), ctx=ctx)
    return scan_keyword_folder(data_spec, label_pattern, ctx=ctx)


def _count_parameters(model) -> tuple[int, int]:
    params = list(model.parameters())
    return (sum(p.numel() for p in params),
            sum(p.numel() for p in params if p.requires_grad))


def _warn_failures(ctx: JobContext, failures: Sequence[tuple[Path, str]], what: str) -> None:
    if failures:
        shown = "; ".join(f"{Path(p).name} ({r})" for p, r in failures[:5])
        more = f"; and {len(failures) - 5} more" if len(failures) > 5 else ""
        ctx.emit(ev.Log(f"skipped {len(failures)} unreadable {what}: {shown}{more}",
                        level="warning"))


def make_keyword_job(cfg: KeywordTrainConfig, data_spec: str, *, name: str | None = None,
                     home: str | os.PathLike | None = None, max_steps: int | None = None,
                     label_pattern: str = DEFAULT_LABEL_PATTERN, init_from: str | None = None,
                     freeze: bool = False, resume: str | os.PathLike | None = None
                     ) -> Callable[[JobContext], dict[str, Any]]:
    """A job that trains a keyword recognizer on ``data_spec``; see the module docstring.

    ``init_from`` (``RUN_DIR[:best|:last]``) starts from another keyword run's weights (a new
    output layer when the labels differ; ``freeze`` freezes what was reused); ``resume``
    continues that run folder (see :func:`make_resume_job`).
    """
    from playground.core.engine import open_parent

    open_parent(init_from if not resume else None, "speech")  # a parent's Builder graph
    cfg = schema.validate(cfg)
    if REGISTRY.get(cfg.model).extra.get("task") != "keywords":
        raise ConfigError(f"{cfg.model!r} is not a keyword model; choose one of "
                          f"{', '.join(keyword_model_names())}.")
    from playground.speech.datasets import compile_label_pattern

    compile_label_pattern(label_pattern)

    def job(ctx: JobContext) -> dict[str, Any]:
        from playground.core.classify import train_classification
        from playground.core.data import seed_everything, split_indices
        from playground.core.engine import begin_run, epoch_loader
        from playground.core.engine import init_from as load_parent
        from playground.speech.datasets import check_keyword_dataset, load_clips
        from playground.speech.models import build_keyword_model, feature_kind

        seed_everything(cfg.seed)
        ctx.emit(ev.Log(f"loading {data_spec}"))
        data = resolve_keyword_data(data_spec, home=home, ctx=ctx, label_pattern=label_pattern)
        ctx.emit(ev.Log(data.summary_text()))
        sr, seconds = int(cfg.sample_rate), float(cfg.clip_seconds)
        waves, labels, failures = load_clips(data.items, sr, seconds, ctx=ctx)
        if data.has_own_val:
            val_waves, val_labels, val_fail = load_clips(data.val_items, sr, seconds, ctx=ctx,
                                                         what="validation clips")
            failures += val_fail
        if failures:
            data.drop(failures)
            _warn_failures(ctx, failures, "clips")
            check_keyword_dataset(data)
        if data.has_own_val:
            train_set = (waves, labels)
            val_set = (val_waves, val_labels)
            split = f"own validation folder ({len(val_labels)} clips)"
        else:
            tr, va = split_indices(len(labels), cfg.val_fraction, cfg.seed, labels)
            train_set = (waves[tr], labels[tr])
            val_set = (waves[va], labels[va])
            split = f"{cfg.val_fraction:.0%} of each label held out ({len(va)} clips)"
        ctx.check_cancelled()
        classes = data.labels
        model = build_keyword_model(cfg, len(classes))
        parent = None
        if init_from and not resume:
            parent = load_parent(model, init_from, freeze=freeze, task="speech")
        total, trainable = _count_parameters(model)
        entry = REGISTRY.get(cfg.model)
        kind = feature_kind(cfg)
        run = begin_run("speech", ctx=ctx, resume=resume, home=home,
                        name=name or _default_name(cfg.model, data_spec), model=cfg.model,
                        config=schema.to_dict(cfg), data_spec=data_spec,
                        dataset=data.describe(), parent=parent, same={"labels": classes},
                        extra={"speech_task": "keywords", "labels": classes,
                               "model_title": entry.title, "features": kind,
                               "parameters": total, "trainable": trainable,
                               "label_pattern": label_pattern})
        ctx.emit(ev.RunStarted(str(run.path), "speech", run.name))
        if parent is not None:
            ctx.emit(ev.Log(parent.summary()))
        ctx.emit(ev.ModelSummary(entry.title, total, trainable,
                                 f"{len(classes)} labels, {kind} features, {seconds:g} s clips "
                                 f"at {sr} Hz"))
        ctx.emit(ev.Log("clips per label: " + ", ".join(f"{k} {v}"
                                                        for k, v in data.counts().items())
                        + f"; {split}"))
        if not resume:
            run.save_labels(classes)
        augment = (_wave_augment(cfg) if (cfg.gain_db or cfg.time_shift or cfg.noise
                                            or cfg.speed_perturb) else None)
        train_ds = ClipSet(*train_set, augment=augment, seed=cfg.seed)
        val_ds = ClipSet(*val_set)
        batch = cfg.batch_size
        device = ctx.device
        train_loader = epoch_loader(train_ds, batch, device=device, seed=cfg.seed,
                                    drop_last=len(train_ds) % batch == 1)
        val_loader = (epoch_loader(val_ds, max(batch, 128), shuffle=False, device=device,
                                   seed=cfg.seed) if len(val_ds) else None)
        result = train_classification(ctx, run, model, train_loader, val_loader, classes, cfg,
                                      max_steps=max_steps, resume=bool(resume),
                                      extra_state=train_ds)
        result.update(model=cfg.model, parameters=total, trainable=trainable,
                      train_clips=len(train_ds), val_clips=len(val_ds),
                      speech_task="keywords")
        return result

    return job


# ------------------------------------------------------------------------------------------
# CTC job
# ------------------------------------------------------------------------------------------
def resolve_transcript_data(data_spec: str, cfg: CTCTrainConfig, *,
                            home: str | os.PathLike | None = None,
                            ctx: JobContext | None = None):
    """Scan ``data_spec`` (a folder or ``demo:digits``) into a TranscriptDataset."""
    from playground.speech.datasets import scan_transcript_folder
    from playground.speech.synth import demo_sequence_folder

    if data_spec.startswith("demo:"):
        if data_spec != DEMO_SPEC:
            raise ConfigError(f"Unknown demo {data_spec!r}: the speech demo is {DEMO_SPEC}.")
        folder = demo_sequence_folder(home, ctx, count=int(cfg.demo_clips))
    else:
        folder = data_spec
    return scan_transcript_folder(folder, lowercase=cfg.lowercase, ctx=ctx)


def _load_transcribed(data, cfg: CTCTrainConfig, ctx: JobContext, vocab, what: str):
    """Decode every clip to int16 in memory; drop unreadable, too long and empty-target clips."""
    from playground.core.errors import AudioDecodeError
    from playground.speech.audio import load_audio

    sr = int(cfg.sample_rate)
    waves, targets, texts, failures, too_long = [], [], [], [], 0
    for n, (path, text) in enumerate(data.items):
        ctx.check_cancelled()
        if n % 50 == 0 or n == len(data.items) - 1:
            ctx.emit(ev.Progress(n + 1, len(data.items), f"loading {what}", unit="file"))
        if data.durations[n] > cfg.max_clip_seconds:
            too_long += 1
            continue
        try:
            samples, _ = load_audio(path, sr)
        except AudioDecodeError as exc:
            failures.append((path, str(exc).split(": ", 1)[-1][:80]))
            continue
        ids = vocab.encode(text)
        if not ids:
            continue
        waves.append((np.clip(samples, -1, 1) * 32767).astype(np.int16))
        targets.append(ids)
        texts.append(text)
    if too_long:
        ctx.emit(ev.Log(f"left out {too_long} {what} longer than {cfg.max_clip_seconds:g} s "
                        "(raise 'Longest clip' to keep them)", level="warning"))
    _warn_failures(ctx, failures, what)
    return waves, targets, texts, failures


def make_ctc_job(cfg: CTCTrainConfig, data_spec: str, *, name: str | None = None,
                 home: str | os.PathLike | None = None, max_steps: int | None = None,
                 val_data: str | None = None, init_from: str | None = None,
                 freeze: bool = False, resume: str | os.PathLike | None = None
                 ) -> Callable[[JobContext], dict[str, Any]]:
    """A job that trains a CTC speech-to-text model; see the module docstring.

    ``init_from`` starts from another CTC run's weights (a new output layer when the
    alphabet differs); ``resume`` continues that run folder (see :func:`make_resume_job`).
    """
    cfg = schema.validate(cfg)
    if REGISTRY.get(cfg.model).extra.get("task") != "ctc":
        raise ConfigError(f"{cfg.model!r} is not a speech-to-text model; choose one of "
                          f"{', '.join(ctc_model_names())}.")

    def job(ctx: JobContext) -> dict[str, Any]:
        from playground.core.data import seed_everything, split_indices
        from playground.core.engine import begin_run
        from playground.core.engine import init_from as load_parent
        from playground.speech.datasets import CharVocab
        from playground.speech.models import build_ctc_model

        seed_everything(cfg.seed)
        ctx.emit(ev.Log(f"loading {data_spec}"))
        data = resolve_transcript_data(data_spec, cfg, home=home, ctx=ctx)
        val = resolve_transcript_data(val_data, cfg, home=home, ctx=ctx) if val_data else None
        for warning in data.warnings + (val.warnings if val else []):
            ctx.emit(ev.Log(warning, level="warning"))
        ctx.emit(ev.Log(data.summary_text()))
        texts = [t for _, t in data.items] + ([t for _, t in val.items] if val else [])
        vocab = CharVocab.from_texts(texts)
        if resume:  # the run's alphabet, so the output layer keeps its meaning
            from playground.core.runs import open_run

            saved = open_run(resume, "speech").info().get("vocab")
            if isinstance(saved, list) and set(vocab.symbols) <= set(saved):
                vocab = CharVocab(list(saved))
        waves, targets, texts, failures = _load_transcribed(data, cfg, ctx, vocab, "clips")
        if val is not None:
            v_waves, v_targets, v_texts, v_fail = _load_transcribed(val, cfg, ctx, vocab,
                                                                    "validation clips")
            failures += v_fail
            train_idx, val_idx = list(range(len(waves))), []
        else:
            train_idx, val_idx = split_indices(len(waves), cfg.val_fraction, cfg.seed)
            v_waves = [waves[i] for i in val_idx]
            v_targets = [targets[i] for i in val_idx]
            v_texts = [texts[i] for i in val_idx]
        if not train_idx:
            raise DatasetError("No clip could be used for training: "
                               + (f"{len(failures)} failed to load." if failures
                                  else "check the transcripts."))
        train_ds = TranscriptClips([waves[i] for i in train_idx],
                                   [targets[i] for i in train_idx],
                                   [texts[i] for i in train_idx],
                                   augment=_wave_augment(cfg) if (cfg.gain_db or cfg.noise)
                                   else None, seed=cfg.seed)
        val_ds = TranscriptClips(v_waves, v_targets, v_texts)
        ctx.check_cancelled()

        model = build_ctc_model(cfg, len(vocab))
        parent = None
        if init_from and not resume:
            parent = load_parent(model, init_from, freeze=freeze, task="speech")
        total_params, trainable = _count_parameters(model)
        entry = REGISTRY.get(cfg.model)
        description = data.describe()
        if val is not None:
            description["validation"] = val.describe()
        run = begin_run("speech", ctx=ctx, resume=resume, home=home,
                        name=name or _default_name(cfg.model, data_spec), model=cfg.model,
                        config=schema.to_dict(cfg), data_spec=data_spec, dataset=description,
                        parent=parent, same={"vocab": vocab.symbols},
                        extra={"speech_task": "ctc", "model_title": entry.title,
                               "vocab": vocab.symbols, "parameters": total_params,
                               "trainable": trainable, "frame_seconds": model.frame_seconds,
                               "val_data": val_data})
        ctx.emit(ev.RunStarted(str(run.path), "speech", run.name))
        if parent is not None:
            ctx.emit(ev.Log(parent.summary()))
        ctx.emit(ev.ModelSummary(entry.title, total_params, trainable,
                                 f"CTC over {len(vocab) - 1} characters + blank, "
                                 f"{model.frame_seconds * 1000:.0f} ms frames"))
        ctx.emit(ev.Log(f"{len(train_ds)} training clips, {len(val_ds)} validation clips"))
        run.save_labels(vocab.to_json())
        return _ctc_loop(ctx, run, model, vocab, cfg, train_ds, val_ds, max_steps,
                         resume=bool(resume))

    return job


class CTCTask(TrainTask):
    """CTC speech-to-text for the one loop: the best checkpoint has the lowest validation CER
    (the training loss when there is no validation set)."""

    primary = "val_cer"
    higher_is_better = False

    def __init__(self, ctx: JobContext, model, vocab, cfg: CTCTrainConfig, train_ds,
                 val_ds) -> None:
        import torch

        self.ctx, self.model, self.vocab, self.cfg = ctx, model, vocab, cfg
        self.device = ctx.device
        batch = cfg.batch_size
        self.train_ds, self.val_ds = train_ds, val_ds
        self.train_loader = ctc_loader(train_ds, batch, shuffle=True, device=self.device,
                                       seed=cfg.seed)
        self.val_loader = (ctc_loader(val_ds, max(batch, 32), shuffle=False, device=self.device)
                           if len(val_ds) else None)
        if self.val_loader is None:
            self.primary = "train_loss"
        self._loss_sum = torch.zeros((), device=self.device)
        self._seen = 0

    def build_optimizer(self, total_steps: int):
        from playground.core.optim import make_optimizer, make_scheduler

        c = self.cfg
        optimizer = make_optimizer(c.optimizer, self.model, c.learning_rate, c.weight_decay,
                                   c.momentum)
        return optimizer, make_scheduler(c.schedule, optimizer, total_steps,
                                         warmup_steps=int(c.warmup_fraction * total_steps))

    @staticmethod
    def ctc_loss(log_probs, out_lengths, targets, target_lengths):
        import torch.nn.functional as F

        return F.ctc_loss(log_probs.float().transpose(0, 1), targets, out_lengths,
                          target_lengths, blank=0, reduction="mean", zero_infinity=True)

    def batches(self, epoch: int, start: int):
        from playground.core.engine import loader_batches

        d = self.device
        for waves, lengths, targets, target_lengths, _ in loader_batches(self.train_loader,
                                                                         epoch, start):
            yield (waves.to(d, non_blocking=True), lengths.to(d), targets.to(d),
                   target_lengths.to(d))

    def loss(self, batch):
        waves, lengths, targets, target_lengths = batch
        log_probs, out_lengths = self.forward_model(waves, lengths)
        return self.ctc_loss(log_probs, out_lengths, targets, target_lengths), len(lengths)

    def after_step(self, batch, loss) -> None:
        n = len(batch[1])
        self._loss_sum += loss * n
        self._seen += n

    def epoch_metrics(self, epoch: int) -> dict[str, float]:
        import torch

        loss = float(self._loss_sum) / max(1, self._seen)
        self._loss_sum, self._seen = torch.zeros((), device=self.device), 0
        self.ctx.emit(ev.Metric("loss", loss, epoch, "train", "epoch"))
        return {"train_loss": loss}

    def evaluate(self, ctx: JobContext, step: int, epoch: int | None) -> dict[str, float]:
        if self.val_loader is None:
            return {}
        scores = evaluate_ctc(self.model, self.val_loader, self.vocab, self.device,
                              self.precision, ctx, self.ctc_loss)
        e = epoch or 0
        for key in ("loss", "wer", "cer"):
            ctx.emit(ev.Metric(key, scores[key], e, "val", "epoch"))
        ctx.emit(ev.SampleText(step, "\n".join(f"ref: {r}\nhyp: {h}"
                                                for r, h in scores["samples"])))
        ctx.emit(alignment_event(self.model, self.val_ds, 0, self.vocab, self.device))
        self.samples = scores["samples"]
        return {"val_loss": scores["loss"], "val_wer": scores["wer"], "val_cer": scores["cer"]}

    def describe_eval(self, metrics: dict[str, float], step: int, epoch: int | None) -> str:
        text = f"epoch {epoch}: train loss {metrics.get('train_loss', float('nan')):.4f}"
        if "val_cer" in metrics:
            text += (f", val loss {metrics['val_loss']:.4f} WER {metrics['val_wer']:.3f} "
                     f"CER {metrics['val_cer']:.3f}")
        return text

    def finish(self, result: dict[str, Any]) -> None:
        history = [h for h in result.get("evals", []) if "val_cer" in h]
        best = min(history, key=lambda h: h["val_cer"]) if history else None
        result.update(best_cer=best["val_cer"] if best else None,
                      best_wer=best["val_wer"] if best else None,
                      samples=getattr(self, "samples", []))
        if "val_cer" in result:
            result.update(val_cer=result["val_cer"], val_wer=result["val_wer"])

    def state_dict(self) -> dict[str, Any]:
        return {"data": self.train_ds.state_dict(), "loss_sum": self._loss_sum.detach().cpu(),
                "seen": self._seen}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "data" in state:
            self.train_ds.load_state_dict(state["data"])
            self._loss_sum = state["loss_sum"].to(self.device)
            self._seen = int(state["seen"])


def _ctc_loop(ctx: JobContext, run, model, vocab, cfg: CTCTrainConfig, train_ds, val_ds,
              max_steps: int | None, resume: bool = False) -> dict[str, Any]:
    from playground.core.engine import LoopConfig, fit

    model.to(ctx.device)
    task = CTCTask(ctx, model, vocab, cfg, train_ds, val_ds)
    steps_per_epoch = len(task.train_loader)
    total = cfg.epochs * steps_per_epoch
    if max_steps:
        total = min(total, max_steps)
    loop = LoopConfig(total_steps=total, steps_per_epoch=steps_per_epoch,
                      grad_clip=cfg.grad_clip, mixed_precision=cfg.mixed_precision,
                      epochs=cfg.epochs)
    result: dict[str, Any] = {"speech_task": "ctc", "model": cfg.model,
                              "train_clips": len(train_ds), "val_clips": len(val_ds),
                              "vocab": vocab.symbols}
    return fit(ctx, task, run, loop, resume=resume, result=result)


def make_resume_job(run_dir: str | os.PathLike, *, epochs: int | None = None,
                    home: str | os.PathLike | None = None, max_steps: int | None = None
                    ) -> Callable[[JobContext], dict[str, Any]]:
    """Continue the speech run in ``run_dir`` (keywords or CTC) from its last checkpoint;
    ``epochs`` sets a new total so a finished run can be trained further."""
    from playground.core.engine import resume_settings
    from playground.core.runs import open_run

    info = open_run(run_dir, "speech").info()
    if info.get("speech_task") == "ctc":
        cfg, data = resume_settings(run_dir, "speech", CTCTrainConfig, epochs=epochs)
        val = info.get("val_data")
        return make_ctc_job(cfg, data, home=home, max_steps=max_steps, resume=run_dir,
                            val_data=val if isinstance(val, str) else None)
    cfg, data = resume_settings(run_dir, "speech", KeywordTrainConfig, epochs=epochs)
    pattern = info.get("label_pattern")
    return make_keyword_job(cfg, data, home=home, max_steps=max_steps, resume=run_dir,
                            label_pattern=pattern if isinstance(pattern, str)
                            else DEFAULT_LABEL_PATTERN)


def evaluate_ctc(model, loader, vocab, device, precision=None, ctx: JobContext | None = None,
                 loss_fn=None, n_samples: int = 3) -> dict[str, Any]:
    """Mean CTC loss, greedy-decoded WER and CER over ``loader``, and a few (ref, hyp) pairs."""
    import torch

    from playground.speech.decode import greedy_decode_batch
    from playground.speech.metrics import cer, wer

    model.eval()
    refs, hyps, losses, n = [], [], 0.0, 0
    with torch.no_grad():
        for waves, lengths, targets, target_lengths, idx in loader:
            if ctx is not None:
                ctx.check_cancelled()
            waves, lengths = waves.to(device), lengths.to(device)
            if precision is not None:
                with precision.autocast():
                    log_probs, out_lengths = model(waves, lengths)
            else:
                log_probs, out_lengths = model(waves, lengths)
            if loss_fn is not None:
                losses += float(loss_fn(log_probs, out_lengths, targets.to(device),
                                        target_lengths.to(device))) * len(lengths)
            n += len(lengths)
            for ids, i in zip(greedy_decode_batch(log_probs.float(), out_lengths),
                              idx.tolist(), strict=True):
                hyps.append(vocab.decode(ids))
                refs.append(loader.dataset.texts[i])
    return {"loss": losses / max(1, n), "wer": wer(refs, hyps) if refs else float("nan"),
            "cer": cer(refs, hyps) if refs else float("nan"),
            "samples": list(zip(refs[:n_samples], hyps[:n_samples], strict=True))}


def alignment_event(model, dataset: TranscriptClips, index: int, vocab, device
                    ) -> ev.Alignment:
    """The posteriorgram of one clip and where greedy CTC emits each character."""
    import torch

    from playground.speech.decode import emissions

    wave, _, _ = dataset[index]
    model.eval()
    with torch.no_grad():
        log_probs, out_lengths = model(wave[None].to(device))
    n = int(out_lengths[0])
    post = log_probs[0, :n].float().exp().cpu().numpy().astype(np.float32)
    return ev.Alignment(post.copy(), tuple(vocab.symbols),
                        tuple(emissions(post, vocab.symbols)), float(model.frame_seconds))
