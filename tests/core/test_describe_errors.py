"""Issue 9, classes 4 and 13: exceptions become sentences in a user's terms."""

from __future__ import annotations

import errno

import pytest

from playground.core import events as ev
from playground.core import logs
from playground.core.errors import DatasetError
from playground.core.jobs import CollectingContext, describe_exception, is_expected, run_job


@pytest.mark.parametrize("exc, expected", [
    (PermissionError(errno.EACCES, "Permission denied", "/data/cat.png"),
     "Permission denied: /data/cat.png. Check the file's permissions, or choose another file "
     "or folder."),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "/data/gone.txt"),
     "/data/gone.txt does not exist. Check the path and try again."),
    (IsADirectoryError(errno.EISDIR, "Is a directory", "/data/folder"),
     "/data/folder is a folder, but a file is needed here. Choose a file."),
    (NotADirectoryError(errno.ENOTDIR, "Not a directory", "/data/a.txt/b"),
     "/data/a.txt/b is not a folder (it, or a part of it, is a file). Choose a folder."),
    (OSError(errno.EROFS, "Read-only file system", "/media/cd/runs"),
     "/media/cd/runs is on a read-only disk. Choose a folder you can write to (for runs: "
     "--home)."),
    (OSError(errno.ENOSPC, "No space left on device", "/full/run/last.safetensors"),
     "The disk is full (writing /full/run/last.safetensors): free some space and try again."),
    (OSError(errno.EIO, "Input/output error", "/mnt/usb/a.wav"),
     "The disk could not be read or written at /mnt/usb/a.wav (input/output error). Check the "
     "disk."),
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
     "The network could not be reached (Connection refused). Check the connection and try "
     "again."),
    (MemoryError(), "The computer ran out of memory (RAM). Use a smaller model, batch size or "
                    "dataset and try again."),
])
def test_os_errors_in_user_terms(exc, expected):
    assert describe_exception(exc) == expected
    assert is_expected(exc)
    assert "Errno" not in describe_exception(exc)


def test_disk_full_in_a_job_names_the_run_and_says_the_checkpoint_is_intact():
    ctx = CollectingContext()

    def job(c):
        c.emit(ev.RunStarted("/runs/image/20260101-x", "image", "x"))
        raise OSError(errno.ENOSPC, "No space left on device")  # write() names no file

    event = run_job(job, ctx)
    assert isinstance(event, ev.Failed) and event.error_type == "OSError"
    assert event.message == ("The disk is full (writing /runs/image/20260101-x): free some "
                             "space and resume the run — the last checkpoint is intact.")


def test_disk_full_wrapped_by_a_library_is_recognised():
    """torch.save and safetensors report ENOSPC as RuntimeError / their own error type."""
    class SafetensorError(Exception):
        pass

    wrapped = SafetensorError('Error while serializing: IoError(Os { code: 28, kind: '
                              'StorageFull, message: "No space left on device" })')
    assert describe_exception(wrapped, where="/runs/r").startswith(
        "The disk is full (writing /runs/r): free some space and resume the run")
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/runs/r/x.tmp")
        except OSError as inner:
            raise RuntimeError("saving failed") from inner
    except RuntimeError as outer:
        assert describe_exception(outer).startswith("The disk is full (writing /runs/r/x.tmp)")
        assert is_expected(outer)


def test_playground_errors_stay_verbatim_even_when_raised_from_os_errors():
    try:
        try:
            raise PermissionError(errno.EACCES, "Permission denied", "/d/a.jpg")
        except PermissionError as inner:
            raise DatasetError("1 of 3 files could not be read: a.jpg (permission "
                               "denied).") from inner
    except DatasetError as exc:
        assert describe_exception(exc) == ("1 of 3 files could not be read: a.jpg "
                                           "(permission denied).")


def test_a_bug_is_named_as_one_with_the_log(tmp_path):
    exc = TypeError("'int' object is not iterable")
    assert not is_expected(exc)
    assert describe_exception(exc, log_file=tmp_path / "p.log") == (
        "An unexpected error (TypeError) stopped the job: 'int' object is not iterable. This is "
        f"a bug; please report it with the log at {tmp_path / 'p.log'}.")
    assert describe_exception(ValueError("Invalid learning rate: nan"), in_job=False) == (
        "An unexpected error (ValueError) stopped the command: Invalid learning rate: nan. "
        "This is a bug; please report it with the details.")


def test_run_job_logs_the_traceback_to_the_file_and_names_it(tmp_path):
    log_file = tmp_path / "logs" / "playground.log"
    logs.configure(path=log_file)
    try:
        assert not log_file.exists()  # created lazily, on the first record
        event = run_job(lambda c: [][1], CollectingContext())
    finally:
        logs.reset()
    assert isinstance(event, ev.Failed) and event.error_type == "IndexError"
    assert event.message.startswith("An unexpected error (IndexError) stopped the job: list "
                                    "index out of range.")
    assert str(log_file) in event.message
    assert "Traceback (most recent call last)" in event.details  # the GUI's details view
    text = log_file.read_text()
    assert "job failed (IndexError)" in text and "Traceback" in text


def test_log_falls_back_to_the_temp_dir_when_the_home_cannot_hold_it(tmp_path, monkeypatch):
    import logging
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    blocked = tmp_path / "home-is-a-file"
    blocked.write_text("x")
    logs.configure(path=blocked / "logs" / "playground.log")
    try:
        logging.getLogger("playground.test").error("something to keep")
        where = logs.log_file()
    finally:
        logs.reset()
    assert where is not None and where.parent.parent == tmp_path / "tmp"
    assert "something to keep" in where.read_text()
    assert logs.log_file() is None  # reset removed it


def test_log_that_cannot_be_written_anywhere_stays_quiet(tmp_path, monkeypatch, capsys):
    import logging
    import tempfile

    blocked = tmp_path / "file"
    blocked.write_text("x")
    monkeypatch.setattr(tempfile, "tempdir", str(blocked))  # the fallback is blocked too
    logs.configure(path=blocked / "logs" / "playground.log")
    try:
        logging.getLogger("playground.test").error("lost")
        assert logs.log_file() is None
    finally:
        logs.reset()
    assert "Logging error" not in capsys.readouterr().err
