"""The few layers the builder needs that ``torch.nn`` does not have.

:mod:`playground.builder.codegen` copies this source into exported files (with
``inspect.getsource``), so a built network and its exported source run the same code.
Tensors are batch first: ``(B, T, d_model)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class SinusoidalPositionalEncoding(nn.Module):
    """Adds the fixed sine/cosine position signal of Vaswani et al. 2017, "Attention Is All
    You Need" (no parameters; it is recomputed, not saved, with the weights)."""

    def __init__(self, d_model: int, max_len: int = 512) -> None:
        super().__init__()
        position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)  # (max_len, 1)
        div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32)
                        * (-math.log(10000.0) / d_model))  # (ceil(d_model / 2),)
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div)
        pe[:, 1::2] = torch.cos(position * div[: d_model // 2])
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pe[: x.size(1)]  # x: (B, T, d_model)


class LearnedPositionalEncoding(nn.Module):
    """Adds a learned vector per position (GPT-2 style position embeddings)."""

    def __init__(self, d_model: int, max_len: int = 512) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(max_len, d_model) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.weight[: x.size(1)]  # x: (B, T, d_model)


def causal_mask(x: torch.Tensor) -> torch.Tensor:
    """(T, T) boolean mask that hides later positions from each step: True = not allowed."""
    t = x.size(1)
    return torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
