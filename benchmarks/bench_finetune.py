"""Pretraining then fine-tuning: what starting from another run (``init_from``) buys.

Side by side in one run, every arm with the same settings, steps and seeds; only the starting
weights differ. Validation is always on data no arm trained on.

1. Speech (keywords, ``kw_cnn``): a model is pretrained on ``demo:digits`` (ten spoken digits,
   the app's own demo), then trained on a small "own recordings" folder of eight NEW words
   (yes no up down left right stop go), synthesised with espeak-ng
   (:func:`playground.speech.synth.synth_words_folder`): ``--clips`` clips per word in three
   voices that are in neither the demo nor the validation set, validated on the four
   ``HELD_OUT_VOICES`` (never heard in pretraining or fine-tuning). Arms: from scratch,
   fine-tuned (all layers reused, a new 8-word output layer), fine-tuned with ``freeze`` (only
   the new output layer trains). Each arm runs for several budgets of epochs (a few seconds
   each) and ``--seeds`` seeds; the digit model is pretrained once (seed 0).
2. Text (GPT, character tokenizer): pretrained on ``demo:pydoc`` (Python's help text, ~465 k
   characters), then trained on the first ``--slice-chars`` characters of
   ``../shared/data/tinyshakespeare.txt`` (its own 90/10 split: validation is the slice's last
   10 %). Arms: from scratch (its own char tokenizer, as ``playground train text`` would make)
   and fine-tuned (the parent's tokenizer and weights). Skipped with a message when the data
   folder is absent. ``freeze`` is tried and its answer recorded: a fork of a GPT on the same
   tokenizer reuses every tensor, so freezing leaves nothing to train.

Timings are wall seconds of the app's own jobs (``run_job``) on ``--threads`` torch threads;
run it under ``nice`` on a shared machine. The pretraining runs are reported separately (the
fine-tuning scenario reuses a run that already exists).

Usage: ``nice python benchmarks/bench_finetune.py [--only speech|text] [--seeds 0 1 2]
[--threads 2]``. Results: ``benchmarks/results/finetune.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from _report import write_report  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DATA_DIR = Path(tempfile.gettempdir()) / "playground-finetune-bench"
SHAKESPEARE = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"

NEW_WORDS = ("yes", "no", "up", "down", "left", "right", "stop", "go")
# The "user": voices in neither the digit demo (synth.TRAIN_VOICES) nor the validation set.
USER_VOICES = ("en-gb-scotland+Andy", "en+Michael", "en-029+f1")
USER_STYLES = ((140, 45), (185, 65), (120, 60), (165, 35))  # (speed, pitch), first ones first
VAL_SPEEDS = (130, 170)
VAL_PITCHES = (35, 65)


def _stats(values: list[float]) -> dict[str, float]:
    return {"mean": round(statistics.fmean(values), 4),
            "sd": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
            "min": round(min(values), 4), "max": round(max(values), 4)}


def _run(job) -> tuple[dict[str, Any], float, list[str]]:
    from playground.core import events as ev
    from playground.core.jobs import CollectingContext, run_job

    ctx = CollectingContext(device="cpu")
    start = time.perf_counter()
    event = run_job(job, ctx)
    wall = time.perf_counter() - start
    if not isinstance(event, ev.Finished):
        raise RuntimeError(getattr(event, "message", str(event)))
    logs = [e.message for e in ctx.of_type(ev.Log)]
    return event.result, wall, logs


# --------------------------------------------------------------------------------------------
# Speech
# --------------------------------------------------------------------------------------------
def user_words_folder(data_dir: Path, clips: int) -> Path:
    """``clips`` clips per word: each user voice at the first ``clips / 3`` USER_STYLES."""
    from playground.speech import synth

    per_voice = clips // len(USER_VOICES)
    if not 1 <= per_voice <= len(USER_STYLES) or clips % len(USER_VOICES):
        raise SystemExit(f"error: --clips must be a multiple of {len(USER_VOICES)} up to "
                         f"{len(USER_VOICES) * len(USER_STYLES)}")
    root = data_dir / f"my_words-{clips}"
    if (root / ".complete").is_file():
        return root
    t = time.perf_counter()
    for speed, pitch in USER_STYLES[:per_voice]:
        synth.synth_words_folder(root, NEW_WORDS, USER_VOICES, synth.HELD_OUT_VOICES,
                                 speeds=(speed,), pitches=(pitch,), val_speeds=VAL_SPEEDS,
                                 val_pitches=VAL_PITCHES)
    (root / ".complete").write_text("ok\n")
    print(f"synthesised the user's words in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return root


def speech_home(data_dir: Path, home: Path) -> Path:
    """A fresh app home whose demo cache points at a persistent one (synthesised once)."""
    from playground.speech import synth

    cached = data_dir / "demo-cache"
    cached.mkdir(parents=True, exist_ok=True)
    link = synth.demo_root(home)
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(cached, target_is_directory=True)
    return home


def bench_speech(args, home: Path) -> dict[str, Any]:
    from playground.speech import synth
    from playground.speech.train import KeywordTrainConfig, make_keyword_job

    if synth.espeak_path() is None:
        print("speech: skipped (espeak-ng is not installed: sudo apt install espeak-ng)")
        return {"skipped": "espeak-ng is not installed"}
    data_dir = Path(args.data_dir)
    speech_home(data_dir, home)
    words = user_words_folder(data_dir, args.clips)

    pre_cfg = KeywordTrainConfig(model="kw_cnn", seed=0)
    pre, pre_wall, _ = _run(make_keyword_job(pre_cfg, "demo:digits", home=home,
                                             name="digits"))
    parent = pre["run_dir"]
    pretrain = {"data": "demo:digits", "model": "kw_cnn", "seed": 0, "epochs": pre_cfg.epochs,
                "steps": pre["steps"], "train_clips": pre["train_clips"],
                "val_accuracy": round(pre["val_accuracy"], 4), "wall_s": round(pre_wall, 1),
                "note": "demo voices (synth.TRAIN_VOICES), 20 % of each digit held out"}
    print(f"speech pretrain: demo:digits, {pre['steps']} steps, val accuracy "
          f"{pre['val_accuracy']:.1%} in {pre_wall:.1f} s (the first run also synthesises the "
          "demo)")

    arms = {"scratch": {}, "fine-tuned": {"init_from": parent},
            "fine-tuned + freeze": {"init_from": parent, "freeze": True}}
    rows, init_logs = [], {}
    for epochs in args.speech_epochs:
        # Arms interleaved per seed, so load from other work on a shared machine falls on all.
        for seed, (arm, kwargs) in ((s, a) for s in args.seeds for a in arms.items()):
            cfg = KeywordTrainConfig(model="kw_cnn", seed=seed, epochs=epochs,
                                     batch_size=args.speech_batch)
            result, wall, logs = _run(make_keyword_job(
                cfg, str(words), home=home, name=f"words-{arm}-{epochs}-{seed}", **kwargs))
            if kwargs and arm not in init_logs:
                init_logs[arm] = next((m for m in logs if m.startswith("started from")),
                                      None)
            curve = [round(h["val_accuracy"], 4) for h in result["evals"]
                     if "val_accuracy" in h]
            rows.append({"arm": arm, "epochs": epochs, "seed": seed,
                         "steps": result["steps"], "train_clips": result["train_clips"],
                         "val_clips": result["val_clips"],
                         "trainable": result["trainable"],
                         "parameters": result["parameters"],
                         "val_accuracy": round(result["val_accuracy"], 4),
                         "val_loss": round(result["val_loss"], 4),
                         "best_val_accuracy": round(result["best_val_accuracy"], 4),
                         "train_seconds": round(result["train_seconds"], 2),
                         "wall_s": round(wall, 2), "val_accuracy_per_epoch": curve})
        for arm in arms:
            sel = [r for r in rows if r["arm"] == arm and r["epochs"] == epochs]
            acc = _stats([r["val_accuracy"] for r in sel])
            per_seed = ", ".join(f"{r['val_accuracy']:.1%}" for r in sel)
            print(f"speech {arm:<20} {epochs:>3} epochs ({sel[0]['steps']:>3} steps): held-out "
                  f"accuracy {acc['mean']:.1%} ± {acc['sd']:.1%} (seeds "
                  f"{per_seed}), "
                  f"{statistics.fmean(r['train_seconds'] for r in sel):.1f} s training, "
                  f"{sel[0]['trainable']:,} trainable parameters")
    summary = []
    for epochs in args.speech_epochs:
        for arm in arms:
            sel = [r for r in rows if r["arm"] == arm and r["epochs"] == epochs]
            summary.append({"arm": arm, "epochs": epochs, "steps": sel[0]["steps"],
                            "val_accuracy": _stats([r["val_accuracy"] for r in sel]),
                            "val_loss": _stats([r["val_loss"] for r in sel]),
                            "train_seconds": _stats([r["train_seconds"] for r in sel]),
                            "trainable": sel[0]["trainable"]})
    scan = {"words": list(NEW_WORDS), "user_voices": list(USER_VOICES),
            "clips_per_word": args.clips,
            "user_styles": [list(x) for x in USER_STYLES[:args.clips // len(USER_VOICES)]],
            "train_clips": rows[0]["train_clips"], "val_clips": rows[0]["val_clips"],
            "val_voices": list(synth.HELD_OUT_VOICES), "val_speeds": list(VAL_SPEEDS),
            "val_pitches": list(VAL_PITCHES),
            "val_clips_per_word": len(synth.HELD_OUT_VOICES) * len(VAL_SPEEDS)
            * len(VAL_PITCHES), "folder": str(words)}
    return {"pretrain": pretrain, "fine_tune_data": scan,
            "config": {"model": "kw_cnn", "batch_size": args.speech_batch,
                       "other": "KeywordTrainConfig defaults (adamw 3e-3, cosine, "
                                "augmentation on)"},
            "init_report": init_logs, "summary": summary, "runs": rows}


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------
def bench_text(args, home: Path) -> dict[str, Any]:
    from playground.core.errors import PlaygroundError
    from playground.text.corpus import pydoc_text
    from playground.text.tokenizers import CharTokenizer
    from playground.text.train import TextTrainConfig, make_train_job

    if not SHAKESPEARE.is_file():
        print(f"text: skipped ({SHAKESPEARE} is absent; it is the shared data folder's "
              "tiny Shakespeare corpus)")
        return {"skipped": f"{SHAKESPEARE} is absent"}
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    text = SHAKESPEARE.read_text(encoding="utf-8")[: args.slice_chars]
    child = data_dir / f"shakespeare-first-{args.slice_chars}.txt"
    if not child.is_file() or child.read_text(encoding="utf-8") != text:
        child.write_text(text, encoding="utf-8")

    pydoc = pydoc_text()
    parent_tok = CharTokenizer.from_text(pydoc)
    missing = parent_tok.unknown_chars(text)
    tok_note = "the pydoc corpus' characters cover the slice"
    if missing:  # a char tokenizer cannot encode characters it never saw: use a superset
        parent_tok = CharTokenizer.from_text(pydoc + "".join(missing))
        tok_note = (f"pydoc's characters plus {''.join(missing)!r} from the slice (a char "
                    "tokenizer refuses unknown characters)")
    common = {"sample_tokens": 0, "eval_iters": args.eval_iters}
    pre_cfg = TextTrainConfig(max_iters=args.pretrain_iters,
                              eval_interval=max(1, args.pretrain_iters // 4), seed=1337,
                              **common)
    pre, pre_wall, _ = _run(make_train_job(pre_cfg, "demo:pydoc", home=home, name="pydoc",
                                           tokenizer=parent_tok))
    parent = pre["run_dir"]
    pretrain = {"data": "demo:pydoc", "iters": pre["steps"], "val_loss":
                round(pre["final_val_loss"], 4), "vocab_size": pre["vocab_size"],
                "parameters": pre["parameters"], "wall_s": round(pre_wall, 1),
                "seed": 1337, "tokenizer": tok_note}
    print(f"text pretrain: demo:pydoc, {pre['steps']} iters, val loss "
          f"{pre['final_val_loss']:.3f} in {pre_wall:.1f} s")

    arms = {"scratch": {}, "fine-tuned": {"init_from": parent}}
    rows = []
    iters = args.text_iters
    for arm, kwargs in arms.items():
        for seed in args.text_seeds:
            cfg = TextTrainConfig(max_iters=iters, eval_interval=max(1, iters // 6), seed=seed,
                                  **common)
            result, wall, _ = _run(make_train_job(cfg, str(child), home=home,
                                                  name=f"shakespeare-{arm}-{seed}", **kwargs))
            rows.append({"arm": arm, "seed": seed, "iters": result["steps"],
                         "vocab_size": result["vocab_size"],
                         "val_loss": round(result["final_val_loss"], 4),
                         "best_val_loss": round(result["best_val_loss"], 4),
                         "train_seconds": round(result["train_seconds"], 1),
                         "wall_s": round(wall, 1),
                         "val_loss_curve": [[e["step"], round(e["val_loss"], 4)]
                                            for e in result["evals"]]})
        sel = [r for r in rows if r["arm"] == arm]
        loss = _stats([r["val_loss"] for r in sel])
        per_seed = ", ".join(f"{r['val_loss']:.3f}" for r in sel)
        print(f"text {arm:<11} {iters} iters: val loss {loss['mean']:.3f} ± {loss['sd']:.3f} "
              f"(seeds {per_seed}), "
              f"{statistics.fmean(r['train_seconds'] for r in sel):.1f} s, curve "
              f"{sel[0]['val_loss_curve']}")
    # freeze: the fork reuses every tensor (same tokenizer, same sizes), so nothing is left
    freeze_cfg = TextTrainConfig(max_iters=1, eval_interval=1, seed=1337, **common)
    try:
        _run(make_train_job(freeze_cfg, str(child), home=home, name="freeze-probe",
                            init_from=parent, freeze=True))
        freeze_note = "trained (unexpected: every tensor is reused)"
    except (RuntimeError, PlaygroundError) as exc:
        freeze_note = f"refused: {exc}"
    print(f"text fine-tuned + freeze: {freeze_note}")
    summary = [{"arm": arm, "iters": iters,
                "val_loss": _stats([r["val_loss"] for r in rows if r["arm"] == arm]),
                "train_seconds": _stats([r["train_seconds"] for r in rows if r["arm"] == arm])}
               for arm in arms]
    return {"pretrain": pretrain,
            "fine_tune_data": {"corpus": f"first {args.slice_chars:,} characters of "
                               "tinyshakespeare.txt", "validation": "its last 10 %"},
            "config": {"model": "gpt", "tokenizer": "char", "n_layer": pre_cfg.n_layer,
                       "n_head": pre_cfg.n_head, "n_embd": pre_cfg.n_embd,
                       "block_size": pre_cfg.block_size, "batch_size": pre_cfg.batch_size,
                       "eval_iters": args.eval_iters,
                       "other": "TextTrainConfig defaults (lr 1e-3 -> 1e-4 cosine, warm-up "
                                "100)"},
            "freeze": freeze_note, "summary": summary, "runs": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("speech", "text"), default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2],
                        help="seeds of the speech fine-tuning arms")
    parser.add_argument("--text-seeds", nargs="+", type=int, default=[1337, 1338])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clips", type=int, default=6, help="training clips per new word")
    parser.add_argument("--speech-epochs", nargs="+", type=int, default=[5, 20])
    parser.add_argument("--speech-batch", type=int, default=16)
    parser.add_argument("--pretrain-iters", type=int, default=1500)
    parser.add_argument("--text-iters", type=int, default=600)
    parser.add_argument("--slice-chars", type=int, default=100_000)
    parser.add_argument("--eval-iters", type=int, default=40)
    parser.add_argument("--data-dir", default=str(DATA_DIR))
    parser.add_argument("--out", default=str(RESULTS / "finetune.json"))
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    report: dict[str, Any] = {"benchmark": "finetune", "threads": args.threads,
                              "torch": torch.__version__, "niceness": os.nice(0)}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="playground-finetune-") as home:
        if args.only in (None, "speech"):
            report["speech"] = bench_speech(args, Path(home))
        if args.only in (None, "text"):
            report["text"] = bench_text(args, Path(home))
    report["total_wall_s"] = round(time.perf_counter() - started, 1)
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
