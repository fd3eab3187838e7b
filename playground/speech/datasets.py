"""Speech datasets on disk: keyword folders and speech-to-text folders.

Keyword (command) recognition, :func:`scan_keyword_folder` ``(root, label_pattern=
DEFAULT_LABEL_PATTERN) -> KeywordDataset``, reads one of three layouts:

- ``root/<label>/*.wav`` — one sub-folder per label (files in deeper folders count too);
- ``root/train/<label>/…`` and ``root/val/<label>/…`` — the same with its own validation set;
- ``root/*.wav`` — a flat folder; each label comes from the file name through a regular
  expression with a ``label`` group, by default ``^(?P<label>[^_]+)_`` (``yes_012.wav`` →
  ``yes``). An invalid pattern, or one without a ``label`` group, raises ConfigError. A user's
  pattern is matched in a separate Python process with a time limit (:data:`PATTERN_TIME_LIMIT`
  per file name), so a pattern that backtracks catastrophically (``^(?P<label>(a+)+)b``) is
  refused with a ConfigError naming the file name instead of hanging the app.

Only file headers are read while scanning (fast): the result lists the labels, the clips, their
durations (:meth:`KeywordDataset.stats`: counts and clip-length min/mean/max), the unreadable
files with the reason, and the files whose name the pattern did not match. :func:`load_clips`
then decodes the clips to fixed-length arrays; files that fail there join ``unreadable``
(:meth:`KeywordDataset.drop` removes them; reassigning ``items`` / ``val_items`` keeps the
durations aligned too). A folder without audio, a dataset with a single label, a label whose
clips all fail, or a label folder that cannot be read raises DatasetError naming the problem;
sub-folders that cannot be read are listed in ``unreadable``. Folders whose name starts with
``_`` or ``.`` are skipped (e.g. Speech Commands' ``_background_noise_``); links to folders are
not followed (no link loops).

Speech-to-text, :func:`scan_transcript_folder` ``(root, lowercase=True) -> TranscriptDataset``:

- ``root/metadata.csv`` with ``file|transcript`` lines (LJSpeech style; with three columns
  ``id|raw|normalized`` the last is used). The file column may omit the extension and may
  name files in ``root/`` or ``root/wavs/``. Entries with an absolute path or a ``..`` part
  would reach outside the dataset folder: they are refused, named in a warning and listed in
  ``unreadable`` (an error if nothing else remains).
- otherwise audio files each with a same-named ``.txt`` transcript next to them.

Transcripts and metadata.csv are decoded by their byte-order mark (UTF-8, UTF-16, UTF-32), else
as UTF-8; text that is not valid UTF-8 is decoded with replacement; the undecodable bytes are
dropped and a warning names the file (``TranscriptDataset.warnings``); training goes on.
:class:`CharVocab` is the character vocabulary built from the transcripts (index 0 = CTC blank).
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np

from playground.core import events as ev
from playground.core.data import decode_bom, os_reason
from playground.core.errors import AudioDecodeError, ConfigError, DatasetError
from playground.core.jobs import JobContext
from playground.speech.audio import SUPPORTED_EXTENSIONS, audio_info, load_audio

DEFAULT_LABEL_PATTERN = r"^(?P<label>[^_]+)_"
BLANK = "∅"  # how the CTC blank is shown in alignment views
VAL_FOLDER_NAMES = ("val", "valid", "validation")
PATTERN_TIME_LIMIT = 1.0
"""Seconds a label pattern may take on one file name before it is refused as too slow."""


def _is_audio(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in SUPPORTED_EXTENSIONS \
        and not path.name.startswith(".")


def _skipped_dir(path: Path) -> bool:
    return path.name.startswith((".", "_"))


def _audio_files(folder: Path, recursive: bool,
                 unreadable: list[tuple[Path, str]] | None = None) -> list[Path]:
    """Audio files in ``folder`` (and below, skipping ``.``/``_`` folders, not following links
    to folders). Folders that cannot be listed are added to ``unreadable`` (or, for
    ``folder`` itself when ``unreadable`` is None, raise DatasetError)."""
    errors: list[tuple[Path, str]] = []

    def onerror(exc: OSError) -> None:
        errors.append((Path(exc.filename or folder), f"folder cannot be read: {os_reason(exc)}"))

    found = []
    for dirpath, dirnames, filenames in os.walk(folder, onerror=onerror):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        found += [p for p in (Path(dirpath) / n for n in filenames) if _is_audio(p)]
        if not recursive:
            break
    if unreadable is None and errors and errors[0][0] == folder:
        raise DatasetError(f"The folder {folder} cannot be read "
                           f"({errors[0][1].split(': ', 1)[1]}). Check its permissions.")
    if unreadable is not None:
        unreadable += errors
    return sorted(found)


def _subdirs(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError as exc:
        raise DatasetError(f"The folder {folder} cannot be read ({os_reason(exc)}). Check its "
                           "permissions.") from exc


def _describe_failures(failures: Sequence[tuple[Path, str]], limit: int = 5) -> str:
    shown = ", ".join(f"{p.name} ({reason})" for p, reason in failures[:limit])
    more = f", and {len(failures) - limit} more" if len(failures) > limit else ""
    return shown + more


def _short_reason(exc: Exception) -> str:
    text = str(exc)
    for key, short in (("permission denied", "cannot be read: permission denied"),
                       ("cannot be read (", "cannot be read"),
                       ("link to a file that does not exist", "a broken link"),
                       ("NaN or infinite", "NaN or infinite samples"),
                       ("truncated", "truncated"), ("text file", "a text file, not audio"),
                       ("empty (0 bytes)", "empty"), ("no audio samples", "no samples"),
                       ("sample rate", "unusable sample rate"),
                       ("not in a supported", "unsupported format"),
                       ("container this app cannot", "unsupported format"),
                       ("could not be decoded", "corrupt")):
        if key in text:
            return short
    return text


# ------------------------------------------------------------------------------------------
# Keyword datasets
# ------------------------------------------------------------------------------------------
def compile_label_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a file-name label pattern; it must have a ``(?P<label>...)`` group."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"The label pattern {pattern!r} is not a valid regular expression "
                          f"({exc}). Example: {DEFAULT_LABEL_PATTERN}") from exc
    if "label" not in compiled.groupindex:
        raise ConfigError(f"The label pattern {pattern!r} has no group named 'label': write "
                          f"the part that is the label as (?P<label>...), e.g. "
                          f"{DEFAULT_LABEL_PATTERN}")
    return compiled


def label_from_name(name: str, pattern: str | re.Pattern[str] = DEFAULT_LABEL_PATTERN
                    ) -> str | None:
    """The label in a file name (matched against the name without its extension), or None."""
    return labels_from_names([name], pattern)[0]


def labels_from_names(names: Sequence[str], pattern: str | re.Pattern[str]
                      = DEFAULT_LABEL_PATTERN, *, time_limit: float = PATTERN_TIME_LIMIT
                      ) -> list[str | None]:
    """:func:`label_from_name` for many names, safe against patterns that never finish.

    A user's pattern runs in a separate Python process (``re`` cannot be interrupted inside a
    thread); a name that takes longer than ``time_limit`` seconds ends it and raises
    ConfigError naming the pattern and the name. The default pattern runs in-process.
    """
    compiled = compile_label_pattern(pattern) if isinstance(pattern, str) else pattern
    pairs = [(Path(n).stem, Path(n).name) for n in names]
    if not pairs:
        return []
    if compiled.pattern == DEFAULT_LABEL_PATTERN and compiled.flags == re.UNICODE:
        found = [_search(compiled, stem, name) for stem, name in pairs]
    else:
        try:
            found = _search_in_subprocess(compiled, pairs, time_limit)
        except _NoSubprocess:
            _refuse_nested_repeats(compiled)
            found = [_search(compiled, stem, name) for stem, name in pairs]
    return [(label.strip() or None) if label else None for label in found]


def _search(compiled: re.Pattern[str], stem: str, name: str) -> str | None:
    match = compiled.search(stem) or compiled.search(name)
    return match.group("label") if match else None


class _NoSubprocess(Exception):  # noqa: N818 - internal signal, never shown
    """A matcher process cannot be used here (a frozen app, no interpreter, it died)."""


_MATCHER = """
import json, re, sys
request = json.loads(sys.stdin.readline())
rx = re.compile(request["pattern"], request["flags"])
print("ready", flush=True)
for stem, name in request["names"]:
    m = rx.search(stem) or rx.search(name)
    print(json.dumps(m.group("label") if m else None), flush=True)
