"""``--self-test``: the whole check passes from source, and a failing check is named."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from playground import selftest


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != selftest.FAIL_ENV}
    full_env.update(QT_QPA_PLATFORM="offscreen", **env)
    return subprocess.run([sys.executable, "-m", "playground", "--self-test", *args],
                          capture_output=True, text=True, env=full_env, timeout=600)


@pytest.mark.slow
def test_self_test_passes_and_reports_every_check():
    proc = _run()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("Model Playground") and "from source" in lines[0]
    for name in selftest.ALL:
        assert any(line.split()[:2] == ["ok", name] for line in lines), (name, proc.stdout)
    assert lines[-1].startswith("self-test passed:")
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_forced_failure_exits_non_zero_naming_the_check():
    proc = _run("--only", "soundfile,sentencepiece", PLAYGROUND_SELFTEST_FAIL="soundfile")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.split()[:2] == ["FAILED", "soundfile"] for line in lines), proc.stdout
    assert any(line.split()[:2] == ["ok", "sentencepiece"] for line in lines), proc.stdout
    assert "self-test FAILED: soundfile" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_unknown_check_is_one_error_line():
    proc = _run("--only", "nope")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: unknown check nope")


def test_report_logic_turns_exceptions_into_one_line(monkeypatch):
    monkeypatch.delenv(selftest.FAIL_ENV, raising=False)

    def boom() -> str:
        raise RuntimeError("the library\nis missing")

    report = selftest.Report([selftest.run_check("a", lambda: "fine"),
                              selftest.run_check("b", boom)])
    assert not report.ok and report.failed == ["b"]
    line = report.line(report.results[1])
    assert line.split()[:2] == ["FAILED", "b"] and "\n" not in line
    assert "RuntimeError: the library is missing" in line
    assert report.summary(1.0) == "self-test FAILED: b (1 of 2 checks)"
    assert selftest.Report([report.results[0]]).summary(2.0).startswith("self-test passed")


def test_waiting_gives_up_as_soon_as_a_job_has_failed(monkeypatch):
    """A broken installation fails in seconds, not after each wait's time limit (60-900 s)."""
    import time

    from playground.ui import screenshot

    class App:
        def processEvents(self):
            pass

    calls = []
    monkeypatch.setattr(screenshot, "give_up",
                        lambda: calls.append(1) or ("failed" if len(calls) > 2 else None))
    start = time.monotonic()
    with pytest.raises(screenshot.GaveUp, match="failed"):
        screenshot._wait(App(), lambda: False, timeout=600)
    assert time.monotonic() - start < 5 and len(calls) == 3
    monkeypatch.setattr(screenshot, "give_up", None)
    with pytest.raises(TimeoutError):
        screenshot._wait(App(), lambda: False, timeout=0.05)


def test_a_windowed_app_writes_the_report_to_a_file_and_opens_it(monkeypatch, tmp_path):
    """Windows' GUI executable has no stdout: the Start menu's self-test must still be seen."""
    report = tmp_path / "report.txt"
    shown = []
    monkeypatch.delenv(selftest.FAIL_ENV, raising=False)
    monkeypatch.setattr(selftest, "REPORT_PATH", report)
    monkeypatch.setattr(selftest, "show_report", shown.append)
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")  # as a person starts it (nothing is opened)
    assert selftest.main(["--only", "soundfile"]) == 0
    assert sys.stdout is None and shown == [report]
    lines = report.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("Model Playground")
    assert lines[1].split()[:2] == ["ok", "soundfile"]
    assert lines[-1].startswith("self-test passed: 1 check in")
