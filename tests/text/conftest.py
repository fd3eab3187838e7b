"""Fixtures of the text tests: one torch thread (the machine is shared), tiny corpora."""

from __future__ import annotations

import pytest

REPEATED = ("the quick brown fox jumps over the lazy dog.\n"
            "a lazy cat sleeps in the warm sun all day.\n")


@pytest.fixture(autouse=True)
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def small_corpus(tmp_path):
    """A repetitive 8,800-character corpus a tiny model learns within a few dozen steps."""
    path = tmp_path / "small.txt"
    path.write_text(REPEATED * 100, encoding="utf-8")
    return path


def tiny_config(**changes):
    from playground.text.train import TextTrainConfig

    base = dict(n_layer=1, n_head=2, n_embd=32, block_size=16, batch_size=8, max_iters=40,
                learning_rate=1e-2, min_lr=1e-3, warmup_iters=5, eval_interval=20,
                eval_iters=4, sample_tokens=20, lstm_hidden=64, lstm_layers=1)
    base.update(changes)
    return TextTrainConfig(**base)
