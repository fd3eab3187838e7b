"""Translation models and decoding: the Transformer's explicit attention equals the fused
path, attention maps have the right shapes and rows summing to 1, tiny models learn, beam
width 1 equals greedy, n-best lists are ranked, and BLEU is sacreBLEU's."""

from __future__ import annotations

import pytest
import torch

from playground.text.numbers_fr import demo_pairs
from playground.text.tokenizers import BOS_ID, EOS_ID, PAD_ID, build_pair_tokenizer
from playground.text.translate_decode import beam_search, greedy, pad_batch
from playground.text.translate_models import TRANSLATE_MODELS, build_model
from playground.text.translate_train import TranslateConfig, corpus_scores


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield


def tiny(model="transformer", **changes):
    base = dict(model=model, n_layer=2, n_head=2, n_embd=32, ff_dim=64, rnn_hidden=32,
                dropout=0.0, max_len=64)
    base.update(changes)
    return TranslateConfig(**base)


def _batch(n=6, src_len=7, tgt_len=5, vocab=30, seed=0, pad=True):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(3, vocab, (n, src_len), generator=g)
    if pad:
        src[0, 4:] = PAD_ID  # a shorter sentence: padding is masked
    tgt = torch.randint(3, vocab, (n, tgt_len), generator=g)
    tgt[:, 0] = BOS_ID
    return src, tgt


def test_registry_lists_the_models():
    assert TRANSLATE_MODELS.names() == ["transformer", "gru-attention", "lstm-attention"]
    assert "cross" in TRANSLATE_MODELS.get("gru-attention").extra["attention"]


@pytest.mark.parametrize("pad", [True, False], ids=["padded", "no-padding"])
@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_explicit_attention_equals_the_fused_path(positions, pad):
    # without padding every layer takes SDPA's mask-free path (is_causal in the decoder)
    torch.manual_seed(0)
    model = build_model(tiny(positions=positions), 30, 30).eval()
    src, tgt = _batch(pad=pad)
    fast = model(src, tgt)
    slow, _ = model(src, tgt, return_attention=True)
    assert fast.shape == (6, 5, 30)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["transformer", "gru-attention", "lstm-attention"])
def test_attention_shapes_and_rows_sum_to_one(name):
    torch.manual_seed(0)
    model = build_model(tiny(name), 30, 31).eval()
    src, tgt = _batch()
    with torch.no_grad():
        logits, att = model(src, tgt, return_attention=True)
    assert logits.shape == (6, 5, 31)
    layers, heads = (2, 2) if name == "transformer" else (1, 1)
    expected = {"cross": (layers, 6, heads, 5, 7)}
    if name == "transformer":
        expected.update(encoder=(2, 6, 2, 7, 7), decoder=(2, 6, 2, 5, 5))
    assert {k: tuple(v.shape) for k, v in att.items()} == expected
    for kind, weights in att.items():
        torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))
        if kind != "decoder":  # padded source positions get no attention
            assert float(weights[:, 0, :, :, 4:].abs().max()) == 0.0
    if name == "transformer":  # causal: no look ahead
        assert float(att["decoder"].triu(1).abs().max()) == 0.0


def _demo_batch(n=48):
    pairs = demo_pairs()[:: 10_000 // n][:n]
    tok = build_pair_tokenizer("bpe:300", [s for s, _ in demo_pairs()],
                               [t for _, t in demo_pairs()])
    src = pad_batch([tok.source.encode(s) + [EOS_ID] for s, _ in pairs])
    tgt = pad_batch([[BOS_ID] + tok.target.encode(t) + [EOS_ID] for _, t in pairs])
    return tok, src, tgt


@pytest.mark.parametrize("name", ["transformer", "gru-attention"])
def test_tiny_models_learn(name):
    torch.manual_seed(0)
    tok, src, tgt = _demo_batch()
    model = build_model(tiny(name), tok.source.vocab_size, tok.target.vocab_size)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        logits = model(src, tgt[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)),
                                                 tgt[:, 1:].reshape(-1), ignore_index=PAD_ID)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.6 * losses[0], losses


@pytest.mark.parametrize("name", ["transformer", "gru-attention"])
def test_beam_width_one_equals_greedy_and_nbest_is_ranked(name):
    torch.manual_seed(1)
    tok, src, tgt = _demo_batch(16)
    model = build_model(tiny(name), tok.source.vocab_size, tok.target.vocab_size)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(15):  # a little training, so outputs vary in length and stop
        logits = model(src, tgt[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)),
                                                 tgt[:, 1:].reshape(-1), ignore_index=PAD_ID)
        opt.zero_grad()
        loss.backward()
        opt.step()
    g = greedy(model, src)
    b = beam_search(model, src, width=1, length_penalty_alpha=0.6)
    assert [list(h[0].ids) for h in b] == g
    nb = beam_search(model, src, width=4, nbest=3, length_penalty_alpha=0.0)
    for hyps in nb:
        assert 1 <= len(hyps) <= 3
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
        assert len({h.ids for h in hyps}) == len(hyps)
    # with no length penalty, beam's best log-probability is at least greedy's
    model.eval()
    for row, hyps in enumerate(nb):
        ys = torch.tensor([[BOS_ID] + g[row] + [EOS_ID]])
        with torch.no_grad():
            logp = torch.log_softmax(model(src[row:row + 1], ys[:, :-1]), -1)
        greedy_lp = float(logp[0].gather(1, ys[0, 1:, None]).sum())
        if hyps[0].finished:
            assert hyps[0].logprob >= greedy_lp - 1e-4


class _PeakedModel:
    """A hand-made decoder: after the begin token or token 5 it says 5 with p = 0.9 (and the
    end token after six 5s); after any other token it ends at once. Its runners-up end early,
    so a beam that stops once ``width`` hypotheses have ended loses the best path."""

    max_len = 64
    V = 10

    def eval(self):
        return self

    def encode(self, src):
        return {"memory": src.float()}

    def decode(self, enc, ys):
        rows = []
        for y in ys.tolist():
            p = torch.full((self.V,), 1e-4)
            if y[-1] in (BOS_ID, 5):
                fives = sum(1 for t in y if t == 5)
                if fives >= 6:
                    p[EOS_ID] = 0.99
                else:
                    p[5], p[6], p[7], p[EOS_ID] = 0.9, 0.04, 0.04, 0.02
            else:
                p[EOS_ID] = 0.99
            rows.append(p.log())
        out = torch.stack(rows)[:, None, :]                          # (N, 1, V)
        return out.expand(-1, ys.size(1), -1)


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_beam_keeps_the_best_path_when_the_runners_up_end_early(alpha):
    src = torch.tensor([[3, 4, EOS_ID]])
    model = _PeakedModel()
    assert greedy(model, src) == [[5] * 6]
    hyps = beam_search(model, src, width=2, nbest=2, length_penalty_alpha=alpha)[0]
    assert list(hyps[0].ids) == [5] * 6 and hyps[0].finished
    assert hyps[0].score >= hyps[1].score


def test_bleu_and_chrf_are_sacrebleus():
    import sacrebleu

    hyps = ["the cat sat on the mat", "a dog runs in the park", "hello there world"]
    refs = ["the cat sat on a mat", "the dog runs in the park", "hello world"]
    ours = corpus_scores(hyps, refs)
    assert ours["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert ours["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    assert ours["bleu_signature"].startswith("nrefs:1|case:mixed|")
    assert ours["exact"] == 0.0 and corpus_scores(refs, refs)["exact"] == 1.0
    assert corpus_scores(refs, refs)["bleu"] == pytest.approx(100.0)
