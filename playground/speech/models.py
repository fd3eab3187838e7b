"""The speech model registry: what the Speech tab's model menu and the CLI offer.

``REGISTRY = Registry("speech")`` holds four entries; ``entry.extra`` says which task the
model is for (``"task": "keywords" | "ctc"``), its natural features (``"features"``), its
size defaults (``"defaults": {"width": …, "layers": …}``) and which size options it reads
(``"uses"``). Architectures live in :mod:`playground.speech.nets` (imported on first build,
so listing models never imports torch). Factories follow the registry convention
``factory(spec: ModelSpec) -> nn.Module``: ``spec.num_outputs`` is the number of labels (or the
CTC vocabulary), ``spec.num_inputs`` the feature dimensions per frame, ``spec.config`` the
train config (``width`` / ``layers`` 0 mean the entry's ``extra["defaults"]``).

- ``kw_cnn``  — CNN over log-mel spectrograms (keywords).
- ``kw_gru``  — bidirectional GRU over MFCC frames (keywords; ``rnn_cell="lstm"`` for LSTM).
- ``ctc_rnn`` — conv front end + bidirectional LSTM/GRU, CTC (Deep Speech 2 in miniature).
- ``ctc_conformer`` — conv subsampling + ``torchaudio.models.Conformer``, CTC.

Builders (``cfg`` is a :class:`~playground.speech.train.KeywordTrainConfig` or
:class:`~playground.speech.train.CTCTrainConfig`, or anything with the same attributes):

- :func:`keyword_model_names` / :func:`ctc_model_names` ``() -> list[str]``.
- :func:`feature_config` ``(cfg) -> FeatureConfig``; :func:`feature_kind` ``(cfg) -> str``.
- :func:`build_keyword_model` ``(cfg, num_classes) -> nets.KeywordModel`` (waveform in).
- :func:`build_ctc_model` ``(cfg, vocab_size) -> nets.CTCModel`` (waveform + lengths in).
"""

from __future__ import annotations

from typing import Any

from playground.core.errors import ConfigError
from playground.core.registry import ModelEntry, ModelSpec, Registry

REGISTRY = Registry("speech")


# (width, layers) each model uses when the config says 0; also its entry's extra["defaults"]
DEFAULT_SIZES = {"kw_cnn": (32, 3), "kw_gru": (64, 2), "ctc_rnn": (128, 3),
                 "ctc_conformer": (96, 4)}


def _defaults(name: str) -> dict[str, int]:
    width, layers = DEFAULT_SIZES[name]
    return {"width": width, "layers": layers}


def _sizes(spec: ModelSpec, name: str) -> dict[str, Any]:
    """Width, layers (0 = model ``name``'s default) and dropout from ``spec.config``."""
    cfg = spec.config
    width, layers = DEFAULT_SIZES[name]
    return {"width": int(getattr(cfg, "width", 0)) or width,
            "layers": int(getattr(cfg, "layers", 0)) or layers,
            "dropout": float(getattr(cfg, "dropout", 0.1))}


def _kw_cnn(spec: ModelSpec):
    from playground.speech.nets import KeywordCNN

    return KeywordCNN(spec.num_outputs, spec.num_inputs, **_sizes(spec, "kw_cnn"))


def _kw_rnn(spec: ModelSpec):
    from playground.speech.nets import KeywordRNN

    return KeywordRNN(spec.num_outputs, spec.num_inputs, **_sizes(spec, "kw_gru"),
                      cell=getattr(spec.config, "rnn_cell", "gru"))


def _ctc_rnn(spec: ModelSpec):
    from playground.speech.nets import CTCRecurrent

    return CTCRecurrent(spec.num_outputs, spec.num_inputs, **_sizes(spec, "ctc_rnn"),
                        cell=getattr(spec.config, "rnn_cell", "lstm"))


def _ctc_conformer(spec: ModelSpec):
    from playground.speech.nets import CTCConformer

    return CTCConformer(spec.num_outputs, spec.num_inputs,
                        **_sizes(spec, "ctc_conformer"))


REGISTRY.register(ModelEntry(
    "kw_cnn", "CNN over log-mel", _kw_cnn, family="CNN",
    description="A temporal residual CNN (TC-ResNet): the log-mel bands are its input "
                "channels and convolutions slide along time. Fast and accurate for short "
                "commands.",
    extra={"task": "keywords", "features": "logmel", "defaults": _defaults("kw_cnn"),
           "uses": ("width", "layers", "dropout")}))
