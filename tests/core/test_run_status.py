"""Issue 8 "status on disk is true" + issue 9 class 8: a run whose training process was killed
reads as interrupted, and the temporary checkpoint files it left are cleaned when a store is
opened, while a live training process keeps its own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from playground.core import runs as runs_mod
from playground.core.runs import INTERRUPTED, TRAINING, RunStore, open_run, pid_alive


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def _run(**status):
    run = RunStore().create("image", "r", model="m", config={})
    if status:
        run.set_status(**status)
    return run


def test_pid_alive():
    assert pid_alive(os.getpid())
    assert not pid_alive(_dead_pid())
    assert not pid_alive(0) and not pid_alive(-5) and not pid_alive(True)
    proc = _sleeper()
    try:
        assert pid_alive(proc.pid)
        # a process that started after the run's status was written is another one
        assert not pid_alive(proc.pid, started_before=time.time() - 3600) \
            or not sys.platform.startswith("linux")
        os.kill(proc.pid, signal.SIGKILL)
        time.sleep(0.2)
        assert not pid_alive(proc.pid)  # killed but not reaped yet (a zombie): not alive
    finally:
        proc.kill()
        proc.wait()


def test_statuses():
    assert _run().status == "created"
    assert _run(status="finished", pid=None).status == "finished"
    mine = _run(status=TRAINING, pid=os.getpid(), host=socket.gethostname())
    assert mine.status == TRAINING and mine.owner_alive() is True
    killed = _run(status=TRAINING, pid=_dead_pid(), host=socket.gethostname())
    assert killed.status == INTERRUPTED and killed.owner_alive() is False
    assert killed.info()["status"] == TRAINING  # the file is not rewritten by reading it
    assert _run(status="stopped").owner_alive() is None


def test_other_host_or_no_pid_goes_stale(monkeypatch):
    other = _run(status=TRAINING, pid=os.getpid(), host="some-other-machine")
    legacy = _run(status=TRAINING)  # older trainers recorded no process
    assert other.status == TRAINING and legacy.status == TRAINING  # recently active
    later = time.time() + runs_mod.STALE_SECONDS + 60
    monkeypatch.setattr(runs_mod.time, "time", lambda: later)
    assert other.status == INTERRUPTED and legacy.status == INTERRUPTED


def _temps(run):
    best = run.checkpoints / ".best.safetensors.abc123.tmp"
    last = run.checkpoints / ".last.safetensors.x.tmp"
    meta = run.path / ".run.json.q1.tmp"
    for p in (best, last, meta):
        p.write_bytes(b"partial")
    return [best, last, meta]


def test_cleanup_removes_temp_files_of_killed_runs_only():
    killed = _run(status=TRAINING, pid=_dead_pid(), host=socket.gethostname())
    live = _run(status=TRAINING, pid=os.getpid(), host=socket.gethostname())
    finished = _run(status="finished")
    killed_tmp, live_tmp, fresh_tmp = _temps(killed), _temps(live), _temps(finished)
    (killed.checkpoints / "best.safetensors").write_bytes(b"kept")
    removed = RunStore().cleanup()
    assert sorted(removed) == sorted(killed_tmp)
    assert not any(p.exists() for p in killed_tmp)
    assert (killed.checkpoints / "best.safetensors").exists()
    assert all(p.exists() for p in live_tmp)  # its process may be writing them right now
    assert all(p.exists() for p in fresh_tmp)  # nobody known: only old ones go
    old = time.time() - runs_mod.TEMP_GRACE_SECONDS - 10
    for p in fresh_tmp:
        os.utime(p, (old, old))
    assert sorted(RunStore().cleanup()) == sorted(fresh_tmp)


def test_opening_a_store_cleans_at_most_every_interval(monkeypatch):
    killed = _run(status=TRAINING, pid=_dead_pid(), host=socket.gethostname())
    monkeypatch.setattr(runs_mod, "_LAST_CLEANUP", {})
    tmp = _temps(killed)
    store = RunStore()
    assert sorted(store.removed_temp_files) == sorted(tmp)
    again = _temps(killed)
    assert RunStore().removed_temp_files == [] and all(p.exists() for p in again)
    assert RunStore(cleanup=False).removed_temp_files == []


def test_sigkilled_training_process_reads_interrupted_and_is_cleaned(playground_home):
    """A real process marks a run as training, starts writing a checkpoint and is killed."""
    code = (
        "import os, socket, sys, time\n"
        "from playground.core.runs import RunStore\n"
        "run = RunStore().create('image', 'k', model='m', config={})\n"
        "run.set_status('training', pid=os.getpid(), host=socket.gethostname())\n"
        "open(run.checkpoints / '.best.safetensors.zz.tmp', 'wb').write(b'half')\n"
        "print(run.path, flush=True)\n"
        "time.sleep(60)\n")
    env = {**os.environ, "PLAYGROUND_HOME": str(playground_home)}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env=env)
    try:
        path = proc.stdout.readline().strip()
        run = open_run(path)
        assert run.status == TRAINING
        assert RunStore().cleanup() == []  # alive: its temporary file is kept
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
        proc.stdout.close()
    assert run.status == INTERRUPTED
    assert [p.name for p in RunStore().cleanup()] == [".best.safetensors.zz.tmp"]


def test_cli_list_and_show_say_interrupted(capsys):
    from playground.cli import main

    killed = _run(status=TRAINING, pid=_dead_pid(), host=socket.gethostname())
    assert main(["runs", "list"]) == 0
    assert "interrupted" in capsys.readouterr().out
    assert main(["runs", "show", str(killed.path)]) == 0
    assert '"status": "interrupted"' in capsys.readouterr().out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc start times")
def test_reused_pid_is_not_the_owner():
    proc = _sleeper()
    try:
        run = _run(status=TRAINING, pid=proc.pid, host=socket.gethostname())
        info = run.info()
        assert run.effective_status(info) == TRAINING
        info["updated"] = "2001-01-01T00:00:00"  # training began long before this process did
        assert run.effective_status(info) == INTERRUPTED
    finally:
        proc.kill()
        proc.wait()
