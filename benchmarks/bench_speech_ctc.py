"""Speech-to-text demo: spoken digit sequences, character error rate on held-out voices.

Sequences of 2-5 digit words ("three one four") are synthesised with espeak-ng: 1500 for
training in the 12 ``TRAIN_VOICES`` and 200 for validation in the 4 ``HELD_OUT_VOICES``, at
three speeds and pitches. The app's CTC job (``make_ctc_job`` with ``val_data``) trains
``ctc_rnn`` (conv front end + bidirectional LSTM) on CPU and reports greedy-decoded WER/CER on
the held-out voices after every epoch. Target: CER <= 10 %. After training, the best
checkpoint is reloaded as a ``Transcriber`` and the held-out set is decoded again with greedy
and with beam search (width 8) to compare the decoders.

Usage: ``python benchmarks/bench_speech_ctc.py [--model ctc_rnn] [--epochs 8] [--threads 2]``.
Results: ``benchmarks/results/speech_ctc.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from _report import write_report  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TARGET_CER = 0.10
DATA_DIR = Path(tempfile.gettempdir()) / "playground-speech-bench"


def make_data(folder: Path, train: int, held: int) -> tuple[Path, Path]:
    from playground.speech import synth

    train_dir = folder / f"sequences-train-{train}"
    held_dir = folder / f"sequences-heldout-{held}"
    t = time.perf_counter()
    if not (train_dir / "metadata.csv").is_file():
        synth.make_sequence_set(train_dir, train, synth.TRAIN_VOICES, seed=0)
    if not (held_dir / "metadata.csv").is_file():
        synth.make_sequence_set(held_dir, held, synth.HELD_OUT_VOICES, seed=1, prefix="held")
    print(f"digit sequences ready ({time.perf_counter() - t:.1f} s)", file=sys.stderr)
    return train_dir, held_dir


def decode_heldout(run_dir: str, held_dir: Path) -> dict:
    from playground.speech.datasets import scan_transcript_folder
    from playground.speech.metrics import cer, wer
    from playground.speech.predict import Transcriber

    transcriber = Transcriber.from_run(run_dir)
    data = scan_transcript_folder(held_dir)
    refs = [t for _, t in data.items]
    out = {}
    for width in (1, 8):
        start = time.perf_counter()
        hyps = [transcriber.transcribe(p, beam_width=width)["text"] for p, _ in data.items]
        seconds = time.perf_counter() - start
        out["greedy" if width == 1 else f"beam{width}"] = {
            "cer": round(cer(refs, hyps), 4), "wer": round(wer(refs, hyps), 4),
            "rtf": round(seconds / sum(data.durations), 4)}
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

    from playground.core import events as ev
    from playground.core.jobs import JobContext, run_job
    from playground.speech import synth
    from playground.speech.train import CTCTrainConfig, make_ctc_job

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="ctc_rnn")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--train-clips", type=int, default=1500)
    parser.add_argument("--heldout-clips", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data-dir", default=str(DATA_DIR))
    parser.add_argument("--out", default=str(RESULTS / "speech_ctc.json"))
    args = parser.parse_args(argv)
    if synth.espeak_path() is None:
        print("error: the benchmark needs espeak-ng (sudo apt install espeak-ng)",
              file=sys.stderr)
        return 1
    torch.set_num_threads(args.threads)
    train_dir, held_dir = make_data(Path(args.data_dir), args.train_clips, args.heldout_clips)
    cfg = CTCTrainConfig(model=args.model, epochs=args.epochs)
    curve: list[dict] = []
    start = time.perf_counter()

    def emit(event) -> None:
        if isinstance(event, ev.Metric) and event.axis == "epoch" and event.split == "val" \
                and event.name in ("cer", "wer"):
            if event.name == "wer":
                curve.append({"epoch": int(event.x), "wer": round(event.value, 4),
                              "seconds": round(time.perf_counter() - start, 1)})
            else:
                curve[-1]["cer"] = round(event.value, 4)
                print(f"epoch {curve[-1]['epoch']}: held-out WER {curve[-1]['wer']:.3f} "
                      f"CER {event.value:.3f} ({curve[-1]['seconds']:.0f} s)", file=sys.stderr)
        elif isinstance(event, ev.Failed):
            print(event.details, file=sys.stderr)

    with tempfile.TemporaryDirectory() as home:
        event = run_job(make_ctc_job(cfg, str(train_dir), val_data=str(held_dir),
                                     name=f"bench-{args.model}", home=home),
                        JobContext(emit=emit, device="cpu"))
        wall = time.perf_counter() - start
        if not isinstance(event, ev.Finished):
            print(f"error: {getattr(event, 'message', event)}", file=sys.stderr)
            return 1
        result = event.result
        decoders = decode_heldout(result["run_dir"], held_dir)
    row = {"model": args.model, "threads": args.threads, "epochs": result["epochs_done"],
           "steps": result["steps"], "train_clips": result["train_clips"],
           "heldout_clips": result["val_clips"], "wall_s": round(wall, 1),
           "best_epoch": result["best_epoch"], "best_heldout_cer": round(result["best_cer"], 4),
           "best_heldout_wer": round(result["best_wer"], 4), "per_epoch": curve,
           "best_checkpoint_decoding": decoders, "examples": result.get("samples", []),
           "target_cer": TARGET_CER, "meets_target": result["best_cer"] <= TARGET_CER}
    print(f"{args.model}: best held-out CER {row['best_heldout_cer']:.2%} "
          f"(WER {row['best_heldout_wer']:.2%}) at epoch {row['best_epoch']}, "
          f"{wall:.0f} s; best checkpoint greedy CER {decoders['greedy']['cer']:.2%}, "
          f"beam-8 CER {decoders['beam8']['cer']:.2%}"
          f"{'  [target met]' if row['meets_target'] else ''}")
    report = {"benchmark": "speech_ctc", "train_voices": list(synth.TRAIN_VOICES),
              "heldout_voices": list(synth.HELD_OUT_VOICES), "config": vars(args),
              "results": [row]}
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
