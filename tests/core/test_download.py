"""Downloads as jobs, exercised with file:// URLs (no network)."""

from __future__ import annotations

import hashlib
import os

import pytest

from playground.core import events as ev
from playground.core.download import download_file
from playground.core.errors import JobCancelled, WeightsUnavailable
from playground.core.jobs import CollectingContext, run_job


def _source(tmp_path, size: int = 300_000, name: str = "weights.bin"):
    src = tmp_path / "server" / name
    src.parent.mkdir(exist_ok=True)
    src.write_bytes(os.urandom(size))
    return src


def test_copies_and_reports_progress(tmp_path):
    src = _source(tmp_path)
    dest = tmp_path / "cache" / "models" / "resnet.pth"
    ctx = CollectingContext()
    got = download_file(src.as_uri(), dest, ctx, what="pretrained weights")
    assert got == dest and dest.read_bytes() == src.read_bytes()
    assert not dest.with_name(dest.name + ".part").exists()
    progress = ctx.of_type(ev.Progress)
    byte_steps = [p for p in progress if p.unit == "byte"]
    assert byte_steps and byte_steps[0].total == 300_000 and "resnet.pth" in byte_steps[0].message
    assert all(0 < p.done <= 300_000 for p in byte_steps)
    assert progress[-1] == ev.Progress(1, 1, "downloaded resnet.pth", unit="file")
    assert len(progress) <= 4  # throttled: not one event per 64 KiB chunk


def test_checksum(tmp_path):
    src = _source(tmp_path, 1000)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    dest = download_file(src.as_uri(), tmp_path / "ok.bin", sha256_prefix=digest[:8])
    assert dest.read_bytes() == src.read_bytes()
    with pytest.raises(WeightsUnavailable, match="bad.bin is corrupt"):
        download_file(src.as_uri(), tmp_path / "bad.bin", sha256_prefix="0000000000")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.bin", "server"]


def test_existing_destination_is_not_downloaded_again(tmp_path):
    dest = tmp_path / "cache" / "w.pth"
    dest.parent.mkdir()
    dest.write_bytes(b"already here")
    ctx = CollectingContext()
    missing = (tmp_path / "gone").as_uri()  # would fail if it were fetched
    assert download_file(missing, dest, ctx) == dest
    assert dest.read_bytes() == b"already here" and ctx.events == []


def test_empty_destination_is_downloaded_again(tmp_path):
    src = _source(tmp_path, 10)
    dest = tmp_path / "w.pth"
    dest.write_bytes(b"")
    download_file(src.as_uri(), dest)
    assert dest.read_bytes() == src.read_bytes()


def test_missing_source_names_the_file_and_folder(tmp_path):
    dest = tmp_path / "cache" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    url = (tmp_path / "nothing-here.pth").as_uri()
    with pytest.raises(WeightsUnavailable) as info:
        download_file(url, dest, CollectingContext(), what="pretrained weights")
    msg = str(info.value)
    assert "pretrained weights resnet18-f37072fd.pth" in msg
    assert str(dest.parent) in msg and url in msg and "offline" in msg
    assert not dest.exists() and list(dest.parent.iterdir()) == []


def test_missing_source_through_run_job(tmp_path):
    dest = tmp_path / "w.pth"
    ctx = CollectingContext()
    event = run_job(lambda c: download_file((tmp_path / "x").as_uri(), dest, c), ctx)
    assert isinstance(event, ev.Failed) and event.error_type == "WeightsUnavailable"
    assert "w.pth" in event.message and str(tmp_path) in event.message


class CancelOnProgress(CollectingContext):
    def emit(self, event: ev.Event) -> None:
        super().emit(event)
        if isinstance(event, ev.Progress):
            self.cancel()  # the user presses Stop after the first chunk


def test_cancel_mid_download_removes_part_file(tmp_path):
    src = _source(tmp_path, 1_000_000)
    dest = tmp_path / "cache" / "big.pth"
    ctx = CancelOnProgress()
    with pytest.raises(JobCancelled):
        download_file(src.as_uri(), dest, ctx)
    assert len(ctx.of_type(ev.Progress)) == 1 and ctx.of_type(ev.Progress)[0].done < 1_000_000
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # no big.pth.part left behind


def test_cancel_through_run_job_reports_stopped(tmp_path):
    src = _source(tmp_path, 1_000_000)
    dest = tmp_path / "big.pth"
    ctx = CancelOnProgress()
    event = run_job(lambda c: download_file(src.as_uri(), dest, c), ctx)
    assert isinstance(event, ev.Finished) and event.stopped
    assert not dest.exists() and not dest.with_name("big.pth.part").exists()
