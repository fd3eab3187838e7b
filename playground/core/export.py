"""Export a run's model to ONNX or ``.pt2``, verified against the app's own outputs.

``make_export_job(run_dir, fmt, out_dir, checkpoint="best") -> job(ctx)`` (the CLI's
``playground export`` and the GUI's Export… dialog run it):

1. opens the run with the one loader (:func:`playground.core.loader.open_for_inference`) and
   asks its task for an :class:`ExportSpec` (the :data:`SPECS` table names the function): one
   or more graphs to export (a module in eval mode on the CPU, example inputs, which dimensions
   are dynamic), a parity ``check``, the sidecar JSON, files to copy and the ``predict.py``;
2. captures each graph once with ``torch.export.export`` (dynamic batch, and sequence length
   where the task has one) and writes it: ONNX through ``torch.onnx.export(program,
   dynamo=True)``, ``.pt2`` through ``torch.export.save``. TorchScript is deprecated in our
   torch and not used;
3. checks parity: the task's ``check`` runs the written files (onnxruntime for ONNX,
   ``torch.export.load`` for ``.pt2``) on held-out samples of the run's data where they can be
   had (else deterministic synthetic inputs of the right kind), at a batch size and sequence
   length other than the traced ones, and compares them with the app's PyTorch outputs: the
   largest absolute difference and the top-1 agreement. Above :data:`TOLERANCE` the export is
   refused with the numbers (:class:`ExportError`) and its files are removed, never reported
   as done. The tolerance is absolute for outputs within ±1 and relative to the largest
   value of an output beyond that (float32 keeps about 7 digits: logits of 400 are 3e-5
   apart from their neighbours, so two correct engines differ there by more than 1e-4);
   integer and boolean outputs must match exactly;
4. writes ``model.json`` (the sidecar: labels, preprocessing, special tokens, the parity
   figures), the extra files (SentencePiece models) and, for ONNX, a ``predict.py`` that
   needs only onnxruntime and numpy (plus Pillow, soundfile or sentencepiece to read inputs).

Qt-free; torch is imported when the job runs.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.core import events as ev
from playground.core.errors import ConfigError, PlaygroundError, StorageError
from playground.core.jobs import JobContext

FORMATS = ("onnx", "pt2")
TOLERANCE = 1e-4  # largest difference allowed in float32 (relative beyond ±1, see above)
SUFFIX = {"onnx": ".onnx", "pt2": ".pt2"}
MODEL_FILE = {"onnx": "model.onnx", "pt2": "model.pt2"}  # single-graph exports

# task -> "module:function" giving its ExportSpec from a RunSpec; named, not imported, so core
# imports no task package (the task module is loaded only when one of its runs is exported)
SPECS: dict[str, str] = {
    "image": "playground.vision.export_spec:image_export_spec",
    "text": "playground.text.export_spec:text_export_spec",
    "translate": "playground.text.translate_export:translate_export_spec",
    "speech": "playground.speech.export_spec:speech_export_spec",
}


class ExportError(PlaygroundError):
    """The model could not be exported, or the export does not compute what the app does."""


@dataclass
class Graph:
    """One file to export: ``module(*example)`` is traced; ``dynamic`` maps an input's name
    to ``{axis: dimension name}`` (names shared across inputs and graphs are one dimension)."""

    name: str                          # file stem: "model", "encoder", "decoder"
    module: Any
    example: tuple
    input_names: list[str]
    output_names: list[str]
    dynamic: dict[str, dict[int, str]] = field(default_factory=dict)


@dataclass
class Comparison:
    """An exported output and the app's output for the same input. With ``scores`` the last
    axis holds class (token, symbol) scores and top-1 agreement is counted over the other
    axes, on the positions where ``valid`` (same shape without the last axis) is True."""

    name: str
    got: Any
    want: Any
    scores: bool = False
    valid: Any = None


Runner = Callable[[str, Sequence[Any]], list]  # (graph name, inputs) -> numpy outputs


@dataclass
class ExportSpec:
    """What a task gives the exporter (see the module docstring).

    ``check(run)`` runs the exported graphs through ``run`` and returns the comparisons;
    ``inputs`` describes what it ran on: ``samples``, ``batch_size``, ``seq_len`` (None
    without a sequence), ``traced_batch_size``, ``traced_seq_len``, ``source`` (in words).
    """

    graphs: list[Graph]
    check: Callable[[Runner], list[Comparison]]
    inputs: dict[str, Any]
    sidecar: dict[str, Any]
    dims: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (min, max)
    predict_script: str = ""                                        # ONNX exports
    extra_files: dict[str, Path] = field(default_factory=dict)     # name -> file to copy
    notes: list[str] = field(default_factory=list)                 # logged before export


def spec_for(run_spec) -> ExportSpec:
    target = SPECS.get(run_spec.task)
    if target is None:
        raise ConfigError(f"Export of {run_spec.task or 'unknown'} runs is not available; "
                          f"{', '.join(sorted(SPECS))} runs can be exported.")
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)(run_spec)


def check_request(fmt: str, out_dir: str | os.PathLike) -> Path:
    if fmt not in FORMATS:
        raise ConfigError(f"Unknown export format {fmt!r}: use one of {', '.join(FORMATS)}.")
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise StorageError(f"{out} is a file, not a folder: choose a folder to export to.")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-", delete=True):
            pass
    except OSError as exc:
        raise StorageError(f"Cannot write to {out} ({exc.strerror or exc}): choose a folder "
                           "you can write to.") from exc
    return out


# ------------------------------------------------------------------------------------------
# Capture and write
# ------------------------------------------------------------------------------------------
def failing_operator(exc: BaseException) -> str | None:
    """The operator an exporter error names (``aten.stft``, ``mylib.op``), if any."""
    text = str(exc)
    for pattern in (r"OpOverload\(op='([\w.]+)'", r"No ONNX function found for ([\w.:]+)",
                    r"\b(aten\.[a-z_]\w*)", r"\b(aten::[a-z_]\w*)"):
        match = re.search(pattern, text)
        if match:
            return match.group(1).removesuffix(".default")
    return None


def _first_line(exc: BaseException) -> str:
    for line in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines():
        line = line.strip()
        if line and not line.startswith(("Traceback", "File ")):
            return line[:200].rstrip(".:")
    return type(exc).__name__


def _capture(graph: Graph, dims: dict[str, tuple[int, int]]):
    import torch

    made: dict[str, Any] = {}

    def dim(name: str):
        if name not in made:
            low, high = dims.get(name, (1, 1 << 16))
            made[name] = torch.export.Dim(name, min=low, max=high)
        return made[name]

    shapes = tuple({axis: dim(label) for axis, label in graph.dynamic.get(name, {}).items()}
                   or None for name in graph.input_names)
    with torch.no_grad():
        return torch.export.export(graph.module, graph.example, dynamic_shapes=shapes,
                                   strict=False)


def _write(fmt: str, program, graph: Graph, path: Path) -> None:
    import torch

    if fmt == "pt2":
        with warnings.catch_warnings():  # torch's note on weights that share storage (CPU here)
            warnings.filterwarnings("ignore", message="No complete tensor found")
            torch.export.save(program, str(path))
        return
    onnx_program = torch.onnx.export(program, dynamo=True, input_names=graph.input_names,
                                     output_names=graph.output_names, verbose=False)
    if onnx_program is None:
        raise ExportError("The ONNX exporter returned nothing for this model.")
    onnx_program.save(str(path))


def _export_failed(fmt: str, graph: Graph, stage: str, exc: BaseException) -> ExportError:
    op = failing_operator(exc)
    what = f"the {graph.name} graph of this model" if graph.name != "model" else "this model"
    other = "pt2" if fmt == "onnx" else "onnx"
    if stage == "capture":
        reason = f"torch.export cannot trace {what} ({_first_line(exc)})"
        advice = (f"the operator {op} is the one it stopped at; " if op else "") + \
            "it needs code torch.export can follow (no data-dependent Python control flow)"
    else:
        reason = (f"the operator {op} used by {what} has no ONNX translation" if op else
                  f"the ONNX exporter failed on {what} ({_first_line(exc)})")
        advice = (f"export to .pt2 instead (--format {other}), or replace {op or 'it'} "
                  "in the model with an operator ONNX supports")
    return ExportError(f"Export to {fmt.upper()} failed: {reason}; {advice}.")


def export_graphs(fmt: str, es: ExportSpec, out: Path, ctx: JobContext | None = None
                  ) -> dict[str, Path]:
    """Capture and write every graph of ``es``; ``{graph name: file}``."""
    single = len(es.graphs) == 1
    paths: dict[str, Path] = {}
    try:
        for graph in es.graphs:
            if ctx is not None:
                ctx.check_cancelled()
                ctx.emit(ev.Log(f"Exporting {graph.name} to {fmt.upper()}…"))
            path = out / (MODEL_FILE[fmt] if single else graph.name + SUFFIX[fmt])
            try:
                program = _capture(graph, es.dims)
            except PlaygroundError:
                raise
            except Exception as exc:  # noqa: BLE001 - torch.export's many failure types
                raise _export_failed(fmt, graph, "capture", exc) from exc
            paths[graph.name] = path
            try:
                _write(fmt, program, graph, path)
            except PlaygroundError:
                raise
            except OSError as exc:
                raise StorageError(f"Cannot write {path} ({exc.strerror or exc}): free some "
                                   "space or choose another folder.") from exc
            except Exception as exc:  # noqa: BLE001 - the ONNX exporter's failure types
                raise _export_failed(fmt, graph, "write", exc) from exc
    except BaseException:
        for path in paths.values():
            _remove(path)
        raise
    return paths


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    Path(str(path) + ".data").unlink(missing_ok=True)  # ONNX external weights, if any


# ------------------------------------------------------------------------------------------
# Parity
# ------------------------------------------------------------------------------------------
def make_runner(fmt: str, paths: dict[str, Path], graphs: Sequence[Graph]) -> Runner:
    """``run(graph name, inputs) -> list of numpy outputs`` over the written files."""
    import numpy as np
    import torch

    names = {g.name: g for g in graphs}
    loaded: dict[str, Any] = {}

    def load(name: str):
        if name not in loaded:
            if fmt == "onnx":
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.log_severity_level = 3
                loaded[name] = ort.InferenceSession(str(paths[name]), options,
                                                    providers=["CPUExecutionProvider"])
            else:
                loaded[name] = torch.export.load(str(paths[name])).module()
        return loaded[name]

    def as_numpy(x):
        return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)

    def run(name: str, inputs: Sequence[Any]) -> list:
        session = load(name)
        if fmt == "onnx":
            feeds = {n: as_numpy(x) for n, x in zip(names[name].input_names, inputs,
                                                     strict=True)}
            return [np.asarray(o) for o in session.run(None, feeds)]
        args = [torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x
                for x in inputs]
        with torch.no_grad():
            out = session(*args)
        out = out if isinstance(out, (tuple, list)) else (out,)
        return [as_numpy(o) for o in out]

    return run


def measure(comparisons: Sequence[Comparison]) -> dict[str, Any]:
    """Largest absolute difference and top-1 agreement over ``comparisons``, and the largest
    difference scaled by each output's size (``max(1, largest |value|)``; 1 for integer and
    boolean outputs), the figure :data:`TOLERANCE` applies to."""
    import numpy as np

    worst, worst_scaled, worst_scale, agree, counted, per = 0.0, 0.0, 1.0, 0, 0, {}
    for c in comparisons:
        got, want = np.asarray(c.got), np.asarray(c.want)
        if got.shape != want.shape:
            raise ExportError(f"The exported {c.name} has shape {tuple(got.shape)}, the app's "
                              f"{tuple(want.shape)}: the export is wrong and was not kept.")
        if want.dtype == bool or got.dtype == bool:
            diff = float((got != want).sum())
        else:
            diff = float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max()) \
                if want.size else 0.0
        if not np.isfinite(diff):
            diff = float("inf")
        scale = 1.0
        if want.size and np.issubdtype(want.dtype, np.floating):
            largest = float(np.abs(want).max())
            scale = max(1.0, largest) if np.isfinite(largest) else 1.0
        per[c.name] = diff
        worst = max(worst, diff)
        if diff / scale >= worst_scaled:
            worst_scaled, worst_scale = diff / scale, scale
        if c.scores and want.size:
            same = got.argmax(-1) == want.argmax(-1)
            mask = np.ones(same.shape, bool) if c.valid is None else np.asarray(c.valid, bool)
            agree += int(same[mask].sum())
            counted += int(mask.sum())
    return {"max_abs_diff": worst, "max_scaled_diff": worst_scaled, "scale": worst_scale,
            "top1_agreement": agree / counted if counted else 1.0,
            "top1_positions": counted, "per_output": per}


def direct_check(graph: str, inputs: Sequence[Any], want: Sequence[Any],
                 names: Sequence[str], scores: Sequence[bool] = (True,),
                 valid: Sequence[Any] = ()) -> Callable[[Runner], list[Comparison]]:
    """The usual ``check``: run ``graph`` once on ``inputs`` and compare its outputs with the
    app's ``want`` (output ``i`` named ``names[i]``; ``scores[i]`` counts its top-1)."""

    def check(run: Runner) -> list[Comparison]:
        got = run(graph, inputs)
        return [Comparison(names[i], got[i], w, i < len(scores) and scores[i],
                           valid[i] if i < len(valid) else None) for i, w in enumerate(want)]

    return check