"""


def _search_in_subprocess(compiled: re.Pattern[str], pairs: list[tuple[str, str]],
                          time_limit: float) -> list[str | None]:
    if getattr(sys, "frozen", False) or not sys.executable:
        raise _NoSubprocess  # a bundled app's executable is the app, not a Python
    try:
        proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _MATCHER],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, encoding="ascii")
    except OSError as exc:
        raise _NoSubprocess from exc
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, name="label-pattern-reader", daemon=True).start()
    try:
        request = json.dumps({"pattern": compiled.pattern, "flags": compiled.flags,
                              "names": pairs})  # ASCII: json escapes everything else
        try:
            proc.stdin.write(request + "\n")  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        except OSError as exc:
            raise _NoSubprocess from exc
        try:
            ready = lines.get(timeout=30.0)  # start-up, however busy the machine is
        except queue.Empty:
            raise _NoSubprocess from None
        if ready != "ready\n":
            raise _NoSubprocess
        found: list[str | None] = []
        for _stem, name in pairs:
            try:
                line = lines.get(timeout=time_limit)
            except queue.Empty:
                shown = name if len(name) <= 40 else name[:40] + "…"
                raise ConfigError(
                    f"The label pattern {compiled.pattern!r} took more than {time_limit:g} s on "
                    f"{shown!r}: simplify it. A repetition inside a repetition, like (a+)+, "
                    f"can take forever on some names. Example: {DEFAULT_LABEL_PATTERN}"
                ) from None
            if line is None:
                raise _NoSubprocess
            found.append(json.loads(line))
        return found
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _refuse_nested_repeats(compiled: re.Pattern[str]) -> None:
    """Where no matcher process can run: refuse a repetition inside a repetition (or around
    alternatives), the shape of patterns that backtrack catastrophically."""
    try:
        import re._parser as sre_parse  # Python >= 3.11
    except ImportError:  # pragma: no cover - older Pythons
        import sre_parse  # type: ignore[no-redef]
    repeats = {sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT}

    def walk(items, inside: bool) -> bool:
        for op, av in items:
            if op in repeats:
                lo, hi, sub = av
                if hi > 1 and inside:
                    return True
                if walk(sub, inside or hi > 1):
                    return True
            elif op is sre_parse.BRANCH:
                if inside or any(walk(b, inside) for b in av[1]):
                    return True
            elif op is sre_parse.SUBPATTERN:
                if walk(av[-1], inside):
                    return True
            elif op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT) and walk(av[1], inside):
                return True
        return False

    try:
        risky = walk(sre_parse.parse(compiled.pattern, compiled.flags), False)
    except Exception:  # noqa: BLE001 - a private parser: when in doubt, match as before
        return
    if risky:
        raise ConfigError(
            f"The label pattern {compiled.pattern!r} repeats a part that itself repeats or has "
            "alternatives (like (a+)+ or (a|b)*), which can take forever on some file names: "
            f"simplify it. Example: {DEFAULT_LABEL_PATTERN}")


@dataclass
class KeywordDataset:
    """The result of scanning a keyword folder (header-level; see :func:`load_clips`)."""

    root: Path
    layout: str                                  # folders / split-folders / filenames
    labels: list[str]
    items: list[tuple[Path, int]]                # (file, label index): training pool
    durations: list[float]                       # seconds, parallel to items
    val_items: list[tuple[Path, int]] = field(default_factory=list)  # split-folders only
    val_durations: list[float] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    unlabeled: list[Path] = field(default_factory=list)
    label_pattern: str = DEFAULT_LABEL_PATTERN

    def __post_init__(self) -> None:
        seconds: dict[Path, float] = {}
        for items, durations in ((self.items, self.durations),
                                 (self.val_items, self.val_durations)):
            seconds.update((p, d) for (p, _), d in zip(items, durations, strict=True))
        object.__setattr__(self, "_seconds", seconds)  # every clip's length, by path

    def __setattr__(self, name: str, value: Any) -> None:
        # ``durations`` run parallel to ``items`` (and ``val_durations`` to ``val_items``):
        # whoever removes clips from ``items`` gets the durations removed with them.
        if "_seconds" in self.__dict__:
            if name in ("items", "val_items"):
                value = list(value)
                durations = [self._seconds_of(p) for p, _ in value]
                object.__setattr__(self, "durations" if name == "items" else "val_durations",
                                   durations)
            elif name in ("durations", "val_durations"):
                items = self.items if name == "durations" else self.val_items
                if len(value) != len(items):
                    raise ValueError(f"{name} must have one entry per clip ({len(items)}), "
                                     f"not {len(value)}")
                self._seconds.update((p, d) for (p, _), d in zip(items, value, strict=True))
        object.__setattr__(self, name, value)

    def _seconds_of(self, path: Path) -> float:
        if path not in self._seconds:
            try:
                self._seconds[path] = audio_info(path).duration
            except AudioDecodeError:
                self._seconds[path] = 0.0
        return self._seconds[path]

    def drop(self, failures: Sequence[tuple[Path, str]]) -> None:
        """Remove clips that failed to decode (``(path, reason)``) and record them as
        unreadable; ``items``, ``val_items`` and their durations stay aligned."""
        gone = {Path(p) for p, _ in failures}
        self.unreadable += [(Path(p), r) for p, r in failures]
        self.items = [it for it in self.items if Path(it[0]) not in gone]
        self.val_items = [it for it in self.val_items if Path(it[0]) not in gone]

    @property
    def has_own_val(self) -> bool:
        return bool(self.val_items)

    def counts(self) -> dict[str, int]:
        c = Counter(i for _, i in list(self.items) + list(self.val_items))
        return {lab: c.get(k, 0) for k, lab in enumerate(self.labels)}

    def stats(self) -> dict[str, Any]:
        """Per-label counts and clip lengths (seconds) overall and per label."""
        durations = list(self.durations) + list(self.val_durations)
        items = list(self.items) + list(self.val_items)

        def summary(values: Sequence[float]) -> dict[str, float]:
            if not values:
                return {"min": 0.0, "mean": 0.0, "max": 0.0}
            a = np.asarray(values, dtype=np.float64)
            return {"min": float(a.min()), "mean": float(a.mean()), "max": float(a.max())}

        per_label = {}
        for k, lab in enumerate(self.labels):
            d = [t for (_, i), t in zip(items, durations, strict=True) if i == k]
            per_label[lab] = {"count": len(d), "seconds": summary(d)}
        return {"clips": len(items), "labels": len(self.labels), "layout": self.layout,
                "seconds": summary(durations), "per_label": per_label,
                "unreadable": len(self.unreadable), "unlabeled": len(self.unlabeled)}

    def describe(self) -> dict[str, Any]:
        """What run.json records about the data."""
        st = self.stats()
        return {"path": str(self.root), "layout": self.layout, "labels": self.labels,
                "counts": self.counts(), "clips": st["clips"], "seconds": st["seconds"],
                "label_pattern": self.label_pattern if self.layout == "filenames" else None,
                "unreadable": [[str(p), r] for p, r in self.unreadable[:50]]}

    def summary_text(self) -> str:
        st = self.stats()
        s = st["seconds"]
        text = (f"{st['clips']} clips in {st['labels']} labels ({self.layout}); clip length "
                f"{s['min']:.2f}–{s['max']:.2f} s (mean {s['mean']:.2f} s)")
        if self.unreadable:
            text += f"; {len(self.unreadable)} unreadable: {_describe_failures(self.unreadable)}"
        if self.unlabeled:
            text += (f"; {len(self.unlabeled)} file(s) without a label in the name, e.g. "
                     f"{self.unlabeled[0].name}")
        return text


def _scan_label_folders(root: Path, unreadable: list[tuple[Path, str]] | None = None
                        ) -> dict[str, list[Path]]:
    """Label -> clips of each sub-folder with clips. A label folder that cannot be read is a
    label with no clips (and its reason goes to ``unreadable``), so it is reported, not lost."""
    groups: dict[str, list[Path]] = {}
    for sub in (p for p in _subdirs(root) if not _skipped_dir(p)):
        errors: list[tuple[Path, str]] = []
        files = _audio_files(sub, True, errors)
        if files or any(p == sub for p, _ in errors):
            groups[sub.name] = files
            if unreadable is not None:
                unreadable += errors
    return groups


def _headers(files: Iterable[Path], ctx: JobContext | None, total: int
             ) -> tuple[list[tuple[Path, float]], list[tuple[Path, str]]]:
    good, bad = [], []
    for n, path in enumerate(files, 1):
        if ctx is not None:
            ctx.check_cancelled()
            if n % 200 == 0:
                ctx.emit(ev.Progress(n, total, "scanning clips", unit="file"))
        try:
            info = audio_info(path)
            if info.frames == 0:
                raise AudioDecodeError(f"{path.name} contains no audio samples")
            good.append((path, info.duration))
        except AudioDecodeError as exc:
            bad.append((path, _short_reason(exc)))
    return good, bad


def scan_keyword_folder(root: str | Path, label_pattern: str = DEFAULT_LABEL_PATTERN, *,
                        ctx: JobContext | None = None) -> KeywordDataset:
    """Find the labels and clips under ``root`` (see the module docstring for layouts)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        if root.exists() or root.is_symlink():
            raise DatasetError(f"{root} is not a folder. Choose a folder with one sub-folder "
                               "of clips per label, or clips named like yes_001.wav.")
        raise DatasetError(f"Dataset folder {root} does not exist.")
    layout = "folders"
    val_groups: dict[str, list[Path]] = {}
    unlabeled: list[Path] = []
    folder_errors: list[tuple[Path, str]] = []
    subdirs = {p.name.lower(): p for p in _subdirs(root)}
    val_dir = next((subdirs[n] for n in VAL_FOLDER_NAMES if n in subdirs), None)
    if "train" in subdirs and val_dir is not None and _scan_label_folders(subdirs["train"]):
        layout = "split-folders"
        groups = _scan_label_folders(subdirs["train"], folder_errors)
        val_groups = _scan_label_folders(val_dir, folder_errors)
    else:
        groups = _scan_label_folders(root, folder_errors)
    if not groups:
        pattern = compile_label_pattern(label_pattern)
        layout = "filenames"
        files = _audio_files(root, recursive=False)
        if not files:
            raise DatasetError(
                f"{root} holds no audio files ({', '.join(SUPPORTED_EXTENSIONS)}): put one "
                "sub-folder per label with clips in it, or clips named like yes_001.wav.")
        for f, label in zip(files, labels_from_names([f.name for f in files], pattern),
                            strict=True):
            if label is None:
                unlabeled.append(f)
            else:
                groups.setdefault(label, []).append(f)
        if not groups:
            raise DatasetError(
                f"No file name in {root} matches the label pattern {label_pattern!r} (e.g. "
                f"{files[0].name}). Edit the pattern, or use one sub-folder per label.")
    labels = sorted(set(groups) | set(val_groups))
    index = {lab: k for k, lab in enumerate(labels)}

    def collect(g: dict[str, list[Path]]):
        pairs = [(p, index[lab]) for lab in sorted(g) for p in g[lab]]
        good, bad = _headers((p for p, _ in pairs), ctx, len(pairs))
        ok = {p: d for p, d in good}
        kept = [(p, i) for p, i in pairs if p in ok]
        return kept, [ok[p] for p, _ in kept], bad

    items, durations, unreadable = collect(groups)
    val_items, val_durations, val_bad = collect(val_groups) if val_groups else ([], [], [])
    data = KeywordDataset(root, layout, labels, items, durations, val_items, val_durations,
                          folder_errors + unreadable + val_bad, unlabeled, label_pattern)
    check_keyword_dataset(data)
    return data


