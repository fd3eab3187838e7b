"""CLI commands of the text task.

``playground train text --corpus FILE|DIR|demo:pydoc [more files] --tokenizer char|bpe:N|
unigram:N --model gpt|lstm ...``: every :class:`~playground.text.train.TextTrainConfig` field
is a kebab-case flag (``--n-layer 4 --block-size 64 --max-iters 2000 ...``). Evaluations and
samples are printed to stderr as training goes; stdout gets one line per evaluation, the final
and best validation loss, and the run folder as the last line. ``--graph GRAPH.json|RUN_DIR|
template:NAME`` trains a Builder graph (Embedding first, ``(T, vocabulary)`` scores last).

``playground generate --run DIR --prompt TEXT --max-new-tokens N --temperature T --top-k K
--top-p P [--seed S]`` streams the prompt and its continuation to stdout (``--run`` defaults to
the newest text run); the sampling flags and their defaults come from
:class:`~playground.text.generate_config.GenerateConfig`, the schema of the Generate form.
Ctrl-C stops either command, keeping what was learned / written.
"""

from __future__ import annotations

import argparse
import sys
import threading

from playground.core import events as ev


def register(groups, common) -> None:
    from playground.cli import fork
    from playground.core import schema
    from playground.text.corpus import DEMO_PYDOC
    from playground.text.generate_config import GenerateConfig
    from playground.text.train import TextTrainConfig

    train = groups["train"].add_parser(
        "text", help="train a language model (GPT or LSTM) on text",
        description="Train a character- or SentencePiece-level language model. Every option "
                    "of the Text tab's form is a flag.")
    train.add_argument("--corpus", nargs="+", required=True, metavar="PATH",
                       help=f".txt file(s), a folder of them, or {DEMO_PYDOC} (built in)")
    train.add_argument("--name", default=None, help="run name (default: model and tokenizer)")
    schema.add_arguments(train, TextTrainConfig)
    common.add_graph_argument(train)
    fork.add_init_arguments(train)
    common.add_common(train)
    train.set_defaults(handler=_train)

    gen = groups["root"].add_parser(
        "generate", help="generate text with a trained text run",
        description="Continue a prompt with a trained text run, streaming to stdout.")
    gen.add_argument("--run", default=None, metavar="DIR",
                     help="run folder (default: the newest text run with a checkpoint)")
    gen.add_argument("--prompt", default="", help="text to continue (default: a new line)")
    schema.add_arguments(gen, GenerateConfig)  # the Generate form's fields and defaults
    gen.add_argument("--checkpoint", choices=("best", "last"), default="best",
                     help="which weights to use (default: best validation loss)")
    gen.add_argument("--continuation-only", action="store_true",
                     help="print only the generated text, not the prompt before it")
    common.add_common(gen)
    gen.set_defaults(handler=_generate)


def _train(args: argparse.Namespace) -> int:
    from playground.cli import common, fork
    from playground.core import schema
    from playground.text.train import TextTrainConfig, make_train_job

    fork.check_init_arguments(args)
    common.use_graph(args, "text")
    cfg = schema.from_arguments(TextTrainConfig, args)
    corpus = args.corpus[0] if len(args.corpus) == 1 else args.corpus
    job = make_train_job(cfg, corpus, name=args.name, init_from=args.init_from,
                         freeze=args.freeze)
    event, ctx = common.run_in_terminal(job, args)
    summary: list[tuple[str, object]] = []
    result = getattr(event, "result", None)
    if isinstance(result, dict):
        for row in result.get("evals", []):
            summary.append((f"step {row['step']} train loss", row["train_loss"]))
            summary.append((f"step {row['step']} val loss", row["val_loss"]))
        summary.append(("final val loss", result.get("final_val_loss")))
        summary.append(("best val loss", result.get("best_val_loss")))
        if result.get("ms_per_iter"):
            summary.append(("ms per iteration", result["ms_per_iter"]))
    return common.finish_training(event, ctx, summary)


class _StreamContext:
    """Writes TextChunk events to stdout as they come; keeps the terminal event."""

    def __init__(self, out=None) -> None:
        self.out = out or sys.stdout
        self.terminal: ev.Event | None = None

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.TextChunk):
            self.out.write(event.text)
            self.out.flush()
        elif isinstance(event, ev.Log):
            print(event.message, file=sys.stderr)
        elif isinstance(event, (ev.Finished, ev.Failed)):
            self.terminal = event


def _generate(args: argparse.Namespace) -> int:
    from playground.core import schema
    from playground.core.device import set_cpu_threads
    from playground.core.errors import RunError
    from playground.core.jobs import JobContext, run_job
    from playground.text.generate import TextGenerator, latest_text_run, make_generate_job
    from playground.text.generate_config import GenerateConfig
    from playground.text.sampling import prompt_ids

    opts = schema.from_arguments(GenerateConfig, args)
    if getattr(args, "threads", 0):
        set_cpu_threads(args.threads)
    run_dir = args.run or latest_text_run()
    if not run_dir:
        raise RunError("There is no text run to generate with yet: train one first, e.g. "
                       "`playground train text --corpus demo:pydoc`.")
    sink = _StreamContext()
    ctx = JobContext(emit=sink, device=args.device)
    generator = TextGenerator.from_run(run_dir, ctx.device, checkpoint=args.checkpoint)
    prompt_ids(generator.tokenizer, args.prompt)  # unknown characters: error before output
    if not args.quiet:
        print(f"run: {generator.run_dir}", file=sys.stderr)
    if not args.continuation_only:
        sys.stdout.write(args.prompt)
        sys.stdout.flush()
    job = make_generate_job(generator, args.prompt, opts.max_new_tokens, opts.temperature,
                            opts.top_k, opts.top_p, opts.seed_or_none)
    done: list[ev.Event] = []
    worker = threading.Thread(target=lambda: done.append(run_job(job, ctx)), daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        ctx.cancel()
        worker.join()
    sys.stdout.write("\n")
    sys.stdout.flush()
    event = done[0]
    if isinstance(event, ev.Failed):
        print(f"error: {event.message}", file=sys.stderr)
        return 1
    result = event.result if isinstance(event.result, dict) else {}
    if not args.quiet and result:
        print(f"{result['tokens']} tokens in {result['seconds']:.2f} s "
              f"({result['tokens_per_s']:.0f} tokens/s)", file=sys.stderr)
    return 130 if getattr(event, "stopped", False) else 0