def parity(fmt: str, paths: dict[str, Path], es: ExportSpec) -> dict[str, Any]:
    figures = measure(es.check(make_runner(fmt, paths, es.graphs)))
    inputs = {k: es.inputs.get(k) for k in ("samples", "batch_size", "seq_len",
                                             "traced_batch_size", "traced_seq_len", "source")}
    return {**figures, **inputs, "tolerance": TOLERANCE,
            "ok": figures["max_scaled_diff"] <= TOLERANCE}


def scaled_note(figures: dict[str, Any]) -> str:
    """``", 1.2e-06 relative to outputs as large as 413"`` where the tolerance was relative."""
    if figures.get("scale", 1.0) <= 1.0:
        return ""
    return (f", {figures['max_scaled_diff']:.2e} relative to outputs as large as "
            f"{figures['scale']:.3g}")


def parity_failure(figures: dict[str, Any]) -> str:
    return (f"The exported model differs from the app's by up to {figures['max_abs_diff']:.2e}"
            f"{scaled_note(figures)} (tolerance {TOLERANCE:g}; top-1 agreement "
            f"{figures['top1_agreement']:.1%} on {figures['samples']} samples at batch "
            f"{figures['batch_size']}), so the export is wrong and was not kept; report it with "
            "the log.")


# ------------------------------------------------------------------------------------------
# The job
# ------------------------------------------------------------------------------------------
def make_export_job(run_dir: str | os.PathLike, fmt: str, out_dir: str | os.PathLike,
                    checkpoint: str = "best") -> Callable[[JobContext], dict[str, Any]]:
    """``job(ctx)`` exporting ``run_dir``'s ``checkpoint`` as ``fmt`` into ``out_dir``; see
    the module docstring. Returns ``files``, ``format``, ``out_dir``, ``parity``,
    ``export_seconds``, ``size_bytes``, ``task``, ``model``."""

    def job(ctx: JobContext) -> dict[str, Any]:
        from playground.core import loader

        out = check_request(fmt, out_dir)
        spec = loader.open_for_inference(run_dir, None, checkpoint=checkpoint)
        ctx.emit(ev.Progress(0, 3, "export", unit="stage"))
        ctx.emit(ev.Log(f"Loading {spec.run.name} ({spec.which} checkpoint)…"))
        es = spec_for(spec)
        for note in es.notes:
            ctx.emit(ev.Log(note))
        ctx.check_cancelled()
        start = time.perf_counter()
        paths = export_graphs(fmt, es, out, ctx)
        seconds = time.perf_counter() - start
        files = list(paths.values())
        try:
            ctx.emit(ev.Progress(1, 3, "export", unit="stage"))
            ctx.check_cancelled()
            ctx.emit(ev.Log(f"Checking the exported file{'s' * (len(files) > 1)} against the "
                            f"app's outputs ({es.inputs.get('source', 'test inputs')})…"))
            figures = parity(fmt, paths, es)
            if not figures["ok"]:
                raise ExportError(parity_failure(figures))
        except BaseException:
            for path in files:
                _remove(path)
            raise
        ctx.emit(ev.Progress(2, 3, "export", unit="stage"))
        sidecar = {**es.sidecar, "format": fmt,
                   "files": {name: path.name for name, path in paths.items()},
                   "inputs": {g.name: g.input_names for g in es.graphs},
                   "outputs": {g.name: g.output_names for g in es.graphs},
                   "run": spec.run.name, "checkpoint": spec.which, "parity": figures}
        if len(paths) == 1:
            sidecar["file"] = files[0].name
        try:
            (out / "model.json").write_text(json.dumps(sidecar, indent=1), encoding="utf-8")
            files.append(out / "model.json")
            for name, source in es.extra_files.items():
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, out / name)
                files.append(out / name)
            if fmt == "onnx" and es.predict_script:
                (out / "predict.py").write_text(es.predict_script, encoding="utf-8")
                files.append(out / "predict.py")
        except OSError as exc:
            raise StorageError(f"Cannot write to {out} ({exc.strerror or exc}): free some "
                               "space or choose another folder.") from exc
        ctx.emit(ev.Progress(3, 3, "export", unit="stage"))
        ctx.emit(ev.Log(f"Exported {spec.run.name} to {out}: largest difference "
                        f"{figures['max_abs_diff']:.2e}, top-1 agreement "
                        f"{figures['top1_agreement']:.1%}."))
        size = sum(p.stat().st_size for p in paths.values())
        size += sum(Path(str(p) + ".data").stat().st_size for p in paths.values()
                    if Path(str(p) + ".data").exists())
        return {"files": [str(f) for f in files], "format": fmt, "out_dir": str(out),
                "parity": figures, "export_seconds": round(seconds, 2), "size_bytes": size,
                "task": spec.task, "model": spec.model}

    return job