def check_keyword_dataset(data: KeywordDataset) -> None:
    """Raise DatasetError when the data cannot train a classifier."""
    counts = data.counts()
    failed_by_label: dict[int, list[tuple[Path, str]]] = {}
    index = {lab: k for k, lab in enumerate(data.labels)}
    for (path, reason), lab in zip(data.unreadable, _labels_of(data, data.unreadable),
                                   strict=True):
        if lab in index:
            failed_by_label.setdefault(index[lab], []).append((path, reason))
    dead = [lab for lab, n in counts.items() if n == 0]
    if dead:
        lab = dead[0]
        failures = failed_by_label.get(data.labels.index(lab), [])
        locked = [r for p, r in failures if r.startswith("folder cannot be read")
                  and p.name == lab]
        if locked:
            raise DatasetError(
                f"The folder of label '{lab}' cannot be read ({locked[0].split(': ', 1)[1]}). "
                "Fix its permissions, or move it out of the dataset folder.")
        raise DatasetError(
            f"Every clip of label '{lab}' failed to load"
            + (f": {_describe_failures(failures)}" if failures else "")
            + ". Fix or remove those files, or remove the label.")
    if len(data.labels) < 2:
        only = data.labels[0] if data.labels else "?"
        raise DatasetError(f"{data.root} has only one label ('{only}'): a recognizer needs at "
                           "least two labels to tell apart. Add clips of another word (or a "
                           "'background' label with noise).")
    if data.has_own_val:
        train_counts = Counter(i for _, i in data.items)
        missing = [lab for k, lab in enumerate(data.labels) if train_counts.get(k, 0) == 0]
        if missing:
            raise DatasetError(f"Label '{missing[0]}' has clips in the validation folder but "
                               "none in train/. Add training clips for it.")


