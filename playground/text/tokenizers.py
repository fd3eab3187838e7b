"""Tokenizers for language models: character-level and SentencePiece (BPE or unigram).

Spec strings name a tokenizer in configs and on the command line:

* ``"char"``: one token per character; the vocabulary is every distinct character of the
  corpus (code-point order). Saved as ``tokenizer.json`` in the run folder.
* ``"bpe:N"`` / ``"unigram:N"``: a SentencePiece model of ``N`` pieces trained on the corpus
  (Kudo & Richardson, 2018). Saved as ``tokenizer.model`` in the run folder. It is trained with
  every character of the corpus covered, no text normalisation and no dummy prefix, so
  ``decode(encode(text)) == text`` for any text made of the corpus' characters (newlines and
  runs of spaces included). Pieces show a space as ``▁``.

Unknown characters (policy, the same for both kinds): text given to :meth:`Tokenizer.encode`
with ``strict=True`` (what generation does with a prompt) that contains characters the corpus
never had raises :class:`~playground.core.errors.TokenizerError` naming them; nothing is
silently dropped or replaced. :meth:`Tokenizer.unknown_chars` lists them without raising, so a
form can flag them as the user types.

Public API::

    parse_spec(spec) -> (kind, vocab_size)            # "bpe:500" -> ("bpe", 500)
    build_tokenizer(spec, text, ctx=None) -> Tokenizer   # trains SentencePiece with Progress
    make_tokenizer_job(corpus, spec, preview="") -> job(ctx) -> dict   # for a worker thread
    load_tokenizer(run_dir) -> Tokenizer
    Tokenizer: .spec .kind .vocab_size .encode(text, strict=False) -> list[int]
               .encode_array(text) -> np.ndarray[int64]  .decode(ids) -> str
               .pieces(text) -> list[str]  .id_to_piece(i) -> str  .unknown_chars(text)
               .save(folder) -> Path  .stream_decoder(prompt_ids) -> StreamDecoder
    display_piece(piece) -> str   # whitespace made visible, for previews and heatmap labels

Translation (sequence-to-sequence) adds, without changing the above::

    build_pair_tokenizer(spec, sources, targets, shared=True, ctx=None) -> PairTokenizer
    load_pair_tokenizer(run_dir) -> PairTokenizer
    PairTokenizer: .source .target (Seq2SeqTokenizer) .shared .save(folder) .describe()
    Seq2SeqTokenizer: padding 0, begin 1, end 2 (PAD_ID, BOS_ID, EOS_ID), then the base
                      tokenizer's ids + 3; .encode/.decode/.id_to_piece/.unknown_chars
"""

from __future__ import annotations

import abc
import io
import os
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from playground.core import events as ev
from playground.core.checkpoint import atomic_write, atomic_write_json
from playground.core.errors import RunError, TokenizerError
from playground.core.jobs import JobContext

CHAR_FILE = "tokenizer.json"
SPM_FILE = "tokenizer.model"
KINDS = ("char", "bpe", "unigram")
MAX_VOCAB = 65_536
SPACE_PIECE = "\u2581"  # ▁, how SentencePiece writes a space


def parse_spec(spec: str) -> tuple[str, int]:
    """``"char"`` -> ("char", 0); ``"bpe:N"`` / ``"unigram:N"`` -> (kind, N)."""
    text = (spec or "").strip().lower()
    if text == "char":
        return "char", 0
    kind, _, size = text.partition(":")
    if kind in ("bpe", "unigram"):
        try:
            n = int(size)
        except ValueError:
            n = -1
        if 8 <= n <= MAX_VOCAB:
            return kind, n
        raise TokenizerError(f"Tokenizer {spec!r}: the vocabulary size after '{kind}:' must be "
                             f"a whole number from 8 to {MAX_VOCAB}, e.g. {kind}:500.")
    raise TokenizerError(f"Unknown tokenizer {spec!r}: use char, bpe:N or unigram:N "
                         "(N = vocabulary size, e.g. bpe:500).")


def display_piece(piece: str) -> str:
    """A piece with its whitespace made visible: space ▁, newline ↵, tab →."""
    return (piece.replace(" ", SPACE_PIECE).replace("\n", "\u21b5").replace("\t", "\u2192")
            .replace("\r", "\u240d"))


