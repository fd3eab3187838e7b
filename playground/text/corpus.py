"""Text corpora for language modelling: load, check, describe, split.

``load_corpus(spec)`` accepts

* a path to one ``.txt`` file (any extension is accepted when the file is named explicitly),
* a path to a folder: every ``*.txt`` file under it, in sorted order,
* a list of such paths,
* ``"demo:pydoc"``: the built-in corpus that needs no download, the English text of Python's
  own help topics (``pydoc_data.topics``, shipped with CPython), about 465 000 characters.

Files are read as bytes and decoded as UTF-8 (a byte-order mark is dropped; Windows line ends
become ``\\n``). Text that is not valid UTF-8 is decoded with replacement characters and the
corpus records a warning saying how many bytes were replaced (``Corpus.warnings``; the training
job emits each as a ``Log`` event with level ``warning``). Bad input raises
:class:`~playground.core.errors.DatasetError` naming the file: a missing path, a folder without
``.txt`` files, an empty file, a binary file (NUL bytes, or mostly bytes that are not text).
In a folder or a list, empty files are skipped with a warning as long as some text remains.

The train/validation split is contiguous: the first 90 % of the characters train, the last
10 % validate (``Corpus.split()``), as nanoGPT does for Shakespeare.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from playground.core.errors import DatasetError

DEMO_PYDOC = "demo:pydoc"
DEMO_CORPORA = {DEMO_PYDOC: "Python's help topics (pydoc_data.topics, shipped with CPython)"}
VAL_FRACTION = 0.1

_BAD_BYTE = re.compile("[\udc80-\udcff]+")
# control characters other than tab, newline, vertical tab, form feed, carriage return, escape
_CONTROL = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")


@dataclass(frozen=True)
class CorpusStats:
    characters: int
    lines: int
    words: int
    files: int

    def as_dict(self) -> dict[str, int]:
        return {"characters": self.characters, "lines": self.lines, "words": self.words,
                "files": self.files}


@dataclass
class Corpus:
    """The whole text of a corpus plus where it came from and what went wrong reading it."""

    text: str
    source: str                       # the spec as given: a path, a folder, or demo:pydoc
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def stats(self) -> CorpusStats:
        text = self.text
        lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
        return CorpusStats(len(text), lines, len(text.split()), len(self.files))

    def split(self, val_fraction: float = VAL_FRACTION) -> tuple[str, str]:
        """Contiguous split: the first ``1 - val_fraction`` of the characters, then the rest."""
        cut = int(len(self.text) * (1.0 - val_fraction))
        return self.text[:cut], self.text[cut:]

    def describe(self) -> dict:
        """What run.json records about the corpus."""
        return {"source": self.source, "files": self.files[:50], "n_files": len(self.files),
                **self.stats.as_dict(), "warnings": list(self.warnings)}


def pydoc_text() -> str:
    """The English text of Python's help topics, topics in sorted order, blank-line separated."""
    try:
        from pydoc_data.topics import topics
    except ImportError as exc:  # some distributions strip pydoc_data
        raise DatasetError("The built-in corpus needs Python's pydoc_data module, which this "
                           "Python installation lacks. Use your own .txt files instead.") from exc
    return "\n\n".join(topics[key].strip("\n") for key in sorted(topics)) + "\n"


def decode_text(data: bytes, name: str) -> tuple[str, str | None]:
    """Decode ``data`` (the bytes of file ``name``) as text; return (text, warning or None).

    Raises DatasetError for binary data: NUL bytes, more than 30 % undecodable bytes, or more
    than 10 % control characters.
    """
    if b"\x00" in data:
        raise DatasetError(f"{name} is a binary file (it contains NUL bytes), not text. "
                           "Use plain-text (.txt) files.")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    warning = None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # surrogateescape maps each undecodable byte to one lone surrogate we can count
        raw = data.decode("utf-8", errors="surrogateescape")
        bad = sum(m.end() - m.start() for m in _BAD_BYTE.finditer(raw))
        if bad > 0.3 * len(data):
            raise DatasetError(f"{name} does not look like text: {bad} of {len(data)} bytes "
                               "are not UTF-8. Use plain-text (.txt) files.") from None
        text = _BAD_BYTE.sub("\ufffd", raw)
        warning = (f"{name} is not valid UTF-8: {bad} byte{'s' * (bad != 1)} could not be "
                   "decoded and were replaced with \ufffd. Save the file as UTF-8 to keep "
                   "every character.")
    sample = text[:100_000]
    if sample and len(_CONTROL.findall(sample)) > 0.1 * len(sample):
        raise DatasetError(f"{name} does not look like text (mostly control characters). "
                           "Use plain-text (.txt) files.")
    return text.replace("\r\n", "\n").replace("\r", "\n"), warning


def _expand(spec: str | os.PathLike) -> tuple[list[Path], bool]:
    """Files named by one path; the flag says whether they came from a folder."""
    path = Path(spec).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".txt")
        if not files:
            raise DatasetError(f"The folder {path} has no .txt files. Drop plain-text files "
                               "or a folder that contains some.")
        return files, True
    if path.is_file():
        return [path], False
    raise DatasetError(f"{path} does not exist. Give a .txt file, a folder of them, or "
                       f"{DEMO_PYDOC} for the built-in corpus.")


def load_corpus(spec: str | os.PathLike | Sequence[str | os.PathLike]) -> Corpus:
    """Read a corpus (see the module docstring for what ``spec`` may be)."""
    if isinstance(spec, str) and spec.startswith("demo:"):
        if spec != DEMO_PYDOC:
            raise DatasetError(f"Unknown built-in corpus {spec!r}: the built-in corpus is "
                               f"{DEMO_PYDOC}.")
        return Corpus(pydoc_text(), DEMO_PYDOC, files=[DEMO_PYDOC])
    specs = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
    if not specs:
        raise DatasetError("No corpus was given: drop .txt files or choose the built-in one.")
    files: list[Path] = []
    many = len(specs) > 1
    for s in specs:
        found, from_folder = _expand(s)
        files += found
        many = many or from_folder
    texts, names, warnings = [], [], []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DatasetError(f"{path} could not be read ({exc.strerror or exc}).") from exc
        if not data.strip():
            if many:
                warnings.append(f"{path} is empty and was skipped.")
                continue
            raise DatasetError(f"{path} is empty: the corpus needs some text to learn from.")
        text, warning = decode_text(data, str(path))
        if warning:
            warnings.append(warning)
        texts.append(text)
        names.append(str(path))
    if not texts:
        raise DatasetError(f"Every file of the corpus is empty ({len(files)} file"
                           f"{'s' * (len(files) != 1)}): it needs some text to learn from.")
    joined = texts[0] if len(texts) == 1 else "\n\n".join(t.rstrip("\n") for t in texts) + "\n"
    source = str(specs[0]) if len(specs) == 1 else ", ".join(map(str, specs))
    return Corpus(joined, source, files=names, warnings=warnings)
