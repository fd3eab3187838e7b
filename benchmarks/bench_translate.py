"""Translation benchmarks: the numbers demo, and the app's defaults against a plain PyTorch
``nn.Transformer`` on held-out splits of eng-deu (and Transformer vs GRU-attention).

    python benchmarks/bench_translate.py demo [--threads 1] [--epochs N] [--set k=v ...]
    python benchmarks/bench_translate.py engdeu --pairs 5000 [--seeds 1,2,3] [--threads 1]

``demo``: trains ``demo:numbers-en-fr`` with the app's defaults (``--set`` overrides a field)
and reports exact-match accuracy on the held-out test numbers (greedy and beam 4), the
training time and decoding speed. Target: >= 99 % in a few minutes on 2 CPU cores.

``engdeu``: shuffles ``../shared/data/eng-deu-50k.tsv`` with a seed, keeps whole source
groups (every translation of one English sentence together) up to ``--pairs`` pairs, and
trains, in this one process, one after the other:

1. the app (``make_train_job`` with the default TranslateConfig: its split, tokenizer,
   model, recipe and best-BLEU checkpoint);
2. a plain PyTorch baseline written here: ``torch.nn.Transformer`` of similar size on the
   *same* tokenised training pairs (the app's SentencePiece model), Adam with the usual
   inverse-square-root warm-up, label smoothing 0.1, random batches of the app's batch size,
   for the *same wall time* the app's training took (evaluations included);
3. the app's GRU-attention model with the default settings.

All are scored on the same held-out test pairs (never seen in training or validation) with
sacreBLEU (BLEU, chrF), greedy and beam 4 (the same beam search code for all, so the
comparison is of the models and their training), with decoding speed in sentences/s.
Results go to ``benchmarks/results/translate_<mode>.json``. The machine is shared; the
timings are noisy and under load, so both sides of each comparison run in the same process.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

DATA = ROOT.parent / "shared" / "data" / "eng-deu-50k.tsv"
RESULTS = ROOT / "benchmarks" / "results"


def _ctx():
    from playground.core import events as ev
    from playground.core.jobs import CollectingContext

    start = time.perf_counter()

    class Ctx(CollectingContext):
        def emit(self, event):
            super().emit(event)
            if isinstance(event, ev.Log):
                print(f"  [{time.perf_counter() - start:6.0f} s] {event.message}", flush=True)

    return Ctx()


def train_app(cfg, pairs, home):
    from playground.core import events as ev
    from playground.core.jobs import run_job
    from playground.text.translate_train import make_train_job

    start = time.perf_counter()
    event = run_job(make_train_job(cfg, pairs, home=home), _ctx())
    seconds = time.perf_counter() - start
    if isinstance(event, ev.Failed):
        raise SystemExit(f"training failed: {event.message}\n{event.details}")
    return event.result, seconds


def score(model_like, tok, test, *, beam: int, device="cpu") -> dict:
    """BLEU / chrF / exact match and decoding speed on ``test`` pairs."""
    from playground.text.translate_decode import translate_ids
    from playground.text.translate_train import corpus_scores

    ids = [tok.source.encode(s)[: model_like.max_len - 2] for s, _ in test]
    start = time.perf_counter()
    out = translate_ids(model_like, ids, beam=beam, device=device, batch_size=64)
    seconds = time.perf_counter() - start
    hyps = [tok.target.decode(x) for x in out]
    scores = corpus_scores(hyps, [t for _, t in test])
    return {"bleu": round(scores["bleu"], 2), "chrf": round(scores["chrf"], 2),
            "exact": round(scores["exact"], 4), "sentences_per_s": round(len(test) / seconds, 1),
            "decode_seconds": round(seconds, 1), "signature": scores["bleu_signature"],
            "examples": [{"source": s, "reference": t, "hypothesis": h}
                         for (s, t), h in list(zip(test, hyps, strict=True))[:3]]}


def app_scores(run_dir, test) -> dict:
    from playground.text.translate_predict import Translator

    tr = Translator.from_run(run_dir)
    test = [(tr.prepare(s), t) for s, t in test]
    return {"greedy": score(tr.model, tr.tokenizer, test, beam=1),
            "beam4": score(tr.model, tr.tokenizer, test, beam=4)}


def apply_sets(cfg, sets):
    from playground.core import schema

    changes = {}
    for item in sets or []:
        key, _, value = item.partition("=")
        changes[key] = value
    return schema.replace(cfg, **changes) if changes else cfg


# ------------------------------------------------------------------------------------------
def bench_demo(args) -> dict:
    from playground.text.pairs import load_pairs
    from playground.text.translate_train import TranslateConfig

    cfg = apply_sets(TranslateConfig(), args.set)
    if args.epochs:
        cfg = apply_sets(cfg, [f"epochs={args.epochs}"])
    with tempfile.TemporaryDirectory() as home:
        result, seconds = train_app(cfg, "demo:numbers-en-fr", home)
        data = load_pairs("demo:numbers-en-fr", max_length=cfg.max_length)
        test = data.split(cfg.val_fraction, cfg.test_fraction, cfg.seed).test
        scores = app_scores(result["run_dir"], test)
    return {"benchmark": "translate demo:numbers-en-fr", "threads": args.threads,
            "config": _config(cfg), "train_seconds": round(seconds, 1),
            "epochs": result.get("epochs_done"), "test_numbers": len(test),
            "val_exact_by_epoch": [round(r.get("val_exact", math.nan), 4)
                                   for r in result["evals"]],
            "exact_match_greedy": scores["greedy"]["exact"],
            "exact_match_beam4": scores["beam4"]["exact"], "scores": scores,
            "target": "exact match >= 0.99 on held-out numbers",
            "met": scores["greedy"]["exact"] >= 0.99}


def _config(cfg) -> dict:
    from playground.core import schema

    return schema.to_dict(cfg)


# ------------------------------------------------------------------------------------------
class Baseline:
    """A plain ``torch.nn.Transformer`` translation model with the seq2seq decode interface
    (``encode``/``decode``) so the same decoding code scores it."""

    def __init__(self, src_vocab, tgt_vocab, d_model=128, nhead=4, layers=2, ff=512,
                 dropout=0.1, max_len=128):
        import torch
        import torch.nn as nn

        self.max_len = max_len
        self.d_model = d_model
        self.net = nn.ModuleDict({
            "src": nn.Embedding(src_vocab, d_model), "tgt": nn.Embedding(tgt_vocab, d_model),
            "pos": nn.Embedding(max_len, d_model),
            "t": nn.Transformer(d_model, nhead, layers, layers, ff, dropout, batch_first=True),
            "out": nn.Linear(d_model, tgt_vocab)})
        self.torch = torch

    def parameters(self):
        return self.net.parameters()

    def eval(self):
        self.net.eval()
        return self

    def _emb(self, table, x):
        pos = self.torch.arange(x.size(1), device=x.device)
        return self.net[table](x) * math.sqrt(self.d_model) + self.net["pos"](pos)[None]

    def encode(self, src):
        pad = src.eq(0)
        memory = self.net["t"].encoder(self._emb("src", src), src_key_padding_mask=pad)
        return {"memory": memory, "pad": pad}

    def decode(self, enc, ys):
        import torch.nn as nn

        mask = nn.Transformer.generate_square_subsequent_mask(ys.size(1), device=ys.device)
        h = self.net["t"].decoder(self._emb("tgt", ys), enc["memory"], tgt_mask=mask,
                                  tgt_is_causal=True, memory_key_padding_mask=enc["pad"])
        return self.net["out"](h)

    def __call__(self, src, tgt_in):
        return self.decode(self.encode(src), tgt_in)


def train_baseline(tok, train_pairs, seconds: float, batch_size=64, lr=7e-4, seed=0):
    import torch
    import torch.nn.functional as F

    from playground.text.tokenizers import BOS_ID, EOS_ID
    from playground.text.translate_decode import pad_batch

    torch.manual_seed(seed)
    model = Baseline(tok.source.vocab_size, tok.target.vocab_size)
    src = [tok.source.encode(s)[:126] + [EOS_ID] for s, _ in train_pairs]
    tgt = [[BOS_ID] + tok.target.encode(t)[:126] + [EOS_ID] for _, t in train_pairs]
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.98), eps=1e-9)
    warmup = 400
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, math.sqrt(warmup / (s + 1))))
    gen = torch.Generator().manual_seed(seed)
    start, steps = time.perf_counter(), 0
    model.net.train()
    while time.perf_counter() - start < seconds:
        idx = torch.randint(len(src), (batch_size,), generator=gen).tolist()
        s = pad_batch([src[i] for i in idx])
        t = pad_batch([tgt[i] for i in idx])
        logits = model(s, t[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), t[:, 1:].reshape(-1),
                               ignore_index=0, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        steps += 1
    model.eval()
    return model, steps, sum(p.numel() for p in model.parameters())


def subset(n_pairs: int, seed: int = 0) -> list[tuple[str, str]]:
    """Whole source groups of the shuffled file up to ``n_pairs`` pairs."""
    import numpy as np

    from playground.text.pairs import load_pairs

    data = load_pairs(DATA)
    groups: dict[str, list] = {}
    for pair in data.pairs:
        groups.setdefault(pair[0], []).append(pair)
    keys = list(groups)
    out: list[tuple[str, str]] = []
    for i in np.random.default_rng(seed).permutation(len(keys)):
        if len(out) >= n_pairs:
            break
        out.extend(groups[keys[i]])
    return out[:n_pairs]


def bench_engdeu(args) -> dict:
    if not DATA.is_file():
        raise SystemExit(f"{DATA} is absent")
    seeds = [int(x) for x in str(args.seeds).split(",") if x.strip()]
    runs = [engdeu_once(args, seed) for seed in seeds]
    report = {"benchmark": f"translate eng-deu {args.pairs} pairs", "threads": args.threads,
              "seeds": seeds, "config": runs[0].pop("config"), "runs": runs}
    for side in ("app", "baseline", "gru_attention"):
        if side not in runs[0]:
            continue
        report[f"{side}_mean"] = {
            f"{decode}_{metric}": round(sum(r[side][decode][metric] for r in runs) / len(runs), 2)
            for decode in ("greedy", "beam4") for metric in ("bleu", "chrf")}
    a, b = report["app_mean"], report["baseline_mean"]
    report["app_minus_baseline_bleu_greedy"] = round(a["greedy_bleu"] - b["greedy_bleu"], 2)
    report["app_minus_baseline_bleu_beam4"] = round(a["beam4_bleu"] - b["beam4_bleu"], 2)
    report["beam_not_below_greedy"] = a["beam4_bleu"] >= a["greedy_bleu"]
    report["target"] = ("app defaults >= plain nn.Transformer (same wall time), mean over "
                        "seeds, greedy and beam; beam >= greedy")
    report["met"] = (report["app_minus_baseline_bleu_greedy"] >= 0
                     and report["app_minus_baseline_bleu_beam4"] >= 0
                     and report["beam_not_below_greedy"])
    return report


def engdeu_once(args, seed: int) -> dict:
    """One seed: the seed picks the subset's split, the app's initialisation and batch
    order, and the baseline's."""
    from playground.text.pairs import load_pairs
    from playground.text.tokenizers import load_pair_tokenizer
    from playground.text.translate_train import TranslateConfig

    pairs = subset(args.pairs)
    cfg = apply_sets(apply_sets(TranslateConfig(), args.set), [f"seed={seed}"])
    report = {"seed": seed, "config": _config(cfg)}
    with tempfile.TemporaryDirectory() as home:
        path = Path(home) / "pairs.tsv"
        path.write_text("".join(f"{a}\t{b}\n" for a, b in pairs), encoding="utf-8")
        split = load_pairs(path, max_length=cfg.max_length).split(
            cfg.val_fraction, cfg.test_fraction, cfg.seed)
        report["split"] = split.sizes()
        print(f"seed {seed}: app ({cfg.model}) …", flush=True)
        result, seconds = train_app(cfg, str(path), home)
        report["app"] = {"train_seconds": round(seconds, 1), "steps": result.get("steps"),
                         "parameters": result["parameters"],
                         "epochs": result.get("epochs_done"),
                         "best_val_bleu": result.get("best_val_bleu"),
                         **app_scores(result["run_dir"], split.test)}
        tok = load_pair_tokenizer(result["run_dir"])
        print(f"seed {seed}: baseline nn.Transformer for {seconds:.0f} s …", flush=True)
        model, steps, params = train_baseline(tok, split.train, seconds,
                                              batch_size=cfg.batch_size, seed=seed)
        test = [(" ".join(s.split()), t) for s, t in split.test]
        report["baseline"] = {"train_seconds": round(seconds, 1), "steps": steps,
                              "batch_size": cfg.batch_size, "parameters": params,
                              "greedy": score(model, tok, test, beam=1),
                              "beam4": score(model, tok, test, beam=4)}
        if not args.skip_gru:
            gru = apply_sets(cfg, ["model=gru-attention"])
            print(f"seed {seed}: app (gru-attention) …", flush=True)
            result, seconds = train_app(gru, str(path), home)
            report["gru_attention"] = {"train_seconds": round(seconds, 1),
                                       "parameters": result["parameters"],
                                       **app_scores(result["run_dir"], split.test)}
    for side in ("app", "baseline", "gru_attention"):
        if side in report:
            r = report[side]
            print(f"seed {seed} {side}: greedy BLEU {r['greedy']['bleu']} chrF "
                  f"{r['greedy']['chrf']}, beam4 BLEU {r['beam4']['bleu']}", flush=True)
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("demo", "engdeu"))
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=0)
    parser.add_argument("--set", action="append", metavar="FIELD=VALUE")
    parser.add_argument("--skip-gru", action="store_true")
    parser.add_argument("--seeds", default="1", help="engdeu: comma-separated seeds")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    import torch
    from _report import write_report

    torch.set_num_threads(args.threads)
    report = bench_demo(args) if args.mode == "demo" else bench_engdeu(args)
    name = "translate_demo" if args.mode == "demo" else f"translate_engdeu_{args.pairs}"
    write_report(args.out or RESULTS / f"{name}.json", report)
    print(json.dumps({k: v for k, v in report.items() if k not in ("config", "runs")},
                     indent=1, default=str)[:3000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
