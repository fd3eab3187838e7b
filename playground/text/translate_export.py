"""What a translation run gives the exporter (:mod:`playground.core.export`): two graphs.

``encoder`` reads the source once; ``decoder`` writes the translation token by token (the
app's greedy decoding runs the same way). Both take and give batch-first tensors:

- Transformer — ``encoder``: ``src`` int64 ``(batch, src_len)`` (the source ids then the end
  id 2, padded with 0) -> ``memory`` ``(batch, src_len, n_embd)``, ``src_pad`` bool ``(batch,
  src_len)``. ``decoder`` (a *prefix* decoder): ``memory``, ``src_pad``, ``ys`` int64 ``(batch,
  tgt_len)`` (the begin id 1 then the tokens so far) -> ``logits`` ``(batch, tgt_len, vocab)``;
  the last row scores the next token.
- GRU/LSTM with attention — ``encoder``: ``src`` -> ``values`` ``(batch, src_len, 2·hidden)``,
  ``keys`` ``(batch, src_len, hidden)``, ``src_pad``, ``h0`` ``(batch, layers, hidden)``.
  ``decoder`` (a *step* decoder, one token per call): ``y`` int64 ``(batch,)`` (the previous
  token; 1 to begin), ``h`` (and for the LSTM ``c``) ``(batch, layers, hidden)`` (``h0`` and
  zeros to begin), ``keys``, ``values``, ``src_pad`` -> ``logits`` ``(batch, vocab)``, the new
  state ``h_out`` (and ``c_out``), fed back as ``h`` (``c``) on the next call. The
  bidirectional encoder is traced through :class:`~playground.core.export_ops.ScanRNN` with
  the padding mask, which gives the packed sequence the app uses.

Parity: validation pairs of the run's data (re-read and split as in training) where the pairs
file is still there, else random ids; at another batch size and source / target length than
traced. Both graphs are checked: the encoder's outputs against the app's ``encode``, and the
decoder, fed the exported encoder's outputs and the reference translation (teacher forcing),
against the app's ``decode`` at every position.

Beside the model: ``model.json`` (the two tokenizers' settings, special ids, text cleaning,
length limits), the SentencePiece model(s) and ``predict.py``: ``python predict.py "text" …``
prints one greedy translation per input line (what the app gives with beam width 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

TRACED_BATCH, CHECK_BATCH = 2, 3
TRACED_SRC, TRACED_TGT = 5, 4

PREDICT_PY = '''"""Translate with the exported encoder and decoder (greedy: the most likely token
each step, what Model Playground gives with beam width 1).

    python predict.py "first sentence" "second sentence"
    python predict.py < sentences.txt        # one sentence a line

Needs onnxruntime and numpy (and sentencepiece for SentencePiece tokenizers). Written by Model
Playground beside encoder.onnx and decoder.onnx; model.json holds the tokenizers' settings.
"""

import argparse
import json
import sys
import unicodedata
from pathlib import Path

import numpy as np
import onnxruntime as ort

HERE = Path(__file__).resolve().parent


class Side:
    """One side's tokenizer, with the 3 special ids (pad 0, begin 1, end 2) in front."""

    def __init__(self, meta, offset):
        self.kind, self.offset = meta["kind"], offset
        if self.kind == "char":
            self.chars = meta["chars"]
            self.index = {c: i for i, c in enumerate(self.chars)}
        else:
            import sentencepiece as spm

            self.sp = spm.SentencePieceProcessor(model_file=str(HERE / meta["file"]))

    def encode(self, text):
        if self.kind == "char":   # characters never seen in training are left out
            return [self.index[c] + self.offset for c in text if c in self.index]
        return [i + self.offset for i in self.sp.encode(text)]

    def decode(self, ids):
        ids = [int(i) - self.offset for i in ids if int(i) >= self.offset]
        if self.kind == "char":
            return "".join(self.chars[i] for i in ids if i < len(self.chars))
        return self.sp.decode(ids)


def clean(text, meta):
    if meta["normalize"] != "none":
        text = unicodedata.normalize(meta["normalize"], text)
    text = " ".join(text.split())
    return text.lower() if meta["lowercase"] else text


def session(name):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(HERE / name), options, providers=["CPUExecutionProvider"])