def _unknown_message(chars: Sequence[str]) -> str:
    shown = ", ".join(repr(c) for c in chars[:12]) + (" …" if len(chars) > 12 else "")
    return (f"The text contains {len(chars)} character{'s' * (len(chars) != 1)} that the "
            f"tokenizer never saw in its corpus: {shown}. Remove or replace "
            f"{'them' if len(chars) != 1 else 'it'}, or train on a corpus that has "
            f"{'them' if len(chars) != 1 else 'it'}.")


class StreamDecoder:
    """Turns token ids into text one at a time, holding back incomplete characters.

    Decodes a short window (``ids[prefix:]`` against ``ids[prefix:read]``) so each step costs
    the same however long the text grows, and a piece that ends inside a multi-byte character
    waits until the character is complete.
    """

    def __init__(self, tokenizer: Tokenizer, prompt_ids: Sequence[int] = ()) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = list(prompt_ids)
        self._prefix = max(0, len(self.ids) - 8)
        self._read = len(self.ids)

    def push(self, token: int) -> str:
        """Add one token; return the text it completes (may be empty)."""
        self.ids.append(int(token))
        before = self.tokenizer.decode(self.ids[self._prefix:self._read])
        after = self.tokenizer.decode(self.ids[self._prefix:])
        if len(after) > len(before) and not after.endswith("\ufffd"):
            self._prefix, self._read = self._read, len(self.ids)
            return after[len(before):]
        return ""

    def flush(self) -> str:
        """Whatever is still held back (e.g. an incomplete character at the very end)."""
        before = self.tokenizer.decode(self.ids[self._prefix:self._read])
        after = self.tokenizer.decode(self.ids[self._prefix:])
        self._prefix = self._read = len(self.ids)
        return after[len(before):]


class Tokenizer(abc.ABC):
    """What the trainer, the generator and the UI need of a tokenizer."""

    kind: str = ""

    @property
    @abc.abstractmethod
    def vocab_size(self) -> int: ...

    @property
    def spec(self) -> str:
        return self.kind if self.kind == "char" else f"{self.kind}:{self.vocab_size}"

    @abc.abstractmethod
    def encode(self, text: str, strict: bool = False) -> list[int]:
        """Token ids of ``text``; ``strict`` raises TokenizerError on unknown characters."""

    def encode_array(self, text: str) -> np.ndarray:
        """Token ids of a whole corpus as an int64 array (fast path for training data)."""
        return np.asarray(self.encode(text), dtype=np.int64)

    @abc.abstractmethod
    def decode(self, ids: Sequence[int]) -> str: ...

    @abc.abstractmethod
    def id_to_piece(self, token: int) -> str: ...

    def pieces(self, text: str) -> list[str]:
        """How ``text`` is cut: one string per token, as the tokenizer writes it."""
        return [self.id_to_piece(i) for i in self.encode(text)]

    @abc.abstractmethod
    def unknown_chars(self, text: str) -> list[str]:
        """Characters of ``text`` that are not in the vocabulary, in order of first use."""

    @abc.abstractmethod
    def save(self, folder: str | os.PathLike) -> Path: ...

    def stream_decoder(self, prompt_ids: Sequence[int] = ()) -> StreamDecoder:
        return StreamDecoder(self, prompt_ids)

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "kind": self.kind, "vocab_size": self.vocab_size}

    def _check(self, text: str) -> None:
        unknown = self.unknown_chars(text)
        if unknown:
            raise TokenizerError(_unknown_message(unknown))


