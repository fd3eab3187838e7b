"""``playground runs list|show|delete``: the runs on disk."""

from __future__ import annotations

import argparse
import shutil

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


def _row(run) -> dict:
    try:
        info = run.info()
    except Exception as exc:  # noqa: BLE001 - a damaged run is listed with its problem
        return {"path": str(run.path), "task": "?", "model": "?", "status": f"damaged: {exc}"}
    result = info.get("result") or {}
    best = result.get("best_val_accuracy", result.get("best_val_loss"))
    return {"path": str(run.path), "task": info.get("task"), "model": info.get("model"),
            "status": info.get("status"), "created": info.get("created"), "best": best}


def _list(args: argparse.Namespace) -> int:
    from playground.cli.common import print_json

    rows = [_row(r) for r in RunStore().list(args.task)]
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no runs yet — train one with `playground train image --data demo:shapes`")
        return 0
    width = shutil.get_terminal_size((120, 20)).columns
    for r in rows:
        best = "" if r.get("best") is None else f" best={r['best']:.4f}"
        line = f"{r['task']:<9} {r['status'] or '':<9} {r['model'] or '':<20}{best}  {r['path']}"
        print(line[: max(width, 200)])
    return 0


def _show(args: argparse.Namespace) -> int:
    from playground.cli.common import print_json

    print_json(open_run(args.run).info())
    return 0


def _delete(args: argparse.Namespace) -> int:
    run = open_run(args.run)
    if not args.yes:
        answer = input(f"Delete {run.path}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("not deleted")
            return 1
    RunStore().delete(run)
    print(f"deleted {run.path}")
    return 0
