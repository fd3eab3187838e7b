"""Export-friendly stand-ins for modules that ``torch.export`` cannot trace with a dynamic length.

``torch.export`` decomposes ``nn.GRU`` / ``nn.LSTM`` into a Python loop over time steps, so
the exported graph only works for the sequence length it was traced with. :class:`ScanRNN`
computes exactly what the wrapped ``nn.GRU`` / ``nn.LSTM`` computes (same weights, same gate
equations, every layer and direction) with ``torch._higher_order_ops.scan`` over time, which
``torch.export`` keeps as one loop (an ONNX ``Scan`` node) whatever the length.

An optional ``valid`` mask ``(B, T)`` (True on real tokens, padding only at the end of a row)
gives the results of a packed sequence (``pack_padded_sequence`` / ``pad_packed_sequence``):
each direction's state is carried unchanged over padding, so the forward direction ends on
the row's last real token, the backward one starts there, and padded outputs are zeros.

:func:`with_scan_rnns` returns a copy of a model with every GRU/LSTM wrapped (the app's model is
left as it is; the copy shares nothing mutable with it). Inference only: dropout between layers
is not applied (the model is exported in eval mode).

Gate equations (PyTorch's documentation of ``nn.GRU`` / ``nn.LSTM``)::

    GRU:  r = σ(W_ir x + b_ir + W_hr h + b_hr)   z = σ(W_iz x + b_iz + W_hz h + b_hz)
          n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))   h' = (1 − z) ⊙ n + z ⊙ h
    LSTM: i, f, g, o = σ, σ, tanh, σ of (W_i x + b_i + W_h h + b_h) split in four
          c' = f ⊙ c + i ⊙ g   h' = o ⊙ tanh(c')
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn


def _scan():
    from torch._higher_order_ops.scan import scan

    return scan


def _gru_cell(gi: torch.Tensor, h: torch.Tensor, w_hh, b_hh) -> torch.Tensor:
    gh = F.linear(h, w_hh, b_hh)                                   # (B, 3H)
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


def _lstm_cell(gi: torch.Tensor, h: torch.Tensor, c: torch.Tensor, w_hh, b_hh):
    gates = gi + F.linear(h, w_hh, b_hh)                           # (B, 4H)
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _direction(lstm: bool, gi: torch.Tensor, w_hh, b_hh, h0: torch.Tensor, c0: torch.Tensor,
               valid: torch.Tensor | None, reverse: bool):
    """One layer, one direction over time-major ``gi`` (T, B, G·H): ``(out, h_T, c_T)``."""
    scan = _scan()

    def step(carry, xs):
        g, v = xs if valid is not None else (xs, None)
        if lstm:
            h, c = carry
            h_new, c_new = _lstm_cell(g, h, c, w_hh, b_hh)
        else:
            h = carry
            h_new = _gru_cell(g, h, w_hh, b_hh)
        if v is None:
            out = h_new.clone()
        else:                                                      # v: (B, 1) bool
            keep = v.to(h_new.dtype)
            h_new = keep * h_new + (1 - keep) * h                  # padding: state unchanged
            if lstm:
                c_new = keep * c_new + (1 - keep) * c
            out = keep * h_new                                     # padding: zeros out
        return ((h_new, c_new) if lstm else h_new), out

    xs = (gi, valid) if valid is not None else gi
    carry, out = scan(step, (h0, c0) if lstm else h0, xs, reverse=reverse)
    h_t, c_t = carry if lstm else (carry, c0)
    return out, h_t, c_t                                           # (T, B, H), (B, H), (B, H)


class ScanRNN(nn.Module):
    """``ScanRNN(rnn)(x, hx=None, valid=None) -> (output, h_n)`` (LSTM: ``(h_n, c_n)``), the
    same shapes and layout as ``rnn(x, hx)``; see the module docstring."""

    def __init__(self, rnn: nn.GRU | nn.LSTM) -> None:
        super().__init__()
        if not isinstance(rnn, (nn.GRU, nn.LSTM)):
            raise TypeError(f"ScanRNN wraps nn.GRU or nn.LSTM, not {type(rnn).__name__}")
        if getattr(rnn, "proj_size", 0):
            raise TypeError("ScanRNN does not support LSTMs with proj_size")
        self.rnn = rnn
        self.lstm = isinstance(rnn, nn.LSTM)

    def forward(self, x: torch.Tensor, hx=None, valid: torch.Tensor | None = None):
        r = self.rnn
        seq = x.transpose(0, 1) if r.batch_first else x            # (T, B, I)
        B = seq.shape[1]
        dirs = 2 if r.bidirectional else 1
        if hx is None:
            h0 = c0 = None
        elif self.lstm:
            h0, c0 = hx
        else:
            h0, c0 = hx, None

        def start(state, k):  # a fresh tensor: scan's initial carry must not alias others
            if state is None:
                return seq.new_zeros(B, r.hidden_size)
            return state[k].clone()

        v = None
        if valid is not None:
            v = (valid.transpose(0, 1) if r.batch_first else valid)[..., None]  # (T, B, 1)
        hs, cs = [], []
        for layer in range(r.num_layers):
            outs = []
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                w_ih, w_hh = getattr(r, "weight_ih" + sfx), getattr(r, "weight_hh" + sfx)
                b_ih = getattr(r, "bias_ih" + sfx) if r.bias else None
                b_hh = getattr(r, "bias_hh" + sfx) if r.bias else None
                gi = F.linear(seq, w_ih, b_ih)                     # (T, B, G·H), all steps
                k = layer * dirs + d
                out, h_t, c_t = _direction(self.lstm, gi, w_hh, b_hh, start(h0, k),
                                           start(c0, k) if self.lstm else None, v,
                                           reverse=bool(d))
                outs.append(out)
                hs.append(h_t)
                cs.append(c_t)
            seq = torch.cat(outs, dim=-1) if dirs == 2 else outs[0]  # (T, B, dirs·H)
        output = seq.transpose(0, 1) if r.batch_first else seq
        h_n = torch.stack(hs)                                      # (layers·dirs, B, H)
        return output, ((h_n, torch.stack(cs)) if self.lstm else h_n)


def with_scan_rnns(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` in which every ``nn.GRU`` / ``nn.LSTM`` is a :class:`ScanRNN`
    (``model`` itself when it has none)."""
    if not any(isinstance(m, (nn.GRU, nn.LSTM)) for m in model.modules()):
        return model
    clone = copy.deepcopy(model)
    for module in list(clone.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, (nn.GRU, nn.LSTM)):
                setattr(module, child_name, ScanRNN(child))
    return clone.eval()