def translate(encoder, decoder, meta, src_ids):
    sp = meta["special_ids"]
    src = np.array([src_ids + [sp["eos"]]], np.int64)                      # (1, S)
    limit = max(1, min(meta["max_len"] - 1, int(meta["max_len_a"] * src.shape[1]
                                                 + meta["max_len_b"])))
    enc = dict(zip(meta["outputs"]["encoder"], encoder.run(None, {"src": src})))
    out = []
    if meta["decoder"] == "prefix":                                        # Transformer
        ys = [sp["bos"]]
        for _ in range(limit):
            logits = decoder.run(None, {"memory": enc["memory"], "src_pad": enc["src_pad"],
                                        "ys": np.array([ys], np.int64)})[0]
            token = int(logits[0, -1].argmax())
            if token == sp["eos"]:
                break
            out.append(token)
            ys.append(token)
        return out
    names = meta["inputs"]["decoder"]                                      # recurrent
    state = {"h": enc["h0"]}
    if "c" in names:
        state["c"] = np.zeros_like(enc["h0"])
    y = sp["bos"]
    for _ in range(limit):
        feeds = {"y": np.array([y], np.int64), "keys": enc["keys"], "values": enc["values"],
                 "src_pad": enc["src_pad"], **state}
        logits, *new = decoder.run(None, feeds)
        state = dict(zip([n for n in names if n in ("h", "c")], new))
        y = int(logits[0].argmax())
        if y == sp["eos"]:
            break
        out.append(y)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description="Translate with encoder.onnx + decoder.onnx.")
    parser.add_argument("text", nargs="*", help="sentences (default: lines of stdin)")
    args = parser.parse_args(argv)
    meta = json.loads((HERE / "model.json").read_text(encoding="utf-8"))
    offset = meta["special_ids"]["offset"]
    source = Side(meta["tokenizers"]["source"], offset)
    target = Side(meta["tokenizers"]["target"], offset)
    encoder, decoder = session(meta["files"]["encoder"]), session(meta["files"]["decoder"])
    lines = args.text or sys.stdin.read().splitlines()
    for line in lines:
        ids = source.encode(clean(line, meta)) if line.strip() else []
        if len(ids) > meta["max_len"] - 1:
            print(f"error: the text is {len(ids)} tokens long; this model reads at most "
                  f"{meta['max_len'] - 1}", file=sys.stderr)
            return 1
        print(target.decode(translate(encoder, decoder, meta, ids)) if ids else "")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