class CharTokenizer(Tokenizer):
    """One token per character; the vocabulary is the corpus' characters in code-point order."""

    kind = "char"

    def __init__(self, chars: Sequence[str]) -> None:
        chars = sorted(set(chars))
        if not chars:
            raise TokenizerError("A character tokenizer needs some text to take its "
                                 "vocabulary from.")
        if any(len(c) != 1 for c in chars):
            raise TokenizerError("A character tokenizer's vocabulary must be single characters.")
        self.chars: list[str] = chars
        self.stoi = {c: i for i, c in enumerate(chars)}
        self._codepoints = np.array([ord(c) for c in chars], dtype=np.uint32)

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str, strict: bool = False) -> list[int]:
        if strict:
            self._check(text)
        try:
            return [self.stoi[c] for c in text]
        except KeyError:
            raise TokenizerError(_unknown_message(self.unknown_chars(text))) from None

    def encode_array(self, text: str) -> np.ndarray:
        codes = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"),
                              dtype=np.uint32)
        idx = np.searchsorted(self._codepoints, codes)
        idx_clipped = np.minimum(idx, len(self._codepoints) - 1)
        if codes.size and not np.array_equal(self._codepoints[idx_clipped], codes):
            raise TokenizerError(_unknown_message(self.unknown_chars(text)))
        return idx_clipped.astype(np.int64)

    def decode(self, ids: Sequence[int]) -> str:
        chars = self.chars
        n = len(chars)
        return "".join(chars[i] if 0 <= i < n else "\ufffd" for i in map(int, ids))

    def id_to_piece(self, token: int) -> str:
        return self.chars[int(token)] if 0 <= int(token) < len(self.chars) else "\ufffd"

    def unknown_chars(self, text: str) -> list[str]:
        return [c for c in dict.fromkeys(text) if c not in self.stoi]

    def save(self, folder: str | os.PathLike) -> Path:
        return atomic_write_json(Path(folder) / CHAR_FILE, {"type": "char", "chars": self.chars})


class SentencePieceTokenizer(Tokenizer):
    """A trained SentencePiece model (BPE or unigram), kept as its serialized bytes."""

    def __init__(self, model_proto: bytes, kind: str | None = None) -> None:
        import sentencepiece as spm

        self.model_proto = bytes(model_proto)
        self.sp = spm.SentencePieceProcessor()
        try:
            self.sp.LoadFromSerializedProto(self.model_proto)
        except (RuntimeError, OSError) as exc:
            raise TokenizerError(f"The SentencePiece model could not be read ({exc}).") from exc
        self._unk = self.sp.unk_id()
        self.kind = kind or self._detect_kind()

    def _detect_kind(self) -> str:
        # BPE scores pieces by merge order (0, -1, -2, ...); unigram by log-probabilities.
        scores = [self.sp.get_score(i) for i in range(self.vocab_size)
                  if not (self.sp.is_unknown(i) or self.sp.is_control(i))]
        return "bpe" if all(float(s).is_integer() for s in scores) else "unigram"

    @property
    def vocab_size(self) -> int:
        return int(self.sp.get_piece_size())

    def encode(self, text: str, strict: bool = False) -> list[int]:
        if strict:
            self._check(text)
        return list(self.sp.encode(text))

    def encode_array(self, text: str) -> np.ndarray:
        return np.asarray(self.sp.encode(text), dtype=np.int64)

    def decode(self, ids: Sequence[int]) -> str:
        n = self.vocab_size
        return self.sp.decode([int(i) for i in ids if 0 <= int(i) < n])

    def id_to_piece(self, token: int) -> str:
        return self.sp.id_to_piece(int(token))

    def pieces(self, text: str) -> list[str]:
        return list(self.sp.encode(text, out_type=str))

    def unknown_chars(self, text: str) -> list[str]:
        unknown = []
        for c in dict.fromkeys(text):
            piece = SPACE_PIECE if c == " " else c
            if self.sp.piece_to_id(piece) == self._unk:
                unknown.append(c)
        return unknown

    def save(self, folder: str | os.PathLike) -> Path:
        data = self.model_proto

        def write(tmp: str) -> None:
            Path(tmp).write_bytes(data)

        return atomic_write(Path(folder) / SPM_FILE, write)


# --------------------------------------------------------------------------------------------
# Training and loading
# --------------------------------------------------------------------------------------------
def _chunks(text: str, lines_per_chunk: int = 16, max_chars: int = 8192) -> Iterator[str]:
    """The corpus as SentencePiece "sentences": a few lines each, newlines kept."""
    lines = text.splitlines(keepends=True)
    buf: list[str] = []
    size = 0
    for line in lines:
        while len(line) > max_chars:
            if buf:
                yield "".join(buf)
                buf, size = [], 0
            yield line[:max_chars]
            line = line[max_chars:]
        buf.append(line)
        size += len(line)
        if len(buf) >= lines_per_chunk or size >= max_chars:
            yield "".join(buf)
            buf, size = [], 0
    if buf:
        yield "".join(buf)


