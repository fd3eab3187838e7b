"""What a text-generation run (GPT or LSTM) gives the exporter (:mod:`playground.core.export`).

One graph, ``model``:

- GPT: ``tokens`` int64 ``(batch, seq)`` (``seq`` at most the block size) -> ``logits``
  ``(batch, seq, vocab)``. Generation feeds the last ``block_size`` tokens each step, as the
  app does.
- LSTM: ``tokens`` ``(batch, seq)``, ``h0`` / ``c0`` float32 ``(batch, layers, hidden)`` (zeros
  to start) -> ``logits``, ``h`` and ``c`` in the same layout, so generation reads the prompt
  once and then one token a step with the carried state, as the app does. The LSTM is traced
  through :class:`~playground.core.export_ops.ScanRNN` so any length works.

Parity: windows of the run's validation text (the last 10 % of its corpus, tokenised with the
run's tokenizer) when the corpus can still be read, else deterministic random token ids; at
another batch size and sequence length than traced (for the LSTM also from a non-zero state,
the one the app reaches after reading the tokens before the window).

Beside the model: ``model.json`` (tokenizer kind; the characters of a character tokenizer; the
block size), ``tokenizer.model`` for SentencePiece runs, and ``predict.py``: ``python predict.py
"PROMPT" [--tokens N]`` prints the prompt and its greedy continuation (what the app writes at
temperature 0), with onnxruntime and numpy (and sentencepiece for SentencePiece runs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

TRACED_BATCH, CHECK_BATCH = 2, 3

PREDICT_PY = '''"""Continue a prompt with the exported language model (greedy: the most likely token
each step, what Model Playground writes at temperature 0).

    python predict.py "ROMEO:" [--tokens 100]

Needs onnxruntime and numpy (and sentencepiece when model.json says the tokenizer is
SentencePiece). Written by Model Playground beside model.onnx; model.json holds the tokenizer
settings and the block size.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

HERE = Path(__file__).resolve().parent


class Tokenizer:
    def __init__(self, meta):
        tok = meta["tokenizer"]
        self.kind = tok["kind"]
        if self.kind == "char":
            self.chars = tok["chars"]
            self.index = {c: i for i, c in enumerate(self.chars)}
        else:
            import sentencepiece as spm

            self.sp = spm.SentencePieceProcessor(model_file=str(HERE / tok["file"]))

    def unknown(self, text):
        if self.kind == "char":
            return [c for c in dict.fromkeys(text) if c not in self.index]
        unk = self.sp.unk_id()
        return [c for c in dict.fromkeys(text)
                if self.sp.piece_to_id("\\u2581" if c == " " else c) == unk]

    def encode(self, text):
        if self.kind == "char":
            return [self.index[c] for c in text]
        return list(self.sp.encode(text))

    def decode(self, ids):
        if self.kind == "char":
            return "".join(self.chars[i] for i in ids)
        return self.sp.decode([int(i) for i in ids])


def prompt_ids(tok, prompt):
    if prompt:
        return tok.encode(prompt)
    if not tok.unknown("\\n") and tok.encode("\\n"):
        return tok.encode("\\n")   # an empty prompt starts from a newline, as in the app
    return [0]