'''


def _modules():
    import torch
    from torch import nn

    from playground.core.export_ops import ScanRNN

    class TransformerEncoder(nn.Module):
        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, src):
            enc = self.model.encode(src)
            return enc["memory"], enc["src_pad"]

    class TransformerDecoder(nn.Module):
        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, memory, src_pad, ys):
            return self.model.decode({"memory": memory, "src_pad": src_pad}, ys)

    class RNNEncoder(nn.Module):
        """The app's ``encode`` with the packed sequence replaced by a masked scan."""

        def __init__(self, model) -> None:
            super().__init__()
            self.model = model
            self.rnn = ScanRNN(model.encoder)

        def forward(self, src):
            m = self.model
            src_pad = src.eq(m.config.pad_id)                                  # (B, S)
            x = (m.src_emb or m.tgt_emb)(src)                                  # (B, S, E)
            out, state = self.rnn(x, valid=~src_pad)                           # (B, S, 2H)
            h = state[0] if isinstance(state, tuple) else state                # (2L, B, H)
            L = m.config.n_layer
            h = h.view(L, 2, h.size(1), h.size(2))                             # (L, 2, B, H)
            h0 = torch.tanh(m.bridge(torch.cat([h[:, 0], h[:, 1]], dim=-1)))   # (L, B, H)
            return out, m.keys(out), src_pad, h0.transpose(0, 1).contiguous()

    class GRUStep(nn.Module):
        """One iteration of the app's teacher-forced ``decode`` loop, states batch first."""

        def __init__(self, model) -> None:
            super().__init__()
            self.model = model
            self.rnn = ScanRNN(model.decoder)   # its step(): the cell without a loop

        def step(self, y, hs, state, keys, values, src_pad):
            m = self.model
            emb = m.tgt_emb(y)                                                 # (N, E)
            context, _ = m.attention(hs[-1], keys, values, src_pad)            # (N, 2H)
            out, state = self.rnn.step(torch.cat([emb, context], dim=-1), state)  # (N, H)
            features = torch.cat([out, context, emb], dim=-1)                  # (N, H+2H+E)
            return m.lm_head(torch.tanh(m.pre_out(features))), state           # (N, V)

        def forward(self, y, h, keys, values, src_pad):
            hs = h.transpose(0, 1).contiguous()                                # (L, N, H)
            logits, state = self.step(y, hs, hs, keys, values, src_pad)
            return logits, state.transpose(0, 1)

    class LSTMStep(GRUStep):
        def forward(self, y, h, c, keys, values, src_pad):
            hs = h.transpose(0, 1).contiguous()                                # (L, N, H)
            state = (hs, c.transpose(0, 1).contiguous())
            logits, (h, c) = self.step(y, hs, state, keys, values, src_pad)
            return logits, h.transpose(0, 1), c.transpose(0, 1)

    return TransformerEncoder, TransformerDecoder, RNNEncoder, GRUStep, LSTMStep


def _tokenizer_meta(side, run_dir: Path, folder: str, extra: dict[str, Path]) -> dict[str, Any]:
    base = side.base
    meta: dict[str, Any] = {"kind": base.kind, "vocab_size": int(side.vocab_size)}
    if base.kind == "char":
        meta["chars"] = list(base.chars)
        return meta
    source = run_dir / folder / "tokenizer.model" if folder else run_dir / "tokenizer.model"
    name = f"{folder}.model" if folder else "tokenizer.model"
    meta["file"] = name
    extra[name] = source
    return meta


def held_out_pairs(spec, translator, n: int) -> tuple[list, list, str] | None:
    """Source and reference ids of up to ``n`` validation pairs of the run's data."""
    from playground.text.tokenizers import BOS_ID, EOS_ID
    from playground.text.translate_train import read_pairs

    data = spec.info.get("data_spec")
    cfg = translator.config
    if not data or cfg is None:
        return None
    try:
        pairs = read_pairs(cfg, data).split(cfg.val_fraction, cfg.test_fraction, cfg.seed).val
        limit = translator.model.max_len - 1
        src, tgt = [], []
        for s, t in pairs:
            a, _ = translator.encode(s)
            b = translator.tokenizer.target.encode(t)
            if a and b and len(a) <= limit and len(b) <= limit:
                src.append(a + [EOS_ID])
                tgt.append([BOS_ID] + b)
            if len(src) == n:
                break
    except Exception:  # noqa: BLE001 - the pairs moved or cannot be read: synthetic ids
        return None
    if len(src) < n:
        return None
    return src, tgt, f"{n} validation pairs of {Path(str(data)).name}"


def translate_export_spec(spec) -> Any:
    """The ExportSpec of an opened translate run (a :class:`playground.core.loader.RunSpec`)."""
    import torch

    from playground.core.export import Comparison, ExportSpec, Graph
    from playground.text.tokenizers import BOS_ID, EOS_ID, PAD_ID
    from playground.text.translate_decode import MAX_LEN_A, MAX_LEN_B, pad_batch
    from playground.text.translate_predict import Translator

    tr = Translator.from_spec(spec, "cpu")
    model = tr.model.float().eval()
    tok = tr.tokenizer
    max_len = int(model.max_len)
    src_vocab, tgt_vocab = int(tok.source.vocab_size), int(tok.target.vocab_size)
    rng = np.random.default_rng(0)

    def synthetic(batch: int, s_len: int, t_len: int):
        src = [list(rng.integers(3, src_vocab, s_len - 1)) + [EOS_ID] for _ in range(batch)]
        tgt = [[BOS_ID] + list(rng.integers(3, tgt_vocab, t_len - 1)) for _ in range(batch)]
        return src, tgt

    real = held_out_pairs(spec, tr, CHECK_BATCH)
    if real is not None:
        src_ids, tgt_ids, source = real
    else:
        src_ids, tgt_ids = synthetic(CHECK_BATCH, min(max_len, 9), min(max_len, 7))
        source = f"{CHECK_BATCH} synthetic sentences (the pairs file is not available here)"
    src, ys = pad_batch(src_ids), pad_batch(tgt_ids)                # (B, S), (B, T)
    if src.shape[1] == TRACED_SRC:                                  # another length than traced
        src = torch.cat([src, torch.full((CHECK_BATCH, 1), PAD_ID)], 1)
    if ys.shape[1] == TRACED_TGT:
        ys = torch.cat([ys, torch.full((CHECK_BATCH, 1), PAD_ID)], 1)
    ex_src, ex_tgt = (pad_batch(x) for x in synthetic(TRACED_BATCH, TRACED_SRC, TRACED_TGT))
    with torch.no_grad():
        enc = model.encode(src)
        want_logits = model.decode(enc, ys).float().numpy()                 # (B, T, V)
        ex_enc = model.encode(ex_src)
    TEncoder, TDecoder, REncoder, GRUStep, LSTMStep = _modules()
    seq = {0: "batch", 1: "src_len"}
    if hasattr(model, "pos_table") or hasattr(model, "pos_emb"):        # the Transformer
        style = "prefix"
        graphs = [
            Graph("encoder", TEncoder(model), (ex_src,), ["src"], ["memory", "src_pad"],
                  {"src": seq}),
            Graph("decoder", TDecoder(model), (ex_enc["memory"], ex_enc["src_pad"], ex_tgt),
                  ["memory", "src_pad", "ys"], ["logits"],
                  {"memory": seq, "src_pad": seq, "ys": {0: "batch", 1: "tgt_len"}})]
        want_enc = {"memory": enc["memory"].numpy(), "src_pad": enc["src_pad"].numpy()}

        def drive(run, got_enc):
            return run("decoder", (got_enc["memory"], got_enc["src_pad"], ys))[0]
    else:
        style = "step"
        lstm = model.config.cell == "lstm"
        state_names = ["h", "c"] if lstm else ["h"]
        h0 = ex_enc["h0"]
        ex_state = [h0, torch.zeros_like(h0) + 0.1] if lstm else [h0]
        batch = {0: "batch"}
        graphs = [
            Graph("encoder", REncoder(model), (ex_src,), ["src"],
                  ["values", "keys", "src_pad", "h0"], {"src": seq}),
            Graph("decoder", (LSTMStep if lstm else GRUStep)(model),
                  (ex_tgt[:, 0], *ex_state, ex_enc["keys"], ex_enc["values"],
                   ex_enc["src_pad"]),
                  ["y", *state_names, "keys", "values", "src_pad"],
                  ["logits", *(n + "_out" for n in state_names)],
                  {"y": batch, **{n: batch for n in state_names}, "keys": seq, "values": seq,
                   "src_pad": seq})]
        want_enc = {k: enc[k].numpy() for k in ("values", "keys", "src_pad", "h0")}

        def drive(run, got_enc):
            state = [got_enc["h0"]] + ([np.zeros_like(got_enc["h0"])] if lstm else [])
            rows = []
            for t in range(ys.shape[1]):
                logits, *state = run("decoder", (ys[:, t], *state, got_enc["keys"],
                                                 got_enc["values"], got_enc["src_pad"]))
                rows.append(logits)
            return np.stack(rows, axis=1)                                   # (B, T, V)

    enc_names = graphs[0].output_names

    def check(run):
        got_enc = dict(zip(enc_names, run("encoder", (src,)), strict=True))
        out = [Comparison(f"encoder {k}", got_enc[k], want_enc[k]) for k in enc_names]
        return [*out, Comparison("decoder logits", drive(run, got_enc), want_logits, True)]

    extra: dict[str, Path] = {}
    run_dir = Path(spec.path)
    if tok.shared:
        meta = _tokenizer_meta(tok.source, run_dir, "", extra)
        tokenizers = {"shared": True, "source": meta, "target": meta}
    else:
        tokenizers = {"shared": False,
                      "source": _tokenizer_meta(tok.source, run_dir, "source_tokenizer", extra),
                      "target": _tokenizer_meta(tok.target, run_dir, "target_tokenizer", extra)}
    cfg = tr.config
    sidecar = {"task": "translate", "model": spec.model, "decoder": style,
               "tokenizers": tokenizers,
               "special_ids": {"pad": PAD_ID, "bos": BOS_ID, "eos": EOS_ID, "offset": 3},
               "normalize": getattr(cfg, "normalize", "NFC"),
               "lowercase": bool(getattr(cfg, "lowercase", False)), "max_len": max_len,
               "max_len_a": MAX_LEN_A, "max_len_b": MAX_LEN_B,
               "input_layout": "src int64 (batch, src_len): source ids + 3 (after pad 0, "
                               "begin 1, end 2), then the end id, padded with 0"}
    inputs = {"samples": CHECK_BATCH, "batch_size": CHECK_BATCH, "seq_len": int(src.shape[1]),
              "target_len": int(ys.shape[1]), "traced_batch_size": TRACED_BATCH,
              "traced_seq_len": TRACED_SRC, "source": source}
    dims = {"batch": (1, 1024), "src_len": (1, max_len), "tgt_len": (1, max_len)}
    return ExportSpec(graphs=graphs, check=check, inputs=inputs, sidecar=sidecar, dims=dims,
                      predict_script=PREDICT_PY, extra_files=extra)
