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


class ToneOracle:
    """A hand-written "acoustic model" for tone speech: per 20 ms frame, the louder of the
    600 Hz / 1800 Hz bands gives 'a' / 'b'; a long silence gives ' '; anything else blank.
    Lets transcription (chunking, timestamps, decoding) be tested exactly, without training.
    """

    symbols = ("∅", " ", "a", "b")
    hop = 320

    def __new__(cls):
        import torch
        from torch import nn

        class Oracle(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.dummy = nn.Parameter(torch.zeros(1))
                t = torch.arange(cls.hop) / SR
                wa, wb = 2 * torch.pi * TONES["a"] * t, 2 * torch.pi * TONES["b"] * t
                self.register_buffer("basis", torch.stack([wa.cos(), wa.sin(), wb.cos(),
                                                           wb.sin()]))

            def forward(self, wave, lengths=None):
                n = wave.shape[1] // cls.hop
                frames = wave[:, : n * cls.hop].reshape(wave.shape[0], n, cls.hop)  # (B, T, hop)
                proj = frames @ self.basis.T                            # (B, T, 4)
                pa = proj[..., 0] ** 2 + proj[..., 1] ** 2
                pb = proj[..., 2] ** 2 + proj[..., 3] ** 2
                loud = (pa + pb) > 1.0
                silent = (~loud).float()[:, None]                       # (B, 1, T)
                gap = -torch.nn.functional.max_pool1d(-silent, 7, 1, 3)[:, 0] > 0.5
                logits = torch.full((wave.shape[0], n, 4), -10.0)
                logits[..., 0] = 0.0
                logits[..., 2] = torch.where(loud & (pa > pb), 5.0, -10.0)
                logits[..., 3] = torch.where(loud & (pb >= pa), 5.0, -10.0)
                logits[..., 1] = torch.where(gap, 5.0, -10.0)
                lengths = torch.full((wave.shape[0],), n, dtype=torch.long)
                return logits.log_softmax(-1), lengths

        return Oracle()


def oracle_transcriber(**kwargs):
    from playground.speech.predict import Transcriber

    return Transcriber(ToneOracle(), ToneOracle.symbols, SR, ToneOracle.hop / SR, kind="ctc",
                       name="oracle", **kwargs)


def long_tone_recording(words: list[str], seed: int = 0) -> tuple[np.ndarray, list[float]]:
    """Words of tone speech one after another; returns samples and each word's onset (s)."""
    rng = np.random.default_rng(seed)
    parts, onsets, t = [], [], 0.0
    for word in words:
        gap = np.zeros(int(rng.uniform(0.3, 0.9) * SR), np.float32)
        parts.append(gap)
        t += len(gap) / SR
        onsets.append(t)
        for letter in word:
            for piece in (tone(TONES[letter], 0.12), np.zeros(int(0.04 * SR), np.float32)):
                parts.append(piece)
                t += len(piece) / SR
    parts.append(np.zeros(int(0.5 * SR), np.float32))
    return np.concatenate(parts), onsets
