"""The text-generation model registry: ``gpt`` and ``lstm``.

Each entry's factory is ``factory(cfg: TextTrainConfig, vocab_size: int) -> nn.Module``; both
models take ``forward(idx, targets=None) -> (logits (B, T, V), loss)`` and have a
``block_size`` and a ``has_attention`` flag. torch is imported only when a model is built.
"""

from __future__ import annotations

from typing import Any

from playground.core.registry import ModelEntry, Registry


def _gpt(cfg: Any, vocab_size: int):
    from playground.text.gpt import GPT, GPTConfig

    return GPT(GPTConfig(vocab_size=vocab_size, block_size=cfg.block_size, n_layer=cfg.n_layer,
                         n_head=cfg.n_head, n_embd=cfg.n_embd, dropout=cfg.dropout,
                         bias=cfg.bias))


def _lstm(cfg: Any, vocab_size: int):
    from playground.text.lstm import LSTMConfig, LSTMLanguageModel

    return LSTMLanguageModel(LSTMConfig(vocab_size=vocab_size, block_size=cfg.block_size,
                                        n_embd=cfg.n_embd, hidden_size=cfg.lstm_hidden,
                                        num_layers=cfg.lstm_layers, dropout=cfg.dropout))


TEXT_MODELS = Registry("text")
TEXT_MODELS.register(ModelEntry(
    name="gpt", title="GPT (decoder-only Transformer)", factory=_gpt, family="Transformer",
    description="Causal self-attention over the last block_size tokens; learned position "
                "embeddings, weight tying (nanoGPT). Options: n_layer, n_head, n_embd, "
                "block_size, dropout, bias.",
    extra={"attention": True}))
TEXT_MODELS.register(ModelEntry(
    name="lstm", title="LSTM language model", factory=_lstm, family="RNN",
    description="A stacked LSTM reading one token at a time; its memory is the hidden state. "
                "Options: n_embd, lstm_hidden, lstm_layers, block_size (training context), "
                "dropout.",
    extra={"attention": False}))


def build_model(cfg: Any, vocab_size: int):
    """The model ``cfg.model`` names, sized by ``cfg`` and the tokenizer's vocabulary."""
    return TEXT_MODELS.get(cfg.model).factory(cfg, vocab_size)


def describe_model(cfg: Any, vocab_size: int) -> dict[str, int]:
    """Parameter count and tokens per step without allocating weights (for the form)."""
    import torch

    with torch.device("meta"):
        model = build_model(cfg, vocab_size)
    params = sum(p.numel() for p in model.parameters())
    return {"parameters": int(params), "tokens_per_step": int(cfg.batch_size * cfg.block_size)}
