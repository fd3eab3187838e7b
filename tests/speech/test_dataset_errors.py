"""Bad speech-dataset input: slow label patterns, damaged clips, paths outside the dataset,
unreadable files and folders, special files. Each case asserts the sentence the user sees and
that what survives is still usable.

Permission problems are simulated by monkeypatching the reads to raise PermissionError, so the
tests also run as root (where chmod 000 stops nothing).
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from playground.core import events as ev
from playground.core.errors import AudioDecodeError, ConfigError, DatasetError
from playground.core.jobs import CollectingContext, run_job
from playground.speech.audio import audio_info, load_audio
from playground.speech.datasets import (
    check_keyword_dataset,
    labels_from_names,
    load_clips,
    scan_keyword_folder,
    scan_transcript_folder,
)
from playground.speech.jobs import keyword_preview_job
from tests.speech.helpers import tone

SR = 16_000
SLOW = r"^(?P<label>(a+)+)b"


def _wav(path: Path, samples: np.ndarray | None = None, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(500.0, 0.3) if samples is None else samples, SR, subtype=subtype)
    return path


def _nan_clip(path: Path) -> Path:
    x = tone(500.0, 0.3)
    x[100] = np.nan
    x[200] = np.inf
    return _wav(path, x, "FLOAT")


def _cut_short_clip(path: Path) -> Path:
    _wav(path, tone(500.0, 1.0))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the header still promises 1 s
    return path


def _keyword_folder(root: Path, per_label: int = 3) -> Path:
    for label, freq in (("yes", 500.0), ("no", 1500.0)):
        for k in range(per_label):
            _wav(root / label / f"{label}{k}.wav", tone(freq, 0.3))
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
    monkeypatch.setattr(io, "open", fake_open)  # what pathlib's read_bytes calls
    monkeypatch.setattr(os, "scandir", fake_scandir)
    return denied.add


# ----------------------------------------------------------------------------------------
# Label patterns that never finish
# ----------------------------------------------------------------------------------------
def test_a_catastrophic_label_pattern_is_refused_within_its_time_limit(tmp_path):
    for k in range(2):
        _wav(tmp_path / f"b{k}_x.wav")
    _wav(tmp_path / ("a" * 40 + ".wav"))
    start = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        scan_keyword_folder(tmp_path, SLOW)
    assert time.perf_counter() - start < 10  # without the limit: hours
    assert str(info.value) == (
        f"The label pattern {SLOW!r} took more than 1 s on 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaa…': simplify it. A repetition inside a repetition, like (a+)+, can take forever on "
        "some names. Example: ^(?P<label>[^_]+)_")
    # the app goes on: the same folder with a sensible pattern
    data = scan_keyword_folder(tmp_path, r"^(?P<label>[ab])")
    assert data.labels == ["a", "b"]


def test_the_preview_job_reports_a_slow_pattern_as_a_failure_not_a_hang(tmp_path):
    _wav(tmp_path / ("a" * 30 + ".wav"))
    _wav(tmp_path / "b_1.wav")
    ctx = CollectingContext()
    event = run_job(keyword_preview_job(str(tmp_path), SLOW), ctx)
    assert isinstance(event, ev.Failed)
    assert event.error_type == "ConfigError"
    assert event.message.startswith(f"The label pattern {SLOW!r} took more than 1 s on 'aaaa")


def test_user_patterns_still_read_labels(tmp_path):
    names = ["take3-stop.wav", "take4-go.flac", "nolabel.wav", "x-.wav", "caf\udce9-up.wav"]
    assert labels_from_names(names, r"-(?P<label>[a-z]*)\.\w+$") == ["stop", "go", None, None,
                                                                      "up"]
    assert labels_from_names([], r"(?P<label>x)") == []
    with pytest.raises(ConfigError, match=r"not a valid regular expression"):
        labels_from_names(["a.wav"], "(?P<label>[a-z")
    with pytest.raises(ConfigError, match=r"has no group named 'label'"):
        labels_from_names(["a.wav"], r"^(\w+)_")


def test_without_a_matcher_process_nested_repeats_are_refused_up_front(monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)  # as in a bundled app
    with pytest.raises(ConfigError) as info:
        labels_from_names(["aaaa.wav"], SLOW)
    assert str(info.value) == (
        f"The label pattern {SLOW!r} repeats a part that itself repeats or has alternatives "
        "(like (a+)+ or (a|b)*), which can take forever on some file names: simplify it. "
        "Example: ^(?P<label>[^_]+)_")
    with pytest.raises(ConfigError, match="repeats a part"):
        labels_from_names(["x.wav"], r"^(?P<label>(?:yes|no)+)_")
    assert labels_from_names(["take3-stop.wav"], r"-(?P<label>[a-z]+)\.\w+$") == ["stop"]


# ----------------------------------------------------------------------------------------
# Damaged clips: skipped, and what is left stays aligned
# ----------------------------------------------------------------------------------------
def _as_training_does(data, sr=SR, seconds=0.3):
    """What speech/train.py make_keyword_job does between scanning and building the model."""
    waves, labels, failures = load_clips(data.items, sr, seconds)
    val_fail = []
    if data.has_own_val:
        _, _, val_fail = load_clips(data.val_items, sr, seconds)
    failures += val_fail
    if failures:
        data.unreadable += failures
        data.items = [it for it in data.items if it[0] not in {p for p, _ in failures}]
        data.val_items = [it for it in data.val_items if it[0] not in {p for p, _ in failures}]
        check_keyword_dataset(data)
    return waves, labels, failures


def test_nan_and_cut_short_clips_are_skipped_and_the_rest_stays_aligned(tmp_path):
    root = _keyword_folder(tmp_path)
    _nan_clip(root / "yes" / "nan.wav")
    _cut_short_clip(root / "no" / "cut.wav")
    data = scan_keyword_folder(root)
    assert len(data.items) == 8 and data.unreadable == []  # headers are fine
    waves, labels, failures = _as_training_does(data)
    assert {p.name: r for p, r in failures} == {"nan.wav": "NaN or infinite samples",
                                                 "cut.wav": "truncated"}
    assert waves.shape == (6, int(0.3 * SR)) and np.isfinite(waves).all()
    assert len(data.items) == len(data.durations) == len(labels) == 6
    assert [lab for _, lab in data.items] == labels.tolist()
    # what the job records and shows works (this raised "zip() argument 2 is longer ...")
    assert data.describe()["clips"] == 6
    assert data.stats()["per_label"] == {
        "no": {"count": 3, "seconds": {"min": 0.3, "mean": 0.3, "max": 0.3}},
        "yes": {"count": 3, "seconds": {"min": 0.3, "mean": 0.3, "max": 0.3}}}
    assert "2 unreadable: cut.wav (truncated), nan.wav (NaN or infinite samples)" in \
        data.summary_text()


def test_damaged_validation_clips_keep_the_validation_set_aligned(tmp_path):
    _keyword_folder(tmp_path / "train")
    _keyword_folder(tmp_path / "val", per_label=2)
    _nan_clip(tmp_path / "val" / "no" / "bad.wav")
    data = scan_keyword_folder(tmp_path)
    assert data.layout == "split-folders"
    _as_training_does(data)
    assert len(data.val_items) == len(data.val_durations) == 4
    assert data.describe()["clips"] == 10


def test_drop_removes_failures_with_their_durations(tmp_path):
    root = _keyword_folder(tmp_path)
    bad = _nan_clip(root / "no" / "z.wav")
    data = scan_keyword_folder(root)
    _, _, failures = load_clips(data.items, SR, 0.3)
    data.drop(failures)
    assert [p for p, _ in data.unreadable] == [bad]
    assert len(data.items) == len(data.durations) == 6
    with pytest.raises(ValueError, match="one entry per clip"):
        data.durations = [1.0]


def test_a_label_whose_clips_are_all_damaged_names_them(tmp_path):
    root = _keyword_folder(tmp_path, per_label=1)
    (root / "no" / "no0.wav").unlink()
    _nan_clip(root / "no" / "n1.wav")
    _cut_short_clip(root / "no" / "n2.wav")
    data = scan_keyword_folder(root)
    with pytest.raises(DatasetError) as info:
        _as_training_does(data)
    assert str(info.value) == ("Every clip of label 'no' failed to load: n1.wav (NaN or infinite "
                               "samples), n2.wav (truncated). Fix or remove those files, or "
                               "remove the label.")


def test_damaged_clips_in_a_flat_folder_are_attributed_by_name(tmp_path):
    for k in range(2):
        _wav(tmp_path / f"yes_{k}.wav")
    _nan_clip(tmp_path / "no_0.wav")
    data = scan_keyword_folder(tmp_path)
    with pytest.raises(DatasetError, match=r"^Every clip of label 'no' failed to load: "
                                           r"no_0\.wav \(NaN or infinite samples\)"):
        _as_training_does(data)


# ----------------------------------------------------------------------------------------
# Permission denied is not damage; special files
# ----------------------------------------------------------------------------------------
def test_a_permission_denied_clip_is_not_called_damaged(tmp_path, deny):
    root = _keyword_folder(tmp_path)
    locked = root / "yes" / "yes1.wav"
    deny(locked)
    with pytest.raises(AudioDecodeError) as info:
        audio_info(locked)
    assert str(info.value) == "yes1.wav cannot be read (permission denied). Check the file's " \
                              "permissions."
    data = scan_keyword_folder(root)
    assert data.unreadable == [(locked, "cannot be read: permission denied")]
    assert data.counts() == {"no": 3, "yes": 2}


def test_an_unreadable_label_folder_is_not_lost_or_called_empty(tmp_path, deny):
    root = _keyword_folder(tmp_path)
    _wav(root / "maybe" / "m.wav")
    deny(root / "maybe")
    with pytest.raises(DatasetError) as info:
        scan_keyword_folder(root)
    assert str(info.value) == ("The folder of label 'maybe' cannot be read (permission denied). "
                               "Fix its permissions, or move it out of the dataset folder.")


def test_an_unreadable_sub_folder_is_listed_and_the_rest_used(tmp_path, deny):
    root = _keyword_folder(tmp_path)
    _wav(root / "yes" / "more" / "y9.wav")
    deny(root / "yes" / "more")
    data = scan_keyword_folder(root)
    assert data.counts() == {"no": 3, "yes": 3}
    assert data.unreadable == [(root / "yes" / "more", "folder cannot be read: permission "
                                                       "denied")]


def test_an_unreadable_dataset_folder_says_so(tmp_path, monkeypatch):
    root = _keyword_folder(tmp_path / "kw")
    real_listdir = os.listdir

    def listdir(path="."):
        if Path(path) == root:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_listdir(path)

    monkeypatch.setattr(os, "listdir", listdir)
    with pytest.raises(DatasetError) as info:
        scan_keyword_folder(root)
    assert str(info.value) == f"The folder {root} cannot be read (permission denied). Check " \
                              "its permissions."


def test_a_file_given_as_the_dataset_folder_is_not_called_missing(tmp_path):
    clip = _wav(tmp_path / "yes_1.wav")
    with pytest.raises(DatasetError) as info:
        scan_keyword_folder(clip)
    assert str(info.value) == (f"{clip} is not a folder. Choose a folder with one sub-folder of "
                               "clips per label, or clips named like yes_001.wav.")
    with pytest.raises(DatasetError, match=r"yes_1\.wav is not a folder\. Choose a folder with "
                                           r"a metadata\.csv"):
        scan_transcript_folder(clip)
    with pytest.raises(DatasetError, match=r"nothing does not exist"):
        scan_keyword_folder(tmp_path / "nothing")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_named_like_a_clip_does_not_hang(tmp_path):
    fifo = tmp_path / "yes" / "pipe.wav"
    _keyword_folder(tmp_path)
    os.mkfifo(fifo)
    with pytest.raises(AudioDecodeError, match=r"^pipe\.wav is a named pipe, not an audio "
                                               r"file\.$"):
        load_audio(fifo)
    assert scan_keyword_folder(tmp_path).counts() == {"no": 3, "yes": 3}


def test_broken_and_looping_links(tmp_path):
    root = _keyword_folder(tmp_path)
    (root / "yes" / "gone.wav").symlink_to(root / "nowhere.wav")
    loop = root / "no" / "loop.wav"
    loop.symlink_to(loop)
    (root / "no" / "again").symlink_to(root, target_is_directory=True)  # a folder loop
    with pytest.raises(AudioDecodeError, match=r"^gone\.wav is a link to a file that does not "
                                               r"exist\.$"):
        audio_info(root / "yes" / "gone.wav")
    with pytest.raises(AudioDecodeError, match=r"^loop\.wav cannot be read \(a symbolic link "
                                               r"that points to itself"):
        audio_info(loop)
    assert scan_keyword_folder(root).counts() == {"no": 3, "yes": 3}


# ----------------------------------------------------------------------------------------
# metadata.csv entries that reach outside the dataset folder
# ----------------------------------------------------------------------------------------
def test_metadata_entries_outside_the_folder_are_refused_and_named(tmp_path):
    outside = _wav(tmp_path / "elsewhere" / "secret.wav")
    root = tmp_path / "ds"
    _wav(root / "wavs" / "a.wav")
    _wav(root / "b.wav")
    (root / "metadata.csv").write_text(
        f"a|hello there\n{outside}|stolen one\n../elsewhere/secret|stolen two\n"
        "wavs/../../elsewhere/secret.wav|stolen three\nb.wav|good bye\n", encoding="utf-8")
    data = scan_transcript_folder(root)
    assert [(p.name, t) for p, t in data.items] == [("a.wav", "hello there"),
                                                    ("b.wav", "good bye")]
    assert data.warnings == [
        f"metadata.csv: 3 entries pointing outside {root} refused (line 2: {outside}; line 3: "
        "../elsewhere/secret; line 4: wavs/../../elsewhere/secret.wav). List audio files "
        "inside the dataset folder (e.g. wavs/name.wav)."]
    reasons = [r for _, r in data.unreadable]
    assert reasons == [f"refused: listed in metadata.csv as {str(outside)!r}, an absolute path "
                       "outside the dataset folder",
                       "refused: listed in metadata.csv as '../elsewhere/secret', a '..' path "
                       "outside the dataset folder",
                       "refused: listed in metadata.csv as 'wavs/../../elsewhere/secret.wav', "
                       "a '..' path outside the dataset folder"]
    assert all(outside != p for p, _ in data.items)


def test_metadata_with_only_outside_entries_is_an_error_naming_them(tmp_path):
    _wav(tmp_path / "secret.wav")
    root = tmp_path / "ds"
    root.mkdir()
    (root / "metadata.csv").write_text("../secret.wav|x\nC:\\data\\y.wav|y\n", encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        scan_transcript_folder(root)
    text = str(info.value)
    assert text.startswith(f"{root} has no usable (audio, transcript) pair (secret.wav "
                           "(refused: listed in metadata.csv as '../secret.wav', a '..' path")
    assert "'C:\\\\data\\\\y.wav', an absolute path outside the dataset folder" in text


def test_metadata_in_utf16_with_a_byte_order_mark_is_read(tmp_path):
    _wav(tmp_path / "wavs" / "a.wav")
    (tmp_path / "metadata.csv").write_bytes("a|Grüße\n".encode("utf-16"))
    data = scan_transcript_folder(tmp_path)
    assert data.items[0][1] == "grüße" and data.warnings == []


def test_unreadable_metadata_and_transcripts_say_why(tmp_path, deny):
    _wav(tmp_path / "wavs" / "a.wav")
    meta = tmp_path / "metadata.csv"
    meta.write_text("a|hi\n", encoding="utf-8")
    deny(meta)
    with pytest.raises(DatasetError, match=r"metadata\.csv cannot be read \(permission "
                                           r"denied\)\. Check its permissions\.$"):
        scan_transcript_folder(tmp_path)
    other = tmp_path / "txt"
    _wav(other / "one.wav")
    (other / "one.txt").write_text("one", encoding="utf-8")
    _wav(other / "two.wav")
    (other / "two.txt").write_text("two", encoding="utf-8")
    deny(other / "two.txt")
    data = scan_transcript_folder(other)
    assert [p.name for p, _ in data.items] == ["one.wav"]
    assert data.unreadable == [(other / "two.wav",
                                "its transcript cannot be read: permission denied")]
