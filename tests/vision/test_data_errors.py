"""Bad image input says what really happened: permission denied is not a corrupt header, an
unreadable class folder is not an empty one; odd files (links, loops, folders named like
images) are handled and the dataset is still usable.

Permission problems are simulated by monkeypatching the reads to raise PermissionError, so the
tests also run as root (where chmod 000 stops nothing).
"""

from __future__ import annotations

import builtins
import errno
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from playground.core import events as ev
from playground.core.errors import DatasetError, ImageDecodeError
from playground.core.jobs import CollectingContext, run_job
from playground.vision.data import load_image, scan_folder


def _png(path: Path, value: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, np.uint8), "RGB").save(path)
    return path


def _dataset(root: Path) -> Path:
    for k in range(2):
        _png(root / "cats" / f"c{k}.png", 10 * k)
        _png(root / "dogs" / f"d{k}.png", 100 + 10 * k)
    return root


@pytest.fixture
def deny(monkeypatch):
    """``deny(path)``: opening that file, or listing that folder, raises PermissionError."""
    denied: set[Path] = set()
    real_open, real_scandir = builtins.open, os.scandir

    def fake_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and Path(file) in denied:
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    def fake_scandir(path="."):
        if isinstance(path, (str, os.PathLike)) and Path(path) in denied:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "scandir", fake_scandir)
    return denied.add


def test_a_permission_denied_image_is_not_a_corrupt_header(tmp_path, deny):
    path = _png(tmp_path / "private.png")
    deny(path)
    with pytest.raises(ImageDecodeError) as info:
        load_image(path)
    assert str(info.value) == "private.png: cannot be read (permission denied)."
    assert "corrupt" not in str(info.value)


def test_a_read_error_while_decoding_is_not_corrupt_data(tmp_path, monkeypatch):
    path = _png(tmp_path / "flaky.png")

    def load(self):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(Image.Image, "load", load)
    monkeypatch.setattr("PIL.PngImagePlugin.PngImageFile.load", load, raising=False)
    with pytest.raises(ImageDecodeError) as info:
        load_image(path)
    assert str(info.value) == ("flaky.png: cannot be read (input/output error (a failing disk "
                               "or a disconnected drive?)).")


def test_scan_skips_a_permission_denied_image_and_says_why(tmp_path, deny):
    root = _dataset(tmp_path / "pets")
    deny(root / "cats" / "c1.png")
    index = scan_folder(root, workers=1)
    assert index.counts() == {"cats": 1, "dogs": 2}
    assert index.skipped == [(str(root / "cats" / "c1.png"), "cannot be read (permission denied)")]


def test_an_unreadable_class_folder_is_not_called_empty(tmp_path, deny):
    root = _dataset(tmp_path / "pets")
    deny(root / "dogs")
    with pytest.raises(DatasetError) as info:
        scan_folder(root, workers=1)
    assert str(info.value) == (f"The class folder 'dogs' in {root} cannot be read (permission "
                               "denied). Fix its permissions, or move it out of the dataset "
                               "folder.")
    assert "no images" not in str(info.value)


def test_an_unreadable_sub_folder_is_skipped_and_named(tmp_path, deny):
    root = _dataset(tmp_path / "pets")
    _png(root / "dogs" / "more" / "d9.png")
    deny(root / "dogs" / "more")
    index = scan_folder(root, workers=1)
    assert index.counts() == {"cats": 2, "dogs": 2}
    assert (str(root / "dogs" / "more"), "folder cannot be read: permission denied") \
        in index.skipped
    assert index.describe()["skipped_examples"] == [
        [str(Path("dogs") / "more"), "folder cannot be read: permission denied"]]


def test_a_class_whose_images_are_all_in_an_unreadable_folder(tmp_path, deny):
    root = _dataset(tmp_path / "pets")
    for f in (root / "dogs").iterdir():
        f.unlink()
    _png(root / "dogs" / "locked" / "d.png")
    deny(root / "dogs" / "locked")
    with pytest.raises(DatasetError) as info:
        scan_folder(root, workers=1)
    assert str(info.value) == (f"Class folder 'dogs' in {root} has no readable images: "
                               f"{Path('dogs') / 'locked'} (folder cannot be read: permission "
                               "denied). Fix the permissions, or move the images into a folder "
                               "that can be read.")


def test_the_preview_job_finishes_and_lists_what_was_skipped(tmp_path, deny):
    from playground.vision.config import ImageTrainConfig
    from playground.vision.jobs import preview_job

    root = _dataset(tmp_path / "pets")
    deny(root / "cats" / "c0.png")
    ctx = CollectingContext()
    event = run_job(preview_job(str(root), ImageTrainConfig(), per_class=1, size=16), ctx)
    assert isinstance(event, ev.Finished), getattr(event, "message", event)
    assert [r for _, r in event.result["skipped"]] == ["cannot be read (permission denied)"]


def test_links_loops_and_folders_named_like_images(tmp_path):
    root = _dataset(tmp_path / "pets")
    loop = root / "cats" / "loop.png"
    loop.symlink_to(loop)                                  # a link to itself
    (root / "cats" / "again").symlink_to(root, target_is_directory=True)  # a folder loop
    (root / "dogs" / "folder.jpg").mkdir()                 # a folder named like an image
    (root / "dogs" / "gone.png").symlink_to(root / "nowhere.png")  # a broken link
    index = scan_folder(root, workers=1)
    assert index.counts() == {"cats": 2, "dogs": 2}
    reasons = {Path(p).name: r for p, r in index.skipped}
    assert reasons == {"loop.png": "cannot be read (a symbolic link that points to itself (a "
                                   "link loop))",
                       "gone.png": "file not found"}
    with pytest.raises(ImageDecodeError, match=r"^folder\.jpg: is a folder, not an image"):
        load_image(root / "dogs" / "folder.jpg")


def test_zero_byte_and_huge_images_are_still_refused_by_name(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageDecodeError, match=r"^empty\.png: empty file \(0 bytes\)\.$"):
        load_image(empty)
    huge = tmp_path / "huge.png"
    Image.new("1", (9000, 8000)).save(huge)  # 72 MP, a few kB on disk
    with pytest.raises(ImageDecodeError, match=r"^huge\.png: 9000x8000 is more than 64 "
                                               r"megapixels"):
        load_image(huge)