def _labels_of(data: KeywordDataset, entries: Sequence[tuple[Path, str]]) -> list[str | None]:
    """The label each ``(path, reason)`` belongs to: its label folder, or its file name."""
    if data.layout == "filenames":
        return labels_from_names([Path(p).name for p, _ in entries], data.label_pattern)
    out: list[str | None] = []
    for path, _ in entries:
        try:
            parts = Path(path).relative_to(data.root).parts
        except ValueError:
            out.append(None)
            continue
        if data.layout == "split-folders":
            parts = parts[1:]
        out.append(parts[0] if parts else None)
    return out


def fit_length(samples: np.ndarray, length: int, mode: str = "center") -> np.ndarray:
    """Pad (zeros, centred) or crop ``samples`` to exactly ``length`` samples.

    ``mode="center"`` crops the middle; ``mode="loudest"`` keeps the window with the most
    energy (a word inside a longer recording).
    """
    x = np.asarray(samples, dtype=np.float32)
    n = len(x)
    if n == length:
        return x.copy()
    if n < length:
        out = np.zeros(length, np.float32)
        start = (length - n) // 2
        out[start:start + n] = x
        return out
    if mode == "loudest":
        energy = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
        window = energy[length:] - energy[:-length]
        start = int(np.argmax(window))
    else:
        start = (n - length) // 2
    return x[start:start + length].copy()


