"""Small generated datasets for the speech tests (no espeak-ng, no network)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from playground.speech.audio import save_wav
from playground.speech.synth import ASSETS_DIR

SR = 16_000
TONES = {"a": 600.0, "b": 1800.0}


def tone(freq: float, seconds: float, sr: int = SR, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01) if len(t) else t
    return (amp * np.sin(2 * np.pi * freq * t) * ramp).astype(np.float32)


def speak_tones(text: str, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """'ab ba' as tones: a letter is a 0.12 s tone, letters 0.04 s apart, words 0.15 s apart."""
    parts = [np.zeros(int(0.1 * sr), np.float32)]
    for k, word in enumerate(text.split()):
        if k:
            parts.append(np.zeros(int(0.15 * sr), np.float32))
        for letter in word:
            parts.append(tone(TONES[letter] * rng.uniform(0.95, 1.05), 0.12, sr))
            parts.append(np.zeros(int(0.04 * sr), np.float32))
    parts.append(np.zeros(int(0.1 * sr), np.float32))
    x = np.concatenate(parts)
    return x + rng.normal(0, 0.003, len(x)).astype(np.float32)


def random_text(rng: np.random.Generator) -> str:
    words = ["".join(rng.choice(list(TONES), size=int(rng.integers(1, 4))))
             for _ in range(int(rng.integers(1, 4)))]
    return " ".join(words)


def make_tone_transcripts(folder: Path, n: int, seed: int = 0) -> Path:
    """``n`` clips of tone 'speech' with ``metadata.csv`` (letters a/b, spaces)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        text = random_text(rng)
        save_wav(folder / f"utt{i:03d}.wav", speak_tones(text, rng), SR)
        lines.append(f"utt{i:03d}|{text}")
    (folder / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def copy_digits(dest: Path, labels: tuple[str, ...] = ("one", "two", "three"),
                per_label: int | None = None) -> Path:
    """A folder-per-label subset of the shipped spoken digits."""
    for label in labels:
        files = sorted((ASSETS_DIR / label).iterdir())
        if per_label:
            files = files[:per_label]
        (dest / label).mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copy(f, dest / label / f.name)
    return dest
