"""The text-generation model registry: ``gpt`` and ``lstm``.

Each entry's factory follows the registry convention ``factory(spec: ModelSpec) -> nn.Module``
(``spec.num_outputs`` = ``spec.num_inputs`` = the vocabulary size, ``spec.input_size`` = the
context length, ``spec.config`` = the :class:`~playground.text.train.TextTrainConfig`); every
model takes ``forward(idx, targets=None) -> (logits (B, T, V), loss)`` and has a ``block_size``
and a ``has_attention`` flag. ``extra["uses"]`` lists the config fields a model reads (the form
greys out the others). torch is imported only when a model is built.
"""

from __future__ import annotations

from typing import Any

from playground.core.registry import ModelEntry, ModelSpec, Registry


def _gpt(spec: ModelSpec):
    from playground.text.gpt import GPT, GPTConfig

    cfg, vocab_size = spec.config, spec.num_outputs
    return GPT(GPTConfig(vocab_size=vocab_size, block_size=cfg.block_size, n_layer=cfg.n_layer,
                         n_head=cfg.n_head, n_embd=cfg.n_embd, dropout=cfg.dropout,
                         bias=cfg.bias))


def _lstm(spec: ModelSpec):
    from playground.text.lstm import LSTMConfig, LSTMLanguageModel

    cfg, vocab_size = spec.config, spec.num_outputs
    return LSTMLanguageModel(LSTMConfig(vocab_size=vocab_size, block_size=cfg.block_size,
                                        n_embd=cfg.n_embd, hidden_size=cfg.lstm_hidden,
                                        num_layers=cfg.lstm_layers, dropout=cfg.dropout))


TEXT_MODELS = Registry("text")
TEXT_MODELS.register(ModelEntry(
    name="gpt", title="GPT (decoder-only Transformer)", factory=_gpt, family="Transformer",
    description="Causal self-attention over the last block_size tokens; learned position "
                "embeddings, weight tying (nanoGPT). Options: n_layer, n_head, n_embd, "
                "block_size, dropout, bias.",
    extra={"attention": True,
           "uses": ("n_layer", "n_head", "n_embd", "block_size", "dropout", "bias")}))
TEXT_MODELS.register(ModelEntry(
    name="lstm", title="LSTM language model", factory=_lstm, family="RNN",
    description="A stacked LSTM reading one token at a time; its memory is the hidden state. "
                "Options: n_embd, lstm_hidden, lstm_layers, block_size (training context), "
                "dropout.",
    extra={"attention": False,
           "uses": ("n_embd", "lstm_hidden", "lstm_layers", "block_size", "dropout")}))


def build_model(cfg: Any, vocab_size: int):
    """The model ``cfg.model`` names, sized by ``cfg`` and the tokenizer's vocabulary."""
    spec = ModelSpec(task="text", num_outputs=int(vocab_size), num_inputs=int(vocab_size),
                     input_size=int(cfg.block_size), config=cfg)
    return TEXT_MODELS.get(cfg.model).factory(spec)


def describe_model(cfg: Any, vocab_size: int) -> dict[str, int]:
    """Parameter count and tokens per step without allocating weights (for the form)."""
    import torch

    with torch.device("meta"):
        model = build_model(cfg, vocab_size)
    params = sum(p.numel() for p in model.parameters())
    return {"parameters": int(params), "tokens_per_step": int(cfg.batch_size * cfg.block_size)}