def generate(session, meta, ids, n):
    """``n`` greedy tokens after ``ids``."""
    block = meta["block_size"]
    out = []
    if meta["recurrent"]:
        layers, hidden = meta["state"]["layers"], meta["state"]["hidden"]
        h = np.zeros((1, layers, hidden), np.float32)
        c = np.zeros_like(h)
        x = np.array([ids[-block:]], np.int64)        # the prompt once, then one token a step
        for _ in range(n):
            logits, h, c = session.run(None, {"tokens": x, "h0": h, "c0": c})
            token = int(logits[0, -1].argmax())
            out.append(token)
            x = np.array([[token]], np.int64)
        return out
    context = list(ids[-block:])
    for _ in range(n):
        logits = session.run(None, {"tokens": np.array([context], np.int64)})[0]
        token = int(logits[0, -1].argmax())
        out.append(token)
        context = (context + [token])[-block:]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description="Continue a prompt with model.onnx.")
    parser.add_argument("prompt", nargs="?", default="")
    parser.add_argument("--tokens", type=int, default=100, help="new tokens (default 100)")
    args = parser.parse_args(argv)
    meta = json.loads((HERE / "model.json").read_text(encoding="utf-8"))
    tok = Tokenizer(meta)
    unknown = tok.unknown(args.prompt)
    if unknown:
        print(f"error: the prompt has characters the tokenizer never saw: "
              f"{', '.join(map(repr, unknown))}", file=sys.stderr)
        return 1
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(HERE / meta["file"]), options,
                                   providers=["CPUExecutionProvider"])
    ids = prompt_ids(tok, args.prompt)
    new = generate(session, meta, ids, max(0, args.tokens))
    before = tok.decode(ids)
    text = tok.decode(ids + new)
    continuation = text[len(before):] if text.startswith(before) else tok.decode(new)
    print(args.prompt + continuation)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
