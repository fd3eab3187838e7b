"""Export a run's model to ONNX or ``.pt2``, verified against the app's own outputs.

``make_export_job(run_dir, fmt, out_dir, checkpoint="best") -> job(ctx)`` (the CLI's
``playground export`` and the GUI's Export… dialog run it):

1. opens the run with the one loader and asks its task for an :class:`ExportSpec` (the model
   in eval mode on the CPU, an example input, which dimensions are dynamic, the sidecar JSON,
   the files to copy and the ``predict.py`` to write beside it);
2. exports: ONNX through ``torch.onnx.export(..., dynamo=True)`` with a dynamic batch
   dimension, ``.pt2`` through ``torch.export.export`` + ``torch.export.save``
   (TorchScript is deprecated in our torch and not used);
3. checks parity: runs the exported file (onnxruntime for ONNX, ``torch.export.load`` for
   ``.pt2``) on inputs of *another* batch size than the traced one, compares with the
   PyTorch model's outputs, and reports the largest absolute difference and the top-1
   agreement. Above :data:`TOLERANCE` the export is refused with the numbers
   (:class:`ExportError`) and its files are removed, never reported as done;
4. writes the sidecar (``model.json``: labels, preprocessing), any extra files, and a
   ``predict.py`` that needs only onnxruntime, numpy and Pillow.

Which tasks can export is the :data:`SPECS` table; a task not in it is refused with a sentence
saying which can. Qt-free; torch is imported when the job runs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.core import events as ev
from playground.core.errors import ConfigError, PlaygroundError, StorageError
from playground.core.jobs import JobContext

FORMATS = ("onnx", "pt2")
TOLERANCE = 1e-4  # largest absolute difference allowed in float32
MODEL_FILE = {"onnx": "model.onnx", "pt2": "model.pt2"}


class ExportError(PlaygroundError):
    """The model could not be exported, or the export does not compute what the app does."""


@dataclass
class ExportSpec:
    """What a task gives the exporter. ``example`` is traced; ``check`` (another batch size)
    is what parity is measured on; ``dynamic`` maps input position -> {dim: name}."""

    model: Any
    example: tuple
    check: tuple
    input_names: list[str]
    output_names: list[str]
    dynamic: dict[int, dict[int, str]]
    sidecar: dict[str, Any]
    predict_script: str = ""                       # predict.py text (ONNX exports)
    extra_files: dict[str, Path] = field(default_factory=dict)  # name -> file to copy


# task -> "module:function" giving its ExportSpec from a RunSpec; named, not imported, so core
# imports no task package (the task module is loaded only when one of its runs is exported)
SPECS: dict[str, str] = {"image": "playground.vision.export_spec:image_export_spec"}


def spec_for(run_spec) -> ExportSpec:
    import importlib

    target = SPECS.get(run_spec.task)
    if target is None:
        raise ConfigError(f"Export of {run_spec.task} runs is not available yet; "
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
        probe = tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-", delete=True)
        probe.close()
    except OSError as exc:
        raise StorageError(f"Cannot write to {out} ({exc.strerror or exc}): choose a folder "
                           "you can write to.") from exc
    return out


def _operator_hint(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0][:200] if text else type(exc).__name__
    return first


def export_onnx(es: ExportSpec, path: Path) -> None:
    import torch

    dynamic = {name: {d: torch.export.Dim(label, min=1, max=4096) for d, label in dims.items()}
               for name, dims in ((es.input_names[i], dims) for i, dims in es.dynamic.items())}
    shapes = tuple(dynamic.get(name) for name in es.input_names)
    program = torch.onnx.export(es.model, es.example, dynamo=True, dynamic_shapes=shapes,
                                input_names=es.input_names, output_names=es.output_names,
                                verbose=False)
    if program is None:
        raise ExportError("The ONNX exporter returned nothing for this model.")
    program.save(str(path))


def export_pt2(es: ExportSpec, path: Path) -> None:
    import torch

    shapes = tuple({d: torch.export.Dim(label, min=1, max=4096) for d, label in
                    es.dynamic.get(i, {}).items()} or None for i in range(len(es.example)))
    program = torch.export.export(es.model, es.example, dynamic_shapes=shapes)
    torch.export.save(program, str(path))


def run_exported(fmt: str, path: Path, es: ExportSpec):
    """The exported file's first output on ``es.check`` as a numpy array."""
    import numpy as np
    import torch

    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feeds = {name: t.numpy() for name, t in zip(es.input_names, es.check, strict=True)}
        return np.asarray(session.run(None, feeds)[0])
    program = torch.export.load(str(path))
    with torch.no_grad():
        out = program.module()(*es.check)
    out = out[0] if isinstance(out, (tuple, list)) else out
    return out.detach().numpy()


