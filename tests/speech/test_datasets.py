"""Keyword and transcript datasets: layouts, label patterns, stats, problems."""

from __future__ import annotations

import numpy as np
import pytest

from playground.core.errors import ConfigError, DatasetError
from playground.speech.audio import save_wav
from playground.speech.datasets import (
    DEFAULT_LABEL_PATTERN,
    CharVocab,
    compile_label_pattern,
    fit_length,
    label_from_name,
    load_clips,
    scan_keyword_folder,
    scan_transcript_folder,
)
from tests.speech.helpers import tone


def _clip(path, seconds=0.5, freq=500.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_wav(path, tone(freq, seconds), 16_000)


def test_label_from_file_name():
    assert label_from_name("yes_001.wav") == "yes"
    assert label_from_name("left_speaker3_take2.flac") == "left"
    assert label_from_name("nounderscore.wav") is None
    pattern = r"-(?P<label>[a-z]+)\.\w+$"
    assert label_from_name("take3-stop.wav", pattern) == "stop"
    assert label_from_name("01_go_x.wav", r"^\d+_(?P<label>[^_]+)_") == "go"
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        compile_label_pattern("(?P<label>[a-z")
    with pytest.raises(ConfigError, match="no group named 'label'"):
        compile_label_pattern(r"^([^_]+)_")
    assert compile_label_pattern(DEFAULT_LABEL_PATTERN).groupindex["label"] == 1


def test_folder_per_label_with_stats_and_unreadable(tmp_path):
    for i in range(3):
        _clip(tmp_path / "yes" / f"a{i}.wav", 0.5 + 0.1 * i)
        _clip(tmp_path / "no" / "deeper" / f"b{i}.wav", 0.4)
    (tmp_path / "no" / "broken.wav").write_text("not audio", encoding="utf-8")
    _clip(tmp_path / "_background_noise_" / "n.wav")  # skipped like Speech Commands'
    data = scan_keyword_folder(tmp_path)
    assert data.layout == "folders" and data.labels == ["no", "yes"]
    assert data.counts() == {"no": 3, "yes": 3}
    st = data.stats()
    assert st["seconds"]["min"] == pytest.approx(0.4, abs=1e-3)
    assert st["seconds"]["max"] == pytest.approx(0.7, abs=1e-3)
    assert st["per_label"]["yes"]["seconds"]["mean"] == pytest.approx(0.6, abs=1e-3)
    assert [p.name for p, _ in data.unreadable] == ["broken.wav"]
    assert "text file" in data.unreadable[0][1]
    assert "1 unreadable: broken.wav" in data.summary_text()


def test_flat_folder_labels_from_names(tmp_path):
    for label in ("up", "down"):
        for i in range(2):
            _clip(tmp_path / f"{label}_{i}.wav")
    _clip(tmp_path / "mystery.wav")
    data = scan_keyword_folder(tmp_path)
    assert data.layout == "filenames" and data.labels == ["down", "up"]
    assert [p.name for p in data.unlabeled] == ["mystery.wav"]
    custom = scan_keyword_folder(tmp_path, r"^(?P<label>\w+?)_\d")
    assert custom.labels == ["down", "up"]
    with pytest.raises(DatasetError, match="matches the label pattern"):
        scan_keyword_folder(tmp_path, r"^(?P<label>zzz)_")
    with pytest.raises(ConfigError):
        scan_keyword_folder(tmp_path, "(")


def test_train_and_val_folders(tmp_path):
    for split in ("train", "val"):
        for label in ("on", "off"):
            _clip(tmp_path / split / label / f"{split}.wav")
    data = scan_keyword_folder(tmp_path)
    assert data.layout == "split-folders" and data.has_own_val
    assert len(data.items) == 2 and len(data.val_items) == 2
    assert data.counts() == {"off": 2, "on": 2}


def test_dataset_problems(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        scan_keyword_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no audio files"):
        scan_keyword_folder(tmp_path / "empty")
    _clip(tmp_path / "one" / "yes" / "a.wav")
    with pytest.raises(DatasetError, match="only one label"):
        scan_keyword_folder(tmp_path / "one")
    bad = tmp_path / "bad"
    _clip(bad / "go" / "a.wav")
    (bad / "stop").mkdir(parents=True)
    (bad / "stop" / "x.wav").write_bytes(b"")
    (bad / "stop" / "y.wav").write_text("hello", encoding="utf-8")
    with pytest.raises(DatasetError, match="Every clip of label 'stop' failed to load: "
                                           "x.wav \\(empty\\), y.wav"):
        scan_keyword_folder(bad)


def test_load_clips_fixes_length_and_reports_failures(tmp_path):
    a = _clip(tmp_path / "a.wav", 0.3)
    b = _clip(tmp_path / "b.wav", 2.0)
    c = tmp_path / "c.wav"
    c.write_text("nope", encoding="utf-8")
    waves, labels, failures = load_clips([(a, 0), (b, 1), (c, 1)], 8000, 1.0)
    assert waves.shape == (2, 8000) and labels.tolist() == [0, 1]
    assert [p.name for p, _ in failures] == ["c.wav"]
    x = np.concatenate([np.zeros(100), np.ones(10), np.zeros(100)]).astype(np.float32)
    assert fit_length(x, 10, "loudest").tolist() == [1.0] * 10
    assert fit_length(x[:4], 8).tolist() == [0, 0, 0, 0, 0, 0, 0, 0]


def test_metadata_csv_ljspeech_style(tmp_path):
    _clip(tmp_path / "wavs" / "LJ001.wav")
    _clip(tmp_path / "wavs" / "LJ002.wav")
    _clip(tmp_path / "c.flac")
    (tmp_path / "metadata.csv").write_text(
        "LJ001|Raw Text, 1|raw text one\n"     # three columns: the normalised one is used
        "LJ002|Hello   World\n"                # extension omitted, in wavs/
        "c.flac|Third\n"
        "gone|missing file\n"
        "no separator here\n", encoding="utf-8")
    data = scan_transcript_folder(tmp_path)
    assert data.source == "metadata.csv"
    assert [(p.name, t) for p, t in data.items] == [
        ("LJ001.wav", "raw text one"), ("LJ002.wav", "hello world"), ("c.flac", "third")]
    assert [p.name for p, _ in data.unreadable] == ["gone"]
    assert any("line 5" in w for w in data.warnings)
    assert "".join(data.vocab.chars) == "".join(sorted(set("raw text one hello world third")))
    assert data.stats()["clips"] == 3


def test_txt_transcripts_and_non_utf8(tmp_path):
    _clip(tmp_path / "a.wav")
    (tmp_path / "a.txt").write_text("Café au lait\n", encoding="utf-8")
    _clip(tmp_path / "b.wav")
    (tmp_path / "b.txt").write_bytes("naïve test".encode("latin-1"))
    _clip(tmp_path / "c.wav")  # no transcript
    data = scan_transcript_folder(tmp_path)
    assert data.source == "txt"
    texts = dict((p.name, t) for p, t in data.items)
    assert texts == {"a.wav": "café au lait", "b.wav": "nave test"}
    assert len(data.warnings) == 1 and "b.txt is not valid UTF-8" in data.warnings[0]
    assert [(p.name, r) for p, r in data.unreadable] == [("c.wav",
                                                          "no transcript (.txt) next to it")]
    assert "\ufffd" not in data.vocab.symbols
    (tmp_path / "metadata.csv").write_bytes("a.wav|caf\xe9\n".encode("latin-1"))
    meta = scan_transcript_folder(tmp_path)
    assert meta.items[0][1] == "caf" and "metadata.csv is not valid UTF-8" in meta.warnings[0]


def test_char_vocab_roundtrip():
    vocab = CharVocab.from_texts(["one two", "three"])
    assert vocab.symbols[0] == "∅" and vocab.blank == 0
    ids = vocab.encode("two three!")
    assert 0 not in ids and vocab.decode(ids) == "two three"
    assert vocab.unknown("two!") == {"!"}
    again = CharVocab.from_json(vocab.to_json())
    assert again.symbols == vocab.symbols