def _translate_spm_error(exc: Exception, kind: str, vocab_size: int) -> TokenizerError:
    message = str(exc)
    high = re.search(r"Vocabulary size too high \((\d+)\).*?<= (\d+)", message)
    if high:
        most = int(high.group(2))
        return TokenizerError(
            f"The corpus is too small for a {kind} vocabulary of {vocab_size} pieces: it "
            f"supports at most {most}. Choose {kind}:{most} or fewer, or add more text.")
    low = re.search(r"smaller than required_chars\. (\d+) vs (\d+)", message)
    if low:
        need = int(low.group(2))
        return TokenizerError(
            f"A {kind} vocabulary of {vocab_size} pieces cannot hold every character of the "
            f"corpus: it needs at least {need} (one per distinct character plus specials). "
            f"Choose {kind}:{need} or more, or use the char tokenizer.")
    first = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    return TokenizerError(f"SentencePiece could not train a {kind} tokenizer of "
                          f"{vocab_size} pieces: {first}")


def train_sentencepiece(text: str, kind: str, vocab_size: int,
                        ctx: JobContext | None = None) -> SentencePieceTokenizer:
    """Train a BPE or unigram SentencePiece model on ``text``.

    With ``ctx``: emits ``Progress`` (characters read, unit ``char``) at most 10 times a second,
    then an indeterminate ``Progress`` while SentencePiece trains, and stops on cancel while
    reading. Raises TokenizerError with the largest size the corpus supports when ``vocab_size``
    is too large, and with the smallest it needs when too small.
    """
    import sentencepiece as spm

    if kind not in ("bpe", "unigram"):
        raise TokenizerError(f"Unknown SentencePiece model type {kind!r}: use bpe or unigram.")
    if not text.strip():
        raise TokenizerError("The tokenizer needs some text to learn from; the corpus is empty.")
    total = len(text)
    what = f"tokenizer: {kind} {vocab_size}"

    def sentences() -> Iterator[str]:
        done, last = 0, 0.0
        for chunk in _chunks(text):
            done += len(chunk)
            if ctx is not None:
                ctx.check_cancelled()
                now = time.perf_counter()
                if now - last > 0.1:
                    ctx.emit(ev.Progress(done, total, f"{what}: reading text", unit="char"))
                    last = now
            yield chunk
        if ctx is not None:
            ctx.emit(ev.Progress(0, 0, f"{what}: training", unit="step"))

    writer = io.BytesIO()
    start = time.perf_counter()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=sentences(), model_writer=writer, vocab_size=vocab_size,
            model_type=kind, character_coverage=1.0, normalization_rule_name="identity",
            remove_extra_whitespaces=False, add_dummy_prefix=False,
            allow_whitespace_only_pieces=True, split_digits=True, max_sentence_length=1 << 16,
            input_sentence_size=2_000_000, shuffle_input_sentence=True,
            bos_id=-1, eos_id=-1, pad_id=-1, unk_id=0, hard_vocab_limit=True,
            num_threads=max(1, min(4, os.cpu_count() or 1)), minloglevel=2)
    except RuntimeError as exc:
        raise _translate_spm_error(exc, kind, vocab_size) from None
    tokenizer = SentencePieceTokenizer(writer.getvalue(), kind)
    if ctx is not None:
        ctx.emit(ev.Log(f"Trained a {kind} tokenizer of {tokenizer.vocab_size} pieces in "
                        f"{time.perf_counter() - start:.1f} s."))
    return tokenizer


def build_tokenizer(spec: str, text: str, ctx: JobContext | None = None) -> Tokenizer:
    """The tokenizer a spec names, built from (or trained on) ``text``."""
    kind, size = parse_spec(spec)
    if kind == "char":
        if not text:
            raise TokenizerError("The tokenizer needs some text to learn from; the corpus is "
                                 "empty.")
        return CharTokenizer.from_text(text)
    return train_sentencepiece(text, kind, size, ctx)


