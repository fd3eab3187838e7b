"""Image recipes: validation accuracy and wall time of the small CNN on the built-in demos.

Trains ``small_cnn`` on ``demo:digits`` and ``demo:shapes`` with each demo's recipe
(``playground.vision.demo.DEMOS[name].recipe``: 32 px, AdamW 3e-3 with a cosine schedule,
batch 16 for Shapes / 32 for Digits, no flips for digits) through the app's own training job,
on the CPU. Targets: Digits >= 97 %, Shapes >= 98 % validation accuracy, each in under 60 s
on two CPU cores. Wall time covers the whole job (data preparation, model, training,
validation, checkpoints), not the Python/torch import.

Each demo runs with 2 and with 1 torch thread: on a 2-core machine shared with other work, two
OpenMP threads can be several times slower than one, so both are recorded side by side.

Usage: ``python benchmarks/bench_image_accuracy.py [--threads 2 1] [--demos digits shapes]``
Results: ``benchmarks/results/image_accuracy.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
TARGETS = {"digits": 0.97, "shapes": 0.98}
TIME_LIMIT_S = 60.0


def run_demo(name: str, home: str) -> dict:
    from playground.core import events as ev
    from playground.core import schema
    from playground.core.jobs import CollectingContext, run_job
    from playground.vision.demo import DEMOS
    from playground.vision.train import ImageTrainConfig, make_train_job

    cfg = schema.replace(ImageTrainConfig(), **DEMOS[name].recipe)
    ctx = CollectingContext(device="cpu")
    start = time.perf_counter()
    event = run_job(make_train_job(cfg, f"demo:{name}", name=f"bench-{name}", home=home), ctx)
    wall = time.perf_counter() - start
    if not isinstance(event, ev.Finished):
        raise RuntimeError(f"{name}: {getattr(event, 'message', event)}")
    result = event.result
    curve = [round(m.value, 4) for m in ctx.of_type(ev.Metric)
             if m.name == "accuracy" and m.split == "val"]
    return {"demo": name, "recipe": DEMOS[name].recipe, "wall_s": round(wall, 2),
            "val_accuracy": result["val_accuracy"],
            "best_val_accuracy": result["best_val_accuracy"],
            "macro_f1": result["macro_f1"], "epochs": result["epochs_done"],
            "steps": result["steps"], "val_images": result["val_images"],
            "val_accuracy_per_epoch": curve, "target_accuracy": TARGETS.get(name),
            "target_wall_s": TIME_LIMIT_S,
            "meets_target": (result["val_accuracy"] >= TARGETS.get(name, 0.0)
                             and wall <= TIME_LIMIT_S)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1],
                        help="torch CPU thread counts to compare (default: 2 1)")
    parser.add_argument("--demos", nargs="+", default=["digits", "shapes"],
                        choices=sorted(TARGETS))
    args = parser.parse_args()
    import torch

    rows = []
    with tempfile.TemporaryDirectory() as home:
        for threads in args.threads:
            torch.set_num_threads(threads)
            for name in args.demos:
                row = {"threads": threads, **run_demo(name, home)}
                rows.append(row)
                print(f"{name:7s} {threads} thread(s): val accuracy {row['val_accuracy']:.4f} "
                      f"(best {row['best_val_accuracy']:.4f}) in {row['wall_s']:.1f} s, "
                      f"{row['epochs']} epochs / {row['steps']} steps; target "
                      f">= {row['target_accuracy']:.0%} in <= {TIME_LIMIT_S:.0f} s: "
                      f"{'met' if row['meets_target'] else 'NOT met'}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    out = {"benchmark": "image_accuracy", "device": "cpu", "cpu_count": os.cpu_count(),
           "load_average_1min_after": load, "torch": torch.__version__,
           "python": platform.python_version(), "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
           "results": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "image_accuracy.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"saved {path}")
    return 0 if all(r["meets_target"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
