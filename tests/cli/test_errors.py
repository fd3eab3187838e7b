"""Issue 9, classes 1, 4, 5, 7 and 12 at the command line: one ``error:`` sentence, the
traceback in a log file (or on the terminal with --verbose), ranges checked while parsing,
no prompt without a terminal, and names from files escaped on output."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from playground.cli import common, main
from playground.core import logs
from playground.core.runs import RunStore


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _one_error(err: str) -> str:
    """The single ``error:`` line of stderr; no traceback anywhere."""
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert "Traceback" not in err
    return errors[0]


def _details(err: str) -> Path:
    (line,) = [x for x in err.splitlines() if x.startswith("details: ")]
    return Path(line.removeprefix("details: "))


@pytest.fixture(autouse=True)
def _no_leftover_logging():
    yield
    logs.reset()


# -- class 1: the sentence alone, the traceback in the log ------------------------------------

def test_expected_error_prints_one_line_and_logs_the_traceback(tmp_path, capsys,
                                                               playground_home):
    code = main(["runs", "show", str(tmp_path / "nowhere")])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    line = _one_error(err)
    assert line == f"error: Run folder {tmp_path / 'nowhere'} does not exist."
    log_file = _details(err)
    assert log_file == playground_home / "logs" / "playground.log"
    text = log_file.read_text()
    assert "Traceback (most recent call last)" in text and "RunError" in text
    assert len(_lines(err)) == 2  # error + details, nothing else


def test_verbose_puts_the_traceback_on_the_terminal(tmp_path, capsys):
    code = main(["--verbose", "runs", "show", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback (most recent call last)" in err
    assert sum(line.startswith("error:") for line in err.splitlines()) == 1
    assert "details:" not in err
    code = main(["runs", "show", str(tmp_path / "nowhere"), "--verbose"])  # after the command
    assert code == 1 and "Traceback" in capsys.readouterr().err


def test_a_bug_asks_to_be_reported_with_the_log(tmp_path, capsys, monkeypatch,
                                                playground_home):
    from playground.cli import runs

    def broken(args):
        return sum(3)  # TypeError: 'int' object is not iterable

    monkeypatch.setattr(runs, "_show", broken)
    code = main(["runs", "show", "x"])
    err = capsys.readouterr().err
    line = _one_error(err)
    log_file = playground_home / "logs" / "playground.log"
    assert code == 1
    assert line.startswith("error: An unexpected error (TypeError) stopped the command: "
                           "'int' object is not iterable. This is a bug;")
    assert f"please report it with the log at {log_file}" in line
    assert "details:" not in err  # the path is in the sentence already
    assert "in broken" in log_file.read_text()


def test_a_failed_job_prints_its_sentence_and_the_log(tmp_path, capsys, playground_home):
    """A job's failure (run_job's Failed event) goes through the same path."""
    from playground.core import events as ev
    from playground.core.jobs import run_job

    logs.configure()
    ctx = common.TerminalContext(device="cpu", quiet=True)

    def job(c):
        c.emit(ev.RunStarted(str(tmp_path / "run"), "image", "x"))
        raise PermissionError(13, "Permission denied", str(tmp_path / "a.png"))

    event = run_job(job, ctx)
    assert isinstance(event, ev.Failed) and "Traceback" in event.details  # the GUI's details
    code = common.finish_training(event, ctx)
    out, err = capsys.readouterr()
    assert code == 1 and out.strip() == str(tmp_path / "run")
    assert _one_error(err) == (f"error: Permission denied: {tmp_path / 'a.png'}. Check the "
                               "file's permissions, or choose another file or folder.")
    assert "PermissionError" in _details(err).read_text()


def test_no_arguments_still_opens_the_app(monkeypatch):
    import playground.ui.app as app

    monkeypatch.setattr(app, "main", lambda argv=None: 42)
    assert main([]) == 42


def test_subprocess_error_is_one_line(tmp_path):
    """The real command: nothing from logging or Python on stderr besides the two lines."""
    home = tmp_path / "home"
    proc = subprocess.run([sys.executable, "-m", "playground", "runs", "show",
                           str(tmp_path / "gone"), "--home", str(home)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stdout == ""
    assert _lines(proc.stderr) == [f"error: Run folder {tmp_path / 'gone'} does not exist.",
                                   f"details: {home / 'logs' / 'playground.log'}"]


# -- --home pointing at a file ------------------------------------------------------------------

def test_home_that_is_a_file(tmp_path, capsys, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    home = tmp_path / "home.txt"
    home.write_text("not a folder")
    code = main(["runs", "list", "--home", str(home)])
    err = capsys.readouterr().err
    assert code == 1
    assert _one_error(err) == (f"error: The data folder {home} is a file, not a folder. Point "
                               "--home (or PLAYGROUND_HOME) at a folder you can write to.")
    log_file = _details(err)  # the log could not go into the home: it went to the temp dir
    assert log_file.parent.parent == tmp_path / "tmp" and log_file.is_file()
    assert home.read_text() == "not a folder"


# -- class 5: ranges checked while parsing ------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["train", "image", "--data", "demo:shapes", "--threads", "-3"],
     "error: --threads must be between 0 and 1024 (got -3)"),
    (["train", "image", "--data", "demo:shapes", "--max-steps", "0"],
     "error: --max-steps must be between 1 and 1000000000 (got 0)"),
    (["train", "image", "--data", "demo:shapes", "--max-steps", "-1"],
     "error: --max-steps must be between 1 and 1000000000 (got -1)"),
    (["train", "image", "--data", "demo:shapes", "--threads", "two"],
     "error: --threads must be a whole number between 0 and 1024 (got two)"),
    (["train", "image", "--data", "demo:shapes", "--learning-rate", "nan"],
     "error: --learning-rate must be a finite number between 1e-07 and 10 (got nan)"),
    (["train", "image", "--data", "demo:shapes", "--learning-rate", "inf"],
     "error: --learning-rate must be a finite number between 1e-07 and 10 (got inf)"),
    (["train", "image", "--data", "demo:shapes", "--epochs", "2.5"],
     "error: --epochs must be a whole number between 1 and"),
    (["train", "speech", "--data", "demo:digits", "--max-steps", "0"],
     "error: --max-steps must be between 1 and 1000000000 (got 0)"),
    (["predict", "image", "--run", "r", "a.png", "--top-k", "0"],
     "error: --top-k must be between 1 and 10000 (got 0)"),
    (["transcribe", "--run", "r", "a.wav", "--beam-width", "0"],
     "error: --beam-width must be between 1 and"),
    (["transcribe", "--run", "r", "a.wav", "--chunk-seconds=-inf"],
     "error: --chunk-seconds must be a finite number between 3 and 3600 (got -inf)"),
    (["train", "image", "--bogus"], "error: the following arguments are required: --data"),
    (["runs", "list", "--nope"], "error: unrecognized arguments: --nope"),
])
def test_bad_flags_are_refused_in_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    assert info.value.code == 2 and out == ""
    assert _one_error(err).startswith(message)
    assert "--help`)" in err and "usage:" not in err
    assert len(_lines(err)) == 1


def test_generate_flags_from_the_schema_are_checked(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--temperature", "-1"])
    assert _one_error(capsys.readouterr().err).startswith(
        "error: --temperature must be between 0 and 5 (got -1)")


def test_worker_and_thread_counts_are_capped_with_a_note(monkeypatch):
    import argparse

    from playground.core import device

    monkeypatch.setattr(device, "cpu_count", lambda: 2)
    args = argparse.Namespace(threads=8, workers=32, quiet=True)
    notes = common.cap_counts(args)
    assert args.threads == 2 and args.workers == 2
    assert notes == ["note: 8 --threads asked for, but this machine has 2 CPU cores; using 2.",
                     "note: 32 --workers asked for, but this machine has 2 CPU cores; using 2."]
    args = argparse.Namespace(threads=0, workers=1)
    assert common.cap_counts(args) == [] and (args.threads, args.workers) == (0, 1)


# -- class 7: no prompt without a terminal ------------------------------------------------------

class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(home: Path) -> Path:
    return RunStore(home).create("image", "keep me", model="small_cnn", config={}).path


def test_delete_without_a_terminal_refuses_and_keeps_the_run(capsys, monkeypatch,
                                                             playground_home):
    run = _run(playground_home)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # a script: no terminal, no input
    code = main(["runs", "delete", str(run)])
    out, err = capsys.readouterr()
    assert code == 1 and run.is_dir() and "EOFError" not in err
    assert _one_error(err) == (f"error: Not deleting {run}: there is no terminal to confirm "
                               "on. Run again with --yes to delete it without asking.")
    assert main(["runs", "delete", str(run), "--yes"]) == 0 and not run.exists()


def test_delete_with_a_terminal_still_asks(capsys, monkeypatch, playground_home):
    run = _run(playground_home)
    monkeypatch.setattr(sys, "stdin", _Terminal("n\n"))
    assert main(["runs", "delete", str(run)]) == 1 and run.is_dir()
    assert "not deleted" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", _Terminal(""))  # Ctrl-D at the prompt: a no
    assert main(["runs", "delete", str(run)]) == 1 and run.is_dir()
    monkeypatch.setattr(sys, "stdin", _Terminal("y\n"))
    assert main(["runs", "delete", str(run)]) == 0 and not run.exists()
    assert f"Delete {run}? [y/N]" in capsys.readouterr().out


# -- class 12: names from files are escaped on output -------------------------------------------

def test_safe_text_escapes_terminal_controls():
    assert common.safe_text("cat\x1b[2J\x1b]0;owned\x07") == "cat\\x1b[2J\\x1b]0;owned\\x07"
    assert common.safe_text("a\nb\tc\rd") == "a\\nb\\tc\\rd"
    assert common.safe_text("a\nb\tc", keep_newlines=True) == "a\nb\tc"
    assert common.safe_text("evil\u202etxt.exe\x9b31m\x7f") == "evil\\u202etxt.exe\\x9b31m\\x7f"
    assert common.safe_text("Zürich — 東京 🙂") == "Zürich — 東京 🙂"  # printable text stays


def test_runs_list_escapes_names_and_survives_odd_fields(capsys, playground_home):
    run = RunStore(playground_home).create("image", "x", model="cnn\x1b[31mRED",
                                           config={}).path
    info = json.loads((run / "run.json").read_text())
    info.update({"status": None})
    (run / "run.json").write_text(json.dumps(info))
    assert main(["runs", "list"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "cnn\\x1b[31mRED" in out and str(run) in out
    from playground.cli.runs import _line  # a best metric that is not a number is shown as is

    assert _line({"task": None, "model": {"a": 1}, "best": "high\x1b"}).split() == [
        "{'a':", "1}", "best=high\\x1b"]
    assert main(["runs", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["model"] == "cnn\x1b[31mRED"  # JSON escapes it and keeps the value


def test_stdout_escapes_controls_and_keeps_json_valid(capsys):
    import argparse

    def handler(args):
        print("label\x1b[2J")
        common.print_json({"label": "a\x9b31m\u202eb", "n": "x\ny"})
        return 0

    assert common.dispatch(argparse.Namespace(handler=handler)) == 0
    out = capsys.readouterr().out
    first, rest = out.split("\n", 1)
    assert first == "label\\u001b[2J" and "\x9b" not in rest and "\u202e" not in rest
    assert json.loads(rest) == {"label": "a\x9b31m\u202eb", "n": "x\ny"}
