"""Flags and commands that build on an existing run: ``--init-from``/``--freeze`` on every
``train`` command, and ``playground resume RUN_DIR``.

``playground resume RUN_DIR [--epochs N | --max-iters N]`` continues a run from its last
checkpoint, exactly where it stopped (or was killed), appending to the same folder; a larger
``--epochs`` / ``--max-iters`` trains a finished run further. It prints the task's final
metrics, then the run folder as the last line, like ``train``.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_init_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--init-from", default=None, metavar="RUN_DIR[:best|:last]",
                        help="start from another run's weights (best by default): layers whose "
                             "shapes match are reused, the rest (e.g. a head for other classes) "
                             "start fresh; the new run records its parent")
    parser.add_argument("--freeze", action="store_true",
                        help="with --init-from: train only the new layers (freeze the reused)")


def check_init_arguments(args: argparse.Namespace) -> None:
    from playground.core.errors import ConfigError

    if getattr(args, "freeze", False) and not getattr(args, "init_from", None):
        raise ConfigError("--freeze needs --init-from RUN_DIR: only layers reused from "
                          "another run can be frozen.")


def register(groups, common) -> None:
    resume = groups["root"].add_parser(
        "resume", help="continue a run from its last checkpoint",
        description="Continue a stopped, interrupted or finished run from its last checkpoint "
                    "with the same data and settings, appending to the same run folder. "
                    "--epochs / --max-iters set a new total to train a finished run further.")
    resume.add_argument("run", metavar="RUN_DIR", help="run folder")
    total = resume.add_mutually_exclusive_group()
    total.add_argument("--epochs", type=common.int_range(1, 10_000), default=None,
                       help="new total of epochs (image and speech runs)")
    total.add_argument("--max-iters", type=common.int_range(1, 10_000_000), default=None,
                       help="new total of iterations (text runs)")
    common.add_common(resume)
    resume.set_defaults(handler=_resume)


def _resume(args: argparse.Namespace) -> int:
    from playground.cli import common
    from playground.resume import make_resume_job

    job = make_resume_job(args.run, epochs=args.epochs, max_iters=args.max_iters)
    event, ctx = common.run_in_terminal(job, args)
    result = getattr(event, "result", None)
    return common.finish_training(event, ctx, summary_of(result if isinstance(result, dict)
                                                         else {}))


def summary_of(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """The final lines a train or resume command prints, by what the result holds."""
    if "best_val_loss" in result or "final_val_loss" in result:
        return [("final val loss", result.get("final_val_loss")),
                ("best val loss", result.get("best_val_loss")), ("steps", result.get("steps"))]
    if result.get("speech_task") == "ctc":
        return [("val_cer", result.get("val_cer")), ("val_wer", result.get("val_wer")),
                ("best_cer", result.get("best_cer")), ("steps", result.get("steps"))]
    return [("validation accuracy", result.get("val_accuracy")),
            ("best validation accuracy", result.get("best_val_accuracy")),
            ("epochs", result.get("epochs_done")), ("steps", result.get("steps"))]
