"""The data folder: a file where it should be, or a folder that cannot be made, is one clear
sentence (issue 9, class 2's ``--home`` case); thread counts are capped to the cores."""

from __future__ import annotations

import os

import pytest

from playground.core import device, paths
from playground.core.errors import StorageError


def test_home_that_is_a_file(tmp_path):
    home = tmp_path / "home"
    home.write_text("x")
    with pytest.raises(StorageError, match=r"The data folder .*home is a file, not a folder\. "
                                           r"Point --home"):
        paths.home_dir(home)
    with pytest.raises(StorageError, match="is a file, not a folder"):
        paths.runs_dir(home)
    assert home.read_text() == "x"


def test_home_below_a_file(tmp_path):
    (tmp_path / "blocker").write_text("x")
    with pytest.raises(StorageError, match=r"cannot be created: .*blocker is a file"):
        paths.home_dir(tmp_path / "blocker" / "home")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root can write anywhere")
def test_home_without_permission(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(StorageError, match="permission denied"):
            paths.home_dir(locked / "home")
    finally:
        locked.chmod(0o700)


def test_runs_folder_that_is_a_file(tmp_path):
    (tmp_path / "runs").write_text("x")
    with pytest.raises(StorageError, match=r"The runs folder .*runs is a file"):
        paths.runs_dir(tmp_path)


def test_home_path_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "later"))
    assert paths.home_path() == tmp_path / "later" and not (tmp_path / "later").exists()
    assert paths.home_dir().is_dir()


def test_threads_and_workers_are_capped_to_the_cores(monkeypatch):
    import torch

    monkeypatch.setattr(device, "cpu_count", lambda: 2)
    assert device.cap_to_cpus(1) == (1, None)
    n, note = device.cap_to_cpus(32, "--workers")
    assert n == 2 and note == ("note: 32 --workers asked for, but this machine has 2 CPU "
                               "cores; using 2.")
    before = torch.get_num_threads()
    try:
        device.set_cpu_threads(64)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert device.cpu_count.__module__  # the real one answers at least 1 elsewhere
