#!/usr/bin/env python3
"""Regenerate the spoken-digit clips shipped in ``playground/assets/speech_digits/``.

Needs espeak-ng.

The shipped set is small (10 digits x 6 voices x 2 speeds x 2 pitches = 240 clips of 16 kHz
mono FLAC, silence trimmed, about 2.5 MB) so the keyword demo works where espeak-ng is not
installed; with espeak-ng the app synthesises a larger set at run time instead
(``playground.speech.synth.demo_keyword_folder``).

    python scripts/make_speech_demo.py [--out playground/assets/speech_digits] [--sequences DIR N]

``--sequences DIR N`` also writes N spoken digit sequences with ``metadata.csv`` to DIR (the
speech-to-text demo data, normally synthesised at run time).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHIPPED_VOICES = ("en", "en-us", "en-gb-scotland", "en+f2", "en+m3", "en-us+f4")
SHIPPED_SPEEDS = (130, 175)
SHIPPED_PITCHES = (40, 65)


def main(argv: list[str] | None = None) -> int:
    from playground.speech import synth

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "playground" / "assets" / "speech_digits"),
                        help="output folder (replaced)")
    parser.add_argument("--sequences", nargs=2, metavar=("DIR", "N"), default=None,
                        help="also write N digit sequences + metadata.csv to DIR")
    args = parser.parse_args(argv)
    if synth.espeak_path() is None:
        print("error: espeak-ng is not installed (sudo apt install espeak-ng)", file=sys.stderr)
        return 1
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    files = synth.make_keyword_set(out, SHIPPED_VOICES, SHIPPED_SPEEDS, SHIPPED_PITCHES)
    (out / "README.md").write_text(
        "# Spoken digits (shipped demo)\n\n"
        "Synthesised with espeak-ng by `scripts/make_speech_demo.py`: the words zero…nine in "
        f"voices {', '.join(SHIPPED_VOICES)}, speeds {SHIPPED_SPEEDS} words/min and pitches "
        f"{SHIPPED_PITCHES}; 16 kHz mono FLAC, leading and trailing silence trimmed. One "
        "folder per label; file names are `<label>_<voice>_s<speed>_p<pitch>.flac`.\n",
        encoding="utf-8")
    size = sum(f.stat().st_size for f in files)
    print(f"wrote {len(files)} clips ({size / 1e6:.2f} MB) to {out}")
    if args.sequences:
        folder, count = args.sequences
        synth.make_sequence_set(folder, int(count))
        print(f"wrote {count} digit sequences to {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