def parity(fmt: str, path: Path, es: ExportSpec) -> dict[str, Any]:
    import numpy as np
    import torch

    with torch.no_grad():
        want = es.model(*es.check)
    want = (want[0] if isinstance(want, (tuple, list)) else want).detach().float().numpy()
    got = run_exported(fmt, path, es).astype(np.float32)
    if got.shape != want.shape:
        raise ExportError(f"The exported model's output has shape {got.shape}, the app's "
                          f"{want.shape}: the export is wrong and was not kept.")
    diff = float(np.abs(got - want).max()) if want.size else 0.0
    agree = float((got.argmax(-1) == want.argmax(-1)).mean()) if want.ndim >= 2 else 1.0
    return {"max_abs_diff": diff, "top1_agreement": agree, "samples": int(want.shape[0]),
            "batch_size": int(es.check[0].shape[0]), "traced_batch_size":
            int(es.example[0].shape[0]), "seq_len": None, "tolerance": TOLERANCE,
            "ok": diff <= TOLERANCE and agree == 1.0}


def make_export_job(run_dir: str | os.PathLike, fmt: str, out_dir: str | os.PathLike,
                    checkpoint: str = "best") -> Callable[[JobContext], dict[str, Any]]:
    def job(ctx: JobContext) -> dict[str, Any]:
        from playground.core import loader

        out = check_request(fmt, out_dir)
        spec = loader.open_for_inference(run_dir, None, checkpoint=checkpoint)
        ctx.emit(ev.Progress(0, 3, "export", unit="stage"))
        ctx.emit(ev.Log(f"Loading {spec.run.name} ({spec.which} checkpoint)…"))
        es = spec_for(spec)
        ctx.check_cancelled()
        path = out / MODEL_FILE[fmt]
        ctx.emit(ev.Log(f"Exporting to {fmt.upper()}…"))
        start = time.perf_counter()
        try:
            (export_onnx if fmt == "onnx" else export_pt2)(es, path)
        except PlaygroundError:
            raise
        except Exception as exc:  # noqa: BLE001 - the exporter's many failure types
            path.unlink(missing_ok=True)
            raise ExportError(f"This model does not export to {fmt.upper()} "
                              f"({_operator_hint(exc)}); try the other format, or report "
                              "it with the log.") from exc
        seconds = time.perf_counter() - start
        ctx.emit(ev.Progress(1, 3, "export", unit="stage"))
        ctx.check_cancelled()
        ctx.emit(ev.Log("Checking the exported file against the app's outputs…"))
        figures = parity(fmt, path, es)
        if not figures["ok"]:
            path.unlink(missing_ok=True)
            raise ExportError(
                f"The exported model differs from the app's by up to "
                f"{figures['max_abs_diff']:.2e} (tolerance {TOLERANCE:g}), top-1 agreement "
                f"{figures['top1_agreement']:.1%}: the export was not kept.")
        ctx.emit(ev.Progress(2, 3, "export", unit="stage"))
        files = [path]
        sidecar = {**es.sidecar, "format": fmt, "file": path.name,
                   "inputs": es.input_names, "outputs": es.output_names,
                   "run": spec.run.name, "checkpoint": spec.which, "parity": figures}
        (out / "model.json").write_text(json.dumps(sidecar, indent=1), encoding="utf-8")
        files.append(out / "model.json")
        for name, source in es.extra_files.items():
            shutil.copyfile(source, out / name)
            files.append(out / name)
        if fmt == "onnx" and es.predict_script:
            (out / "predict.py").write_text(es.predict_script, encoding="utf-8")
            files.append(out / "predict.py")
        ctx.emit(ev.Progress(3, 3, "export", unit="stage"))
        ctx.emit(ev.Log(f"Exported {spec.run.name} to {out}: largest difference "
                        f"{figures['max_abs_diff']:.2e}, top-1 agreement "
                        f"{figures['top1_agreement']:.1%}."))
        return {"files": [str(f) for f in files], "format": fmt, "out_dir": str(out),
                "parity": figures, "export_seconds": round(seconds, 2),
                "size_bytes": path.stat().st_size, "task": spec.task, "model": spec.model}

    return job