def make_tokenizer_job(corpus: Any, spec: str, preview: str = ""):
    """A job that loads ``corpus`` (anything :func:`~playground.text.corpus.load_corpus`
    takes, or a :class:`~playground.text.corpus.Corpus`) and builds the ``spec`` tokenizer.

    The job returns ``{"tokenizer": Tokenizer, "spec", "vocab_size", "tokens" (corpus length in
    tokens), "chars_per_token", "pieces" (``preview`` cut into pieces)}``. The tab shows the
    preview and can hand the tokenizer to :func:`playground.text.train.make_train_job`.
    """
    from playground.text.corpus import Corpus, load_corpus

    def job(ctx: JobContext) -> dict[str, Any]:
        data = corpus if isinstance(corpus, Corpus) else load_corpus(corpus)
        for warning in data.warnings:
            ctx.emit(ev.Log(warning, level="warning"))
        tok = build_tokenizer(spec, data.text, ctx)
        n_tokens = len(tok.encode_array(data.text))
        return {"tokenizer": tok, "spec": tok.spec, "vocab_size": tok.vocab_size,
                "tokens": n_tokens, "chars_per_token": len(data.text) / max(1, n_tokens),
                "pieces": tok.pieces(preview) if preview else []}

    return job


def load_tokenizer(run_dir: str | os.PathLike) -> Tokenizer:
    """The tokenizer saved in a run folder (``tokenizer.model`` or ``tokenizer.json``)."""
    folder = Path(run_dir)
    spm_path, char_path = folder / SPM_FILE, folder / CHAR_FILE
    if spm_path.is_file():
        return SentencePieceTokenizer(spm_path.read_bytes())
    if char_path.is_file():
        from playground.core.validate import read_json, validate_tokenizer_json

        data = validate_tokenizer_json(read_json(char_path), CHAR_FILE)
        try:
            return CharTokenizer(data["chars"])
        except TokenizerError as exc:
            raise RunError(f"{CHAR_FILE}: field 'chars' is not a usable vocabulary ({exc})") \
                from exc
    raise RunError(f"{folder} has no tokenizer ({SPM_FILE} or {CHAR_FILE}): it is not a text "
                   "run, or its training stopped before the tokenizer was saved.")


# --------------------------------------------------------------------------------------------
# Sequence-to-sequence (translation): special tokens and one tokenizer per side
# --------------------------------------------------------------------------------------------
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
SPECIAL_PIECES = ("<pad>", "<s>", "</s>")
SOURCE_DIR, TARGET_DIR = "source_tokenizer", "target_tokenizer"


class Seq2SeqTokenizer:
    """A :class:`Tokenizer` with the three ids a seq2seq model needs in front of its own:
    padding 0, begin 1, end 2; the base tokenizer's id ``i`` becomes ``i + 3``.

    ``encode`` returns the text's ids without begin/end (the model adds them); ``decode``
    drops the specials. Unknown characters follow the base tokenizer's policy.
    """

    pad_id, bos_id, eos_id = PAD_ID, BOS_ID, EOS_ID
    offset = len(SPECIAL_PIECES)

    def __init__(self, base: Tokenizer) -> None:
        self.base = base

    @property
    def vocab_size(self) -> int:
        return self.base.vocab_size + self.offset

    @property
    def spec(self) -> str:
        return self.base.spec

    def encode(self, text: str, strict: bool = False) -> list[int]:
        return [i + self.offset for i in self.base.encode(text, strict=strict)]

    def decode(self, ids: Sequence[int]) -> str:
        return self.base.decode([int(i) - self.offset for i in ids if int(i) >= self.offset])

    def id_to_piece(self, token: int) -> str:
        token = int(token)
        if 0 <= token < self.offset:
            return SPECIAL_PIECES[token]
        return self.base.id_to_piece(token - self.offset)

    def unknown_chars(self, text: str) -> list[str]:
        return self.base.unknown_chars(text)

    def describe(self) -> dict[str, Any]:
        return {**self.base.describe(), "vocab_size": self.vocab_size,
                "specials": list(SPECIAL_PIECES)}


