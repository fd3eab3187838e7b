"""Bad and odd corpus input: encodings by byte-order mark, special files, unreadable paths.

Each test gives one kind of input a user can drop on the text tab and asserts the exact
sentence they get (or that the text is read correctly), never a raw exception.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from playground.core import events as ev
from playground.core.errors import DatasetError
from playground.core.jobs import CollectingContext, run_job
from playground.text.corpus import decode_text, load_corpus
from playground.text.jobs import corpus_job

TEXT = "first line: naïve café\nsecond line 日本語\n"


@pytest.mark.parametrize("codec,label", [
    ("utf-16-le", "UTF-16 LE"), ("utf-16-be", "UTF-16 BE"),
    ("utf-32-le", "UTF-32 LE"), ("utf-32-be", "UTF-32 BE"),
])
def test_utf16_and_utf32_with_a_byte_order_mark_are_read_and_named(tmp_path, codec, label):
    path = tmp_path / "notes.txt"
    path.write_bytes("\ufeff".encode(codec) + TEXT.encode(codec))
    corpus = load_corpus(path)
    assert corpus.text == TEXT
    assert corpus.warnings == [f"{path} was read as {label} (it starts with a {label} "
                               "byte-order mark)."]
    assert corpus.encodings == {str(path): label}
    assert corpus.describe()["encodings"] == {str(path): label}


def test_utf8_with_a_byte_order_mark_needs_no_warning(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + TEXT.replace("\n", "\r\n").encode("utf-8"))
    corpus = load_corpus(path)
    assert corpus.text == TEXT and corpus.warnings == [] and corpus.encodings == {}


def test_the_encoding_warning_reaches_the_job_log(tmp_path):
    path = tmp_path / "windows.txt"
    path.write_bytes(TEXT.encode("utf-16"))  # Python writes the platform's BOM first
    ctx = CollectingContext()
    event = run_job(corpus_job(str(path)), ctx)
    assert isinstance(event, ev.Finished)
    assert event.result["excerpt"] == TEXT
    logs = [e.message for e in ctx.of_type(ev.Log) if e.level == "warning"]
    assert len(logs) == 1 and "was read as UTF-16" in logs[0]


def test_bytes_that_break_their_own_byte_order_mark_name_the_line(tmp_path):
    path = tmp_path / "damaged.txt"
    body = "one\ntwo\n".encode("utf-16-le") + b"\x00\xd8" + "x".encode("utf-16-le")
    path.write_bytes(b"\xff\xfe" + body)  # a lone surrogate on line 3
    with pytest.raises(DatasetError) as info:
        load_corpus(path)
    assert str(info.value).startswith(f"{path} starts with a UTF-16 LE byte-order mark, but "
                                      "line 3 is not valid UTF-16 LE")
    assert "save it again as UTF-8" in str(info.value)


def test_utf32_cut_short_names_the_line(tmp_path):
    path = tmp_path / "cut.txt"
    path.write_bytes(("a\nb\nc".encode("utf-32"))[:-2])
    with pytest.raises(DatasetError, match=r"line 3 is not valid UTF-32 LE"):
        load_corpus(path)


def test_utf16_without_a_byte_order_mark_is_explained_not_called_binary(tmp_path):
    path = tmp_path / "nobom.txt"
    path.write_bytes(TEXT.encode("utf-16-le"))
    with pytest.raises(DatasetError) as info:
        load_corpus(path)
    assert str(info.value) == (f"{path} looks like UTF-16 text without a byte-order mark, "
                               "which cannot be read reliably. Save it as UTF-8 (or as UTF-16 "
                               "with a byte-order mark).")


def test_another_encoding_names_the_first_bad_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("plain ascii\nsecond ascii\ncafé crème\n".encode("latin-1"))
    corpus = load_corpus(path)
    assert corpus.text.startswith("plain ascii\nsecond ascii\ncaf\ufffd")
    assert corpus.warnings == [f"{path} is not valid UTF-8: 2 bytes could not be decoded (the "
                               "first on line 3) and were replaced with \ufffd. Save the file "
                               "as UTF-8 to keep every character."]
    mostly = tmp_path / "cp1251.txt"
    mostly.write_bytes(b"ok\n" + "Привет мир, как дела".encode("cp1251"))
    with pytest.raises(DatasetError, match=r"are not UTF-8 \(the first on line 2\)"):
        load_corpus(mostly)


def test_decode_text_keeps_its_two_value_shape():
    assert decode_text(b"\xff\xfeh\x00i\x00", "x.txt") == (
        "hi", "x.txt was read as UTF-16 LE (it starts with a UTF-16 LE byte-order mark).")


# ----------------------------------------------------------------------------------------
# Things that are not regular files, and paths that cannot be read
# ----------------------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_not_a_regular_file_and_reading_does_not_hang(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(DatasetError) as info:
        load_corpus(fifo)
    assert str(info.value).startswith(f"{fifo} is a named pipe, not a regular file")
    assert "does not exist" not in str(info.value)
    # inside a folder it is left out and the real text is read
    (tmp_path / "real.txt").write_text("real text\n", encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert corpus.text == "real text\n" and corpus.files == [str(tmp_path / "real.txt")]


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_a_device_is_not_a_regular_file():
    with pytest.raises(DatasetError, match=r"^/dev/null is a character device, not a regular "
                                           r"file"):
        load_corpus("/dev/null")


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="unix sockets are POSIX")
def test_a_socket_is_not_a_regular_file(tmp_path):
    path = tmp_path / "s.txt"
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(path))
    except OSError:  # path too long for a unix socket on this machine
        pytest.skip("cannot bind a unix socket here")
    try:
        with pytest.raises(DatasetError, match=r"is a socket, not a regular file"):
            load_corpus(path)
    finally:
        sock.close()


def test_a_permission_denied_file_says_so(tmp_path, monkeypatch):
    path = tmp_path / "secret.txt"
    path.write_text("hidden\n", encoding="utf-8")
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == "secret.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(DatasetError) as info:
        load_corpus(path)
    assert str(info.value) == (f"{path} could not be read (permission denied). Check the "
                               "file's permissions, or leave it out of the corpus.")


def test_an_unreadable_folder_is_not_called_empty(tmp_path, monkeypatch):
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "a.txt").write_text("text\n", encoding="utf-8")
    real = os.scandir

    def scandir(path="."):
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(DatasetError) as info:
        load_corpus(folder)
    assert str(info.value) == (f"The folder {folder} cannot be read (permission denied). "
                               "Check its permissions, or choose another folder.")


def test_an_unreadable_sub_folder_is_skipped_with_a_warning(tmp_path, monkeypatch):
    (tmp_path / "ok.txt").write_text("kept\n", encoding="utf-8")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "b.txt").write_text("unseen\n", encoding="utf-8")
    real = os.scandir

    def scandir(path="."):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    corpus = load_corpus(tmp_path)
    assert corpus.text == "kept\n"
    assert corpus.warnings == [f"1 sub-folder(s) of {tmp_path} could not be read and were "
                               f"skipped: {locked} (permission denied)."]


def test_links_broken_looping_and_to_folders(tmp_path):
    loop = tmp_path / "loop.txt"
    loop.symlink_to(loop)
    with pytest.raises(DatasetError, match=r"loop\.txt cannot be reached \(a symbolic link "
                                           r"that points to itself \(a link loop\)\)"):
        load_corpus(loop)
    broken = tmp_path / "gone.txt"
    broken.symlink_to(tmp_path / "nowhere.txt")
    with pytest.raises(DatasetError, match=r"gone\.txt is a link to something that does not "
                                           r"exist"):
        load_corpus(broken)
    # a folder with a looping file link and a link to itself: read without hanging
    (tmp_path / "real.txt").write_text("real\n", encoding="utf-8")
    (tmp_path / "self").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "dir.txt").mkdir()  # a folder named like a file is not a file
    corpus = load_corpus(tmp_path)
    assert corpus.files == [str(tmp_path / "real.txt")]


def test_zero_byte_and_folder_named_like_a_file(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(DatasetError, match=r"empty\.txt is empty: the corpus needs some text"):
        load_corpus(empty)
    named = tmp_path / "book.txt"
    named.mkdir()
    with pytest.raises(DatasetError, match=r"The folder .*book\.txt has no \.txt files"):
        load_corpus(named)
