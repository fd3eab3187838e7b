from __future__ import annotations

import math

import pytest
import torch

from playground.core.errors import ConfigError
from playground.text.gpt import GPT, GPTConfig
from playground.text.sampling import (
    apply_temperature,
    generate_stream,
    generate_text,
    sample_next,
    top_k_filter,
    top_p_filter,
)
from playground.text.tokenizers import CharTokenizer

PROBS = torch.tensor([0.05, 0.5, 0.15, 0.3])
LOGITS = PROBS.log()


def test_top_k_keeps_the_k_most_likely():
    kept = torch.isfinite(top_k_filter(LOGITS, 2))
    assert kept.tolist() == [False, True, False, True]
    assert torch.equal(top_k_filter(LOGITS, 0), LOGITS)


@pytest.mark.parametrize("p, nucleus", [(0.4, [1]), (0.7, [1, 3]), (0.8, [1, 3]),
                                        (0.85, [1, 2, 3]), (1.0, [0, 1, 2, 3])])
def test_top_p_keeps_the_smallest_set_reaching_p(p, nucleus):
    kept = torch.isfinite(top_p_filter(LOGITS, p)).nonzero().flatten().tolist()
    assert kept == nucleus


def test_many_samples_never_leave_the_nucleus_and_follow_renormalised_odds():
    generator = torch.Generator().manual_seed(0)
    logits = LOGITS.expand(20_000, 4)
    picks = sample_next(logits, temperature=1.0, top_p=0.7, generator=generator)
    counts = torch.bincount(picks, minlength=4)
    assert counts[0] == 0 and counts[2] == 0
    assert abs(counts[1].item() / 20_000 - 0.5 / 0.8) < 0.02


def test_many_samples_never_leave_the_top_k():
    generator = torch.Generator().manual_seed(1)
    picks = sample_next(LOGITS.expand(5000, 4), top_k=1, generator=generator)
    assert torch.all(picks == 1)
    picks = sample_next(LOGITS.expand(5000, 4), top_k=3, generator=generator)
    assert set(picks.tolist()) == {1, 2, 3}


def test_temperature():
    sharp = torch.softmax(apply_temperature(LOGITS, 0.5), -1)
    flat = torch.softmax(apply_temperature(LOGITS, 2.0), -1)
    assert sharp[1] > PROBS[1] > flat[1]
    assert math.isclose(float(torch.softmax(apply_temperature(LOGITS, 1.0), -1)[1]), 0.5,
                        rel_tol=1e-5)
    assert torch.all(sample_next(LOGITS.expand(10, 4), temperature=0) == 1)  # greedy


def tiny_model_and_tokenizer(block_size=8):
    tok = CharTokenizer.from_text("abcdefgh \n")
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=block_size, n_layer=1,
                          n_head=2, n_embd=16))
    return model, tok


def test_generation_crops_context_and_is_seeded():
    model, tok = tiny_model_and_tokenizer(block_size=8)
    prompt = "abcdefgh abcdefgh"  # longer than the block
    first = generate_text(model, tok, prompt, 30, temperature=1.0, seed=5)
    again = "".join(generate_stream(model, tok, prompt, 30, temperature=1.0, seed=5))
    assert first == again and len(first) == 30
    assert set(first) <= set(tok.chars)
    assert generate_text(model, tok, prompt, 30, seed=6) != first


def test_generation_rejects_bad_settings():
    model, tok = tiny_model_and_tokenizer()
    with pytest.raises(ConfigError, match="Top-p"):
        generate_text(model, tok, "ab", 5, top_p=0.0)
    with pytest.raises(ConfigError, match="Temperature"):
        generate_text(model, tok, "ab", 5, temperature=-1)