def load_clips(items: Sequence[tuple[Path, int]], sample_rate: int, clip_seconds: float, *,
               ctx: JobContext | None = None, what: str = "clips"
               ) -> tuple[np.ndarray, np.ndarray, list[tuple[Path, str]]]:
    """Decode ``items`` to an ``(N, clip_samples)`` float32 array and labels ``(N,)``.

    Clips are resampled, then centre-padded or cropped to ``clip_seconds`` (the loudest
    window). Files that fail to decode are left out and returned as ``(path, reason)``.
    """
    length = int(round(clip_seconds * sample_rate))
    waves = np.zeros((len(items), length), np.float32)
    labels = np.zeros(len(items), np.int64)
    keep = np.zeros(len(items), bool)
    failures: list[tuple[Path, str]] = []
    for n, (path, label) in enumerate(items):
        if ctx is not None:
            ctx.check_cancelled()
            if n % 100 == 0 or n == len(items) - 1:
                ctx.emit(ev.Progress(n + 1, len(items), f"loading {what}", unit="file"))
        try:
            samples, _ = load_audio(path, sample_rate)
        except AudioDecodeError as exc:
            failures.append((Path(path), _short_reason(exc)))
            continue
        waves[n] = fit_length(samples, length, "loudest")
        labels[n] = label
        keep[n] = True
    return waves[keep], labels[keep], failures


