"""Does a builder graph fit a tab's data? The checks behind "Train in …", and the few input
adapters that let a graph take what the tab feeds.

Each task's factory (:func:`playground.builder.registry.model_entry`) calls :func:`fit` with
the :class:`~playground.core.registry.ModelSpec` the task made from its data. :func:`fit`
returns the graph with its Input shape set to what the data gives, and the kind of module to
build; a misfit is a :class:`~playground.core.errors.ConfigError` in one sentence that names
the block and what to change.

- image: the tab feeds ``(B, 3, S, S)`` normalised colour images (``spec.num_inputs`` colour
  channels, ``spec.input_size`` the image side). A graph whose Input has 3 channels takes them
  as they are; one with 1 channel (LeNet-5, the MLP) gets their mean, i.e. the grey image
  (:class:`~playground.builder.build.ImageGraph`). The last block must give one score per
  class: ``(classes,)``.
- speech keywords: the tab feeds features ``(B, F, T)``: ``F = spec.num_inputs`` log-mel bands
  (or MFCC coefficients), ``T = spec.input_size`` frames of the clip. The Input is ``F,T``
  (Conv1d over the bands as channels, or a GRU after a Permute) or ``1,F,T`` (a Conv2d over the
  spectrogram as an image; a channel axis is added). Output ``(labels,)``.
- text: the tab feeds token ids ``(B, T)`` (``T`` up to ``spec.input_size`` = block_size) and
  wants next-token scores ``(B, T, V)`` with ``V = spec.num_outputs`` the vocabulary. The Input
  must be int64, its first block an Embedding of ``V`` ids, the output ``(T, V)``, and position
  ``t`` may not see later tokens (checked with real numbers on the CPU when the model is built
  for training), and shorter contexts must work (generation starts from a short prompt).
  :class:`~playground.builder.build.GraphLanguageModel` gives the text task's interface
  (``forward(idx, targets) -> (logits, loss)``, ``block_size``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playground.builder.graph import Graph
from playground.builder.params import format_shape
from playground.core.errors import ConfigError
from playground.core.registry import ModelSpec

TASKS = ("image", "keywords", "text")


@dataclass(frozen=True)
class Fit:
    """What :func:`fit` decided: the graph to build (Input shape set) and how to wrap it."""

    graph: Graph
    kind: str            # "image", "keywords" or "text"
    adapter: str = ""    # image: "gray" (mean of the colour channels) or "rgb" (repeat one);
    #                      keywords: "channel" (add the 1 of a 1,F,T Input)


def _input(graph: Graph) -> tuple[str, tuple[int, ...]]:
    nid = graph.input_ids()[0]
    return nid, tuple(int(d) for d in graph.nodes[nid].params["shape"])


def _last_with(graph: Graph, report: Any, param: str) -> str | None:
    """The live block nearest the output that has ``param`` (the head's out_features)."""
    for nid in reversed(report.analysis.order):
        if nid in report.analysis.live and param in graph.nodes[nid].params:
            return nid
    return None


def _infer(graph: Graph, shape: tuple[int, ...], what: str):
    """Shape inference with the Input set to ``shape``; a failure names the block."""
    from playground.builder.build import check

    nid, own = _input(graph)
    graph.set_param(nid, "shape", shape)
    try:
        return check(graph)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - GraphError: the first problem's sentence
        reason = str(exc).rstrip(".")
        hint = ""
        if own != shape:
            hint = f" (it was built for {format_shape(own)}: {what})"
        raise ConfigError(f"The graph {graph.name!r} does not take the {format_shape(shape)} "
                          f"inputs of this data{hint}: {reason}.") from None


def _check_classes(graph: Graph, report: Any, classes: int, what: str) -> None:
    out = tuple(report.output_shape or ())
    if len(out) == 1 and out[0] == classes:
        return
    head = _last_with(graph, report, "out_features")
    if len(out) != 1:
        fix = ("add a Flatten (or a pooling block) before the last Linear"
               + (f" and set out_features of {head!r} to {classes}" if head else ""))
        raise ConfigError(f"The graph {graph.name!r} ends in {format_shape(out)} outputs, but a "
                          f"classifier must end in one score for each of its {classes} {what}: "
                          f"{fix}.")
    fix = (f"set out_features of {head!r} to {classes}" if head else
           f"make its last block output {classes} values")
    raise ConfigError(f"The graph {graph.name!r} ends in {out[0]} outputs but the data has "
                      f"{classes} {what}: {fix}.")


def fit(graph: Graph, spec: ModelSpec, kind: str) -> Fit:
    """Check ``graph`` against the data ``spec`` describes; see the module docstring."""
    if kind not in TASKS:
        raise ConfigError(f"A builder graph trains in the image, keyword-speech or text task, "
                          f"not {kind!r}.")
    g = graph.copy()
    if not g.input_ids():
        raise ConfigError(f"The graph {g.name!r} has no Input block: add one and connect it.")
    return {"image": _fit_image, "keywords": _fit_keywords, "text": _fit_text}[kind](g, spec)


def _fit_image(g: Graph, spec: ModelSpec) -> Fit:
    nid, shape = _input(g)
    if g.nodes[nid].params["dtype"] != "float32":
        raise ConfigError(f"The graph {g.name!r} takes token ids (its Input {nid!r} is int64), "
                          f"but the image tab gives pictures: set the dtype of {nid!r} to "
                          "float32.")
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise ConfigError(f"The graph {g.name!r} takes {format_shape(shape)} inputs at its "
                          f"Input {nid!r}, but the image tab gives C,H,W pictures: set the "
                          f"shape of {nid!r} to 3,{shape[-1]},{shape[-1]} (colour) or "
                          f"1,{shape[-1]},{shape[-1]} (grey).")
    channels = shape[0]
    data = int(spec.num_inputs or 3)
    adapter = "" if channels == data else ("gray" if channels == 1 else "rgb")
    side = int(spec.input_size or shape[-1])
    size_hint = (f"set the Image size to {shape[-1]}" if shape[1] == shape[2]
                 else f"set the shape of {nid!r} to {channels},{side},{side}")
    report = _infer(g, (channels, side, side), size_hint)
    if spec.num_outputs:
        _check_classes(g, report, int(spec.num_outputs), "classes")
    return Fit(g, "image", adapter)


def _fit_keywords(g: Graph, spec: ModelSpec) -> Fit:
    nid, shape = _input(g)
    dims, frames = int(spec.num_inputs), int(spec.input_size)
    features = getattr(getattr(spec, "config", None), "features", "auto")
    what = ("MFCC coefficients" if features == "mfcc" else "log-mel bands")
    if g.nodes[nid].params["dtype"] != "float32":
        raise ConfigError(f"The graph {g.name!r} takes token ids (its Input {nid!r} is int64), "
                          f"but the speech tab gives audio features: set the dtype of {nid!r} "
                          "to float32.")
    if len(shape) == 2:
        adapter, want = "", (dims, frames)
    elif len(shape) == 3 and shape[0] == 1:
        adapter, want = "channel", (1, dims, frames)
    else:
        raise ConfigError(f"The graph {g.name!r} takes {format_shape(shape)} inputs at its "
                          f"Input {nid!r}, but the speech tab gives {dims} {what} x {frames} "
                          f"frames: set the shape of {nid!r} to {dims},{frames} (or "
                          f"1,{dims},{frames} for a Conv2d over the spectrogram).")
    own_dims = shape[-2]
    if own_dims != dims:
        other = ("Mel bands (--n-mels)" if what == "log-mel bands"
                 else "MFCC coefficients (--n-mfcc)")
        raise ConfigError(f"The graph {g.name!r} takes {own_dims} features per frame at its "
                          f"Input {nid!r}, but the speech tab gives {dims} {what}: set the "
                          f"shape of {nid!r} to {format_shape(want).replace('x', ',')} (or set "
                          f"{other} to {own_dims}).")
    cfg = getattr(spec, "config", None)
    rate = int(getattr(cfg, "sample_rate", 16000))
    hop = int(round(0.01 * rate))  # playground.speech.models.feature_config: 10 ms frames
    seconds = (shape[-1] - 1) * hop / rate
    report = _infer(g, want, f"set the Clip length to {seconds:g} s for its {shape[-1]} "
                             "frames, or pool over time (AdaptiveAvgPool) before the classifier")
    if spec.num_outputs:
        _check_classes(g, report, int(spec.num_outputs), "labels")
    return Fit(g, "keywords", adapter)


def _fit_text(g: Graph, spec: ModelSpec) -> Fit:
    nid, shape = _input(g)
    vocab, block = int(spec.num_outputs), int(spec.input_size or shape[0])
    node = g.nodes[nid]
    if node.params["dtype"] != "int64" or len(shape) != 1:
        raise ConfigError(f"The graph {g.name!r} takes {format_shape(shape)} "
                          f"{node.params['dtype']} values at its Input {nid!r}, but the text "
                          f"tab gives token ids: set the shape of {nid!r} to {block} and its "
                          "dtype to int64, and start the network with an Embedding.")
    firsts = [g.nodes[e.target] for e in g.consumers(nid)]
    embeds = [n for n in firsts if n.type == "Embedding"]
    if not embeds or len(firsts) != len(embeds):
        other = next((n for n in firsts if n.type != "Embedding"), None)
        where = f" ({other.type} {other.id!r} reads the token ids)" if other else ""
        raise ConfigError(f"The graph {g.name!r} does not start with an Embedding{where}: "
                          f"token ids must go into an Embedding with num_embeddings {vocab} "
                          "(the vocabulary size).")
    for emb in embeds:
        if int(emb.params["num_embeddings"]) != vocab:
            raise ConfigError(f"The Embedding {emb.id!r} has {emb.params['num_embeddings']} "
                              f"entries but the tokenizer has {vocab} tokens: set "
                              f"num_embeddings of {emb.id!r} to {vocab}.")
    g.set_param(nid, "vocab_size", vocab)
    report = _infer(g, (block,), f"set block_size to {shape[0]}")
    if block > 1:  # generation starts from a short prompt: shorter contexts must work too
        from playground.builder.build import check

        short = g.copy()
        short.set_param(nid, "shape", (1,))
        try:
            check(short)
        except Exception as exc:  # noqa: BLE001 - GraphError: the first problem's sentence
            raise ConfigError(f"The graph {g.name!r} takes only contexts of exactly {block} "
                              f"tokens, but generation starts from shorter ones: "
                              f"{str(exc).rstrip('.')}.") from None
    out = tuple(report.output_shape or ())
    if out != (block, vocab):
        head = _last_with(g, report, "out_features")
        if len(out) == 2 and out[0] == block:
            fix = (f"set out_features of {head!r} to {vocab}" if head else
                   f"end it in a Linear with out_features {vocab}")
        else:
            fix = ("keep one vector per position (no Flatten or pooling over time) and end in "
                   f"a Linear with out_features {vocab}")
        raise ConfigError(f"The graph {g.name!r} ends in {format_shape(out)} outputs, but a "
                          f"language model must give {block}x{vocab} (a score for each of the "
                          f"{vocab} tokens at each of the {block} positions): {fix}.")
    return Fit(g, "text")


# ------------------------------------------------------------------------------------------
# Building
# ------------------------------------------------------------------------------------------
def build(fitted: Fit, weights: Any = None):
    """The module for a :class:`Fit` (fresh weights, or ``weights`` where they fit)."""
    from playground.builder.build import (
        GraphLanguageModel,
        ImageGraph,
        KeywordGraph,
        build_module,
    )

    cls = {"image": ImageGraph, "keywords": KeywordGraph, "text": GraphLanguageModel}
    module = build_module(fitted.graph, weights=weights, cls=cls[fitted.kind])
    if fitted.kind == "text":
        module.block_size = int(module.input_shape[0])
        _check_causal(fitted.graph, module)
    else:
        module.adapter = fitted.adapter
    return module


def _check_causal(graph: Graph, module: Any) -> None:
    """Refuse a language model whose position ``t`` sees later tokens (it would learn to copy
    them and generate nonsense). Checked with real numbers; skipped on the meta device."""
    import torch

    params = list(module.parameters())
    if not params or params[0].is_meta:
        return
    T = int(module.block_size)
    if T < 2:
        return
    vocab = int(graph.nodes[graph.input_ids()[0]].params["vocab_size"])
    gen = torch.Generator().manual_seed(0)
    idx = torch.randint(0, vocab, (1, T), generator=gen)
    other = idx.clone()
    other[0, -1] = (idx[0, -1] + 1) % vocab
    was = module.training
    module.eval()
    try:
        with torch.no_grad():
            a = module(idx)[0]
            b = module(other)[0]
    finally:
        module.train(was)
    if not torch.allclose(a[:, :-1], b[:, :-1], atol=1e-5):
        raise ConfigError(f"In the graph {graph.name!r} a position sees the tokens after it "
                          "(changing the last token changes the scores before it), so it "
                          "would learn to copy the answer: set causal on its attention blocks "
                          "and use no bidirectional recurrence, pooling or Flatten over time.")

