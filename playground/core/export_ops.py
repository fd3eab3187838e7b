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


def _cell(lstm: bool, g: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None, w_hh, b_hh):
    if lstm:
        return _lstm_cell(g, h, c, w_hh, b_hh)
    return _gru_cell(g, h, w_hh, b_hh), None


def _layer(lstm: bool, gis: list, w_hhs: list, b_hhs: list, h0s: list, c0s: list,
           valid: torch.Tensor | None):
    """One layer, every direction in one scan over time-major ``gis[d]`` (T, B, G·H); the
    backward direction reads the sequence flipped. ``(outs, h_Ts, c_Ts)`` per direction."""
    scan = _scan()
    dirs = len(gis)
    flip = [d == 1 for d in range(dirs)]

    def step(carry, xs):
        new_carry, outs = [], []
        for d in range(dirs):
            h = carry[2 * d] if lstm else carry[d]
            c = carry[2 * d + 1] if lstm else None
            h_new, c_new = _cell(lstm, xs[d], h, c, w_hhs[d], b_hhs[d])
            if valid is None:
                out = h_new.clone()
            else:                                                  # (B, 1) bool
                keep = xs[dirs + d].to(h_new.dtype)
                h_new = keep * h_new + (1 - keep) * h              # padding: state unchanged
                if lstm:
                    c_new = keep * c_new + (1 - keep) * c
                out = keep * h_new                                 # padding: zeros out
            new_carry += [h_new, c_new] if lstm else [h_new]
            outs.append(out)
        return tuple(new_carry), tuple(outs)

    xs = [torch.flip(g, [0]) if f else g for g, f in zip(gis, flip, strict=True)]
    if valid is not None:
        xs += [torch.flip(valid, [0]) if f else valid for f in flip]
    init = []
    for d in range(dirs):
        init += [h0s[d], c0s[d]] if lstm else [h0s[d]]
    carry, outs = scan(step, tuple(init), tuple(xs))
    outs = [torch.flip(o, [0]) if f else o for o, f in zip(outs, flip, strict=True)]
    h_ts = [carry[2 * d] if lstm else carry[d] for d in range(dirs)]
    c_ts = [carry[2 * d + 1] for d in range(dirs)] if lstm else [None] * dirs
    return outs, h_ts, c_ts                                        # (T, B, H), (B, H) ...


class ScanRNN(nn.Module):
    """``ScanRNN(rnn)(x, hx=None, valid=None) -> (output, h_n)`` (LSTM: ``(h_n, c_n)``), the
    same shapes and layout as ``rnn(x, hx)``; see the module docstring. ``step(x, hx)`` is one
    time step of a unidirectional RNN, ``x`` ``(B, input)``, without a loop at all."""

    def __init__(self, rnn: nn.GRU | nn.LSTM) -> None:
        super().__init__()
        if not isinstance(rnn, (nn.GRU, nn.LSTM)):
            raise TypeError(f"ScanRNN wraps nn.GRU or nn.LSTM, not {type(rnn).__name__}")
        if getattr(rnn, "proj_size", 0):
            raise TypeError("ScanRNN does not support LSTMs with proj_size")
        self.rnn = rnn
        self.lstm = isinstance(rnn, nn.LSTM)

    def _weights(self, layer: int, d: int):
        r = self.rnn
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        return (getattr(r, "weight_ih" + sfx), getattr(r, "weight_hh" + sfx),
                getattr(r, "bias_ih" + sfx) if r.bias else None,
                getattr(r, "bias_hh" + sfx) if r.bias else None)

    def _states(self, hx):
        if hx is None:
            return None, None
        return hx if self.lstm else (hx, None)

    def forward(self, x: torch.Tensor, hx=None, valid: torch.Tensor | None = None):
        r = self.rnn
        seq = x.transpose(0, 1) if r.batch_first else x            # (T, B, I)
        B = seq.shape[1]
        dirs = 2 if r.bidirectional else 1
        h0, c0 = self._states(hx)

        def start(state, k):  # a fresh tensor: scan's initial carry must not alias others
            if state is None:
                return seq.new_zeros(B, r.hidden_size)
            return state[k].clone()

        v = None
        if valid is not None:
            v = (valid.transpose(0, 1) if r.batch_first else valid)[..., None]  # (T, B, 1)
        hs, cs = [], []
        for layer in range(r.num_layers):
            weights = [self._weights(layer, d) for d in range(dirs)]
            gis = [F.linear(seq, w_ih, b_ih) for w_ih, _, b_ih, _ in weights]  # all steps
            ks = [layer * dirs + d for d in range(dirs)]
            outs, h_ts, c_ts = _layer(
                self.lstm, gis, [w[1] for w in weights], [w[3] for w in weights],
                [start(h0, k) for k in ks],
                [start(c0, k) if self.lstm else None for k in ks], v)
            hs += h_ts
            cs += c_ts
            seq = torch.cat(outs, dim=-1) if dirs == 2 else outs[0]  # (T, B, dirs·H)
        output = seq.transpose(0, 1) if r.batch_first else seq
        h_n = torch.stack(hs)                                      # (layers·dirs, B, H)
        return output, ((h_n, torch.stack(cs)) if self.lstm else h_n)

    def step(self, x: torch.Tensor, hx):
        """One time step: ``x`` (B, I), ``hx`` as for ``nn.GRU`` / ``nn.LSTM`` (layers, B, H)
        -> ``(output (B, H), new hx)``."""
        r = self.rnn
        if r.bidirectional:
            raise TypeError("ScanRNN.step is for unidirectional RNNs")
        h0, c0 = self._states(hx)
        hs, cs = [], []
        for layer in range(r.num_layers):
            w_ih, w_hh, b_ih, b_hh = self._weights(layer, 0)
            h, c = _cell(self.lstm, F.linear(x, w_ih, b_ih), h0[layer],
                         c0[layer] if self.lstm else None, w_hh, b_hh)
            hs.append(h)
            cs.append(c)
            x = h
        h_n = torch.stack(hs)
        return x, ((h_n, torch.stack(cs)) if self.lstm else h_n)


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
