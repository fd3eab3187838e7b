"""A recurrent encoder–decoder with additive attention: the RNN baseline for translation.

Follows "Neural Machine Translation by Jointly Learning to Align and Translate" (Bahdanau,
Cho & Bengio, 2015): a bidirectional GRU (or LSTM) reads the source; at each output step the
decoder scores every source position with a small network,
``e_tj = vᵀ tanh(W s_{t-1} + U h_j)``, turns the scores into weights with a softmax (the
alignment the heatmap shows), and feeds the weighted sum of the source states (the context)
with the previous word into its recurrent cell. The output layer reads the new state, the
context and the previous word's embedding.

Same interface as :class:`playground.text.seq2seq.Seq2SeqTransformer`: ``model(src, tgt_in)``
-> logits ``(B, T, V)``; ``return_attention=True`` adds ``{"cross": (1, B, 1, T, S)}`` (one
"layer", one "head"); ``encode(src)`` / ``decode(enc, ys)`` for decoding (``decode`` runs the
decoder over the whole prefix again: simple, and cheap for sentences).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from playground.core.errors import ConfigError

CELLS = ("gru", "lstm")


@dataclass
class RNNAttentionConfig:
    src_vocab_size: int = 100
    tgt_vocab_size: int = 100
    cell: str = "gru"          # "gru" or "lstm"
    n_embd: int = 256          # word embedding width
    hidden: int = 256          # recurrent state width (each direction of the encoder)
    n_layer: int = 1           # stacked recurrent layers on each side
    dropout: float = 0.1
    tie_embeddings: bool = False  # output layer = target embedding (and = source if shared)
    shared_vocab: bool = False
    max_len: int = 256
    pad_id: int = 0

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ConfigError(f"The recurrent cell must be gru or lstm; got {self.cell!r}.")


class AdditiveAttention(nn.Module):
    """``e_j = vᵀ tanh(W s + U h_j)``; weights = softmax over the unpadded source."""

    def __init__(self, query_dim: int, key_dim: int, dim: int) -> None:
        super().__init__()
        self.W = nn.Linear(query_dim, dim, bias=False)
        self.v = nn.Linear(dim, 1, bias=False)

    def forward(self, query: torch.Tensor, keys_proj: torch.Tensor, values: torch.Tensor,
                src_pad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # query (B, Hd); keys_proj = U h (B, S, A); values (B, S, 2H); src_pad (B, S)
        scores = self.v(torch.tanh(self.W(query)[:, None, :] + keys_proj)).squeeze(-1)  # (B, S)
        scores = scores.masked_fill(src_pad, float("-inf"))
        weights = F.softmax(scores, dim=-1)                                     # (B, S)
        context = torch.bmm(weights[:, None, :], values).squeeze(1)             # (B, 2H)
        return context, weights


class RNNAttentionSeq2Seq(nn.Module):
    has_attention = True
    attention_kinds = ("cross",)

    def __init__(self, config: RNNAttentionConfig) -> None:
        super().__init__()
        self.config = config
        E, H, L = config.n_embd, config.hidden, config.n_layer
        rnn = nn.GRU if config.cell == "gru" else nn.LSTM
        inner = config.dropout if L > 1 else 0.0
        self.tgt_emb = nn.Embedding(config.tgt_vocab_size, E, padding_idx=config.pad_id)
        self.src_emb = (None if config.shared_vocab and config.tie_embeddings
                        else nn.Embedding(config.src_vocab_size, E, padding_idx=config.pad_id))
        self.encoder = rnn(E, H, num_layers=L, batch_first=True, bidirectional=True,
                           dropout=inner)
        self.bridge = nn.Linear(2 * H, H)          # encoder's last states -> decoder's first
        self.keys = nn.Linear(2 * H, H, bias=False)  # U h_j, computed once per sentence
        self.attention = AdditiveAttention(H, 2 * H, H)
        self.decoder = rnn(E + 2 * H, H, num_layers=L, batch_first=True, dropout=inner)
        self.pre_out = nn.Linear(H + 2 * H + E, E)
        self.lm_head = nn.Linear(E, config.tgt_vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.tgt_emb.weight
        self.drop = nn.Dropout(config.dropout)

    @property
    def max_len(self) -> int:
        return int(self.config.max_len)

    def encode(self, src: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encoder states, their projections and the decoder's first state, batch first."""
        src_pad = src.eq(self.config.pad_id)                                    # (B, S)
        x = self.drop((self.src_emb or self.tgt_emb)(src))                      # (B, S, E)
        lengths = (~src_pad).sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                   enforce_sorted=False)
        out, state = self.encoder(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                  total_length=src.size(1))     # (B, S, 2H)
        h = state[0] if isinstance(state, tuple) else state                     # (2L, B, H)
        L = self.config.n_layer
        h = h.view(L, 2, h.size(1), h.size(2))                                  # (L, 2, B, H)
        h0 = torch.tanh(self.bridge(torch.cat([h[:, 0], h[:, 1]], dim=-1)))     # (L, B, H)
        return {"values": out, "keys": self.keys(out), "src_pad": src_pad,
                "h0": h0.transpose(0, 1).contiguous()}                          # (B, L, H)

    def decode(self, enc: dict[str, torch.Tensor], ys: torch.Tensor,
               return_attention: bool = False):
        """Logits ``(N, t, V)`` for every prefix of ``ys``, teacher-forced."""
        emb = self.drop(self.tgt_emb(ys))                                       # (N, t, E)
        h = enc["h0"].transpose(0, 1).contiguous()                              # (L, N, H)
        state = (h, torch.zeros_like(h)) if self.config.cell == "lstm" else h
        outputs, maps = [], []
        for t in range(ys.size(1)):
            top = state[0][-1] if isinstance(state, tuple) else state[-1]       # (N, H)
            context, weights = self.attention(top, enc["keys"], enc["values"],
                                              enc["src_pad"])                   # (N, 2H), (N, S)
            step_in = torch.cat([emb[:, t], context], dim=-1)[:, None]          # (N, 1, E+2H)
            out, state = self.decoder(step_in, state)                           # (N, 1, H)
            features = torch.cat([out[:, 0], context, emb[:, t]], dim=-1)       # (N, H+2H+E)
            outputs.append(torch.tanh(self.pre_out(self.drop(features))))       # (N, E)
            maps.append(weights)
        logits = self.lm_head(self.drop(torch.stack(outputs, dim=1)))           # (N, t, V)
        if return_attention:
            att = torch.stack(maps, dim=1)[None, :, None]                       # (1, N, 1, t, S)
            return logits, att
        return logits

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor, return_attention: bool = False):
        enc = self.encode(src)
        if not return_attention:
            return self.decode(enc, tgt_in)
        logits, att = self.decode(enc, tgt_in, return_attention=True)
        return logits, {"cross": att}
