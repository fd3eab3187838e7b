"""Speech-recognition error rates with ``torchaudio.functional.edit_distance``.

- :func:`wer` ``(refs, hyps) -> float``: word error rate over a corpus (total word edits ÷
  total reference words).
- :func:`cer` ``(refs, hyps) -> float``: character error rate likewise (spaces count as
  characters, runs of whitespace collapsed).
- :func:`edit_counts` ``(ref, hyp, unit="word"|"char") -> (edits, ref_length)``.

``refs`` / ``hyps`` are a string each or sequences of strings of equal length.
"""

from __future__ import annotations

from collections.abc import Sequence


def _units(text: str, unit: str) -> list[str]:
    words = text.split()
    return words if unit == "word" else list(" ".join(words))


def edit_counts(ref: str, hyp: str, unit: str = "word") -> tuple[int, int]:
    from torchaudio.functional import edit_distance

    r, h = _units(ref, unit), _units(hyp, unit)
    return int(edit_distance(r, h)), len(r)


def _rate(refs: str | Sequence[str], hyps: str | Sequence[str], unit: str) -> float:
    if isinstance(refs, str):
        refs = [refs]
    if isinstance(hyps, str):
        hyps = [hyps]
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    edits = total = 0
    for r, h in zip(refs, hyps, strict=True):
        e, n = edit_counts(r, h, unit)
        edits += e
        total += n
    return edits / total if total else float(edits > 0)


def wer(refs: str | Sequence[str], hyps: str | Sequence[str]) -> float:
    """Word error rate (substitutions + deletions + insertions) / reference words."""
    return _rate(refs, hyps, "word")


def cer(refs: str | Sequence[str], hyps: str | Sequence[str]) -> float:
    """Character error rate (edits / reference characters)."""
    return _rate(refs, hyps, "char")
