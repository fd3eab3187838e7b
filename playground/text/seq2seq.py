"""An encoder–decoder Transformer for translation, written to be read.

Follows "Attention Is All You Need" (Vaswani et al., 2017): an encoder of self-attention
blocks reads the source sentence; a decoder of blocks with causal self-attention and
cross-attention to the encoder's output writes the translation one token at a time. As in
most current implementations (and nanoGPT), the blocks are pre-LayerNorm ("On Layer
Normalization in the Transformer Architecture", Xiong et al., 2020), which trains without a
long warm-up, and each stack ends with a LayerNorm. Positions are sinusoidal (the paper) or
learned (GPT). With ``tie_embeddings`` the decoder's output layer shares the target
embedding's weight (Press & Wolf, 2017), and with one shared vocabulary the source
embedding is that same matrix too (the paper's three-way tying).

Every attention layer has two paths that compute the same thing:

* the fast path, ``torch.nn.functional.scaled_dot_product_attention``, for training and
  decoding;
* the explicit path, ``softmax(q kᵀ / √d + mask) v`` written out, taken when the caller asks
  for the weights (``return_attention=True``) to draw heatmaps.

A test checks that both give the same output.

Interface shared with :mod:`playground.text.rnn_attention` (what training and decoding use)::

    logits = model(src, tgt_in)                       # (B, S), (B, T) -> (B, T, V)
    logits, att = model(src, tgt_in, return_attention=True)
    enc = model.encode(src)                           # dict of tensors, batch first
    logits = model.decode(enc, ys)                    # (N, t) -> (N, t, V)

``att`` is a dict of ``(L, B, H, Tq, Tk)`` tensors: ``"encoder"`` (source × source),
``"decoder"`` (target × target, causal) and ``"cross"`` (target × source). Padding (id
``pad_id``) is masked out of every key; target padding needs no mask because it only ever
comes after the real tokens (causal attention never looks ahead).

Shapes: ``B`` batch, ``S`` source length, ``T`` target length, ``C`` width (``n_embd``),
``nh`` heads, ``hs`` head size (``C // nh``), ``V`` vocabulary size, ``L`` layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from playground.core.errors import ConfigError

POSITIONS = ("sinusoidal", "learned")


@dataclass
class Seq2SeqConfig:
    src_vocab_size: int = 100    # set from the tokenizers
    tgt_vocab_size: int = 100
    n_layer: int = 3             # blocks in the encoder and in the decoder
    n_head: int = 4
    n_embd: int = 256            # must be divisible by n_head
    ff_dim: int = 1024           # hidden width of each block's feed-forward layer
    dropout: float = 0.1
    positions: str = "sinusoidal"  # or "learned"
    max_len: int = 256           # longest sequence in tokens (learned positions' table size)
    tie_embeddings: bool = True  # output layer = target embedding (and = source if shared)
    shared_vocab: bool = False   # source and target use one vocabulary (one embedding)
    pad_id: int = 0

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ConfigError(f"The embedding width ({self.n_embd}) must be divisible by the "
                              f"number of heads ({self.n_head}); e.g. use "
                              f"{self.n_head * max(1, round(self.n_embd / self.n_head))}.")
        if self.positions not in POSITIONS:
            raise ConfigError(f"Positions must be one of {', '.join(POSITIONS)}; got "
                              f"{self.positions!r}.")


class MultiHeadAttention(nn.Module):
    """Attention of queries ``x`` over keys/values ``kv`` (``kv is x``: self-attention)."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.n_head, self.n_embd = config.n_head, config.n_embd
        self.q_proj = nn.Linear(config.n_embd, config.n_embd)
        self.kv_proj = nn.Linear(config.n_embd, 2 * config.n_embd)
        self.out_proj = nn.Linear(config.n_embd, config.n_embd)
        self.dropout = config.dropout
        self.attn_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, kv: torch.Tensor, key_pad: torch.Tensor | None = None,
                causal: bool = False, return_attention: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, Tq, C = x.size()
        Tk = kv.size(1)
        nh, hs = self.n_head, C // self.n_head
        q = self.q_proj(x).view(B, Tq, nh, hs).transpose(1, 2)     # (B, nh, Tq, hs)
        k, v = self.kv_proj(kv).split(C, dim=2)                    # 2 x (B, Tk, C)
        k = k.view(B, Tk, nh, hs).transpose(1, 2)                  # (B, nh, Tk, hs)
        v = v.view(B, Tk, nh, hs).transpose(1, 2)                  # (B, nh, Tk, hs)
        if not return_attention and key_pad is None and (not causal or Tq == Tk):
            # fast path without a mask tensor: SDPA's own causal kernel
            y = F.scaled_dot_product_attention(
                q, k, v, is_causal=causal,
                dropout_p=self.dropout if self.training else 0.0)  # (B, nh, Tq, hs)
            return self.out_proj(y.transpose(1, 2).reshape(B, Tq, C)), None
        allowed = None  # (B, 1, Tq, Tk) bool, True where a query may look
        if key_pad is not None:
            allowed = ~key_pad[:, None, None, :]                   # (B, 1, 1, Tk)
        if causal:
            tri = torch.ones(Tq, Tk, dtype=torch.bool, device=x.device).tril(Tk - Tq)
            allowed = tri if allowed is None else allowed & tri    # (B, 1, Tq, Tk)
        att = None
        if return_attention:
            # explicit path: (B, nh, Tq, hs) x (B, nh, hs, Tk) -> (B, nh, Tq, Tk)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
            if allowed is not None:
                att = att.masked_fill(~allowed, float("-inf"))
            att = F.softmax(att, dim=-1)
            y = self.attn_dropout(att) @ v                         # (B, nh, Tq, hs)
        else:
            # fast path: fused kernels
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=allowed,
                dropout_p=self.dropout if self.training else 0.0)  # (B, nh, Tq, hs)
        y = y.transpose(1, 2).contiguous().view(B, Tq, C)          # (B, Tq, C)
        return self.out_proj(y), att


