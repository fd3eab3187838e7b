"""Builder: shape inference plus re-render after one edit, on ResNet-50 imported with torch.fx.

torchvision's ResNet-50 (no weights) is imported into a graph (``import_fx.import_model``,
~200 blocks), put on the Builder tab's canvas (offscreen, 1500x950, fitted), and edited
through the tab exactly as the property panel does (``BuilderTab.set_param``: a copy of the
graph for undo, ``shapes.infer`` with the tab's ShapeCache, the canvas updating the items
that changed), then the canvas viewport is repainted synchronously. Each repeat uses a new
value, so the edited block really runs again on meta tensors. Edits:

- ``head``: the classifier's out_features (one block re-runs);
- ``middle``: a BatchNorm's eps in the third stage (one block re-runs, nothing after it
  changes shape);
- ``channels``: a middle conv's out_channels (the blocks after it re-run; the next conv and
  its BatchNorm report a mismatch, so later blocks are skipped);
- ``input``: the Input's image side (every block re-runs: the worst case).

The figure is the median over repeats; a breakdown (graph copy, inference, canvas sync,
paint) is measured apart. Target: under 50 ms for an edit. Results:
``benchmarks/results/builder.json``.

Usage: ``python benchmarks/bench_builder.py [--repeats 30]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _report import write_report  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TARGET_MS = 50.0


def _ms(samples: list[float]) -> dict:
    ms = sorted(s * 1000 for s in samples)
    return {"median_ms": round(statistics.median(ms), 2),
            "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 2),
            "max_ms": round(ms[-1], 2), "n": len(ms)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)

    import torch

    from PySide6.QtWidgets import QApplication

    from playground.builder import import_fx
    from playground.builder.shapes import infer
    from playground.ui.appctx import AppContext
    from playground.ui.tabs.builder_tab import BuilderTab

    torch.set_num_threads(1)
    app = QApplication.instance() or QApplication([])
    t0 = time.perf_counter()
    graph, _weights = import_fx.import_model("torchvision:resnet50")
    import_s = time.perf_counter() - t0
    ctx = AppContext()
    ctx.torch_loaded = True
    tab = BuilderTab(ctx)
    tab.resize(1500, 950)
    tab.show()
    app.processEvents()
    t0 = time.perf_counter()
    tab.replace_graph(graph, "Import resnet50")
    tab.canvas.viewport().repaint()
    first_s = time.perf_counter() - t0
    app.processEvents()
    g = tab.graph
    convs = [n for n, node in g.nodes.items() if node.type == "Conv2d"]
    bns = [n for n, node in g.nodes.items() if node.type == "BatchNorm2d"]
    head = [n for n, node in g.nodes.items() if node.type == "Linear"][-1]
    mid_conv = convs[len(convs) // 2]
    mid_bn = bns[len(bns) // 2]
    input_id = g.input_ids()[0]
    print(f"ResNet-50: {len(g)} blocks, {len(g.edges)} connections; import {import_s:.1f} s; "
          f"first canvas {first_s * 1000:.0f} ms")

    def value(kind: str, i: int):
        if kind == "head":
            return head, "out_features", 10 + i
        if kind == "middle":
            return mid_bn, "eps", 1e-5 * (1 + i)
        if kind == "channels":
            return mid_conv, "out_channels", 64 + i
        return input_id, "shape", (3, 160 + 8 * (i % 12) + (i // 12), 224)

    edits = {}
    for kind in ("head", "middle", "channels", "input"):
        samples = []
        for i in range(args.repeats):
            tab.undo_stack.clear()
            nid, name, v = value(kind, i + 1)
            t0 = time.perf_counter()
            ok = tab.set_param(nid, name, v)
            tab.canvas.viewport().repaint()
            samples.append(time.perf_counter() - t0)
            assert ok, tab.message.text()
            app.processEvents()
            tab.undo_stack.undo() if tab.undo_stack.canUndo() else None
            app.processEvents()
        edits[kind] = {**_ms(samples), "block": nid, "param": name}
        print(f"  edit {kind:<8} ({nid}.{name}): median {edits[kind]['median_ms']:.1f} ms, "
              f"p90 {edits[kind]['p90_ms']:.1f} ms")

    # breakdown of the head edit
    copy_t, infer_t, sync_t, paint_t = [], [], [], []
    for i in range(args.repeats):
        t0 = time.perf_counter()
        work = tab.graph.copy()
        work.set_param(head, "out_features", 500 + i)
        t1 = time.perf_counter()
        report = infer(work, cache=tab.cache)
        t2 = time.perf_counter()
        tab.scene.sync(work, report)
        t3 = time.perf_counter()
        tab.canvas.viewport().repaint()
        t4 = time.perf_counter()
        copy_t.append(t1 - t0)
        infer_t.append(t2 - t1)
        sync_t.append(t3 - t2)
        paint_t.append(t4 - t3)
    tab.refresh()
    cold = []
    for _ in range(max(3, args.repeats // 10)):
        from playground.builder.shapes import ShapeCache

        t0 = time.perf_counter()
        infer(tab.graph, cache=ShapeCache())
        cold.append(time.perf_counter() - t0)
    breakdown = {"graph_copy": _ms(copy_t), "infer_with_cache": _ms(infer_t),
                 "canvas_sync": _ms(sync_t), "paint": _ms(paint_t),
                 "infer_cold_cache": _ms(cold)}
    print("  head edit breakdown (median ms): " + ", ".join(
        f"{k} {v['median_ms']:.1f}" for k, v in breakdown.items()))
    worst_typical = max(edits[k]["median_ms"] for k in ("head", "middle", "channels"))
    report = {
        "benchmark": "builder: shape inference + re-render after one edit (ResNet-50 via fx)",
        "blocks": len(g), "connections": len(g.edges), "import_s": round(import_s, 2),
        "first_canvas_ms": round(first_s * 1000, 1), "edits": edits, "breakdown": breakdown,
        "target_ms": TARGET_MS,
        "single_block_edits_under_target": worst_typical < TARGET_MS,
        "input_edit_under_target": edits["input"]["median_ms"] < TARGET_MS,
        "torch_threads": 1, "view": "1500x950 offscreen, whole graph fitted",
    }
    write_report(RESULTS / "builder.json", report)
    tab.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
