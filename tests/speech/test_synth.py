"""The espeak-ng demo data: synthesis when espeak-ng is installed, shipped clips otherwise."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from playground.core import events as ev
from playground.core.errors import DatasetError
from playground.core.jobs import CollectingContext, run_job
from playground.speech import synth
from playground.speech.datasets import scan_keyword_folder, scan_transcript_folder
from playground.speech.train import (
    CTCTrainConfig,
    make_ctc_job,
    resolve_keyword_data,
)

ESPEAK = shutil.which("espeak-ng") or shutil.which("espeak")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed here "
                                  "(.ci/run installs it)")
ROOT = Path(__file__).resolve().parents[2]


@needs_espeak
def test_synthesize_speaks_a_digit():
    x = synth.synthesize("seven", "en+f3", speed=150, pitch=60)
    assert x.dtype == np.float32 and 0.3 < len(x) / 16_000 < 1.2
    assert np.abs(x).max() > 0.1
    with pytest.raises(DatasetError, match="voice"):
        synth.synthesize("seven", "xx-no-such-voice")


@needs_espeak
def test_keyword_and_sequence_sets(tmp_path):
    files = synth.make_keyword_set(tmp_path / "kw", voices=("en", "en-us"), speeds=(150,),
                                   pitches=(50,), words=("zero", "one"))
    assert len(files) == 4 and all(f.suffix == ".flac" for f in files)
    assert files[0].parent.name == "zero" and synth.voice_of(files[0]) == "en"
    data = scan_keyword_folder(tmp_path / "kw")
    assert data.labels == ["one", "zero"] and data.counts() == {"one": 2, "zero": 2}
    folder = synth.make_sequence_set(tmp_path / "seq", 3, voices=("en",), seed=1)
    seq = scan_transcript_folder(folder)
    assert len(seq.items) == 3
    assert all(set(t.split()) <= set(synth.DIGITS) for _, t in seq.items)


@needs_espeak
def test_make_speech_demo_script(tmp_path):
    out = tmp_path / "assets"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_speech_demo.py"),
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = scan_keyword_folder(out)
    assert data.labels == sorted(synth.DIGITS) and len(data.items) == 240
    assert (out / "README.md").is_file()


def test_shipped_assets_are_a_usable_keyword_set():
    data = scan_keyword_folder(synth.ASSETS_DIR)
    assert data.labels == sorted(synth.DIGITS) and not data.unreadable
    assert set(data.counts().values()) == {24}
    assert data.stats()["seconds"]["max"] < 1.0  # silence trimmed
    size = sum(p.stat().st_size for p in synth.ASSETS_DIR.rglob("*") if p.is_file())
    assert size < 3.2e6


def test_demo_falls_back_to_shipped_clips_without_espeak(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert synth.espeak_path() is None
    ctx = CollectingContext()
    assert synth.demo_keyword_folder(tmp_path, ctx) == synth.ASSETS_DIR
    assert "espeak-ng is not installed" in ctx.of_type(ev.Log)[0].message
    data = resolve_keyword_data("demo:digits", home=tmp_path)
    assert data.root == synth.ASSETS_DIR and len(data.labels) == 10
    with pytest.raises(DatasetError, match="espeak-ng is not installed.*speech-to-text demo"):
        synth.demo_sequence_folder(tmp_path)
    event = run_job(make_ctc_job(CTCTrainConfig(), "demo:digits", home=tmp_path),
                    CollectingContext())
    assert isinstance(event, ev.Failed) and "apt install espeak-ng" in event.message
    with pytest.raises(DatasetError, match="Install it"):
        synth.synthesize("one")


@needs_espeak
def test_demo_is_synthesised_once_and_cached(monkeypatch, tmp_path):
    calls = []
    real = synth.make_keyword_set

    def small(out, **kwargs):
        calls.append(out)
        return real(out, voices=("en",), speeds=(160,), pitches=(50,), words=("one", "two"))

    monkeypatch.setattr(synth, "make_keyword_set", small)
    first = synth.demo_keyword_folder(tmp_path)
    assert first.parent == tmp_path / "cache" / "speech_demo" and (first / ".complete").is_file()
    assert synth.demo_keyword_folder(tmp_path) == first and len(calls) == 1
    assert scan_keyword_folder(first).labels == ["one", "two"]


@needs_espeak
def test_synth_words_folder_splits_voices_into_train_and_val(tmp_path):
    out = synth.synth_words_folder(tmp_path / "mine", ["yes", "no"], ["en-us", "en+f2"],
                                   val_voices=["en+f3"], speeds=(140, 180))
    data = scan_keyword_folder(out)
    assert data.labels == ["no", "yes"] and data.has_own_val
    assert len(data.items) == 8 and len(data.val_items) == 4  # 2 words x 2 voices x 2 speeds
    assert {synth.voice_of(p) for p, _ in data.val_items} == {"en+f3"}
    assert {synth.voice_of(p) for p, _ in data.items} == {"en-us", "en+f2"}
    flat = synth.synth_words_folder(tmp_path / "flat", ["up", "down"], ["en"])
    assert scan_keyword_folder(flat).counts() == {"down": 1, "up": 1}
    with pytest.raises(DatasetError, match="word"):
        synth.synth_words_folder(tmp_path / "none", [" "], ["en"])