REGISTRY.register(ModelEntry(
    "kw_gru", "GRU over MFCC frames", _kw_rnn, family="RNN",
    description="A bidirectional GRU (or LSTM) reading MFCC frames in time order, pooled over "
                "time.",
    extra={"task": "keywords", "features": "mfcc", "defaults": _defaults("kw_gru"),
           "uses": ("width", "layers", "rnn_cell", "dropout")}))
REGISTRY.register(ModelEntry(
    "ctc_rnn", "Conv + BiLSTM/GRU (CTC)", _ctc_rnn, family="RNN",
    description="Deep Speech 2 in miniature: a convolutional front end then bidirectional "
                "LSTM (or GRU) layers, trained with CTC to output characters.",
    extra={"task": "ctc", "features": "logmel", "defaults": _defaults("ctc_rnn"),
           "uses": ("width", "layers", "rnn_cell", "dropout")}))
REGISTRY.register(ModelEntry(
    "ctc_conformer", "Conformer (CTC)", _ctc_conformer, family="Transformer",
    description="Convolutional subsampling then torchaudio's Conformer blocks (self-attention "
                "plus convolution), trained with CTC.",
    extra={"task": "ctc", "features": "logmel", "defaults": _defaults("ctc_conformer"),
           "uses": ("width", "layers", "dropout")}))


def keyword_model_names() -> list[str]:
    return [e.name for e in REGISTRY if e.extra.get("task") == "keywords"]


def ctc_model_names() -> list[str]:
    return [e.name for e in REGISTRY if e.extra.get("task") == "ctc"]


def _entry(name: str, task: str) -> ModelEntry:
    entry = REGISTRY.get(name)
    if entry.extra.get("task") != task:
        names = keyword_model_names() if task == "keywords" else ctc_model_names()
        raise ConfigError(f"Model {name!r} is a {entry.extra.get('task')} model; for "
                          f"{task} choose one of: {', '.join(names)}.")
    return entry


def feature_kind(cfg: Any) -> str:
    kind = getattr(cfg, "features", "auto")
    if kind in (None, "", "auto"):
        return REGISTRY.get(cfg.model).extra["features"]
    return kind


def feature_config(cfg: Any):
    from playground.speech.features import FeatureConfig

    sr = int(cfg.sample_rate)
    return FeatureConfig(sample_rate=sr, n_mels=int(cfg.n_mels), n_fft=int(round(0.025 * sr)),
                         hop_length=int(round(0.01 * sr)), n_mfcc=int(getattr(cfg, "n_mfcc", 20)))


def _augment(cfg: Any):
    if not getattr(cfg, "spec_augment", False):
        return None
    from playground.speech.augment import SpecAugment

    return SpecAugment(int(cfg.freq_mask), int(cfg.time_mask), int(getattr(cfg, "n_masks", 2)),
                       # shifting bands means a higher/lower voice on log-mel, nothing on MFCC
                       freq_shift=int(getattr(cfg, "freq_shift", 0))
                       if feature_kind(cfg) == "logmel" else 0)


def build_keyword_model(cfg: Any, num_classes: int):
    """Front end + SpecAugment + the registry's network: waveforms in, logits out."""
    from playground.speech.features import FrontEnd
    from playground.speech.nets import KeywordModel

    from playground.speech.features import num_frames

    entry = _entry(cfg.model, "keywords")
    kind = feature_kind(cfg)
    fc = feature_config(cfg)
    front = FrontEnd(fc, kind, normalize=True)
    frames = num_frames(int(round(float(getattr(cfg, "clip_seconds", 1.0)) * fc.sample_rate)),
                        fc.hop_length)
    net = entry.factory(ModelSpec(task="speech", num_outputs=int(num_classes),
                                  num_inputs=front.out_dims, input_size=frames, config=cfg))
    return KeywordModel(front, net, _augment(cfg))


def build_ctc_model(cfg: Any, vocab_size: int):
    """Front end + SpecAugment + the registry's CTC network: waveforms in, log-probs out."""
    from playground.speech.features import FrontEnd
    from playground.speech.nets import CTCModel

    entry = _entry(cfg.model, "ctc")
    front = FrontEnd(feature_config(cfg), "logmel", normalize=False)
    net = entry.factory(ModelSpec(task="speech", num_outputs=int(vocab_size),
                                  num_inputs=front.out_dims, config=cfg))
    return CTCModel(front, net, _augment(cfg), subsampling=2)
