"""Text corpora for language modelling: load, check, describe, split.

``load_corpus(spec)`` accepts

* a path to one ``.txt`` file (any extension is accepted when the file is named explicitly),
* a path to a folder: every ``*.txt`` file under it, in sorted order,
* a list of such paths,
* ``"demo:pydoc"``: the built-in corpus that needs no download, the English text of Python's
  own help topics (``pydoc_data.topics``, shipped with CPython), about 465 000 characters.

Files are read as bytes and decoded by their byte-order mark (UTF-8, UTF-16 LE/BE, UTF-32
LE/BE), else as UTF-8; Windows line ends become ``\\n``. A file read as UTF-16 or UTF-32 gets a
warning saying so, and ``Corpus.encodings`` records it. Text that is not valid UTF-8 is decoded
with replacement characters and the corpus records a warning saying how many bytes were
replaced and on which line the first one is (``Corpus.warnings``; the training job emits each as
a ``Log`` event with level ``warning``). Bad input raises
:class:`~playground.core.errors.DatasetError` naming the file: a missing path, something that
is not a regular file (a named pipe, a device, a socket), an unreadable file or folder (with
the reason, e.g. permission denied), a folder without ``.txt`` files, an empty file, a binary
file (NUL bytes, or mostly bytes that are not text), a file whose bytes break its own
byte-order mark (naming the line). In a folder or a list, empty files are skipped with a
warning as long as some text remains; unreadable sub-folders are skipped with a warning.

The train/validation split is contiguous: the first 90 % of the characters train, the last
10 % validate (``Corpus.split()``), as nanoGPT does for Shakespeare.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from playground.core.data import decode_bom, os_reason
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
    encodings: dict[str, str] = field(default_factory=dict)  # file -> encoding, if not UTF-8

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
                **self.stats.as_dict(), "warnings": list(self.warnings),
                "encodings": dict(list(self.encodings.items())[:50])}


def pydoc_text() -> str:
    """The English text of Python's help topics, topics in sorted order, blank-line separated."""
    try:
        from pydoc_data.topics import topics
    except ImportError as exc:  # some distributions strip pydoc_data
        raise DatasetError("The built-in corpus needs Python's pydoc_data module, which this "
                           "Python installation lacks. Use your own .txt files instead.") from exc
    return "\n\n".join(topics[key].strip("\n") for key in sorted(topics)) + "\n"


def _looks_like_utf16(data: bytes) -> bool:
    """NUL bytes at every other position: UTF-16 text saved without a byte-order mark."""
    sample = data[:4096]
    half = len(sample) // 2
    return half >= 2 and max(sample[0::2].count(0), sample[1::2].count(0)) >= 0.8 * half


def _line_of(data: bytes, offset: int) -> int:
    return data[:offset].count(b"\n") + 1


def decode_text(data: bytes, name: str) -> tuple[str, str | None]:
    """Decode ``data`` (the bytes of file ``name``) as text; return (text, warning or None).

    A byte-order mark picks the encoding (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE); without one
    the text is UTF-8. Raises DatasetError for binary data: NUL bytes, more than 30 %
    undecodable bytes, or more than 10 % control characters; and for a file whose bytes do
    not follow its byte-order mark (naming the line).
    """
    text, warning, _ = _decode(data, name)
    return text, warning


def _decode(data: bytes, name: str) -> tuple[str, str | None, str]:
    """``(text, warning or None, encoding name)``; see :func:`decode_text`."""
    warning = None
    by_bom = decode_bom(data, name)
    if by_bom is not None:
        text, encoding = by_bom
        if "\x00" in text:
            raise DatasetError(f"{name} is a binary file (it contains NUL characters), not "
                               "text. Use plain-text (.txt) files.")
        if encoding != "UTF-8":
            warning = (f"{name} was read as {encoding} (it starts with a {encoding} byte-order "
                       "mark).")
    else:
        encoding = "UTF-8"
        if b"\x00" in data:
            if _looks_like_utf16(data):
                raise DatasetError(
                    f"{name} looks like UTF-16 text without a byte-order mark, which cannot "
                    "be read reliably. Save it as UTF-8 (or as UTF-16 with a byte-order mark).")
            raise DatasetError(f"{name} is a binary file (it contains NUL bytes), not text. "
                               "Use plain-text (.txt) files.")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = _line_of(data, exc.start)
            # surrogateescape maps each undecodable byte to one lone surrogate we can count
            raw = data.decode("utf-8", errors="surrogateescape")
            bad = sum(m.end() - m.start() for m in _BAD_BYTE.finditer(raw))
            if bad > 0.3 * len(data):
                raise DatasetError(f"{name} does not look like text: {bad} of {len(data)} bytes "
                                   f"are not UTF-8 (the first on line {line}). Use plain-text "
                                   "(.txt) files saved as UTF-8.") from None
            text = _BAD_BYTE.sub("\ufffd", raw)
            warning = (f"{name} is not valid UTF-8: {bad} byte{'s' * (bad != 1)} could not be "
                       f"decoded (the first on line {line}) and were replaced with \ufffd. "
                       "Save the file as UTF-8 to keep every character.")
    sample = text[:100_000]
    if sample and len(_CONTROL.findall(sample)) > 0.1 * len(sample):
        raise DatasetError(f"{name} does not look like text (mostly control characters). "
                           "Use plain-text (.txt) files.")
    return text.replace("\r\n", "\n").replace("\r", "\n"), warning, encoding


