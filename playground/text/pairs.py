"""Sentence pairs for translation: reading, cleaning, splitting and describing them.

A pairs file is UTF-8 text with one pair a line, ``source<TAB>target``; further columns are
ignored (the Tatoeba / Anki export format ``Go.<TAB>Geh.<TAB>CC-BY 2.0 …``). A byte-order mark
(UTF-8/16/32) is honoured. ``demo:numbers-en-fr`` names the built-in demo
(:mod:`playground.text.numbers_fr`).

::

    data = load_pairs("deu.txt", swap=False, max_length=200, lowercase=False,
                      normalize="NFC", dedupe=True)        # PairData, raises DatasetError
    split = data.split(val_fraction=0.1, test_fraction=0.1, seed=1)   # PairSplit
    stats = data.stats(seed=0)                            # counts, histograms, examples

Cleaning, in order: Unicode normalisation (``NFC`` by default, ``NFKC``, or ``none``),
whitespace at both ends stripped, optional lowercasing, optional swap of the two sides, the
length filter (either side longer than ``max_length`` characters is left out and counted),
then optional de-duplication of identical pairs. Lines that cannot be used are counted by
reason and the first few named by line number in :attr:`PairData.warnings`; when most lines
are unusable the file is refused (it is probably not tab-separated).

The split keeps every translation of one source sentence on the same side, so a validation
sentence is never one the model trained on with another translation; groups are shuffled with
the seed, so the same seed and file always give the same split.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from playground.core.errors import ConfigError, DatasetError

NORMALIZATIONS = ("NFC", "NFKC", "none")
MIN_TRAIN_PAIRS = 10
MAX_NAMED = 5  # line numbers named per kind of problem


@dataclass
class PairSplit:
    train: list[tuple[str, str]]
    val: list[tuple[str, str]]
    test: list[tuple[str, str]]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


@dataclass
class PairStats:
    """What the Translate form shows about a pairs file before training."""

    pairs: int
    dropped: dict[str, int]
    source_words: tuple[np.ndarray, np.ndarray]   # histogram (counts, bin edges) of words
    target_words: tuple[np.ndarray, np.ndarray]
    mean_source_words: float
    mean_target_words: float
    examples: list[tuple[str, str]]

    def summary(self) -> str:
        dropped = ", ".join(f"{n:,} {_REASONS[k]}" for k, n in self.dropped.items() if n)
        return (f"{self.pairs:,} pairs; {self.mean_source_words:.1f} source and "
                f"{self.mean_target_words:.1f} target words on average"
                + (f"; left out: {dropped}" if dropped else ""))


_REASONS = {"no_tab": "lines without a tab", "empty_side": "pairs with an empty side",
            "too_long": "too long", "duplicate": "duplicates", "blank": "blank lines"}


@dataclass
class PairData:
    pairs: list[tuple[str, str]]
    spec: str                                  # the path (resolved) or the demo name
    dropped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.pairs)

    def split(self, val_fraction: float = 0.1, test_fraction: float = 0.0,
              seed: int = 0) -> PairSplit:
        return split_pairs(self.pairs, val_fraction, test_fraction, seed)

    def stats(self, seed: int = 0, examples: int = 5, bins: int = 20) -> PairStats:
        return pair_stats(self, seed, examples, bins)

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "pairs": len(self.pairs), "dropped": dict(self.dropped),
                **self.options}


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------
def read_text(path: Path, what: str = "pairs file") -> str:
    """The file's text: by its byte-order mark, else strict UTF-8 (the failing line named)."""
    from playground.core.data import decode_bom, os_reason

    if not path.exists():
        raise DatasetError(f"The {what} {path} does not exist; check the path.")
    if path.is_dir():
        raise DatasetError(f"{path} is a folder; give a text file"
                           + (" of sentence pairs (source<TAB>target per line)."
                              if what == "pairs file" else " (one sentence per line)."))
    if not path.is_file():
        raise DatasetError(f"{path} is not a regular file (a pipe or device?); give a "
                           "text file.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"The {what} {path} could not be read: {os_reason(exc)}.") \
            from None
    decoded = decode_bom(data, path.name)
    if decoded is not None:
        return decoded[0]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DatasetError(f"{path.name} is not UTF-8 text: line {line} has a byte that UTF-8 "
                           f"does not allow (0x{data[exc.start]:02x}). Save the file as UTF-8 "
                           "and try again.") from None


def clean(text: str, normalize: str = "NFC", lowercase: bool = False) -> str:
    """One side as the model sees it (the same cleaning is applied to text to translate)."""
    if normalize not in NORMALIZATIONS:
        raise ConfigError(f"Unicode normalisation must be one of {', '.join(NORMALIZATIONS)}; "
                          f"got {normalize!r}.")
    if normalize != "none":
        text = unicodedata.normalize(normalize, text)
    text = " ".join(text.split())  # tabs, runs of spaces and stray newlines become one space
    return text.lower() if lowercase else text


def parse_pairs(text: str, name: str, *, swap: bool = False, max_length: int = 0,
                lowercase: bool = False, normalize: str = "NFC", dedupe: bool = True,
                ) -> tuple[list[tuple[str, str]], dict[str, int], list[str]]:
    """``(pairs, dropped counts, warnings)`` of a pairs file's text (see the module doc)."""
    pairs: list[tuple[str, str]] = []
    dropped = {"no_tab": 0, "empty_side": 0, "too_long": 0, "duplicate": 0}
    named: dict[str, list[int]] = {"no_tab": [], "empty_side": []}
    seen: set[tuple[str, str]] = set()
    lines = text.splitlines()
    non_blank = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        non_blank += 1
        parts = line.split("\t")
        if len(parts) < 2:
            dropped["no_tab"] += 1
            named["no_tab"].append(number)
            continue
        src = clean(parts[0], normalize, lowercase)
        tgt = clean(parts[1], normalize, lowercase)
        if not src or not tgt:
            dropped["empty_side"] += 1
            named["empty_side"].append(number)
            continue
        if swap:
            src, tgt = tgt, src
        if max_length and (len(src) > max_length or len(tgt) > max_length):
            dropped["too_long"] += 1
            continue
        if dedupe:
            if (src, tgt) in seen:
                dropped["duplicate"] += 1
                continue
            seen.add((src, tgt))
        pairs.append((src, tgt))
    bad = dropped["no_tab"] + dropped["empty_side"]
    if non_blank == 0:
        raise DatasetError(f"{name} is empty: it needs one sentence pair a line, "
                           "source<TAB>target.")
    if bad * 2 > non_blank:
        first = (named["no_tab"] or named["empty_side"])[:MAX_NAMED]
        raise DatasetError(
            f"{name}: {bad:,} of {non_blank:,} lines are not usable pairs (no tab, or an empty "
            f"side; e.g. line{'s' * (len(first) > 1)} {', '.join(map(str, first))}). Each line "
            "needs a source sentence, a tab, and its translation.")
    warnings = []
    for key, what in (("no_tab", "have no tab"), ("empty_side", "have an empty side")):
        if dropped[key]:
            lines_text = ", ".join(map(str, named[key][:MAX_NAMED]))
            more = " …" if dropped[key] > MAX_NAMED else ""
            warnings.append(f"{name}: left out {dropped[key]:,} line"
                            f"{'s' * (dropped[key] != 1)} that {what} "
                            f"(line {lines_text}{more}).")
    if dropped["too_long"]:
        warnings.append(f"{name}: left out {dropped['too_long']:,} pair"
                        f"{'s' * (dropped['too_long'] != 1)} with a side longer than "
                        f"{max_length} characters (raise 'Longest sentence' to keep them).")
    return pairs, dropped, warnings


def load_pairs(source: str | os.PathLike, *, swap: bool = False, max_length: int = 0,
               lowercase: bool = False, normalize: str = "NFC", dedupe: bool = True
               ) -> PairData:
    """Read and clean a pairs file or the demo; raises DatasetError when nothing is usable."""
    from playground.text.numbers_fr import DEMO_SPEC, demo_pairs

    options = {"swap": swap, "max_length": max_length, "lowercase": lowercase,
               "normalize": normalize, "dedupe": dedupe}
    if isinstance(source, str) and source.startswith("demo:"):
        if source != DEMO_SPEC:
            raise DatasetError(f"Unknown demo {source!r}: the translation demo is {DEMO_SPEC}.")
        text = "\n".join(f"{a}\t{b}" for a, b in demo_pairs())
        name, spec = source, source
    else:
        path = Path(source).expanduser()
        text = read_text(path)
        name, spec = path.name, str(path.resolve())
    pairs, dropped, warnings = parse_pairs(text, name, **options)
    if not pairs:
        raise DatasetError(f"{name} has no usable sentence pair left after cleaning "
                           f"({', '.join(f'{n} {_REASONS[k]}' for k, n in dropped.items() if n)})"
                           ". Raise 'Longest sentence' or check the file.")
    return PairData(pairs, spec, dropped, warnings, options)


# --------------------------------------------------------------------------------------------
# Split and statistics
# --------------------------------------------------------------------------------------------
def split_pairs(pairs: list[tuple[str, str]], val_fraction: float = 0.1,
                test_fraction: float = 0.0, seed: int = 0) -> PairSplit:
    """Shuffle the source sentences with ``seed`` and cut them into train / val / test,
    every translation of one source sentence on the same side. At least one source sentence
    goes to each held-out part whose fraction is above 0; DatasetError when the pairs are too
    few for that and :data:`MIN_TRAIN_PAIRS` training pairs."""
    for what, value in (("validation", val_fraction), ("test", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"The {what} fraction must be from 0 up to (not including) 1; "
                              f"got {value}.")
    if val_fraction + test_fraction >= 0.9:
        raise ConfigError(f"The validation and test fractions ({val_fraction:g} + "
                          f"{test_fraction:g}) leave too little to train on; keep their sum "
                          "below 0.9.")
    groups: dict[str, list[tuple[str, str]]] = {}
    for pair in pairs:
        groups.setdefault(pair[0], []).append(pair)
    keys = list(groups)
    order = np.random.default_rng(seed).permutation(len(keys))
    n_val = max(1, round(len(keys) * val_fraction)) if val_fraction > 0 else 0
    n_test = max(1, round(len(keys) * test_fraction)) if test_fraction > 0 else 0
    need = n_val + n_test
    train_keys = len(keys) - need
    train_pairs = sum(len(groups[keys[i]]) for i in order[need:])
    if train_keys < 1 or train_pairs < MIN_TRAIN_PAIRS:
        parts = " and ".join(p for p, n in (("validation", n_val), ("test", n_test)) if n)
        raise DatasetError(
            f"Too few sentence pairs for the split: {len(pairs)} pairs ({len(keys)} distinct "
            f"source sentences) leave {max(0, train_pairs)} for training after the {parts} "
            f"part{'s' * (n_val > 0 and n_test > 0)}, and training needs at least "
            f"{MIN_TRAIN_PAIRS}. Add pairs or lower the held-out fractions.")

    def take(idx) -> list[tuple[str, str]]:
        return [p for i in idx for p in groups[keys[i]]]

    return PairSplit(train=take(order[need:]), val=take(order[:n_val]),
                     test=take(order[n_val:need]))


def pair_stats(data: PairData, seed: int = 0, examples: int = 5, bins: int = 20) -> PairStats:
    src = np.array([len(s.split()) for s, _ in data.pairs])
    tgt = np.array([len(t.split()) for _, t in data.pairs])
    top = int(max(src.max(initial=1), tgt.max(initial=1)))
    edges = np.linspace(0.5, top + 0.5, min(bins, top) + 1)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(data.pairs), size=min(examples, len(data.pairs)), replace=False)
    return PairStats(pairs=len(data.pairs), dropped=dict(data.dropped),
                     source_words=(np.histogram(src, edges)[0], edges),
                     target_words=(np.histogram(tgt, edges)[0], edges),
                     mean_source_words=float(src.mean()) if len(src) else 0.0,
                     mean_target_words=float(tgt.mean()) if len(tgt) else 0.0,
                     examples=[data.pairs[int(i)] for i in sorted(pick)])
