"""The child process that imports and traces a user's Python file (never the app's process).

``python -m playground.builder.trace_worker FILE.py ClassName OUT_DIR [--input 3,32,32]
[--dtype float32|int64] [--vocab-size N]`` imports ``FILE.py``, builds ``ClassName()`` with
no arguments, traces it with :func:`playground.builder.import_fx.trace_module` and writes
``OUT_DIR/graph.json``, ``OUT_DIR/weights.safetensors`` and ``OUT_DIR/result.json``
(``{"ok": true}`` or ``{"ok": false, "message": "<one sentence>"}``). Whatever the user's code
prints goes to this process's stdout/stderr, which the parent only logs. Without ``--input``
the class's ``input_shape`` attribute is used, if it has one.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import traceback
from pathlib import Path


def _first_line(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _where(exc: BaseException, path: Path) -> str:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f" (line {exc.lineno})"
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if Path(frame.filename).resolve() == path:
            return f" (line {frame.lineno})"
    return ""


def run(path: Path, cls_name: str, out: Path, shape: str | None, dtype: str,
        vocab_size: int) -> dict:
    name = path.name
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(f"user_model_{path.stem}", path)
        if spec is None or spec.loader is None:
            return {"ok": False, "message": f"{name} cannot be imported as a Python module."}
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: BLE001 - the user's file: any failure is reported
        return {"ok": False, "message": f"{name} could not be imported{_where(exc, path)}: "
                                        f"{_first_line(exc)}."}
    cls = getattr(module, cls_name, None)
    if cls is None:
        import torch.nn as nn

        found = [k for k, v in vars(module).items()
                 if isinstance(v, type) and issubclass(v, nn.Module)
                 and v.__module__ == module.__name__]
        hint = f"; its nn.Module classes: {', '.join(found)}" if found else \
            "; it defines no nn.Module class"
        return {"ok": False, "message": f"{name} has no class {cls_name}{hint}."}
    import torch.nn as nn

    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        return {"ok": False, "message": f"{cls_name} in {name} is not an nn.Module class."}
    try:
        model = cls()
    except TypeError as exc:
        return {"ok": False, "message": f"{cls_name}() could not be built without arguments "
                                        f"({_first_line(exc)}); give its arguments defaults."}
    except BaseException as exc:  # noqa: BLE001
        return {"ok": False, "message": f"{cls_name}() failed{_where(exc, path)}: "
                                        f"{_first_line(exc)}."}
    from playground.builder.errors import PlaygroundError
    from playground.builder.import_fx import save_import, trace_module
    from playground.builder.shapes import parse_shape

    try:
        if shape is None:
            shape = getattr(model, "input_shape", None)
            if shape is None:
                return {"ok": False, "message": f"Give the input shape of {cls_name} without "
                                                "the batch (--input C,H,W), or give the class "
                                                "an input_shape attribute."}
        dims = parse_shape(shape if isinstance(shape, str) else list(shape))
        graph, weights = trace_module(model, dims, dtype, name=cls_name,
                                      vocab_size=vocab_size,
                                      description=f"{cls_name} from {name}, imported with "
                                                  "torch.fx.")
        graph_path = out / "graph.json"
        save_import(graph, weights, graph_path)
        if graph.weights:
            (out / graph.weights).rename(out / "weights.safetensors")
    except PlaygroundError as exc:
        return {"ok": False, "message": str(exc)}
    except BaseException as exc:  # noqa: BLE001
        return {"ok": False, "message": f"{cls_name} could not be converted: "
                                        f"{_first_line(exc)}."}
    return {"ok": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trace_worker")
    parser.add_argument("file")
    parser.add_argument("cls")
    parser.add_argument("out")
    parser.add_argument("--input", default=None)
    parser.add_argument("--dtype", default="float32", choices=("float32", "int64"))
    parser.add_argument("--vocab-size", type=int, default=1000)
    args = parser.parse_args(argv)
    out = Path(args.out)
    result = run(Path(args.file).resolve(), args.cls, out, args.input, args.dtype,
                 args.vocab_size)
    (out / "result.json").write_text(json.dumps(result), encoding="utf-8")
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
