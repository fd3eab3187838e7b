"""CLI commands of the translate task.

``playground train translate --pairs FILE|demo:numbers-en-fr [--epochs N] …``: every
:class:`~playground.text.translate_train.TranslateConfig` field is a kebab-case flag
(``--n-layer 2 --tokenizer bpe:2000 --no-shared-vocab --swap …``), plus ``--init-from`` /
``--freeze``. Progress, evaluations (with sacreBLEU's signature) and sample translations go to
stderr; stdout gets the final and best validation BLEU, chrF, and the run folder last.

``playground translate --run DIR "text" [--beam N] [--nbest K] [--json]`` prints the
translation as its last line (``--nbest K``: K lines ``score<TAB>translation``, best first;
``--json``: one JSON object with the n-best list and scores). ``--input FILE`` (``-`` for
stdin) translates one sentence per line and prints one translation per line, in order,
nothing else on stdout (an empty line gives an empty line; with ``--json`` one object per
line). ``--run`` defaults to the newest translate run. Characters never seen in training are
named on stderr; the translation goes on without them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(groups, common) -> None:
    from playground.cli import fork
    from playground.core import schema
    from playground.text.numbers_fr import DEMO_SPEC
    from playground.text.translate_predict import MAX_BEAM
    from playground.text.translate_train import TranslateConfig

    train = groups["train"].add_parser(
        "translate", help="train a translation model on sentence pairs",
        description="Train an encoder-decoder Transformer (or a GRU/LSTM with attention) on "
                    "tab-separated sentence pairs. Every option of the Translate form is a "
                    "flag.")
    train.add_argument("--pairs", required=True, metavar="FILE",
                       help=f"tab-separated pairs (source<TAB>target per line) or {DEMO_SPEC} "
                            "(built in)")
    train.add_argument("--name", default=None, help="run name (default: model and data)")
    schema.add_arguments(train, TranslateConfig)
    fork.add_init_arguments(train)
    common.add_common(train)
    train.set_defaults(handler=_train)

    tr = groups["root"].add_parser(
        "translate", help="translate text with a trained translate run",
        description="Translate a sentence, or a file of sentences (one a line), with a "
                    "trained translate run.")
    tr.add_argument("text", nargs="?", default=None, help="the sentence to translate")
    tr.add_argument("--run", default=None, metavar="DIR",
                    help="run folder (default: the newest translate run with a checkpoint)")
    tr.add_argument("--input", default=None, metavar="FILE",
                    help="translate each line of FILE ('-': standard input); one translation "
                         "per line on stdout")
    tr.add_argument("--beam", type=common.int_range(1, MAX_BEAM), default=4, metavar="N",
                    help="beam width (1 = greedy; default 4)")
    tr.add_argument("--nbest", type=common.int_range(1, MAX_BEAM), default=1, metavar="K",
                    help="list the K best translations with their scores (K <= beam)")
    tr.add_argument("--length-penalty", type=common.float_range(0.0, 5.0), default=0.6,
                    metavar="A", help="GNMT length penalty exponent (0 = none; default 0.6)")
    tr.add_argument("--json", action="store_true",
                    help="print JSON (text, n-best list with scores, tokens)")
    tr.add_argument("--checkpoint", choices=("best", "last"), default="best",
                    help="which weights to use (default: best validation BLEU)")
    common.add_common(tr)
    tr.set_defaults(handler=_translate)


def _train(args: argparse.Namespace) -> int:
    from playground.cli import common, fork
    from playground.core import schema
    from playground.text.translate_train import TranslateConfig, make_train_job

    fork.check_init_arguments(args)
    cfg = schema.from_arguments(TranslateConfig, args)
    job = make_train_job(cfg, args.pairs, name=args.name, init_from=args.init_from,
                         freeze=args.freeze)
    event, ctx = common.run_in_terminal(job, args)
    return common.finish_training(event, ctx, summary_of(getattr(event, "result", None)))


def summary_of(result) -> list[tuple[str, object]]:
    """The lines ``train translate`` prints before the run folder."""
    if not isinstance(result, dict):
        return []
    return [("val BLEU", result.get("val_bleu")), ("val chrF", result.get("val_chrf")),
            ("val exact match", result.get("val_exact")),
            ("best val BLEU", result.get("best_val_bleu")),
            ("best epoch", result.get("best_epoch")),
            ("BLEU signature", result.get("bleu_signature")),
            ("steps", result.get("steps"))]


def read_lines(source: str) -> list[str]:
    """The lines of ``source`` (a file, or ``-`` for stdin) without their line ends; a final
    newline does not make an extra empty line. Non-UTF-8 input names the line."""
    from playground.text.pairs import read_text

    if source == "-":
        data = sys.stdin.buffer.read()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            from playground.core.errors import DatasetError

            line = data[:exc.start].count(b"\n") + 1
            raise DatasetError(f"The standard input is not UTF-8 text: line {line} has a byte "
                               "UTF-8 does not allow. Convert it to UTF-8.") from None
    else:
        text = read_text(Path(source).expanduser(), what="input file")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _translate(args: argparse.Namespace) -> int:
    from playground.cli import common
    from playground.core.device import set_cpu_threads
    from playground.core.errors import ConfigError, RunError
    from playground.core.jobs import JobContext
    from playground.text.translate_predict import Translator, latest_translate_run

    if (args.text is None) == (args.input is None):
        raise ConfigError("Give either a sentence to translate or --input FILE (not both).")
    if args.nbest > args.beam:
        raise ConfigError(f"--nbest {args.nbest} needs a beam at least as wide: add --beam "
                          f"{args.nbest} or more.")
    if getattr(args, "threads", 0):
        set_cpu_threads(args.threads)
    run_dir = args.run or latest_translate_run()
    if not run_dir:
        raise RunError("There is no translate run yet: train one first, e.g. `playground "
                       "train translate --pairs demo:numbers-en-fr`.")
    lines = read_lines(args.input) if args.input is not None else None
    ctx = JobContext(device=args.device)
    tr = Translator.from_run(run_dir, ctx.device, checkpoint=args.checkpoint)
    if not args.quiet:
        print(f"run: {common.safe_text(tr.run_dir)}", file=sys.stderr)
    if lines is not None:
        unknown = sorted({c for line in lines for c in tr.unknown_chars(line)})
        _note_unknown(unknown, common)
        if args.json or args.nbest > 1:
            for line in lines:
                out = tr.translate(line, args.beam, args.nbest, args.length_penalty,
                                   attention=False) if line.strip() else None
                _print_one(out, args, line)
        else:
            for text in tr.translate_lines(lines, args.beam, args.length_penalty):
                print(text)
        return 0
    out = tr.translate(args.text, args.beam, args.nbest, args.length_penalty,
                       attention=False)
    _note_unknown(out.unknown, common)
    _print_one(out, args, args.text)
    return 0


def _note_unknown(unknown: list[str], common) -> None:
    if unknown:
        shown = ", ".join(repr(c) for c in unknown[:12]) + (" …" if len(unknown) > 12 else "")
        print(f"note: the model never saw {len(unknown)} character"
              f"{'s' * (len(unknown) != 1)} of the input in training ({common.safe_text(shown)})"
              "; it translated without them.", file=sys.stderr)


def _print_one(out, args: argparse.Namespace, line: str) -> None:
    if args.json:
        data = out.to_dict() if out is not None else {"source": line, "text": "", "nbest": []}
        print(json.dumps(data, ensure_ascii=False))
    elif out is None:
        print("")
    elif args.nbest > 1:
        for text, score, _ in out.hypotheses:
            print(f"{score:.4f}\t{text}")
    else:
        print(out.text)
