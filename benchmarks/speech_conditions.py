"""Listening conditions for the keyword benchmark: clean espeak-ng voices, and a "phone" variant.

There are no recordings of real people on the benchmark machine (and no network), so "real
voices" are approximated, and only approximated, by:

- **speakers**: espeak-ng voices. Training uses ``synth.TRAIN_VOICES`` (12), validation (what
  the defaults were tuned on) ``synth.HELD_OUT_VOICES`` (4), and the test uses
  :data:`TEST_VOICES` (6 voice + variant pairs in neither, spoken at speeds and pitches the
  other sets do not use). Synthetic voices are far more alike than people are.
- **the phone condition** (:func:`degrade`), applied to every clip of every split (the user's
  own recordings would all be phone-quality): the word placed at a random point in a 1 s bed,
  a synthetic room impulse response (direct path, a few early reflections, an exponentially
  decaying noise tail with RT60 0.15-0.6 s), "room noise" at 0-10 dB SNR (babble: other
  espeak-ng voices reading sentences, mixed with stationary noise of a random spectral slope),
  the telephone band (300-3400 Hz, 4th-order biquad cascades), resampling to 8 kHz and
  G.711-style mu-law 8-bit quantisation. Files are written at 8 kHz. The test split's babble
  comes from other voices and other sentences than the training/validation babble.

:func:`make_condition` ``(name, root) -> (train_val_root, test_root)`` builds (and caches) a
``train/`` + ``val/`` folder pair for the app's job and a separate test folder.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

CONDITIONS = ("clean", "phone")

# Voice + variant pairs in neither synth.TRAIN_VOICES nor synth.HELD_OUT_VOICES.
TEST_VOICES = ("en-gb-x-gbcwmd+m4", "en-029+f1", "en-gb-scotland+aunty", "en-us-nyc+grandpa",
               "en-gb-x-gbclan+Andy", "en-us+Annie")
TEST_SPEEDS = (110, 140, 170)   # the training sets use 120, 150, 185
TEST_PITCHES = (40, 62, 85)     # the training sets use 30, 50, 75

PHONE_RATE = 8000
SNR_DB = (0.0, 10.0)
RT60_S = (0.15, 0.6)
BED_SECONDS = 1.0

BABBLE_TEXT = (
    "the meeting has been moved to the small room on the second floor",
    "could you pass me the salt and the bread please",
    "I think the train will be late again this evening",
    "she said that the weather would get better by the weekend",
    "we should have left the house much earlier than we did",
    "the children were playing in the garden all afternoon",
    "have you seen the letter that arrived this morning",
    "turn left at the bakery and walk past the old church",
    "my brother bought a new bicycle last summer",
    "the coffee machine in the kitchen is broken again",
    "they are painting the walls a lighter colour",
    "nobody knew where the keys had gone",
)
BABBLE_VOICES = {"fit": ("en-us+m3", "en+f4", "en-gb-x-rp+m6", "en-029+f2", "en+m5"),
                 "test": ("en-us-nyc+f5", "en-gb-scotland+m8", "en+grandma", "en-us+Mike")}


def _babble(folder: Path, split: str) -> list[np.ndarray]:
    """Sentences spoken by the babble voices of ``split`` ("fit" or "test"), cached as FLAC."""
    import soundfile as sf

    from playground.speech import synth

    texts = BABBLE_TEXT[:8] if split == "fit" else BABBLE_TEXT[8:]
    out = folder / f"babble-{split}"
    out.mkdir(parents=True, exist_ok=True)
    clips = []
    for v, voice in enumerate(BABBLE_VOICES[split]):
        for t, text in enumerate(texts):
            if (v + t) % 2:           # half the pairs are enough
                continue
            path = out / f"{v}_{t}.flac"
            if not path.is_file():
                sf.write(path, synth.synthesize(text, voice, 160, 50), 16000)
            clips.append(sf.read(path, dtype="float32")[0])
    return clips


def colored_noise(n: int, slope: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise with power ~ 1/f**slope (any slope, not only white/pink/brown)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    x = np.fft.irfft(spec / f ** (slope / 2.0), n)
    return (x / (np.sqrt(np.mean(x ** 2)) + 1e-12)).astype(np.float32)


def room_impulse(rng: np.random.Generator, sr: int = 16000) -> np.ndarray:
    """A synthetic room impulse response: direct path, early reflections, decaying tail."""
    rt60 = rng.uniform(*RT60_S)
    n = int(rt60 * sr)
    t = np.arange(n) / sr
    ir = rng.standard_normal(n) * np.exp(-6.908 * t / rt60)  # -60 dB at rt60
    start = int(rng.uniform(0.002, 0.01) * sr)
    ir[:start] = 0.0
    ir *= rng.uniform(0.15, 0.5) / (np.sqrt(np.sum(ir ** 2)) + 1e-12)  # direct-to-reverb
    for _ in range(4):                                     # early reflections
        k = int(rng.uniform(0.003, 0.03) * sr)
        ir[k] += rng.uniform(-0.5, 0.5)
    ir[0] = 1.0
    return ir.astype(np.float32)


def _phone_band(x: np.ndarray, sr: int) -> np.ndarray:
    import torch
    import torchaudio.functional as AF

    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None]
    for _ in range(2):                                     # 2 x biquad = 4th order
        t = AF.highpass_biquad(t, sr, 300.0)
        t = AF.lowpass_biquad(t, sr, 3400.0)
    t = AF.resample(t, sr, PHONE_RATE)
    return t[0].numpy()


def _mu_law(x: np.ndarray, channels: int = 256) -> np.ndarray:
    import torch
    import torchaudio.functional as AF

    t = torch.from_numpy(np.clip(x, -1.0, 1.0))
    return AF.mu_law_decoding(AF.mu_law_encoding(t, channels), channels).numpy()


def degrade(word: np.ndarray, babble: list[np.ndarray], rng: np.random.Generator,
            sr: int = 16000) -> np.ndarray:
    """One clean 16 kHz word -> a noisy, reverberant, phone-band 8 kHz clip (float32)."""
    bed = max(int(BED_SECONDS * sr), len(word) + int(0.05 * sr))
    offset = int(rng.integers(0, bed - len(word) + 1))
    wet = np.convolve(word, room_impulse(rng, sr))[: bed - offset]
    speech = np.zeros(bed, np.float32)
    speech[offset:offset + len(wet)] = wet
    active = speech[offset:offset + len(word)]
    power = float(np.mean(active ** 2)) + 1e-12
    noise = np.zeros(bed, np.float32)
    for _ in range(int(rng.integers(2, 5))):               # 2-4 talkers in the room
        b = babble[int(rng.integers(len(babble)))]
        start = int(rng.integers(0, max(1, len(b) - bed)))
        seg = b[start:start + bed]
        noise[:len(seg)] += seg / (np.sqrt(np.mean(seg ** 2)) + 1e-12)
    noise /= np.sqrt(np.mean(noise ** 2)) + 1e-12
    share = rng.uniform(0.3, 0.8)                          # babble vs stationary noise
    noise = np.sqrt(share) * noise + np.sqrt(1 - share) * colored_noise(
        bed, rng.uniform(0.0, 2.0), rng)
    snr = rng.uniform(*SNR_DB)
    x = speech + noise * np.float32(np.sqrt(power / 10 ** (snr / 10)))
    x = _phone_band(x, sr)
    x *= np.float32(10 ** (rng.uniform(-20, -8) / 20) / (np.max(np.abs(x)) + 1e-9))
    return _mu_law(x).astype(np.float32)


def _degrade_folder(src: Path, dst: Path, babble: list[np.ndarray], seed: int) -> None:
    import soundfile as sf

    files = sorted(src.glob("*/*.flac"))
    for n, path in enumerate(files):
        out = dst / path.parent.name / path.name
        if out.is_file():
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        word, sr = sf.read(path, dtype="float32")
        rng = np.random.default_rng([seed, n])
        sf.write(out, degrade(word, babble, rng, sr), PHONE_RATE, subtype="PCM_16")


def make_condition(name: str, root: str | Path) -> tuple[Path, Path]:
    """``(folder with train/ and val/, test folder)`` for condition ``name``, built once."""
    from playground.speech import synth

    root = Path(root)
    clean = root / "digits-heldout-voices"                 # train/ + val/, clean
    clean_test = root / "digits-test-voices"
    if not (clean / ".complete").is_file():
        t = time.perf_counter()
        synth.make_keyword_set(clean / "train", voices=synth.TRAIN_VOICES)
        synth.make_keyword_set(clean / "val", voices=synth.HELD_OUT_VOICES)
        (clean / ".complete").write_text("ok\n")
        print(f"synthesised the training/validation digits in {time.perf_counter() - t:.1f} s",
              file=sys.stderr)
    if not (clean_test / ".complete").is_file():
        synth.make_keyword_set(clean_test, voices=TEST_VOICES, speeds=TEST_SPEEDS,
                               pitches=TEST_PITCHES)
        (clean_test / ".complete").write_text("ok\n")
    if name == "clean":
        return clean, clean_test
    if name != "phone":
        raise ValueError(f"unknown condition {name!r}; one of {CONDITIONS}")
    phone, phone_test = root / "digits-phone", root / "digits-phone-test"
    if not (phone / ".complete").is_file() or not (phone_test / ".complete").is_file():
        t = time.perf_counter()
        fit_babble, test_babble = _babble(root, "fit"), _babble(root, "test")
        _degrade_folder(clean / "train", phone / "train", fit_babble, seed=1)
        _degrade_folder(clean / "val", phone / "val", fit_babble, seed=2)
        (phone / ".complete").write_text("ok\n")
        _degrade_folder(clean_test, phone_test, test_babble, seed=3)
        (phone_test / ".complete").write_text("ok\n")
        print(f"made the phone-condition clips in {time.perf_counter() - t:.1f} s",
              file=sys.stderr)
    return phone, phone_test
