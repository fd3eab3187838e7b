"""Verified export of every trainable model family: export time, file size, parity, and
onnxruntime against PyTorch latency on the CPU.

For each case a tiny run is trained through the app's own CLI (``playground train …``) on
built-in or generated data (the shape demo, the pydoc corpus, the English-French numbers, the
shipped spoken digits, tone "speech" with transcripts), then exported with the app's export job
(``make_export_job``) to ONNX and to ``.pt2``. Recorded per format: the capture-and-write time
(``export_seconds``), the file size, and the parity the job measured on held-out samples of the
run's data at another batch size and length (largest absolute difference, top-1 agreement,
samples; an export above 1e-4 is refused by the job and would show here as a failure).

Latency: the parity check is run once more through onnxruntime with every graph call recorded
(graph, inputs); those calls (for a step decoder, one per target position) are then replayed
through

- ``ort``: ``onnxruntime.InferenceSession`` on the exported file(s), CPU provider,
  ``intra_op_num_threads`` = ``--threads``, ``inter_op_num_threads`` = 1;
- ``torch``: the module that was exported, in eager mode under ``torch.inference_mode()``
  with ``torch.set_num_threads(--threads)``, where the scanned GRU/LSTM the exporter traces
  (``ScanRNN``) is put back to the app's ``nn.GRU``/``nn.LSTM`` (packed when a padding mask is
  given), so the figure is what the app's own PyTorch model costs;
- ``pt2``: the exported program (``torch.export.load(...).module()``), same threads.

Same inputs, same batch; the median of ``--repeats`` replays after 3 warm-up replays (fewer,
at least 5, where they would take over 15 s: ViT-B/16). The
ratio ``ort / torch`` below 1 means onnxruntime is faster. ``torch_vs_ort_max_abs_diff`` is the
largest difference between the two on the replayed calls (a check that the replay is fair).

    .venv/bin/python benchmarks/bench_export.py [--quick] [--threads 1] [--repeats 30]
                                                [--only small_cnn gpt ...]

``--quick`` skips the large image models (ResNet-18 and the rest of the torchvision zoo,
ViT-B/16) and uses 10 repeats. Results: ``benchmarks/results/export.json`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from _report import write_report  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
WARMUP = 3
BUDGET_S = 15.0  # timed seconds per engine and case at most (ViT-B/16: fewer repeats)


@dataclass
class Case:
    name: str
    family: str
    data: str            # the key of a data maker in DATA
    argv: list[str]      # `playground train` arguments, {data} replaced by the data path
    quick: bool = True   # part of --quick


TEXT = ["--block-size", "64", "--batch-size", "16", "--max-iters", "30", "--eval-interval",
        "30", "--eval-iters", "2", "--sample-tokens", "0", "--learning-rate", "3e-3"]
TRANSLATE = ["--epochs", "1", "--batch-size", "32", "--val-sentences", "5", "--samples", "1"]

CASES = [
    Case("small_cnn", "image CNN", "shapes",
         ["image", "--data", "{data}", "--model", "small_cnn", "--image-size", "32",
          "--epochs", "1", "--batch-size", "32", "--max-steps", "10"]),
    Case("resnet18", "image CNN (torchvision)", "shapes",
         ["image", "--data", "{data}", "--model", "resnet18", "--image-size", "64",
          "--epochs", "1", "--batch-size", "16", "--max-steps", "2"], quick=False),
    Case("mobilenet_v3_small", "image CNN (torchvision)", "shapes",
         ["image", "--data", "{data}", "--model", "mobilenet_v3_small", "--image-size", "64",
          "--epochs", "1", "--batch-size", "16", "--max-steps", "2"], quick=False),
    Case("efficientnet_b0", "image CNN (torchvision)", "shapes",
         ["image", "--data", "{data}", "--model", "efficientnet_b0", "--image-size", "64",
          "--epochs", "1", "--batch-size", "16", "--max-steps", "2"], quick=False),
    Case("googlenet", "image CNN (torchvision)", "shapes",
         ["image", "--data", "{data}", "--model", "googlenet", "--image-size", "64",
          "--epochs", "1", "--batch-size", "16", "--max-steps", "2"], quick=False),
    Case("alexnet", "image CNN (torchvision)", "shapes",
         ["image", "--data", "{data}", "--model", "alexnet", "--image-size", "64",
          "--epochs", "1", "--batch-size", "16", "--max-steps", "2"], quick=False),
    Case("vit_b_16", "image ViT (torchvision)", "shapes_small",
         ["image", "--data", "{data}", "--model", "vit_b_16", "--image-size", "224",
          "--epochs", "1", "--batch-size", "4", "--max-steps", "1", "--val-fraction", "0.25"],
         quick=False),
    Case("gpt", "text GPT", "pydoc",
         ["text", "--corpus", "{data}", "--model", "gpt", "--tokenizer", "char", "--n-layer",
          "2", "--n-head", "4", "--n-embd", "64", *TEXT]),
    Case("lstm", "text LSTM", "pydoc",
         ["text", "--corpus", "{data}", "--model", "lstm", "--tokenizer", "char", "--n-embd",
          "64", "--lstm-hidden", "128", "--lstm-layers", "2", *TEXT]),
    Case("kw_cnn", "keyword CNN", "digits",
         ["speech", "--task", "keywords", "--data", "{data}", "--model", "kw_cnn",
          "--epochs", "1", "--batch-size", "16", "--no-noise"]),
    Case("kw_gru", "keyword GRU", "digits",
         ["speech", "--task", "keywords", "--data", "{data}", "--model", "kw_gru",
          "--epochs", "1", "--batch-size", "16", "--no-noise"]),
    Case("ctc_rnn", "CTC speech (conv + BiLSTM)", "tones",
         ["speech", "--task", "ctc", "--data", "{data}", "--model", "ctc_rnn", "--epochs", "1",
          "--batch-size", "4"]),
    Case("ctc_conformer", "CTC speech (Conformer)", "tones",
         ["speech", "--task", "ctc", "--data", "{data}", "--model", "ctc_conformer",
          "--epochs", "1", "--batch-size", "4"]),
    Case("transformer", "translation Transformer", "pairs",
         ["translate", "--pairs", "{data}", "--model", "transformer", "--n-layer", "2",
          "--n-head", "4", "--n-embd", "64", "--ff-dim", "128", "--tokenizer", "char",
          *TRANSLATE]),
    Case("gru-attention", "translation GRU + attention", "pairs",
         ["translate", "--pairs", "{data}", "--model", "gru-attention", "--n-embd", "64",
          "--rnn-hidden", "64", "--rnn-layers", "1", "--tokenizer", "char", *TRANSLATE]),
    Case("lstm-attention", "translation LSTM + attention", "pairs",
         ["translate", "--pairs", "{data}", "--model", "lstm-attention", "--n-embd", "64",
          "--rnn-hidden", "64", "--rnn-layers", "1", "--tokenizer", "char", *TRANSLATE],
         quick=False),
]


# ------------------------------------------------------------------------------------------
# Data (all built in or generated: no download)
# ------------------------------------------------------------------------------------------
def make_data(key: str, folder: Path) -> str:
    if key == "shapes":
        return "demo:shapes"
    if key == "shapes_small":  # ViT-B/16 runs at 224 px: 20 images keep its evaluation short
        from playground.vision.demo import write_shapes_folder

        return str(write_shapes_folder(folder / "shapes", per_class=4, size=64))
    if key == "pydoc":
        return "demo:pydoc"
    if key == "pairs":
        from playground.text.numbers_fr import demo_pairs

        path = folder / "pairs.tsv"
        path.write_text("".join(f"{a}\t{b}\n" for a, b in demo_pairs()[:4000:8]),
                        encoding="utf-8")
        return str(path)
    if key == "digits":
        from tests.speech.helpers import copy_digits

        return str(copy_digits(folder / "digits", per_label=10))
    if key == "tones":
        from tests.speech.helpers import make_tone_transcripts

        return str(make_tone_transcripts(folder / "tones", 16))
    raise KeyError(key)


def train(argv: list[str], home: Path) -> Path:
    """``playground train …`` in-process (quiet); the new run folder."""
    from playground.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["train", *argv, "--home", str(home), "--device", "cpu", "--quiet"])
    if rc != 0:
        raise RuntimeError(f"training failed ({rc}): {err.getvalue().strip()[-500:]}")
    return Path(out.getvalue().strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------
# Latency
# ------------------------------------------------------------------------------------------
def native_rnns(module):
    """A copy of ``module`` with every ScanRNN put back to its nn.GRU / nn.LSTM."""
    from torch import nn

    from playground.core.export_ops import ScanRNN

    class NativeRNN(nn.Module):
        """``ScanRNN``'s interface over the app's own ``nn.GRU`` / ``nn.LSTM``."""

        def __init__(self, rnn) -> None:
            super().__init__()
            self.rnn = rnn

        def forward(self, x, hx=None, valid=None):
            r = self.rnn
            if valid is None:
                return r(x, hx)
            lengths = valid.sum(1 if r.batch_first else 0).clamp(min=1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=r.batch_first,
                                                       enforce_sorted=False)
            out, h = r(packed, hx)
            out, _ = nn.utils.rnn.pad_packed_sequence(
                out, batch_first=r.batch_first, total_length=x.shape[1 if r.batch_first else 0])
            return out, h

        def step(self, x, hx):
            out, h = self.rnn(x[:, None] if self.rnn.batch_first else x[None], hx)
            return (out[:, 0] if self.rnn.batch_first else out[0]), h

    if not any(isinstance(m, ScanRNN) for m in module.modules()):
        return module, False
    clone = copy.deepcopy(module)
    for parent in list(clone.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, ScanRNN):
                setattr(parent, name, NativeRNN(child.rnn))
    return clone.eval(), True


def record_calls(es, paths: dict[str, Path]) -> list[tuple[str, list]]:
    """The graph calls of the parity check, run through onnxruntime: ``[(graph, inputs)]``."""
    import numpy as np
    import torch

    from playground.core.export import make_runner

    run = make_runner("onnx", paths, es.graphs)
    calls: list[tuple[str, list]] = []

    def recording(name, inputs):
        calls.append((name, [np.array(x.detach().cpu().numpy() if isinstance(x, torch.Tensor)
                                      else x) for x in inputs]))
        return run(name, inputs)

    es.check(recording)
    return calls


def timed(fn, repeats: int) -> tuple[float, int]:
    """Median milliseconds of ``repeats`` calls after the warm-up (fewer, at least 5, when one
    call is so slow that they would take over BUDGET_S), and how many were timed."""
    for _ in range(WARMUP):
        t0 = time.perf_counter()
        fn()
        warm = time.perf_counter() - t0
    repeats = max(5, min(repeats, int(BUDGET_S / max(warm, 1e-9))))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times), repeats


def latency(es, onnx_paths: dict[str, Path], pt2_paths: dict[str, Path] | None,
            threads: int, repeats: int) -> dict[str, Any]:
    import numpy as np
    import onnxruntime as ort
    import torch

    calls = record_calls(es, onnx_paths)
    graphs = {g.name: g for g in es.graphs}
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    sessions = {n: ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"])
                for n, p in onnx_paths.items()}
    feeds = [(sessions[n], dict(zip(graphs[n].input_names, xs, strict=True))) for n, xs in calls]
    native, swapped = {}, False
    for n, g in graphs.items():
        native[n], s = native_rnns(g.module)
        swapped |= s
    t_inputs = [(native[n], [torch.from_numpy(x) for x in xs]) for n, xs in calls]
    programs = ({n: torch.export.load(str(p)).module() for n, p in pt2_paths.items()}
                if pt2_paths else {})
    p_inputs = [(programs[n], args) for (n, _), (_, args) in zip(calls, t_inputs, strict=True)
                ] if programs else []

    def run_ort():
        return [s.run(None, f) for s, f in feeds]

    def run_torch():
        with torch.inference_mode():
            return [m(*args) for m, args in t_inputs]

    def run_pt2():
        with torch.no_grad():
            return [m(*args) for m, args in p_inputs]

    diff = 0.0
    for got, want in zip(run_torch(), run_ort(), strict=True):
        got = got if isinstance(got, (tuple, list)) else (got,)
        for a, b in zip(got, want, strict=True):
            a = a.numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
            if a.size:
                diff = max(diff, float(np.abs(a.astype(np.float64) - b.astype(np.float64))
                                       .max()))
    ort_ms, n_ort = timed(run_ort, repeats)
    torch_ms, n_torch = timed(run_torch, repeats)
    pt2_ms, n_pt2 = timed(run_pt2, repeats) if programs else (None, 0)
    first = calls[0][1][0]
    return {"calls": len(calls), "graphs_called": sorted({n for n, _ in calls}),
            "batch_size": int(first.shape[0]),
            "first_input_shape": list(first.shape), "threads": threads,
            "repeats": {"ort": n_ort, "torch": n_torch, "pt2": n_pt2},
            "ort_ms": round(ort_ms, 3), "torch_ms": round(torch_ms, 3),
            "pt2_ms": round(pt2_ms, 3) if pt2_ms is not None else None,
            "ort_over_torch": round(ort_ms / torch_ms, 3),
            "pt2_over_torch": round(pt2_ms / torch_ms, 3) if pt2_ms is not None else None,
            "torch_rnn": "nn.GRU/nn.LSTM (the app's)" if swapped else None,
            "torch_vs_ort_max_abs_diff": diff}


# ------------------------------------------------------------------------------------------
# One case
# ------------------------------------------------------------------------------------------
def export_one(run_dir: Path, fmt: str, out: Path) -> dict[str, Any]:
    from playground.core import events as ev
    from playground.core.export import make_export_job
    from playground.core.jobs import CollectingContext, run_job

    t0 = time.perf_counter()
    event = run_job(make_export_job(run_dir, fmt, out, "best"), CollectingContext())
    wall = time.perf_counter() - t0
    if not isinstance(event, ev.Finished):
        return {"ok": False, "error": f"{getattr(event, 'error_type', '')}: "
                                      f"{getattr(event, 'message', event)}"}
    r = event.result
    p = r["parity"]
    return {"ok": True, "export_seconds": r["export_seconds"], "job_seconds": round(wall, 2),
            "size_bytes": r["size_bytes"], "files": sorted(Path(f).name for f in r["files"]),
            "parity": {k: p[k] for k in ("max_abs_diff", "max_scaled_diff", "scale",
                                         "top1_agreement", "top1_positions",
                                         "samples", "batch_size", "seq_len",
                                         "traced_batch_size", "traced_seq_len", "source",
                                         "per_output")}}


def graph_files(out: Path) -> dict[str, Path]:
    import json

    meta = json.loads((out / "model.json").read_text(encoding="utf-8"))
    return {name: out / file for name, file in meta["files"].items()}


def run_case(case: Case, data: str, work: Path, threads: int, repeats: int) -> dict[str, Any]:
    from playground.core import loader
    from playground.core.export import spec_for

    row: dict[str, Any] = {"name": case.name, "family": case.family}
    t0 = time.perf_counter()
    argv = [a.replace("{data}", data) for a in case.argv] + ["--name", case.name]
    run_dir = train(argv, work / "home")
    row["train_seconds"] = round(time.perf_counter() - t0, 1)
    spec = loader.open_for_inference(run_dir, None, checkpoint="best")
    row["task"], row["model"] = spec.task, spec.model
    for fmt in ("onnx", "pt2"):
        row[fmt] = export_one(run_dir, fmt, work / case.name / fmt)
    if row["onnx"]["ok"]:
        es = spec_for(spec)
        unique = {id(q): q for g in es.graphs for q in g.module.parameters()}  # shared once
        row["parameters"] = sum(q.numel() for q in unique.values())
        pt2 = graph_files(work / case.name / "pt2") if row["pt2"]["ok"] else None
        row["latency"] = latency(es, graph_files(work / case.name / "onnx"), pt2, threads,
                                 repeats)
    return row


def fmt_row(row: dict[str, Any]) -> str:
    def part(fmt):
        r = row[fmt]
        if not r["ok"]:
            return f"{fmt}: FAILED"
        p = r["parity"]
        return (f"{fmt} {r['export_seconds']:5.1f} s {r['size_bytes'] / 1e6:7.2f} MB "
                f"diff {p['max_abs_diff']:.1e} top-1 {p['top1_agreement']:.1%}")

    lat = row.get("latency")
    tail = (f" | ort {lat['ort_ms']:.2f} ms torch {lat['torch_ms']:.2f} ms "
            f"(x{lat['ort_over_torch']:.2f})") if lat else ""
    return f"{row['name']:<19} {part('onnx')} | {part('pt2')}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="skip the large image models; 10 repeats")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and onnxruntime intra-op threads (default 1)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed replays per engine (default 30, 10 with --quick)")
    parser.add_argument("--only", nargs="+", default=None, metavar="CASE",
                        help=f"run only these cases: {', '.join(c.name for c in CASES)}")
    parser.add_argument("--out", default=None,
                        help="JSON report (default benchmarks/results/export.json; "
                             "export_quick.json with --quick)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    repeats = args.repeats or (10 if args.quick else 30)
    cases = [c for c in CASES if (args.only is None and (c.quick or not args.quick))
             or (args.only is not None and c.name in args.only)]
    unknown = set(args.only or ()) - {c.name for c in CASES}
    if unknown:
        parser.error(f"unknown case(s): {', '.join(sorted(unknown))}")
    rows, start = [], time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        work = Path(tmp)
        os.environ["PLAYGROUND_HOME"] = str(work / "home")
        made: dict[str, str] = {}
        for case in cases:
            if case.data not in made:
                made[case.data] = make_data(case.data, work / "data")
            try:
                row = run_case(case, made[case.data], work, args.threads, repeats)
            except Exception as exc:  # noqa: BLE001 - record it and go on with the others
                row = {"name": case.name, "family": case.family,
                       "error": f"{type(exc).__name__}: {exc}"}
                print(f"{case.name:<19} ERROR {row['error']}", flush=True)
            else:
                print(fmt_row(row), flush=True)
            rows.append(row)
    failed = [r["name"] for r in rows
              if "error" in r or not (r["onnx"]["ok"] and r["pt2"]["ok"])]
    import onnxruntime

    report = {"benchmark": "export", "quick": args.quick, "threads": args.threads,
              "repeats": repeats, "warmup": WARMUP, "torch": torch.__version__,
              "onnxruntime": onnxruntime.__version__, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "total_seconds": round(time.perf_counter() - start, 1),
              "load_average_1min_after": os.getloadavg()[0] if hasattr(os, "getloadavg")
              else None, "failed": failed, "results": rows}
    out = args.out or RESULTS / ("export_quick.json" if args.quick else "export.json")
    write_report(out, report)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
