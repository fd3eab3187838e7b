"""``playground builder ...``: the Builder's graphs without the canvas.

- ``builder templates`` — the templates, name and one line each.
- ``builder blocks`` — the block palette by group, one line each.
- ``builder check GRAPH.json | --template NAME [--input C,H,W]`` — each block's output shape
  and parameters, the total and the activation memory; on a mismatch the error names the
  block, says what it expected and got, and the command exits 1.
- ``builder export GRAPH.json | --template NAME --python OUT.py [--json OUT.json]`` — readable
  PyTorch source (and/or the graph as JSON); a graph saved with weights also gets
  ``OUT.safetensors`` that loads into the exported class.
- ``builder import MODEL_NAME | torchvision:NAME | FILE.py:ClassName --out GRAPH.json`` —
  trace a model with torch.fx into a graph (a user's file is imported in a separate process),
  its weights saved as ``GRAPH.safetensors`` next to it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _shape(text: str) -> tuple[int, ...]:
    from playground.builder.shapes import parse_shape
    from playground.core.errors import PlaygroundError

    try:
        return parse_shape(text)
    except PlaygroundError:
        raise argparse.ArgumentTypeError(
            f"must be whole numbers of at least 1 separated by commas, such as 3,32,32 "
            f"(got {text!r})") from None


def register(groups, common) -> None:
    parser = groups["root"].add_parser(
        "builder", help="check, export and import Builder graphs",
        description="The Builder's networks without the canvas: list templates and blocks, "
                    "check shapes and parameters, export PyTorch source, import a model "
                    "with torch.fx.")
    sub = parser.add_subparsers(dest="builder_command", metavar="COMMAND", required=True)

    p = sub.add_parser("templates", help="list the templates (name and one line each)")
    p.add_argument("--json", action="store_true", help="print JSON")
    common.add_verbose(p, default=argparse.SUPPRESS)
    p.set_defaults(handler=_templates)

    p = sub.add_parser("blocks", help="list the blocks of the palette by group")
    p.add_argument("--json", action="store_true", help="print JSON (with parameter schemas)")
    common.add_verbose(p, default=argparse.SUPPRESS)
    p.set_defaults(handler=_blocks)

    p = sub.add_parser(
        "check", help="print each block's output shape and parameters",
        description="Infer every block's output shape (PyTorch's own modules on meta "
                    "tensors) and parameter count. On a mismatch the error names the block "
                    "and says what it expected and got; the exit code is then 1.")
    _add_source(p)
    p.add_argument("--json", action="store_true", help="print the whole report as JSON")
    common.add_verbose(p, default=argparse.SUPPRESS)
    p.set_defaults(handler=_check)

    p = sub.add_parser(
        "export", help="write the graph as PyTorch source (and/or JSON)",
        description="Write readable PyTorch source (an nn.Module class) that reproduces the "
                    "network; the file is written, never run. --json writes the graph "
                    "itself (a template to edit, for example).")
    _add_source(p)
    p.add_argument("--python", metavar="OUT.py", default=None, help="source file to write")
    p.add_argument("--json", metavar="OUT.json", default=None, dest="json_out",
                   help="graph file to write")
    p.add_argument("--class-name", default=None, metavar="NAME",
                   help="name of the exported class (default: from the graph's name)")
    common.add_verbose(p, default=argparse.SUPPRESS)
    p.set_defaults(handler=_export)

    p = sub.add_parser(
        "import", help="trace a model into a graph with torch.fx",
        description="Trace a model with torch.fx into an editable graph: a registry model "
                    "(resnet18, small_cnn ...), torchvision:NAME (any torchvision "
                    "classifier, weights=None), or FILE.py:ClassName (imported and traced in "
                    "a separate process). Its weights go to GRAPH.safetensors next to it.")
    p.add_argument("model", metavar="MODEL_NAME|FILE.py:ClassName")
    p.add_argument("--out", required=True, metavar="GRAPH.json", help="graph file to write")
    p.add_argument("--input", type=_shape, default=None, metavar="C,H,W",
                   help="the model's input shape without the batch (default: the model's "
                        "usual one; a file's class may give input_shape)")
    p.add_argument("--dtype", choices=("float32", "int64"), default="float32",
                   help="input dtype for FILE.py models (int64 = token ids)")
    p.add_argument("--classes", type=common.int_range(1, 1_000_000), default=10,
                   help="outputs of a registry model's head (default 10)")
    p.add_argument("--no-weights", action="store_true", help="do not save the weights")
    p.add_argument("--timeout", type=common.float_range(1, 3600), default=120.0,
                   metavar="SECONDS", help="limit for importing a FILE.py (default 120)")
    common.add_verbose(p, default=argparse.SUPPRESS)
    p.set_defaults(handler=_import)


def _add_source(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph", nargs="?", default=None, metavar="GRAPH.json",
                   help="a saved graph file")
    p.add_argument("--template", default=None, metavar="NAME",
                   help="a template instead of a file (see `playground builder templates`)")
    p.add_argument("--input", type=_shape, default=None, metavar="C,H,W",
                   help="input shape without the batch (default: the graph's Input block)")


def _load(args: argparse.Namespace):
    from playground.builder import templates
    from playground.builder.errors import GraphError
    from playground.builder.graph import Graph

    if (args.graph is None) == (args.template is None):
        raise GraphError("Give a graph file or --template NAME (one of them).")
    if args.template is not None:
        return templates.build(args.template), None
    path = Path(args.graph)
    return Graph.load(path), path


def _templates(args: argparse.Namespace) -> int:
    from playground.builder import templates
    from playground.builder.params import format_shape

    if args.json:
        print(json.dumps([{"name": t.name, "title": t.title, "description": t.description,
                           "input_shape": list(t.input_shape)}
                          for t in templates.TEMPLATES.values()], indent=2))
        return 0
    width = max(len(n) for n in templates.TEMPLATES)
    for t in templates.TEMPLATES.values():
        print(f"{t.name:<{width}}  {t.description} (input {format_shape(t.input_shape)})")
    return 0


def _blocks(args: argparse.Namespace) -> int:
    from playground.builder import blocks

    if args.json:
        print(json.dumps([b.spec() for b in blocks.BLOCKS.values()], indent=2))
        return 0
    width = max(len(n) for n in blocks.BLOCKS)
    for group, members in blocks.by_group().items():
        print(f"{group}:")
        for b in members:
            print(f"  {b.name:<{width}}  {b.doc}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from playground.builder import shapes
    from playground.builder.errors import GraphError

    graph, _path = _load(args)
    report = shapes.infer(graph, args.input)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(f"{graph.name}: {graph.description}" if graph.description else graph.name)
        for line in shapes.describe(report):
            print(line)
    sys.stdout.flush()
    for problem in report.problems:
        if problem.severity != "error":
            print(f"warning: {problem.message}", file=sys.stderr)
    errors = report.errors
    if errors:
        if len(errors) > 1:
            for problem in errors[1:]:
                print(f"also: {problem.message}", file=sys.stderr)
        raise GraphError(errors[0].message)
    if report.output_shape is None:
        raise GraphError("The network has no output: connect the Input to at least one block.")
    return 0


def _export(args: argparse.Namespace) -> int:
    from playground.builder import codegen
    from playground.builder.errors import GraphError

    if not args.python and not args.json_out:
        raise GraphError("Say what to write: --python OUT.py and/or --json OUT.json.")
    if args.class_name is not None and not args.class_name.isidentifier():
        raise GraphError(f"--class-name must be a Python identifier (got {args.class_name!r}).")
    graph, path = _load(args)
    if args.input is not None:
        input_ids = graph.input_ids()
        if input_ids:
            graph.set_param(input_ids[0], "shape", args.input)
    if args.json_out:
        written = graph.copy()
        written.weights = None
        if graph.weights:
            print("note: the graph's weights file is not copied with --json", file=sys.stderr)
        print(written.save(args.json_out))
    if args.python:
        out = codegen.write_python(graph, args.python, name=args.class_name)
        print(out)
        weights = _graph_weights(graph, path)
        if weights is not None:
            from playground.builder.build import build_module
            from playground.core.checkpoint import save_weights

            module = build_module(graph, weights=weights)
            target = Path(args.python).with_suffix(".safetensors")
            save_weights(module, target)
            print(target)
    return 0


def _graph_weights(graph, path):
    from playground.builder.build import weights_path

    if path is None:
        return None
    file = weights_path(path, graph)
    return file if file is not None and file.is_file() else None


def _import(args: argparse.Namespace) -> int:
    from playground.builder import import_fx, shapes

    if args.model.endswith(".py") or ".py:" in args.model:
        graph, weights = import_fx.import_python_file(
            args.model, args.input, dtype=args.dtype, timeout=args.timeout)
    else:
        graph, weights = import_fx.import_model(args.model, args.input, args.classes)
    graph_file, weights_file = import_fx.save_import(graph, weights, args.out,
                                                     keep_weights=not args.no_weights)
    report = shapes.infer(graph)
    print(f"{graph.name}: {len(graph)} blocks, {report.total_params:,} parameters, output "
          f"{shapes.format_shape(report.output_shape)}", file=sys.stderr)
    print(graph_file)
    if weights_file is not None:
        print(weights_file)
    return 0