# ------------------------------------------------------------------------------------------
# Speech-to-text datasets
# ------------------------------------------------------------------------------------------
class CharVocab:
    """Characters of the transcripts; index 0 is the CTC blank."""

    def __init__(self, chars: Iterable[str]) -> None:
        chars = [c for c in dict.fromkeys(chars) if c and c != BLANK]
        self.chars: list[str] = chars
        self.symbols: list[str] = [BLANK, *chars]
        self._index = {c: k for k, c in enumerate(self.symbols)}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> CharVocab:
        return cls(sorted(set("".join(texts))))

    def __len__(self) -> int:
        return len(self.symbols)

    @property
    def blank(self) -> int:
        return 0

    def encode(self, text: str) -> list[int]:
        """Character ids of ``text``; characters outside the vocabulary are skipped."""
        return [self._index[c] for c in text if c in self._index and c != BLANK]

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.symbols[i] for i in ids if 0 < int(i) < len(self.symbols))

    def unknown(self, text: str) -> set[str]:
        return {c for c in text if c not in self._index}

    def to_json(self) -> dict[str, Any]:
        return {"speech_task": "ctc", "vocab": self.symbols, "blank": 0}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CharVocab:
        symbols = list(data["vocab"])
        return cls(symbols[1:])


def normalize_transcript(text: str, lowercase: bool = True) -> str:
    """Collapse whitespace, drop replacement characters, optionally lower-case."""
    text = text.replace("\ufffd", "")
    text = " ".join(text.split())
    return text.lower() if lowercase else text


