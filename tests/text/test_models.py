from __future__ import annotations

import pytest
import torch

from playground.core.errors import ConfigError
from playground.text.gpt import GPT, GPTConfig
from playground.text.lstm import LSTMConfig, LSTMLanguageModel
from playground.text.models import TEXT_MODELS, build_model, describe_model

from .conftest import tiny_config


def tiny_gpt(**changes) -> GPT:
    torch.manual_seed(0)
    cfg = dict(vocab_size=23, block_size=12, n_layer=2, n_head=4, n_embd=32, dropout=0.0,
               bias=True)
    cfg.update(changes)
    return GPT(GPTConfig(**cfg)).eval()


@pytest.mark.parametrize("bias", [True, False])
def test_attention_paths_agree(bias):
    model = tiny_gpt(bias=bias)
    idx = torch.randint(0, 23, (3, 10))
    targets = torch.randint(0, 23, (3, 10))
    with torch.no_grad():
        fast_logits, fast_loss = model(idx, targets)
        slow_logits, slow_loss, att = model(idx, targets, return_attention=True)
    assert fast_logits.shape == (3, 10, 23)
    assert torch.allclose(fast_logits, slow_logits, atol=1e-5, rtol=1e-4)
    assert torch.allclose(fast_loss, slow_loss, atol=1e-6)
    assert att.shape == (2, 3, 4, 10, 10)  # (L, B, nh, T, T)
    assert torch.allclose(att.sum(-1), torch.ones(2, 3, 4, 10), atol=1e-5)
    upper = torch.ones(10, 10, dtype=torch.bool).triu(1)
    assert torch.all(att[..., upper] == 0)  # causal: no attention to later tokens


def test_gpt_ties_weights_and_counts_parameters():
    model = tiny_gpt()
    assert model.lm_head.weight is model.transformer.wte.weight
    assert model.num_parameters() == sum(p.numel() for p in model.parameters())


def test_gpt_rejects_inputs_longer_than_its_block():
    model = tiny_gpt()
    with pytest.raises(ConfigError, match="block size is 12"):
        model(torch.zeros(1, 13, dtype=torch.long))


def test_gpt_config_checks_heads_divide_width():
    with pytest.raises(ConfigError, match="divisible"):
        GPTConfig(n_embd=30, n_head=4)


def test_lstm_state_carries_context():
    torch.manual_seed(0)
    model = LSTMLanguageModel(LSTMConfig(vocab_size=11, n_embd=16, hidden_size=24,
                                         num_layers=2)).eval()
    idx = torch.randint(0, 11, (2, 9))
    with torch.no_grad():
        whole, _ = model(idx)
        state, steps = None, []
        for t in range(9):
            logits, _, state = model(idx[:, t:t + 1], state=state, return_state=True)
            steps.append(logits)
    assert torch.allclose(whole, torch.cat(steps, dim=1), atol=1e-5)
    assert model.lm_head.weight is model.embedding.weight
    assert not model.has_attention


def test_registry_and_describe_model():
    # Builder graphs other tests registered (graph:...) may be present; the built-ins are these
    assert [n for n in TEXT_MODELS.names() if not n.startswith("graph:")] == ["gpt", "lstm"]
    for name in ("gpt", "lstm"):
        cfg = tiny_config(model=name)
        info = describe_model(cfg, 40)
        built = build_model(cfg, 40)  # through the registry's factory(spec)
        assert info["parameters"] == sum(p.numel() for p in built.parameters())
        assert info["tokens_per_step"] == cfg.batch_size * cfg.block_size
