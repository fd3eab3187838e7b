"""The ``playground`` command.

No arguments opens the app; ``--self-test`` checks the installation
(:mod:`playground.selftest`). With a sub-command it runs headless over the same task API the
tabs use: ``train``, ``predict``, ``generate``, ``transcribe`` and ``runs``.
Each task contributes its sub-commands from its own module in this package; every training
option is a flag generated from the task's schema (field name in kebab-case).

One error path: every failure prints one ``error:`` line (and where the details are logged),
never a traceback unless ``--verbose``; see :mod:`playground.cli.common`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from playground import __version__


def run_child(argv: Sequence[str]) -> int:
    """``--child MODULE ARGS…``: run a module of the app as ``python -m MODULE ARGS…`` would.

    A packaged (frozen) app has no Python interpreter to start ``-m`` children with, so the
    places that start one (the builder's trace worker) run ``[sys.executable, "--child", …]``
    instead; only modules of this package are accepted."""
    import runpy

    if not argv or not argv[0].startswith("playground."):
        print("error: --child needs a module of the playground package", file=sys.stderr)
        return 2
    module, sys.argv = argv[0], [argv[0], *argv[1:]]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from playground.cli import (builder, common, export, fork, image, launch, runs, speech, text,
                                translate)

    parser = common.Parser(
        prog="playground",
        description="Model Playground: train, inspect and use PyTorch models. "
                    "Run without arguments to open the app.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common.add_verbose(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    train = sub.add_parser("train", help="train a model (image, text, speech)")
    train_sub = train.add_subparsers(dest="task", metavar="TASK", required=True)
    predict = sub.add_parser("predict", help="classify files with a trained run")
    predict_sub = predict.add_subparsers(dest="task", metavar="TASK", required=True)
    groups = {"train": train_sub, "predict": predict_sub, "root": sub}
    for module in (image, text, translate, speech, runs, fork, export, launch, builder):
        module.register(groups, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--self-test"]:
        from playground.selftest import main as self_test

        return self_test(argv[1:])
    if argv[:1] == ["--child"]:
        return run_child(argv[1:])
    if not argv or all(not a.startswith("-") and os.path.exists(a) for a in argv):
        # no arguments, or files opened with the app from a file manager or launcher
        # (the .desktop entry's %F): open the window
        from playground.ui.app import main as gui_main

        return gui_main()
    from playground.cli import common

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None) or not hasattr(args, "handler"):
        parser.print_help()
        return 2
    return common.dispatch(args)
