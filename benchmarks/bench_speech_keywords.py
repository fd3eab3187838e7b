"""Keyword demo: spoken digits, trained on some espeak-ng voices, tested on voices held out.

The ten digit words are synthesised with espeak-ng (``playground.speech.synth``): the training
set in the 12 ``TRAIN_VOICES`` and the validation set in the 4 ``HELD_OUT_VOICES`` (other
accents and variants), each at 3 speeds x 3 pitches (1080 training and 360 held-out clips).
The data goes into a ``train/`` + ``val/`` folder pair, so the app's own keyword job
(``make_keyword_job``) validates on the held-out voices only. Targets: >= 95 % held-out
accuracy, training in under 2 minutes on 2 CPU cores. ``wall_s`` covers the whole job (scan,
decode, model, training, validation, checkpoints), not the synthesis (cached between runs) or
the Python/torch import.

Usage: ``python benchmarks/bench_speech_keywords.py [--models kw_cnn kw_gru] [--threads 2]
[--epochs N]``. Results: ``benchmarks/results/speech_keywords.json``.
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
TARGET_ACCURACY = 0.95
TIME_LIMIT_S = 120.0
DATA_DIR = Path(tempfile.gettempdir()) / "playground-speech-bench"


def make_data(folder: Path) -> Path:
    from playground.speech import synth

    root = folder / "digits-heldout-voices"
    if (root / ".complete").is_file():
        return root
    t = time.perf_counter()
    synth.make_keyword_set(root / "train", voices=synth.TRAIN_VOICES)
    synth.make_keyword_set(root / "val", voices=synth.HELD_OUT_VOICES)
    (root / ".complete").write_text("ok\n")
    print(f"synthesised the digit clips in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return root


def run(model: str, data: Path, home: str, threads: int, epochs: int | None) -> dict:
    import torch

    from playground.core import events as ev
    from playground.core.jobs import CollectingContext, run_job
    from playground.speech.train import KeywordTrainConfig, make_keyword_job

    torch.set_num_threads(threads)
    cfg = KeywordTrainConfig(model=model)
    if epochs:
        cfg.epochs = epochs
    ctx = CollectingContext(device="cpu")
    start = time.perf_counter()
    event = run_job(make_keyword_job(cfg, str(data), name=f"bench-{model}", home=home), ctx)
    wall = time.perf_counter() - start
    if not isinstance(event, ev.Finished):
        raise RuntimeError(f"{model}: {getattr(event, 'message', event)}")
    result = event.result
    curve = [round(m.value, 4) for m in ctx.of_type(ev.Metric)
             if m.name == "accuracy" and m.split == "val" and m.axis == "epoch"]
    worst = min(result["per_class"].items(), key=lambda kv: kv[1]["recall"])
    return {"model": model, "threads": threads, "epochs": result["epochs_done"],
            "steps": result["steps"], "parameters": result["parameters"],
            "train_clips": result["train_clips"], "val_clips": result["val_clips"],
            "wall_s": round(wall, 1),
            "heldout_accuracy": round(result["val_accuracy"], 4),
            "best_heldout_accuracy": round(result["best_val_accuracy"], 4),
            "macro_f1": round(result["macro_f1"], 4),
            "worst_digit": {"label": worst[0], "recall": round(worst[1]["recall"], 4)},
            "heldout_accuracy_per_epoch": curve,
            "target_accuracy": TARGET_ACCURACY, "target_wall_s": TIME_LIMIT_S,
            "meets_target": (result["val_accuracy"] >= TARGET_ACCURACY
                             and wall <= TIME_LIMIT_S)}


def main(argv: list[str] | None = None) -> int:
    from playground.speech import synth

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["kw_cnn", "kw_gru"])
    parser.add_argument("--threads", nargs="+", type=int, default=[2])
    parser.add_argument("--epochs", type=int, default=None,
                        help="override the schema's default epochs")
    parser.add_argument("--data-dir", default=str(DATA_DIR))
    parser.add_argument("--out", default=str(RESULTS / "speech_keywords.json"))
    args = parser.parse_args(argv)
    if synth.espeak_path() is None:
        print("error: the benchmark needs espeak-ng (sudo apt install espeak-ng)",
              file=sys.stderr)
        return 1
    data = make_data(Path(args.data_dir))
    rows = []
    with tempfile.TemporaryDirectory() as home:
        for model in args.models:
            for threads in args.threads:
                row = run(model, data, home, threads, args.epochs)
                rows.append(row)
                print(f"{model:<7} threads={threads}: held-out accuracy "
                      f"{row['heldout_accuracy']:.2%} (best {row['best_heldout_accuracy']:.2%})"
                      f" in {row['wall_s']:.1f} s, {row['epochs']} epochs, "
                      f"{row['parameters']:,} parameters"
                      f"{'  [target met]' if row['meets_target'] else ''}")
    report = {"benchmark": "speech_keywords", "train_voices": list(synth.TRAIN_VOICES),
              "heldout_voices": list(synth.HELD_OUT_VOICES),
              "speeds": list(synth.DEMO_SPEEDS), "pitches": list(synth.DEMO_PITCHES),
              "results": rows}
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
