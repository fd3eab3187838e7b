"""torchrun with 2 gloo processes vs one process, on the same data and the same global batch.

For each workload (the digits images with the small CNN, a small GPT on the built-in pydoc
corpus) it trains, side by side and interleaved over ``--repeats`` rounds:

- ``1 process, 1 thread`` and ``1 process, 2 threads`` (``python -m playground train …``);
- ``torchrun, 2 processes x 1 thread`` (``python -m torch.distributed.run --standalone
  --nproc-per-node 2 -m playground train …``, gloo on the CPU).

It records the command's wall time, the loop's own training time (run.json ``train_seconds``),
the validation metric and whether the ranks ended with the same weights, and writes
``benchmarks/results/torchrun.json``. On a 2-core machine two processes share the same two
cores the 2-thread process uses, so this measures the overhead and the equivalence of the
distributed path more than a speed-up; on N GPUs each process has its own.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _report import write_report  # noqa: E402

WORKLOADS = {
    "image digits small_cnn (4 epochs, batch 16)": (
        ["train", "image", "--data", "demo:digits", "--model", "small_cnn", "--epochs", "4"],
        "image", "val_accuracy"),
    "text pydoc GPT (300 iterations, batch 16)": (
        ["train", "text", "--corpus", "demo:pydoc", "--n-layer", "2", "--n-embd", "64",
         "--n-head", "4", "--block-size", "64", "--batch-size", "16", "--max-iters", "300",
         "--eval-interval", "150", "--eval-iters", "10", "--sample-tokens", "0"],
        "text", "val_loss"),
}

MODES = ("1 process x 1 thread", "1 process x 2 threads", "torchrun 2 processes x 1 thread")


def _command(mode: str, args: list[str], home: Path) -> list[str]:
    tail = [*args, "--home", str(home), "--device", "cpu", "--quiet"]
    if mode.startswith("torchrun"):
        return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc-per-node=2", "-m", "playground", *tail]
    threads = "2" if "2 threads" in mode else "1"
    return [sys.executable, "-m", "playground", *tail, "--threads", threads]


def run_once(mode: str, args: list[str], task: str, metric: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-torchrun-") as tmp:
        home = Path(tmp)
        env = dict(os.environ, OMP_NUM_THREADS="1" if mode.startswith("torchrun") else "2")
        start = time.perf_counter()
        proc = subprocess.run(_command(mode, args, home), capture_output=True, text=True,
                              env=env, timeout=1800)
        wall = time.perf_counter() - start
        if proc.returncode:
            raise SystemExit(f"{mode} failed:\n{proc.stderr[-3000:]}")
        runs = list((home / "runs" / task).iterdir())
        info = json.loads((runs[0] / "run.json").read_text())
        result = info["result"]
        return {"wall_s": round(wall, 2), "train_s": round(result.get("train_seconds") or 0, 2),
                metric: result.get(metric), "steps": result.get("steps"),
                "world_size": info.get("world_size"), "run_folders": len(runs),
                "ranks_in_sync": result.get("ranks_in_sync")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=str(HERE / "results" / "torchrun.json"))
    args = parser.parse_args(argv)
    report: dict = {"workloads": {}}
    for name, (cmd, task, metric) in WORKLOADS.items():
        rows: dict[str, list[dict]] = {m: [] for m in MODES}
        for r in range(args.repeats):
            for mode in MODES:  # interleaved: the machine's load affects every mode alike
                row = run_once(mode, cmd, task, metric)
                rows[mode].append(row)
                print(f"{name} | {mode} | round {r + 1}: {row}", flush=True)
        summary = {}
        for mode, got in rows.items():
            summary[mode] = {
                "wall_s_median": round(statistics.median(g["wall_s"] for g in got), 2),
                "train_s_median": round(statistics.median(g["train_s"] for g in got), 2),
                f"{metric}_mean": round(statistics.mean(g[metric] for g in got), 4),
                "runs": got}
        base = summary["1 process x 2 threads"]["train_s_median"]
        two = summary["torchrun 2 processes x 1 thread"]["train_s_median"]
        summary["train_time_ratio_torchrun_vs_1proc_2threads"] = round(two / base, 3)
        one = summary["1 process x 1 thread"]["train_s_median"]
        summary["train_time_ratio_torchrun_vs_1proc_1thread"] = round(two / one, 3)
        report["workloads"][name] = {"metric": metric, **summary}
        print(json.dumps({k: v for k, v in summary.items() if not isinstance(v, dict)}))
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
