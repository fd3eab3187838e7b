from __future__ import annotations

import pytest

from playground.core.errors import DatasetError
from playground.text.corpus import DEMO_PYDOC, decode_text, load_corpus


def test_demo_corpus_needs_no_download_and_has_stats():
    corpus = load_corpus(DEMO_PYDOC)
    stats = corpus.stats
    assert stats.characters > 100_000
    assert stats.lines > 1000 and stats.words > 10_000
    assert "lambda" in corpus.text
    assert corpus.warnings == []


def test_split_is_contiguous_ninety_ten():
    corpus = load_corpus(DEMO_PYDOC)
    train, val = corpus.split()
    assert train + val == corpus.text
    assert abs(len(val) / len(corpus.text) - 0.1) < 0.001


def test_stats_count_characters_lines_words(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("one two\nthree\r\nfour", encoding="utf-8")
    corpus = load_corpus(path)
    assert corpus.text == "one two\nthree\nfour"  # Windows line ends normalised
    assert (corpus.stats.characters, corpus.stats.lines, corpus.stats.words) == (18, 3, 4)


def test_folder_reads_txt_files_in_order_and_skips_empty_ones(tmp_path):
    (tmp_path / "b.txt").write_text("second\n", encoding="utf-8")
    (tmp_path / "a.txt").write_text("first\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("ignored\n", encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert corpus.text == "first\n\nsecond\n"
    assert len(corpus.files) == 2
    assert any("empty.txt" in w and "skipped" in w for w in corpus.warnings)


def test_several_paths(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("alpha", encoding="utf-8")
    b.write_text("beta", encoding="utf-8")
    assert load_corpus([str(a), str(b)]).text == "alpha\n\nbeta\n"


def test_empty_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "nothing.txt"
    path.write_bytes(b"")
    with pytest.raises(DatasetError, match="nothing.txt is empty"):
        load_corpus(path)


def test_folder_of_empty_files_is_an_error(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"\n")
    with pytest.raises(DatasetError, match="empty"):
        load_corpus(tmp_path)


def test_binary_file_with_nul_bytes_is_rejected(tmp_path):
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    with pytest.raises(DatasetError, match=r"image\.txt is a binary file"):
        load_corpus(path)


def test_mostly_undecodable_bytes_are_rejected(tmp_path):
    path = tmp_path / "noise.txt"
    path.write_bytes(bytes(range(0x80, 0x100)) * 40)
    with pytest.raises(DatasetError, match=r"noise\.txt does not look like text"):
        load_corpus(path)


def test_control_characters_are_rejected():
    with pytest.raises(DatasetError, match="control characters"):
        decode_text(bytes([1, 2, 3, 4, 5, 6, 65]) * 100, "ctl.txt")


def test_non_utf8_text_is_decoded_with_replacement_and_a_warning(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("café crème, naïve façade\n".encode("latin-1") * 3)
    corpus = load_corpus(path)
    assert corpus.text.count("\ufffd") == 12
    assert corpus.text.startswith("caf\ufffd cr\ufffdme")
    assert len(corpus.warnings) == 1
    assert "latin1.txt is not valid UTF-8: 12 bytes" in corpus.warnings[0]


def test_utf8_bom_is_dropped(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfhello")
    assert load_corpus(path).text == "hello"


def test_missing_path_and_folder_without_txt(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_corpus(tmp_path / "nope.txt")
    (tmp_path / "x.csv").write_text("a,b", encoding="utf-8")
    with pytest.raises(DatasetError, match="has no .txt files"):
        load_corpus(tmp_path)
    with pytest.raises(DatasetError, match="Unknown built-in corpus"):
        load_corpus("demo:nothing")