def read_text_file(path: Path) -> tuple[str, str | None]:
    """``(text, warning)``: by byte-order mark (UTF-8, UTF-16, UTF-32), else UTF-8; text that
    is not valid UTF-8 is decoded with replacement. Raises OSError when it cannot be read and
    DatasetError when its bytes break its own byte-order mark."""
    raw = path.read_bytes()
    by_bom = decode_bom(raw, path.name)
    if by_bom is not None:
        return by_bom[0], None
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8", errors="replace")
        line = raw[:exc.start].count(b"\n") + 1
        return text, (f"{path.name} is not valid UTF-8 (first bad byte at offset {exc.start}, "
                      f"line {line}); undecodable bytes were dropped. Save it as UTF-8 to keep "
                      "every character.")


@dataclass
class TranscriptDataset:
    root: Path
    source: str                                   # metadata.csv / txt
    items: list[tuple[Path, str]]                 # (audio file, normalised transcript)
    durations: list[float]
    vocab: CharVocab
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def stats(self) -> dict[str, Any]:
        d = np.asarray(self.durations or [0.0])
        return {"clips": len(self.items), "source": self.source,
                "seconds": {"min": float(d.min()), "mean": float(d.mean()),
                            "max": float(d.max()), "total": float(d.sum())},
                "characters": len(self.vocab.chars), "unreadable": len(self.unreadable)}

    def describe(self) -> dict[str, Any]:
        return {"path": str(self.root), "source": self.source, **self.stats(),
                "vocab": "".join(self.vocab.chars),
                "unreadable": [[str(p), r] for p, r in self.unreadable[:50]],
                "warnings": self.warnings[:20]}

    def summary_text(self) -> str:
        st = self.stats()
        s = st["seconds"]
        text = (f"{st['clips']} clips ({s['total'] / 60:.1f} min, {s['min']:.1f}–{s['max']:.1f}"
                f" s each) from {self.source}; {st['characters']} characters: "
                f"{''.join(self.vocab.chars)!r}")
        if self.unreadable:
            text += f"; {len(self.unreadable)} unreadable: {_describe_failures(self.unreadable)}"
        return text


def _outside_reason(name: str) -> str | None:
    """Why a metadata.csv entry would reach outside the dataset folder, or None."""
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() \
            or PureWindowsPath(name).drive or name.startswith(("/", "\\")):
        return "an absolute path"
    if ".." in re.split(r"[\\/]", name):
        return "a '..' path"
    return None


def _resolve_audio(root: Path, name: str) -> Path | None:
    name = name.strip()
    for base in (root, root / "wavs", root / "audio", root / "clips"):
        candidate = base / name
        if candidate.is_file() and candidate.suffix.lower() in SUPPORTED_EXTENSIONS:
            return candidate
        for ext in SUPPORTED_EXTENSIONS:
            with_ext = base / f"{name}{ext}"
            if with_ext.is_file():
                return with_ext
    return None


