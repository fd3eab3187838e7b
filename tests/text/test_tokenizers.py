from __future__ import annotations

import numpy as np
import pytest

from playground.core import events as ev
from playground.core.errors import RunError, TokenizerError
from playground.core.jobs import CollectingContext, run_job
from playground.text.corpus import pydoc_text
from playground.text.tokenizers import (
    CharTokenizer,
    SentencePieceTokenizer,
    StreamDecoder,
    Tokenizer,
    build_tokenizer,
    display_piece,
    load_tokenizer,
    make_tokenizer_job,
    parse_spec,
)


@pytest.fixture(scope="module")
def text():
    return pydoc_text()[:60_000]


def test_parse_spec():
    assert parse_spec("char") == ("char", 0)
    assert parse_spec("bpe:500") == ("bpe", 500)
    assert parse_spec(" Unigram:300 ") == ("unigram", 300)
    for bad in ("bpe", "bpe:x", "bpe:2", "wordpiece:100", ""):
        with pytest.raises(TokenizerError):
            parse_spec(bad)


def test_char_tokenizer_round_trip_and_fast_path():
    tok = CharTokenizer.from_text("hello world\n")
    assert tok.vocab_size == 9
    ids = tok.encode("hello\nworld")
    assert tok.decode(ids) == "hello\nworld"
    np.testing.assert_array_equal(tok.encode_array("hello\nworld"), ids)
    assert tok.pieces("he") == ["h", "e"]
    assert tok.spec == "char"


def test_char_tokenizer_names_unknown_characters():
    tok = CharTokenizer.from_text("abc ")
    assert tok.unknown_chars("a€bé€") == ["€", "é"]
    with pytest.raises(TokenizerError, match="2 characters .*'€', 'é'"):
        tok.encode("a€bé", strict=True)
    with pytest.raises(TokenizerError, match="'z'"):
        tok.encode_array("abz")


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_sentencepiece_trains_with_progress_and_round_trips(text, kind, tmp_path):
    ctx = CollectingContext()
    tok = build_tokenizer(f"{kind}:300", text, ctx)
    assert isinstance(tok, SentencePieceTokenizer)
    assert tok.kind == kind and tok.vocab_size == 300 and tok.spec == f"{kind}:300"
    progress = ctx.of_type(ev.Progress)
    assert progress and progress[0].unit == "char"
    sample = "def f(x):\n    return x  # the value\n\nclass A:  pass\n"
    assert tok.decode(tok.encode(sample)) == sample
    assert tok.decode(tok.encode_array(text).tolist()) == text
    pieces = tok.pieces(sample)
    assert len(pieces) < len(sample)  # pieces longer than one character exist
    assert "".join(pieces).replace("\u2581", " ") == sample
    tok.save(tmp_path)
    again = load_tokenizer(tmp_path)
    assert isinstance(again, SentencePieceTokenizer) and again.kind == kind
    assert again.encode(sample) == tok.encode(sample)


def test_sentencepiece_vocabulary_too_large_says_the_maximum():
    with pytest.raises(TokenizerError, match=r"supports at most \d+\. Choose bpe:\d+"):
        build_tokenizer("bpe:5000", "hello world, hello there.\n" * 5)


def test_sentencepiece_vocabulary_too_small_says_the_minimum(text):
    with pytest.raises(TokenizerError, match=r"needs at least \d+"):
        build_tokenizer("unigram:20", text)


def test_sentencepiece_unknown_characters(text):
    tok = build_tokenizer("bpe:200", text)
    assert tok.unknown_chars("a b\n") == []
    with pytest.raises(TokenizerError, match="'☃'"):
        tok.encode("snow ☃", strict=True)


def test_char_tokenizer_saves_json_and_loads(tmp_path):
    tok = CharTokenizer.from_text("xyz\n")
    path = tok.save(tmp_path)
    assert path.name == "tokenizer.json"
    assert load_tokenizer(tmp_path).chars == tok.chars


def test_load_tokenizer_from_a_folder_without_one(tmp_path):
    with pytest.raises(RunError, match="no tokenizer"):
        load_tokenizer(tmp_path)


class ByteTokenizer(Tokenizer):
    """One token per UTF-8 byte: a piece can end inside a character."""

    kind = "byte"

    @property
    def vocab_size(self) -> int:
        return 256

    def encode(self, text, strict=False):
        return list(text.encode("utf-8"))

    def decode(self, ids):
        return bytes(ids).decode("utf-8", errors="replace")

    def id_to_piece(self, token):
        return bytes([token]).decode("latin-1")

    def unknown_chars(self, text):
        return []

    def save(self, folder):
        raise OSError("a test tokenizer is not saved")


def test_stream_decoder_waits_for_whole_characters():
    tok = ByteTokenizer()
    decoder = StreamDecoder(tok, tok.encode("> "))
    out = [decoder.push(b) for b in "é€ok".encode()]
    assert out == ["", "é", "", "", "€", "o", "k"]
    assert decoder.flush() == ""


def test_display_piece_makes_whitespace_visible():
    assert display_piece(" a\n\t") == "\u2581a\u21b5\u2192"


def test_tokenizer_job_returns_preview(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("some words and more words\n" * 50, encoding="utf-8")
    ctx = CollectingContext()
    event = run_job(make_tokenizer_job(str(path), "bpe:40", preview="more words"), ctx)
    assert isinstance(event, ev.Finished), event
    result = event.result
    assert result["vocab_size"] == 40 and result["spec"] == "bpe:40"
    assert "".join(result["pieces"]).replace("\u2581", " ") == "more words"
    assert result["chars_per_token"] > 1.0
