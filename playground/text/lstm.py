"""An LSTM language model, the recurrent baseline beside the GPT.

Long Short-Term Memory (Hochreiter & Schmidhuber, 1997), used as a word/character-level language
model in the manner of "Regularizing and Optimizing LSTM Language Models" (Merity et al., 2017)
without its extra regularisers: embedding -> stacked LSTM -> dropout -> linear head, with the
head tied to the embedding when their widths agree (Press & Wolf, 2017; Inan et al., 2017).

It has the same interface as :class:`~playground.text.gpt.GPT`, so the trainer, sampling and
generation treat both alike: ``forward(idx, targets=None) -> (logits (B, T, V), loss)`` and a
``block_size``, the context it is trained and prompted with. Unlike the Transformer it has no
attention to show (``has_attention = False``); its memory of earlier tokens lives in the hidden
state carried along the sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class LSTMConfig:
    vocab_size: int = 65       # set from the tokenizer
    block_size: int = 128      # training context length (and the generation context window)
    n_embd: int = 128          # token embedding width
    hidden_size: int = 256     # LSTM state width
    num_layers: int = 2
    dropout: float = 0.0       # between LSTM layers and before the head


class LSTMLanguageModel(nn.Module):
    """``LSTMLanguageModel(config)``; ``forward(idx, targets=None) -> (logits, loss)``."""

    has_attention = False

    def __init__(self, config: LSTMConfig) -> None:
        super().__init__()
        self.config = config
        self.block_size = config.block_size
        self.embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(config.n_embd, config.hidden_size, num_layers=config.num_layers,
                            dropout=config.dropout if config.num_layers > 1 else 0.0,
                            batch_first=True)
        # project the state down to the embedding width so the head can share its weight
        self.proj = (nn.Linear(config.hidden_size, config.n_embd, bias=False)
                     if config.hidden_size != config.n_embd else nn.Identity())
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=True)
        # weight tying; the embedding keeps PyTorch's N(0, 1) initialisation: with small
        # (GPT-style 0.02) embeddings the gates barely see the input and learning stalls
        self.lm_head.weight = self.embedding.weight
        nn.init.zeros_(self.lm_head.bias)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                state: tuple[torch.Tensor, torch.Tensor] | None = None,
                return_state: bool = False):
        x = self.drop(self.embedding(idx))       # (B, T, n_embd)
        out, state = self.lstm(x, state)         # (B, T, hidden), ((layers, B, hidden) x 2)
        logits = self.lm_head(self.proj(self.drop(out)))  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        if return_state:
            return logits, loss, state
        return logits, loss