def _read_metadata(root: Path, meta: Path, lowercase: bool
                   ) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]], list[str]]:
    text, warning = read_text_file(meta)
    warnings = [warning] if warning else []
    pairs, missing, malformed = [], [], []
    outside: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("|")
        if len(parts) < 2:
            malformed.append(lineno)
            continue
        name = parts[0].strip()
        transcript = parts[2] if len(parts) >= 3 and parts[2].strip() else parts[1]
        why = _outside_reason(name)
        if why is not None:
            outside.append(f"line {lineno}: {name}")
            missing.append((Path(name), f"refused: listed in metadata.csv as {name!r}, {why} "
                                        "outside the dataset folder"))
            continue
        path = _resolve_audio(root, name)
        if path is None:
            if lineno == 1 and name.lower() in ("file", "filename", "path", "id", "audio"):
                continue  # a header row
            missing.append((root / name, "listed in metadata.csv but not found"))
            continue
        transcript = normalize_transcript(transcript, lowercase)
        if transcript:
            pairs.append((path, transcript))
        else:
            malformed.append(lineno)
    if outside:
        shown = "; ".join(outside[:5]) + (f"; and {len(outside) - 5} more"
                                          if len(outside) > 5 else "")
        warnings.append(f"metadata.csv: {len(outside)} entr{'ies' if len(outside) > 1 else 'y'}"
                        f" pointing outside {root} refused ({shown}). List audio files inside "
                        "the dataset folder (e.g. wavs/name.wav).")
    if malformed:
        lines = ", ".join(map(str, malformed[:10])) + (" …" if len(malformed) > 10 else "")
        warnings.append(f"metadata.csv: {len(malformed)} line(s) without a 'file|transcript' "
                        f"pair were skipped (line {lines}).")
    return pairs, missing, warnings


def scan_transcript_folder(root: str | Path, *, lowercase: bool = True,
                           ctx: JobContext | None = None) -> TranscriptDataset:
    """Find ``(audio, transcript)`` pairs under ``root`` and build the character vocabulary."""
    root = Path(root).expanduser()
    if not root.is_dir():
        if root.exists() or root.is_symlink():
            raise DatasetError(f"{root} is not a folder. Choose a folder with a metadata.csv, "
                               "or with audio files and same-named .txt transcripts.")
        raise DatasetError(f"Dataset folder {root} does not exist.")
    meta = root / "metadata.csv"
    warnings: list[str] = []
    unreadable: list[tuple[Path, str]] = []
    if meta.is_file():
        source = "metadata.csv"
        try:
            pairs, unreadable, warnings = _read_metadata(root, meta, lowercase)
        except OSError as exc:
            raise DatasetError(f"{meta} cannot be read ({os_reason(exc)}). Check its "
                               "permissions.") from exc
    else:
        source = "txt"
        pairs = []
        _subdirs(root)  # a folder that cannot be listed says so
        audio_files = _audio_files(root, True, unreadable)
        for f in audio_files:
            txt = f.with_suffix(".txt")
            if not txt.is_file():
                unreadable.append((f, "no transcript (.txt) next to it"))
                continue
            try:
                text, warning = read_text_file(txt)
            except OSError as exc:
                unreadable.append((f, f"its transcript cannot be read: {os_reason(exc)}"))
                continue
            except DatasetError as exc:
                unreadable.append((f, f"its transcript is damaged: {exc}"))
                continue
            if warning:
                warnings.append(warning)
            transcript = normalize_transcript(text, lowercase)
            if transcript:
                pairs.append((f, transcript))
            else:
                unreadable.append((f, "empty transcript"))
        if not audio_files:
            raise DatasetError(
                f"{root} has neither a metadata.csv (file|transcript lines) nor audio files "
                "with same-named .txt transcripts.")
    good, bad = _headers((p for p, _ in pairs), ctx, len(pairs))
    ok = {p: d for p, d in good}
    items = [(p, t) for p, t in pairs if p in ok]
    unreadable += bad
    if not items:
        detail = f" ({_describe_failures(unreadable)})" if unreadable else ""
        raise DatasetError(f"{root} has no usable (audio, transcript) pair{detail}.")
    vocab = CharVocab.from_texts(t for _, t in items)
    return TranscriptDataset(root, source, items, [ok[p] for p, _ in items], vocab,
                             unreadable, warnings)
