"""Transcription speed on CPU: real-time factor (processing time / audio duration).

Transcribes one minute of speech (spoken digit sequences from espeak-ng with pauses between
them; a tone sequence when espeak-ng is missing) through ``Transcriber.transcribe`` — the
same chunked path the app and ``playground transcribe`` use (file streamed in chunks,
decoding, timestamps) — with:

- the CTC model ``ctc_rnn`` at its default size (a trained run with ``--run DIR``, otherwise
  random weights: the speed is the same), greedy and beam search (width 8);
- the wav2vec 2.0 base architecture of ``WAV2VEC2_ASR_BASE_960H`` (95 M parameters) with
  random weights (no download: only the timing is measured), greedy.

Each configuration runs ``--repeats`` times after one warm-up; the median is reported.
Usage: ``python benchmarks/bench_speech_rtf.py [--run DIR] [--threads 2] [--seconds 60]``.
Results: ``benchmarks/results/speech_rtf.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from _report import write_report  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SR = 16_000


def make_recording(path: Path, seconds: float) -> str:
    from playground.speech import synth
    from playground.speech.audio import save_wav

    rng = np.random.default_rng(0)
    parts, total = [], 0.0
    if synth.espeak_path() is not None:
        kind = "espeak-ng digit sequences"
        while total < seconds:
            words = " ".join(synth.DIGITS[int(d)] for d in rng.integers(0, 10, 4))
            voice = synth.TRAIN_VOICES[int(rng.integers(len(synth.TRAIN_VOICES)))]
            clip = synth.synthesize(words, voice, 160, 50)
            pause = np.zeros(int(rng.uniform(0.3, 1.0) * SR), np.float32)
            parts += [clip, pause]
            total += (len(clip) + len(pause)) / SR
    else:
        kind = "tone sequence (espeak-ng not installed)"
        t = np.arange(int(seconds * SR)) / SR
        parts = [(0.2 * np.sin(2 * np.pi * (300 + 200 * np.sin(t))) * t).astype(np.float32)]
    x = np.concatenate(parts)[: int(seconds * SR)]
    save_wav(path, x, SR)
    return kind


def timed(transcriber, path: Path, repeats: int, beam_width: int) -> dict:
    transcriber.transcribe(path, beam_width=beam_width)  # warm-up
    runs = [transcriber.transcribe(path, beam_width=beam_width) for _ in range(repeats)]
    rtf = statistics.median(r["rtf"] for r in runs)
    return {"rtf": round(rtf, 4), "rtf_runs": [r["rtf"] for r in runs],
            "chunks": runs[0]["chunks"], "duration_s": runs[0]["duration"],
            "x_realtime": round(1 / rtf, 1) if rtf else None}


def main(argv: list[str] | None = None) -> int:
    import torch

    from playground.speech.predict import Transcriber, wav2vec2_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default=None, help="a trained CTC run (default: random "
                        "weights of ctc_rnn at its default size)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS / "speech_rtf.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "minute.wav"
        kind = make_recording(path, args.seconds)
        if args.run:
            ctc = Transcriber.from_run(args.run)
        else:
            from playground.speech.datasets import CharVocab
            from playground.speech.models import build_ctc_model
            from playground.speech.synth import DIGITS
            from playground.speech.train import CTCTrainConfig

            vocab = CharVocab.from_texts(DIGITS + (" ",))
            model = build_ctc_model(CTCTrainConfig(), len(vocab))
            ctc = Transcriber(model, vocab.symbols, SR, model.frame_seconds, kind="ctc",
                              name="ctc_rnn (random weights)")
        params = sum(p.numel() for p in ctc.model.parameters())
        for width in (1, 8):
            row = {"model": ctc.name, "parameters": params, "decoder":
                   "greedy" if width == 1 else f"beam search (width {width})",
                   "chunk_seconds": ctc.chunk_seconds,
                   **timed(ctc, path, args.repeats, width)}
            rows.append(row)
            print(f"{row['model']:<28} {row['decoder']:<24} RTF {row['rtf']:.4f} "
                  f"({row['x_realtime']}x real time)")
        w2v = Transcriber(wav2vec2_model(), [str(i) for i in range(29)], SR, 320 / SR,
                          kind="wav2vec2", name="wav2vec2 base (random weights)",
                          separator="1", chunk_seconds=20.0, overlap_seconds=2.0)
        row = {"model": w2v.name, "parameters": sum(p.numel() for p in w2v.model.parameters()),
               "decoder": "greedy", "chunk_seconds": w2v.chunk_seconds,
               **timed(w2v, path, args.repeats, 1)}
        rows.append(row)
        print(f"{row['model']:<28} {row['decoder']:<24} RTF {row['rtf']:.4f} "
              f"({row['x_realtime']}x real time)")
    report = {"benchmark": "speech_rtf", "audio": {"seconds": args.seconds, "content": kind},
              "threads": args.threads,
              "results": rows}
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
