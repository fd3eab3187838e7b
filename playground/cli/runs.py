"""``playground runs list|show|delete|import``: the runs on disk.

``playground runs import DIR [--home H]`` copies a run folder trained elsewhere (another
machine, torchrun on a cluster) into the runs, under its task; the folder is only read. The
copy's path is the last line of stdout.
"""

from __future__ import annotations

import argparse
import shutil
import sys

from playground.core.runs import RunStore, open_run


def register(groups, common) -> None:
    parser = groups["root"].add_parser("runs", help="list, show or delete saved runs")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="list runs, newest first")
    ls.add_argument("--task", default=None, help="only this task (image, text, speech, ...)")
    ls.add_argument("--json", action="store_true", help="print JSON")
    common.add_common(ls, device=False)
    ls.set_defaults(handler=_list)
    show = sub.add_parser("show", help="print a run's run.json")
    show.add_argument("run", help="run folder")
    common.add_common(show, device=False)
    show.set_defaults(handler=_show)
    delete = sub.add_parser("delete", help="delete a run folder")
    delete.add_argument("run", help="run folder")
    delete.add_argument("--yes", action="store_true", help="do not ask")
    common.add_common(delete, device=False)
    delete.set_defaults(handler=_delete)
    imp = sub.add_parser(
        "import", help="copy a run folder trained elsewhere into the runs",
        description="Copy a run folder trained on another machine (e.g. with `playground "
                    "launch` and torchrun) into the runs under its task, so it is browsed, "
                    "compared, resumed and exported like any other. The folder must be a run "
                    "(run.json, safetensors checkpoints) written by this version of the app or "
                    "an older one; it is only read. A run of the same name is never "
                    "overwritten: the copy gets a new name.")
    imp.add_argument("run", metavar="DIR", help="the run folder to import")
    common.add_common(imp, device=False)
    imp.set_defaults(handler=_import)


def _row(run) -> dict:
    try:
        info = run.info()
    except Exception as exc:  # noqa: BLE001 - a damaged run is listed with its problem
        return {"path": str(run.path), "task": "?", "model": "?", "status": f"damaged: {exc}"}
    result = info.get("result") or {}
    best = result.get("best_val_accuracy", result.get("best_val_loss"))
    return {"path": str(run.path), "task": info.get("task"), "model": info.get("model"),
            "status": run.effective_status(info), "created": info.get("created"), "best": best}


def _list(args: argparse.Namespace) -> int:
    from playground.cli.common import print_json, safe_text

    runs, problems = RunStore().scan(args.task)
    rows = [_row(r) for r in runs]
    for problem in problems:  # one damaged run is named and skipped; the rest are listed
        print(f"warning: skipped a damaged run: {safe_text(problem)}", file=sys.stderr)
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no runs yet — train one with `playground train image --data demo:shapes`")
        return 0
    width = shutil.get_terminal_size((120, 20)).columns
    for r in rows:
        print(_line(r)[: max(width, 200)])
    return 0


def _line(row: dict) -> str:
    """One run as a line; any field from a hand-edited run.json is shown, escaped, never
    formatted as a number unless it is one."""
    from playground.cli.common import safe_text

    def text(key: str) -> str:
        value = row.get(key)
        return "" if value is None else safe_text(value)

    best = row.get("best")
    if isinstance(best, (int, float)) and not isinstance(best, bool):
        best_text = f" best={best:.4f}"
    else:
        best_text = "" if best is None else f" best={safe_text(best)}"
    return (f"{text('task'):<9} {text('status'):<9} {text('model'):<20}{best_text}  "
            f"{text('path')}")


def _show(args: argparse.Namespace) -> int:
    from playground.cli.common import print_json

    run = open_run(args.run, with_model=False)
    info = run.info()
    info["status"] = run.effective_status(info)  # "interrupted" when its process is gone
    print_json(info)
    return 0


def _delete(args: argparse.Namespace) -> int:
    from playground.cli.common import safe_text
    from playground.core.errors import ConfirmationRequired

    run = open_run(args.run, with_model=False)
    if not args.yes:
        if not (sys.stdin is not None and sys.stdin.isatty()):
            raise ConfirmationRequired(
                f"Not deleting {safe_text(run.path)}: there is no terminal to confirm on. "
                "Run again with --yes to delete it without asking.")
        try:
            answer = input(f"Delete {safe_text(run.path)}? [y/N] ").strip().lower()
        except EOFError:  # Ctrl-D at the prompt: a no
            answer = ""
        if answer not in ("y", "yes"):
            print("not deleted")
            return 1
    RunStore().delete(run)
    print(f"deleted {run.path}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from playground.cli.common import safe_text
    from playground.core.runs import import_run

    run = import_run(args.run)
    info = run.info()
    if not args.quiet:
        print(f"imported {safe_text(info.get('task'))} run {safe_text(args.run)} "
              f"({safe_text(info.get('model'))}, {safe_text(run.effective_status(info))})",
              file=sys.stderr)
    print(safe_text(run.path))
    return 0