class FeedForward(nn.Module):
    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(config.n_embd, config.ff_dim)
        self.proj = nn.Linear(config.ff_dim, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.dropout(F.gelu(self.fc(x))))


class EncoderBlock(nn.Module):
    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = MultiHeadAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.ff = FeedForward(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x, src_pad, return_attention=False):
        h = self.ln_1(x)
        y, att = self.attn(h, h, key_pad=src_pad, return_attention=return_attention)
        x = x + self.dropout(y)
        x = x + self.dropout(self.ff(self.ln_2(x)))
        return x, att


class DecoderBlock(nn.Module):
    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.self_attn = MultiHeadAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.cross_attn = MultiHeadAttention(config)
        self.ln_3 = nn.LayerNorm(config.n_embd)
        self.ff = FeedForward(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x, memory, src_pad, return_attention=False):
        h = self.ln_1(x)
        y, self_att = self.self_attn(h, h, causal=True, return_attention=return_attention)
        x = x + self.dropout(y)
        y, cross_att = self.cross_attn(self.ln_2(x), memory, key_pad=src_pad,
                                       return_attention=return_attention)
        x = x + self.dropout(y)
        x = x + self.dropout(self.ff(self.ln_3(x)))
        return x, self_att, cross_att


def sinusoidal_table(length: int, width: int) -> torch.Tensor:
    """``PE[pos, 2i] = sin(pos / 10000^(2i/C))``, ``PE[pos, 2i+1] = cos(…)``: (length, C)."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]                    # (len, 1)
    div = torch.exp(torch.arange(0, width, 2, dtype=torch.float32)
                    * (-math.log(10000.0) / width))                            # (C/2,)
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(pos * div)
    table[:, 1::2] = torch.cos(pos * div[: width // 2])
    return table


class Seq2SeqTransformer(nn.Module):
    has_attention = True
    attention_kinds = ("encoder", "decoder", "cross")

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = config
        C = config.n_embd
        self.tgt_emb = nn.Embedding(config.tgt_vocab_size, C)
        # one vocabulary: one embedding for both sides
        self.src_emb = (None if config.shared_vocab and config.tie_embeddings
                        else nn.Embedding(config.src_vocab_size, C))
        if config.positions == "learned":
            self.pos_emb = nn.Embedding(config.max_len, C)
        else:
            self.register_buffer("pos_table", sinusoidal_table(config.max_len, C),
                                 persistent=False)
        self.drop = nn.Dropout(config.dropout)
        self.encoder = nn.ModuleList(EncoderBlock(config) for _ in range(config.n_layer))
        self.decoder = nn.ModuleList(DecoderBlock(config) for _ in range(config.n_layer))
        self.ln_enc = nn.LayerNorm(C)
        self.ln_dec = nn.LayerNorm(C)
        self.lm_head = nn.Linear(C, config.tgt_vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.tgt_emb.weight
        self.apply(self._init_weights)
        # Embeddings N(0, 1/C): scaled by sqrt(C) on input they have unit size, as large as
        # the positions (with GPT's 0.02 the sinusoids drowned the tokens 4:1 at width 128)
        for emb in (self.tgt_emb, self.src_emb):
            if emb is not None:
                nn.init.normal_(emb.weight, mean=0.0, std=C ** -0.5)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    @property
    def max_len(self) -> int:
        return int(self.config.max_len)

    def _embed(self, emb: nn.Embedding, idx: torch.Tensor) -> torch.Tensor:
        T = idx.size(1)
        if self.config.max_len < T:
            raise ConfigError(f"The sentence is {T} tokens long; this model reads at most "
                              f"{self.config.max_len}. Shorten it or split it.")
        x = emb(idx) * math.sqrt(self.config.n_embd)                           # (B, T, C)
        if self.config.positions == "learned":
            x = x + self.pos_emb(torch.arange(T, device=idx.device))[None]
        else:
            x = x + self.pos_table[:T][None].to(x.dtype)
        return self.drop(x)

    def encode(self, src: torch.Tensor, return_attention: bool = False):
        """``{"memory": (B, S, C), "src_pad": (B, S) bool}`` (and the encoder's weights)."""
        src_pad = src.eq(self.config.pad_id)                                   # (B, S)
        x = self._embed(self.src_emb or self.tgt_emb, src)                     # (B, S, C)
        maps = []
        for block in self.encoder:
            x, att = block(x, src_pad, return_attention)
            maps.append(att)
        enc = {"memory": self.ln_enc(x), "src_pad": src_pad}
        if return_attention:
            return enc, torch.stack(maps)                                      # (L, B, H, S, S)
        return enc

    def decode(self, enc: dict[str, torch.Tensor], ys: torch.Tensor,
               return_attention: bool = False):
        """Logits ``(N, t, V)`` for every prefix of ``ys`` (``N`` rows of ``enc``)."""
        x = self._embed(self.tgt_emb, ys)                                      # (N, t, C)
        self_maps, cross_maps = [], []
        for block in self.decoder:
            x, self_att, cross_att = block(x, enc["memory"], enc["src_pad"], return_attention)
            self_maps.append(self_att)
            cross_maps.append(cross_att)
        logits = self.lm_head(self.ln_dec(x))                                  # (N, t, V)
        if return_attention:
            return logits, torch.stack(self_maps), torch.stack(cross_maps)
        return logits

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor, return_attention: bool = False):
        if not return_attention:
            return self.decode(self.encode(src), tgt_in)
        enc, enc_att = self.encode(src, return_attention=True)
        logits, dec_att, cross_att = self.decode(enc, tgt_in, return_attention=True)
        return logits, {"encoder": enc_att, "decoder": dec_att, "cross": cross_att}
