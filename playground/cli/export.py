"""``playground export --run RUN_DIR --format onnx|pt2 [--checkpoint best|last] --out DIR``."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(groups, common) -> None:
    parser = groups["root"].add_parser(
        "export", help="export a run to ONNX or .pt2, checked against the app's outputs",
        description="Export a run's model to ONNX (torch.onnx, dynamo) or .pt2 "
                    "(torch.export), check it against the app's own outputs on held-out samples "
                    "at another batch size and length, and write model.json (labels, "
                    "preprocessing, tokens), the tokenizer files and, for ONNX, a predict.py "
                    "that needs only onnxruntime and numpy. Translation runs export "
                    "encoder and decoder graphs. Prints the parity figures, then the output "
                    "folder.")
    parser.add_argument("--run", required=True, metavar="RUN_DIR", help="the run folder")
    parser.add_argument("--format", choices=("onnx", "pt2"), default="onnx", dest="fmt")
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best",
                        help="which weights (default: best)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write")
    common.add_common(parser, device=False)
    parser.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from playground.cli import common
    from playground.core import events as ev
    from playground.core.export import make_export_job, scaled_note

    args.device, args.threads = "cpu", 0
    job = make_export_job(args.run, args.fmt, args.out, checkpoint=args.checkpoint)
    event, _ctx = common.run_in_terminal(job, args)
    if isinstance(event, ev.Failed):
        return common.report_failed(event)
    if not isinstance(event, ev.Finished) or event.stopped:
        print("stopped; nothing was exported", flush=True)
        return 130
    result = event.result
    p = result["parity"]
    names = ", ".join(Path(f).name for f in result["files"])
    print(f"format: {result['format']}  ({result['size_bytes'] / 1e6:.2f} MB, exported in "
          f"{result['export_seconds']:.1f} s): {names}")
    at = f"batch {p['batch_size']}"
    traced = f"batch {p['traced_batch_size']}"
    if p.get("seq_len"):
        at += f", length {p['seq_len']}"
        traced += f", length {p['traced_seq_len']}"
    print(f"parity: largest difference {p['max_abs_diff']:.2e}{scaled_note(p)} (tolerance "
          f"{p['tolerance']:g}), "
          f"top-1 agreement {p['top1_agreement']:.1%} at {at} (traced at {traced})")
    print(f"checked on: {p['source']}")
    print(result["out_dir"])
    return 0
