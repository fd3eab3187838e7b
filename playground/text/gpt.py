"""A decoder-only Transformer language model (GPT), written to be read.

Follows "Language Models are Unsupervised Multitask Learners" (Radford et al., 2019, GPT-2)
as laid out by Karpathy's nanoGPT and minGPT: token + learned position embeddings, a stack of
pre-LayerNorm blocks (causal self-attention, then an MLP), a final LayerNorm and a language-model
head whose weight is tied to the token embedding ("Using the Output Embedding to Improve Language
Models", Press & Wolf, 2017).

Attention has two paths that compute the same thing:

* the fast path, ``torch.nn.functional.scaled_dot_product_attention`` (fused kernels on CPU and
  GPU), used for training and generation;
* the explicit path, ``softmax(q kᵀ / √d + causal mask) v`` written out, used when the caller
  asks for the attention weights (``forward(idx, return_attention=True)``) to draw heatmaps.

A test checks that both paths give the same output.

Shapes: ``B`` batch, ``T`` time (tokens), ``C`` embedding width (``n_embd``), ``nh`` heads,
``hs`` head size (``C // nh``), ``V`` vocabulary size, ``L`` layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from playground.core.errors import ConfigError


@dataclass
class GPTConfig:
    vocab_size: int = 65       # set from the tokenizer
    block_size: int = 256      # the longest context the model sees (position embeddings)
    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 384          # must be divisible by n_head
    dropout: float = 0.0
    bias: bool = True          # biases in Linear and LayerNorm layers (False: a bit faster)

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ConfigError(f"The embedding width (n_embd = {self.n_embd}) must be divisible "
                              f"by the number of heads (n_head = {self.n_head}): pick, e.g., "
                              f"n_embd = {self.n_head * max(1, round(self.n_embd / self.n_head))}.")


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.dropout = config.dropout
        # query, key and value projections for all heads, in one matrix
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, return_attention: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)  # 3 x (B, T, C)
        hs = C // self.n_head
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        att = None
        if return_attention:
            # explicit path: (B, nh, T, hs) x (B, nh, hs, T) -> (B, nh, T, T)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
            causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            att = att.masked_fill(~causal, float("-inf"))
            att = F.softmax(att, dim=-1)
            y = self.attn_dropout(att) @ v  # (B, nh, T, T) x (B, nh, T, hs) -> (B, nh, T, hs)
        else:
            # fast path: fused kernels
            y = F.scaled_dot_product_attention(
                q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble heads: (B, T, C)
        return self.resid_dropout(self.c_proj(y)), att


class MLP(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))  # (B, T, C)


class Block(nn.Module):
    """Pre-LayerNorm Transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, return_attention: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        a, att = self.attn(self.ln_1(x), return_attention)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, att


class GPT(nn.Module):
    """``GPT(config)``; ``forward(idx, targets=None, return_attention=False)``.

    Returns ``(logits, loss)`` with logits ``(B, T, V)`` and the mean cross-entropy (or None
    without targets); with ``return_attention=True`` a third item, the attention weights of
    every layer stacked as ``(L, B, nh, T, T)`` (rows: queries, columns: keys; each row sums
    to 1 and is zero above the diagonal).
    """

    has_attention = True

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.block_size = config.block_size
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),  # token embedding
            wpe=nn.Embedding(config.block_size, config.n_embd),  # learned position embedding
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying
        self.apply(self._init_weights)
        # GPT-2: scale the residual projections by 1/sqrt(2 * n_layer) at initialisation
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self, non_embedding: bool = False) -> int:
        """Parameters counted once (the tied head is the token embedding)."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.transformer.wpe.weight.numel()
        return n

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                return_attention: bool = False):
        B, T = idx.size()
        if T > self.block_size:  # noqa: SIM300 - T is a length, not a constant
            raise ConfigError(f"The input has {T} tokens but the model's block size is "
                              f"{self.block_size}; crop the context to the last "
                              f"{self.block_size} tokens.")
        pos = torch.arange(0, T, dtype=torch.long, device=idx.device)  # (T,)
        tok_emb = self.transformer.wte(idx)  # (B, T, C)
        pos_emb = self.transformer.wpe(pos)  # (T, C), broadcast over the batch
        x = self.transformer.drop(tok_emb + pos_emb)
        attentions = []
        for block in self.transformer.h:
            x, att = block(x, return_attention)
            if return_attention:
                attentions.append(att)
        x = self.transformer.ln_f(x)
        logits = self.lm_head(x)  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        if return_attention:
            return logits, loss, torch.stack(attentions)  # (L, B, nh, T, T)
        return logits, loss