_NOT_REGULAR = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
                (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
_GIVE = f"Give a .txt file, a folder of them, or {DEMO_PYDOC} for the built-in corpus."


def _txt_files(folder: Path, warnings: list[str]) -> list[Path]:
    """``*.txt`` regular files under ``folder`` (links to folders are not followed, so a link
    loop cannot hang); sub-folders that cannot be read are skipped with a warning."""
    try:
        with os.scandir(folder):
            pass
    except OSError as exc:
        raise DatasetError(f"The folder {folder} cannot be read ({os_reason(exc)}). Check its "
                           "permissions, or choose another folder.") from exc
    unreadable: list[str] = []

    def onerror(exc: OSError) -> None:
        unreadable.append(f"{exc.filename} ({os_reason(exc)})")

    files = []
    for dirpath, dirnames, filenames in os.walk(folder, onerror=onerror):
        dirnames.sort()
        for name in filenames:
            p = Path(dirpath) / name
            if p.suffix.lower() == ".txt" and p.is_file():
                files.append(p)
    if unreadable:
        warnings.append(f"{len(unreadable)} sub-folder(s) of {folder} could not be read and "
                        f"were skipped: {', '.join(unreadable[:5])}.")
    return sorted(files)


def _expand(spec: str | os.PathLike, warnings: list[str] | None = None
            ) -> tuple[list[Path], bool]:
    """Files named by one path; the flag says whether they came from a folder."""
    warnings = [] if warnings is None else warnings
    path = Path(spec).expanduser()
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise DatasetError(f"{path} is a link to something that does not exist. "
                               f"{_GIVE}") from None
        raise DatasetError(f"{path} does not exist. {_GIVE}") from None
    except OSError as exc:
        raise DatasetError(f"{path} cannot be reached ({os_reason(exc)}). {_GIVE}") from exc
    if stat.S_ISDIR(st.st_mode):
        files = _txt_files(path, warnings)
        if not files:
            raise DatasetError(f"The folder {path} has no .txt files. Drop plain-text files "
                               "or a folder that contains some.")
        return files, True
    if stat.S_ISREG(st.st_mode):
        return [path], False
    kind = next((k for test, k in _NOT_REGULAR if test(st.st_mode)), "a special file")
    raise DatasetError(f"{path} is {kind}, not a regular file: it cannot be read as a "
                       f"corpus. {_GIVE}")


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
    texts, names, warnings = [], [], []
    for s in specs:
        found, from_folder = _expand(s, warnings)
        files += found
        many = many or from_folder
    encodings: dict[str, str] = {}
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DatasetError(f"{path} could not be read ({os_reason(exc)}). Check the file's "
                               "permissions, or leave it out of the corpus.") from exc
        if not data.strip():
            if many:
                warnings.append(f"{path} is empty and was skipped.")
                continue
            raise DatasetError(f"{path} is empty: the corpus needs some text to learn from.")
        text, warning, encoding = _decode(data, str(path))
        if warning:
            warnings.append(warning)
        if encoding != "UTF-8":
            encodings[str(path)] = encoding
        texts.append(text)
        names.append(str(path))
    if not texts:
        raise DatasetError(f"Every file of the corpus is empty ({len(files)} file"
                           f"{'s' * (len(files) != 1)}): it needs some text to learn from.")
    joined = texts[0] if len(texts) == 1 else "\n\n".join(t.rstrip("\n") for t in texts) + "\n"
    source = str(specs[0]) if len(specs) == 1 else ", ".join(map(str, specs))
    return Corpus(joined, source, files=names, warnings=warnings, encodings=encodings)