class PairTokenizer:
    """The source and target tokenizers of a translation run (one object when ``shared``).

    Saved in the run folder as ``tokenizer.model`` / ``tokenizer.json`` when shared, else in
    ``source_tokenizer/`` and ``target_tokenizer/``; :func:`load_pair_tokenizer` reads either.
    """

    def __init__(self, source: Seq2SeqTokenizer, target: Seq2SeqTokenizer | None = None
                 ) -> None:
        self.source = source
        self.target = target if target is not None else source

    @property
    def shared(self) -> bool:
        return self.target is self.source

    def describe(self) -> dict[str, Any]:
        return {"shared": self.shared, "source": self.source.describe(),
                "target": self.target.describe()}

    def save(self, folder: str | os.PathLike) -> None:
        folder = Path(folder)
        if self.shared:
            self.source.base.save(folder)
            return
        for sub, tok in ((SOURCE_DIR, self.source), (TARGET_DIR, self.target)):
            (folder / sub).mkdir(parents=True, exist_ok=True)
            tok.base.save(folder / sub)


def train_sentence_pieces(sentences: Sequence[str], kind: str, vocab_size: int,
                          ctx: JobContext | None = None, what: str = "") -> Tokenizer:
    """A SentencePiece model for sentences (one a line), as translation uses it.

    Unlike :func:`train_sentencepiece` (corpora, exact round trip of whitespace) it uses
    SentencePiece's usual settings for sentences (a word-start marker ``▁`` before each
    word) and treats ``vocab_size`` as an upper bound: a small corpus gets the pieces it
    supports instead of an error, so one default fits a hundred pairs and fifty thousand.
    """
    import sentencepiece as spm

    if kind not in ("bpe", "unigram"):
        raise TokenizerError(f"Unknown SentencePiece model type {kind!r}: use bpe or unigram.")
    if not any(s.strip() for s in sentences):
        raise TokenizerError("The tokenizer needs some text to learn from; the sentences are "
                             "empty.")
    if ctx is not None:
        ctx.emit(ev.Progress(0, 0, f"tokenizer{' ' + what if what else ''}: {kind} "
                                   f"{vocab_size}: training", unit="step"))
    writer = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter([s for s in sentences if s]), model_writer=writer,
            vocab_size=vocab_size, model_type=kind, character_coverage=1.0,
            normalization_rule_name="identity", hard_vocab_limit=False,
            split_digits=True, max_sentence_length=1 << 16, input_sentence_size=2_000_000,
            shuffle_input_sentence=True, bos_id=-1, eos_id=-1, pad_id=-1, unk_id=0,
            num_threads=max(1, min(4, os.cpu_count() or 1)), minloglevel=2)
    except RuntimeError as exc:
        raise _translate_spm_error(exc, kind, vocab_size) from None
    return SentencePieceTokenizer(writer.getvalue(), kind)


def build_pair_tokenizer(spec: str, sources: Sequence[str], targets: Sequence[str], *,
                         shared: bool = True, ctx: JobContext | None = None) -> PairTokenizer:
    """Source and target tokenizers for translation from a spec (``char``, ``bpe:N`` or
    ``unigram:N``), one for both sides (``shared``, trained on both) or one each."""
    kind, size = parse_spec(spec)

    def build(texts: Sequence[str], what: str) -> Seq2SeqTokenizer:
        if kind == "char":
            text = "".join(texts)
            if not text:
                raise TokenizerError("The tokenizer needs some text to learn from; the "
                                     "sentences are empty.")
            return Seq2SeqTokenizer(CharTokenizer.from_text(text))
        return Seq2SeqTokenizer(train_sentence_pieces(texts, kind, size, ctx, what))

    if shared:
        return PairTokenizer(build(list(sources) + list(targets), "shared"))
    return PairTokenizer(build(sources, "source"), build(targets, "target"))


def load_pair_tokenizer(run_dir: str | os.PathLike) -> PairTokenizer:
    """The tokenizers a translation run saved (see :class:`PairTokenizer`)."""
    folder = Path(run_dir)
    if (folder / SOURCE_DIR).is_dir() or (folder / TARGET_DIR).is_dir():
        return PairTokenizer(Seq2SeqTokenizer(load_tokenizer(folder / SOURCE_DIR)),
                             Seq2SeqTokenizer(load_tokenizer(folder / TARGET_DIR)))
    return PairTokenizer(Seq2SeqTokenizer(load_tokenizer(folder)))