'''


def _modules():
    import torch
    from torch import nn

    from playground.core.export_ops import ScanRNN

    class Logits(nn.Module):
        """GPT: ``tokens -> logits`` (the loss slot dropped)."""

        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            return self.model(tokens)[0]                               # (B, T, V)

    class Recurrent(nn.Module):
        """LSTM: ``(tokens, h0, c0) -> (logits, h, c)``, states batch first (B, L, H)."""

        def __init__(self, model) -> None:
            super().__init__()
            self.model = model
            self.rnn = ScanRNN(model.lstm)

        def forward(self, tokens, h0, c0):
            m = self.model
            x = m.embedding(tokens)                                    # (B, T, n_embd)
            state = (h0.transpose(0, 1), c0.transpose(0, 1))           # (L, B, H) x 2
            out, (h, c) = self.rnn(x, state)                           # (B, T, H)
            logits = m.lm_head(m.proj(out))                            # (B, T, V)
            return logits, h.transpose(0, 1), c.transpose(0, 1)

    return Logits, Recurrent


def held_out_tokens(spec, tokenizer) -> tuple[np.ndarray, str] | None:
    """The run's validation tokens (the last 10 % of its corpus) and their description."""
    from playground.text.corpus import load_corpus

    data = spec.info.get("data_spec")
    if not data:
        return None
    try:
        corpus = load_corpus(data)
        _, val = corpus.split()
        ids = tokenizer.encode_array(val)
    except Exception:  # noqa: BLE001 - gone or unreadable: synthetic ids instead
        return None
    name = data if isinstance(data, str) else f"{len(data)} files"
    return ids, f"the validation text of {Path(name).name if '/' in str(name) else name}"


def _windows(ids: np.ndarray, n: int, length: int) -> np.ndarray:
    starts = np.linspace(0, len(ids) - length, n).round().astype(int)
    return np.stack([ids[s:s + length] for s in starts]).astype(np.int64)


def text_export_spec(spec) -> Any:
    """The ExportSpec of an opened text run (a :class:`playground.core.loader.RunSpec`)."""
    import torch

    from playground.core.export import Comparison, ExportSpec, Graph
    from playground.text.generate import TextGenerator

    gen = TextGenerator.from_spec(spec, "cpu")
    model = gen.model.float().eval()
    tok = gen.tokenizer
    vocab, block = int(tok.vocab_size), int(model.block_size)
    recurrent = not getattr(model, "has_attention", True)
    traced_len = max(2, min(8, block - 1))
    check_len = (min(block, 2 * traced_len + 1) if not recurrent else 2 * traced_len + 3)
    check_len = check_len if check_len != traced_len else 1
    prefix = 5 if recurrent else 0                          # tokens read before an LSTM window
    rng = np.random.default_rng(0)
    real = held_out_tokens(spec, tok)
    if real is not None and len(real[0]) >= check_len + prefix + CHECK_BATCH:
        windows = _windows(real[0], CHECK_BATCH, check_len + prefix)
        source = f"{CHECK_BATCH} windows of {check_len} tokens from {real[1]}"
    else:
        windows = rng.integers(0, vocab, (CHECK_BATCH, check_len + prefix), dtype=np.int64)
        source = f"{CHECK_BATCH} sequences of {check_len} synthetic token ids"
    example_ids = torch.from_numpy(rng.integers(0, vocab, (TRACED_BATCH, traced_len)))
    check = torch.from_numpy(windows[:, prefix:])
    Logits, Recurrent = _modules()
    tokenizer_meta: dict[str, Any] = {"kind": tok.kind, "spec": tok.spec, "vocab_size": vocab}
    extra: dict[str, Path] = {}
    if tok.kind == "char":
        tokenizer_meta["chars"] = list(tok.chars)
    else:
        tokenizer_meta["file"] = "tokenizer.model"
        extra["tokenizer.model"] = Path(spec.path) / "tokenizer.model"
    sidecar: dict[str, Any] = {"task": "text", "model": spec.model, "block_size": block,
                               "recurrent": recurrent, "tokenizer": tokenizer_meta}
    if not recurrent:
        with torch.no_grad():
            want = model(check)[0].float().numpy()
        graph = Graph("model", Logits(model), (example_ids,), ["tokens"], ["logits"],
                      {"tokens": {0: "batch", 1: "seq"}})

        def check_fn(run):
            return [Comparison("logits", run("model", (check,))[0], want, True)]

        dims = {"batch": (1, 1024), "seq": (1, block)}
        sidecar["input_layout"] = ("tokens int64 (batch, seq), seq <= block_size: the last "
                                   "block_size tokens of the context")
    else:
        layers, hidden = model.lstm.num_layers, model.lstm.hidden_size
        zeros = torch.zeros(TRACED_BATCH, layers, hidden)
        with torch.no_grad():
            _, _, (h, c) = model(torch.from_numpy(windows[:, :prefix]), return_state=True)
            logits, _, (h2, c2) = model(check, state=(h, c), return_state=True)
        start = (h.transpose(0, 1).contiguous(), c.transpose(0, 1).contiguous())
        want = [logits.numpy(), h2.transpose(0, 1).numpy(), c2.transpose(0, 1).numpy()]
        graph = Graph("model", Recurrent(model), (example_ids, zeros + 0.1, zeros - 0.1),
                      ["tokens", "h0", "c0"], ["logits", "h", "c"],
                      {"tokens": {0: "batch", 1: "seq"}, "h0": {0: "batch"},
                       "c0": {0: "batch"}})

        def check_fn(run):
            got = run("model", (check, *start))
            return [Comparison(n, g, w, n == "logits")
                    for n, g, w in zip(("logits", "h", "c"), got, want, strict=True)]

        dims = {"batch": (1, 1024), "seq": (1, 1 << 16)}
        sidecar["state"] = {"layers": int(layers), "hidden": int(hidden)}
        sidecar["input_layout"] = ("tokens int64 (batch, seq); h0, c0 float32 (batch, layers, "
                                   "hidden), zeros to start, then the h, c the last call "
                                   "returned")
    sidecar["output"] = "logits (batch, seq, vocab): the next token's scores at each position"
    inputs = {"samples": CHECK_BATCH, "batch_size": CHECK_BATCH, "seq_len": int(check.shape[1]),
              "traced_batch_size": TRACED_BATCH, "traced_seq_len": traced_len,
              "source": source}
    return ExportSpec(graphs=[graph], check=check_fn, inputs=inputs, sidecar=sidecar,
                      dims=dims, predict_script=PREDICT_PY, extra_files=extra)
