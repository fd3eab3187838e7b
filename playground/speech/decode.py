"""CTC decoding: greedy and prefix beam search, plus where symbols are emitted.

All functions take per-frame log-probabilities or probabilities ``(T, C)`` as numpy arrays or
tensors (index 0 = blank unless ``blank`` says otherwise) and return plain Python data.

- :func:`greedy_decode` ``(log_probs, blank=0) -> list[int]``: best label per frame, repeats
  collapsed, blanks removed.
- :func:`greedy_decode_batch` ``(log_probs (B, T, C), lengths) -> list[list[int]]``.
- :func:`beam_search` ``(log_probs, beam_width=8, blank=0) -> list[(ids, log_score)]``: CTC
  prefix beam search (Hannun et al., "First-Pass Large Vocabulary Continuous Speech Recognition
  using Bi-Directional Recurrent DNNs", 2014) without a language model, best first. Written
  here in numpy because torchaudio's CTC decoder needs the optional flashlight-text package.
- :func:`emissions` ``(posteriors, labels, blank=0) -> list[(frame, symbol)]``: the frames at
  which the greedy path starts emitting each symbol (the alignment view's markers).
- :func:`greedy_spans` ``(log_probs) -> list[(start, end, id)]``: the frames each emitted
  symbol holds on the greedy path; :func:`forced_spans` ``(log_probs, ids)`` the same for a
  given (beam search) result on its best alignment (``torchaudio.functional.forced_align``);
  :func:`forced_frames` just the start frames; :func:`symbol_runs` from any frame path.
- :func:`word_segments` ``(spans, frame_seconds, offset=0.0, separator=" ")
  -> list[{"start", "end", "text"}]``: words with times in seconds; :func:`timed_words` the
  same from ``(start_s, end_s, symbol)``; :func:`phrases` joins words into transcript segments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

NEG_INF = -np.inf


def _as_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _collapse(path: np.ndarray, blank: int) -> list[int]:
    out, prev = [], None
    for p in path.tolist():
        if p != prev and p != blank:
            out.append(int(p))
        prev = p
    return out


def greedy_decode(log_probs: Any, blank: int = 0) -> list[int]:
    """Best path: argmax per frame, collapse repeats, drop blanks."""
    lp = _as_numpy(log_probs)
    if lp.size == 0:
        return []
    return _collapse(lp.argmax(axis=-1), blank)


def greedy_decode_batch(log_probs: Any, lengths: Sequence[int] | Any, blank: int = 0
                        ) -> list[list[int]]:
    """:func:`greedy_decode` for each ``(T, C)`` slice of ``(B, T, C)`` up to its length."""
    if hasattr(log_probs, "argmax") and hasattr(log_probs, "detach"):
        best = log_probs.detach().argmax(dim=-1).cpu().numpy()
    else:
        best = np.asarray(log_probs).argmax(axis=-1)
    lengths = [int(n) for n in (lengths.tolist() if hasattr(lengths, "tolist") else lengths)]
    return [_collapse(best[b, :n], blank) for b, n in enumerate(lengths)]


def _slots(table: dict[tuple[int, ...], list[float]]):
    """``slot(prefix)``: the ``[p_blank, p_symbol]`` scores of ``prefix`` in ``table``."""

    def slot(prefix: tuple[int, ...]) -> list[float]:
        s = table.get(prefix)
        if s is None:
            s = table[prefix] = [NEG_INF, NEG_INF]
        return s

    return slot


def beam_search(log_probs: Any, beam_width: int = 8, blank: int = 0,
                top_symbols: int | None = None) -> list[tuple[tuple[int, ...], float]]:
    """CTC prefix beam search; returns up to ``beam_width`` ``(ids, log_prob)``, best first.

    Each prefix keeps two scores: ending in blank (``pb``) and ending in its last symbol
    (``pnb``). A repeated symbol extends a prefix only after a blank. Per frame only the
    ``top_symbols`` most likely symbols (default ``beam_width``) are tried.
    """
    lp = _as_numpy(log_probs)
    if lp.ndim != 2:
        raise ValueError("beam_search expects (frames, symbols) log-probabilities")
    if lp.size and lp.max() > 1e-6 + 0.0 and np.all(lp >= 0):
        lp = np.log(np.clip(lp, 1e-30, None))  # probabilities were given
    beam_width = max(1, int(beam_width))
    k = min(lp.shape[1], top_symbols or max(beam_width, 2))
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, NEG_INF)}
    for t in range(lp.shape[0]):
        row = lp[t]
        candidates = [int(c) for c in np.argpartition(-row, k - 1)[:k] if c != blank]
        nxt: dict[tuple[int, ...], list[float]] = {}
        slot = _slots(nxt)
        for prefix, (pb, pnb) in beams.items():
            total = np.logaddexp(pb, pnb)
            s = slot(prefix)
            s[0] = np.logaddexp(s[0], total + row[blank])          # blank: prefix unchanged
            last = prefix[-1] if prefix else None
            for c in candidates:
                p = row[c]
                ext = slot(prefix + (c,))
                if c == last:
                    ext[1] = np.logaddexp(ext[1], pb + p)          # "a∅a" -> "aa"
                    s[1] = np.logaddexp(s[1], pnb + p)             # "aa" -> "a"
                else:
                    ext[1] = np.logaddexp(ext[1], total + p)
            if last is not None and last not in candidates:
                s[1] = np.logaddexp(s[1], pnb + row[last])         # keep the run going
        ranked = sorted(nxt.items(), key=lambda kv: np.logaddexp(*kv[1]), reverse=True)
        beams = {prefix: (v[0], v[1]) for prefix, v in ranked[:beam_width]}
    return [(prefix, float(np.logaddexp(pb, pnb))) for prefix, (pb, pnb) in
            sorted(beams.items(), key=lambda kv: np.logaddexp(*kv[1]), reverse=True)]


def symbol_runs(path: Sequence[int], blank: int = 0) -> list[tuple[int, int, int]]:
    """``(start, end, id)`` of each emitted symbol on a frame path (``end`` exclusive): the
    frames where the path stays on that symbol. A symbol repeated after a blank starts a new
    run."""
    runs: list[tuple[int, int, int]] = []
    prev = None
    for t, c in enumerate(path):
        c = int(c)
        if c != blank and c == prev:
            s, _, i = runs[-1]
            runs[-1] = (s, t + 1, i)
        elif c != blank:
            runs.append((t, t + 1, c))
        prev = c
    return runs


def emissions(posteriors: Any, labels: Sequence[str], blank: int = 0) -> list[tuple[int, str]]:
    """``(frame, symbol)`` for each symbol the greedy path emits, at its first frame."""
    p = _as_numpy(posteriors)
    if p.size == 0:
        return []
    return [(s, str(labels[i])) for s, _, i in symbol_runs(p.argmax(axis=-1).tolist(), blank)]


def greedy_spans(log_probs: Any, blank: int = 0) -> list[tuple[int, int, int]]:
    """:func:`symbol_runs` of the greedy (best-per-frame) path."""
    lp = _as_numpy(log_probs)
    return symbol_runs(lp.argmax(axis=-1).tolist(), blank) if lp.size else []


def forced_spans(log_probs: Any, ids: Sequence[int], blank: int = 0
                 ) -> list[tuple[int, int, int]]:
    """``(start, end, id)`` of each symbol of ``ids`` on its best CTC alignment
    (``torchaudio.functional.forced_align``); times a beam-search result. Falls back to one
    frame per symbol when no alignment exists (more symbols than frames allow)."""
    ids = [int(i) for i in ids]
    if not ids:
        return []
    import torch
    from torchaudio.functional import forced_align

    lp = torch.as_tensor(_as_numpy(log_probs), dtype=torch.float32)[None]
    fallback = [(k, k + 1, i) for k, i in enumerate(ids)]
    if lp.shape[1] < len(ids):
        return fallback
    try:
        path, _ = forced_align(lp, torch.tensor([ids], dtype=torch.int32), blank=blank)
    except RuntimeError:
        return fallback
    runs = symbol_runs(path[0].tolist(), blank)
    return runs if [i for _, _, i in runs] == ids else fallback


def forced_frames(log_probs: Any, ids: Sequence[int], blank: int = 0) -> list[int]:
    """The first frame of each symbol of ``ids`` on its best CTC alignment."""
    return [s for s, _, _ in forced_spans(log_probs, ids, blank)]


def timed_words(timed: Sequence[tuple[float, float, str]], separator: str = " "
                ) -> list[dict[str, Any]]:
    """Group ``(start_s, end_s, symbol)`` spans into words ``{"start", "end", "text"}``."""
    words: list[dict[str, Any]] = []
    current: list[tuple[float, float, str]] = []

    def flush() -> None:
        if current:
            words.append({"start": round(current[0][0], 3), "end": round(current[-1][1], 3),
                          "text": "".join(s for _, _, s in current)})
            current.clear()

    for start, end, symbol in timed:
        if symbol == separator or symbol.isspace():
            flush()
        else:
            current.append((start, end, symbol))
    flush()
    return words


def word_segments(spans: Sequence[tuple[int, int, str]], frame_seconds: float,
                  offset: float = 0.0, separator: str = " ") -> list[dict[str, Any]]:
    """Group ``(start_frame, end_frame, symbol)`` spans into words with times in seconds."""
    return timed_words([(offset + s * frame_seconds, offset + e * frame_seconds, sym)
                        for s, e, sym in spans], separator)


def phrases(words: Sequence[dict[str, Any]], pause: float = 0.6, max_seconds: float = 12.0
            ) -> list[dict[str, Any]]:
    """Join words into transcript segments, breaking at pauses longer than ``pause`` seconds
    or when a segment would pass ``max_seconds``."""
    out: list[dict[str, Any]] = []
    for w in words:
        if out and w["start"] - out[-1]["end"] <= pause \
                and w["end"] - out[-1]["start"] <= max_seconds:
            out[-1]["end"] = w["end"]
            out[-1]["text"] += " " + w["text"]
        else:
            out.append(dict(w))
    return out
