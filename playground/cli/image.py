"""CLI commands of the image task.

``playground train image --data DIR|demo:NAME [options]`` trains with every
:class:`~playground.vision.config.ImageTrainConfig` field as a flag and prints the final
validation metrics, then the run folder as the last line. ``--graph GRAPH.json|RUN_DIR|
template:NAME`` trains a Builder graph instead of ``--model`` (see
:func:`playground.cli.common.use_graph`).

``playground predict image --run DIR FILE... [--top-k K] [--json]`` prints the top-k classes
of each file; unreadable files are reported (exit code 1) while the others are still printed.
"""

from __future__ import annotations

import argparse
import json
import sys

from playground.core import schema
from playground.vision.config import ImageTrainConfig


def register(groups, common) -> None:
    from playground.cli import fork

    train = groups["train"].add_parser(
        "image", help="train an image classifier",
        description="Train an image classifier on a folder (one sub-folder per class, or "
                    "train/ and val/) or on built-in data (demo:shapes, demo:digits, "
                    "demo:mnist, demo:fashion-mnist, demo:cifar10).")
    train.add_argument("--data", required=True, metavar="DIR|demo:NAME",
                       help="image folder, or demo:shapes / demo:digits / demo:mnist / "
                            "demo:fashion-mnist / demo:cifar10")
    train.add_argument("--name", default=None, help="run name (default: MODEL-DATA)")
    train.add_argument("--recipe", action="store_true",
                       help="start from the demo's tuned recipe (image size, epochs, "
                            "augmentation); flags given still win")
    train.add_argument("--max-steps", type=common.int_range(1, 10**9), default=None,
                       help=argparse.SUPPRESS)
    schema.add_arguments(train, ImageTrainConfig)
    common.add_graph_argument(train)
    fork.add_init_arguments(train)
    common.add_common(train)
    train.set_defaults(handler=_train)

    predict = groups["predict"].add_parser(
        "image", help="classify image files with a trained image run")
    predict.add_argument("--run", required=True, metavar="DIR", help="run folder")
    predict.add_argument("files", nargs="+", metavar="FILE", help="image files")
    predict.add_argument("--top-k", type=common.int_range(1, 10_000), default=5,
                         help="classes to show per file (default: 5)")
    predict.add_argument("--checkpoint", choices=("best", "last"), default="best",
                         help="which checkpoint to use (default: best)")
    predict.add_argument("--json", action="store_true", help="print one JSON document")
    common.add_common(predict)
    predict.set_defaults(handler=_predict)


def _config(args: argparse.Namespace) -> ImageTrainConfig:
    base = ImageTrainConfig()
    if args.recipe:
        from playground.vision.demo import apply_recipe

        base = apply_recipe(base, args.data)
    return schema.from_arguments(ImageTrainConfig, args, base)


def _train(args: argparse.Namespace) -> int:
    from playground.cli import common, fork
    from playground.vision.train import make_train_job

    fork.check_init_arguments(args)
    common.use_graph(args, "image")
    cfg = _config(args)
    job = make_train_job(cfg, args.data, name=args.name, max_steps=args.max_steps,
                         init_from=args.init_from, freeze=args.freeze)
    event, ctx = common.run_in_terminal(job, args)
    result = getattr(event, "result", None)
    summary: list[tuple[str, object]] = []
    if isinstance(result, dict):
        summary = [("validation accuracy", result.get("val_accuracy")),
                   ("best validation accuracy", result.get("best_val_accuracy")),
                   ("macro F1", result.get("macro_f1")),
                   ("epochs", result.get("epochs_done")),
                   ("steps", result.get("steps"))]
        per_class = result.get("per_class") or {}
        if per_class:
            width = max(8, *(len(k) for k in per_class))
            print(f"{'class':<{width}}  precision  recall     f1  support")
            for label, row in per_class.items():
                print(f"{common.safe_text(label):<{width}}  {row['precision']:9.3f}  "
                      f"{row['recall']:6.3f}  {row['f1']:5.3f}  {row['support']:7d}")
    return common.finish_training(event, ctx, summary)


def _predict(args: argparse.Namespace) -> int:
    from playground.cli.common import safe_text
    from playground.core.device import set_cpu_threads
    from playground.core.errors import ImageDecodeError
    from playground.vision.predict import ImagePredictor

    if args.threads:
        set_cpu_threads(args.threads)
    predictor = ImagePredictor.from_run(args.run, device=args.device,
                                        checkpoint=args.checkpoint)
    rows: list[dict] = []
    for path in args.files:
        try:
            preds = predictor.predict([path], top_k=args.top_k)[0]
        except ImageDecodeError as exc:
            rows.append({"file": path, "error": str(exc)})
            continue
        rows.append({"file": path, "predictions": [{"label": label, "prob": round(prob, 6)}
                                                   for label, prob in preds]})
    failed = [r for r in rows if "error" in r]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for row in rows:
            if "error" in row:
                reason = str(row["error"]).split(": ", 1)[-1]
                print(f"{safe_text(row['file'])}: error: {safe_text(reason)}")
                continue
            print(safe_text(row["file"]))
            for p in row["predictions"]:
                print(f"  {p['prob']:7.2%}  {safe_text(p['label'])}")
    if failed:
        print(f"error: {len(failed)} of {len(rows)} file(s) could not be read", file=sys.stderr)
    return 1 if failed else 0
