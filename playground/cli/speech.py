"""CLI commands of the speech task.

``playground train speech --task keywords|ctc --data DIR|demo:digits [--val-data DIR]
[--label-pattern REGEX] [--name NAME] [--max-steps N] …``: every field of
:class:`~playground.speech.train.KeywordTrainConfig` (``--task keywords``) or
:class:`~playground.speech.train.CTCTrainConfig` (``--task ctc``) is a kebab-case flag; flags
that belong to the other task are rejected. Epoch results go to stderr as training goes;
stdout gets the final figures and the run folder as the last line. ``--graph GRAPH.json|RUN_DIR|
template:NAME`` trains a Builder graph as the keyword model (``--task keywords``).

``playground predict speech --run DIR FILE… [--top-k K] [--json]``: keyword runs; JSON is a
list of ``{"file", "predictions": [{"label", "prob"}]}`` (plus ``"note"`` for a silent clip,
``"error"`` for a file that could not be read), the same shape as ``predict image``.

``playground transcribe --run DIR|wav2vec2 FILE… [--beam-width N] [--chunk-seconds S]
[--json]``: prints each transcript as timed segments (``[0:00.52 → 0:02.10] three one
four``); JSON is a list of ``{"file", "text", "segments", "words", "duration", "rtf", …}``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from playground.core import events as ev


def register(groups, common) -> None:
    from playground.cli import fork
    from playground.core import schema
    from playground.speech.datasets import DEFAULT_LABEL_PATTERN
    from playground.speech.models import REGISTRY
    from playground.speech.train import DEMO_SPEC, CTCTrainConfig, KeywordTrainConfig

    train = groups["train"].add_parser(
        "speech", help="train a keyword recognizer or a speech-to-text (CTC) model",
        description="Train a keyword/command recognizer (--task keywords) or a character-level "
                    "CTC speech-to-text model (--task ctc). Every option of the Speech tab's "
                    "form is a flag; the options of one task are rejected for the other.")
    train.add_argument("--task", choices=("keywords", "ctc"), default="keywords",
                       help="keywords: one label per clip; ctc: transcripts (default: keywords)")
    train.add_argument("--data", required=True, metavar="DIR",
                       help=f"dataset folder or {DEMO_SPEC} (built in: spoken digits, "
                            "synthesised with espeak-ng)")
    train.add_argument("--val-data", default=None, metavar="DIR",
                       help="ctc: a separate folder used as the validation set")
    train.add_argument("--label-pattern", default=DEFAULT_LABEL_PATTERN, metavar="REGEX",
                       help="keywords, flat folders: regular expression with a (?P<label>...) "
                            "group matched against file names (default: %(default)s)"
                            .replace("%(default)s", DEFAULT_LABEL_PATTERN.replace("%", "%%")))
    train.add_argument("--name", default=None, help="run name (default: model and data)")
    train.add_argument("--max-steps", type=common.int_range(1, 10**9), default=None, metavar="N",
                       help="stop after N optimisation steps (quick trials)")
    kw_default = next(f.default for f in schema.fields(KeywordTrainConfig) if f.name == "model")
    train.add_argument("--model", default=None, choices=schema.LazyChoices(REGISTRY.names),
                       help="a model of the chosen task from the speech registry: "
                            f"%(choices)s (default: {kw_default})")
    schema.add_arguments(train, KeywordTrainConfig, skip=("model",))
    shared = {f.name for f in schema.fields(KeywordTrainConfig)}
    schema.add_arguments(train, CTCTrainConfig, skip=shared | {"model"})
    ctc_defaults = {f.name: f.default for f in schema.fields(CTCTrainConfig)}
    for action in train._actions:  # shared flags: say where the ctc default differs
        default = ctc_defaults.get(action.dest)
        if action.dest in shared and default is not None and action.help and \
                default != next(f.default for f in schema.fields(KeywordTrainConfig)
                                if f.name == action.dest):
            action.help = action.help.replace("(default: ", f"(ctc: {default}; keywords: ")
    common.add_graph_argument(train)
    fork.add_init_arguments(train)
    common.add_common(train)
    train.set_defaults(handler=_train)

    predict = groups["predict"].add_parser(
        "speech", help="recognise keywords in audio files with a trained keyword run",
        description="Classify audio files with a keyword run: top-k labels per file.")
    predict.add_argument("--run", required=True, metavar="DIR", help="keyword run folder")
    predict.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    predict.add_argument("--top-k", type=common.int_range(1, 10_000), default=5, metavar="K",
                         help="labels per file (default: 5)")
    predict.add_argument("--json", action="store_true", help="print JSON")
    predict.add_argument("--checkpoint", choices=("best", "last"), default="best")
    common.add_common(predict)
    predict.set_defaults(handler=_predict)

    transcribe = groups["root"].add_parser(
        "transcribe", help="transcribe audio files with a CTC run or wav2vec 2.0",
        description="Transcribe audio files with timestamps. --run wav2vec2 uses torchaudio's "
                    "pretrained English wav2vec 2.0 (weights downloaded once, about 360 MB).")
    transcribe.add_argument("--run", required=True, metavar="DIR|wav2vec2",
                            help="speech-to-text run folder, or wav2vec2")
    transcribe.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    transcribe.add_argument("--beam-width", type=common.field_type(CTCTrainConfig, "beam_width"),
                            default=None, metavar="N",
                            help="beam search width; 1 = greedy (default: the run's setting)")
    transcribe.add_argument("--chunk-seconds", type=common.float_range(3, 3600), default=None,
                            metavar="S",
                            help="longer files are transcribed in chunks of S seconds "
                                 "(default: 10 for runs, 20 for wav2vec2)")
    transcribe.add_argument("--json", action="store_true", help="print JSON")
    common.add_common(transcribe)
    transcribe.set_defaults(handler=_transcribe)


# ------------------------------------------------------------------------------------------
def _task_config(args: argparse.Namespace):
    from playground.core import schema
    from playground.core.errors import ConfigError
    from playground.speech.models import REGISTRY
    from playground.speech.train import CTCTrainConfig, KeywordTrainConfig

    cls = KeywordTrainConfig if args.task == "keywords" else CTCTrainConfig
    other = CTCTrainConfig if cls is KeywordTrainConfig else KeywordTrainConfig
    own = {f.name for f in schema.fields(cls)}
    foreign = [f for f in schema.fields(other)
               if f.name not in own and getattr(args, f.name, None) is not None]
    if foreign:
        raise ConfigError(f"{', '.join(f.flag for f in foreign)} "
                          f"{'is' if len(foreign) == 1 else 'are'} not an option of "
                          f"--task {args.task}.")
    if getattr(args, "graph", None):
        if args.task != "keywords":
            raise ConfigError("--graph trains a Builder graph as a keyword recognizer (--task "
                              "keywords); CTC speech-to-text models come from the registry.")
        from playground.cli.common import use_graph

        use_graph(args, "keywords")
    if args.val_data and args.task != "ctc":
        raise ConfigError("--val-data is for --task ctc; keyword datasets use a train/ and "
                          "val/ folder pair instead.")
    if args.model:
        entry = REGISTRY.get(args.model)
        if entry.extra.get("task") != args.task:
            raise ConfigError(f"--model {args.model} is a {entry.extra.get('task')} model, not "
                              f"one for --task {args.task}.")
    return schema.from_arguments(cls, args)


def _train(args: argparse.Namespace) -> int:
    from playground.cli import fork
    from playground.cli.common import finish_training, run_in_terminal
    from playground.speech.train import make_ctc_job, make_keyword_job

    fork.check_init_arguments(args)
    cfg = _task_config(args)
    if args.task == "keywords":
        job = make_keyword_job(cfg, args.data, name=args.name, max_steps=args.max_steps,
                               label_pattern=args.label_pattern, init_from=args.init_from,
                               freeze=args.freeze)
    else:
        job = make_ctc_job(cfg, args.data, name=args.name, max_steps=args.max_steps,
                           val_data=args.val_data, init_from=args.init_from,
                           freeze=args.freeze)
    event, ctx = run_in_terminal(job, args)
    result = event.result if isinstance(event, ev.Finished) and isinstance(event.result, dict) \
        else {}
    if args.task == "keywords":
        summary = [("val_accuracy", result.get("val_accuracy")),
                   ("best_val_accuracy", result.get("best_val_accuracy")),
                   ("macro_f1", result.get("macro_f1")), ("steps", result.get("steps"))]
    else:
        summary = [("val_cer", result.get("val_cer")), ("val_wer", result.get("val_wer")),
                   ("best_cer", result.get("best_cer")), ("steps", result.get("steps"))]
    return finish_training(event, ctx, summary)


def _predict(args: argparse.Namespace) -> int:
    from playground.cli.common import print_json, safe_text
    from playground.core.device import set_cpu_threads
    from playground.core.errors import AudioDecodeError
    from playground.speech.predict import KeywordPredictor

    if args.threads:
        set_cpu_threads(args.threads)
    predictor = KeywordPredictor.from_run(args.run, device=args.device,
                                          checkpoint=args.checkpoint)
    rows: list[dict[str, Any]] = []
    for path in args.files:
        try:
            out = predictor.predict_clips([path], args.top_k)[0]
        except AudioDecodeError as exc:
            rows.append({"file": path, "error": str(exc)})
            continue
        row: dict[str, Any] = {"file": path, "predictions": [
            {"label": label, "prob": round(prob, 6)} for label, prob in out["predictions"]]}
        if out["note"]:
            row["note"] = out["note"]
        rows.append(row)
    failed = [r for r in rows if "error" in r]
    if args.json:
        print_json(rows)
    else:
        for row in rows:
            if "error" in row:
                print(f"{safe_text(row['file'])}: error: {safe_text(row['error'])}")
                continue
            print(safe_text(row["file"])
                  + (f"  ({safe_text(row['note'])})" if "note" in row else ""))
            for p in row["predictions"]:
                print(f"  {p['prob']:7.2%}  {safe_text(p['label'])}")
    if failed:
        print(f"error: {len(failed)} of {len(rows)} file(s) could not be read", file=sys.stderr)
    return 1 if failed else 0


def _clock(seconds: float) -> str:
    minutes, sec = divmod(max(0.0, seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    return (f"{hours}:{minutes:02d}:{sec:05.2f}" if hours else f"{minutes}:{sec:05.2f}")


def _transcribe(args: argparse.Namespace) -> int:
    from playground.cli.common import print_json, report_failed, run_in_terminal, safe_text
    from playground.speech.predict import make_transcribe_job

    job = make_transcribe_job(args.run, [(f, f) for f in args.files], beam_width=args.beam_width,
                              chunk_seconds=args.chunk_seconds, device=args.device)
    event, _ = run_in_terminal(job, args)
    if isinstance(event, ev.Failed):
        return report_failed(event)
    if event.stopped:
        print("stopped", file=sys.stderr)
        return 130
    results = [{"file": r.pop("name"), **r} for r in event.result]
    if args.json:
        print_json(results)
    else:
        for k, r in enumerate(results):
            if k:
                print()
            if "error" in r:
                print(f"{safe_text(r['file'])}: error: {safe_text(r['error'])}")
                continue
            print(f"{safe_text(r['file'])} ({r['duration']:.2f} s, real-time factor "
                  f"{r['rtf']:.3f}):")
            for seg in r["segments"]:
                print(f"[{_clock(seg['start'])} → {_clock(seg['end'])}] "
                      f"{safe_text(seg['text'])}")
            if r.get("note"):
                print(f"({safe_text(r['note'])})")
    return 1 if any("error" in r for r in results) else 0
