"""Splits and loaders."""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import TensorDataset

from playground.core.data import make_loader, seed_everything, split_indices


def test_plain_split_sizes_and_disjoint():
    train, val = split_indices(100, 0.2, seed=3)
    assert len(train) == 80 and len(val) == 20
    assert sorted(train + val) == list(range(100)) and not set(train) & set(val)
    assert train == sorted(train) and val == sorted(val)


def test_plain_split_edge_cases():
    assert split_indices(10, 0.0) == (list(range(10)), [])
    tr, va = split_indices(2, 0.01)  # rounds to 0 but a requested split keeps one item
    assert len(tr) == 1 and len(va) == 1
    tr, va = split_indices(5, 0.99)  # never empties the training set
    assert len(tr) == 1 and len(va) == 4
    assert split_indices(1, 0.5) == ([0], [])


def test_split_is_deterministic_per_seed():
    assert split_indices(50, 0.3, seed=1) == split_indices(50, 0.3, seed=1)
    assert split_indices(50, 0.3, seed=1) != split_indices(50, 0.3, seed=2)
    labels = [i % 3 for i in range(60)]
    assert split_indices(60, 0.25, 7, labels) == split_indices(60, 0.25, 7, labels)
    assert split_indices(60, 0.25, 7, labels) != split_indices(60, 0.25, 8, labels)


def test_stratified_split_keeps_every_class_in_both_splits():
    # unbalanced: 40 / 8 / 3 / 2 items, and one class with a single item
    labels = [0] * 40 + [1] * 8 + [2] * 3 + [3] * 2 + [4]
    rng = random.Random(0)
    rng.shuffle(labels)
    train, val = split_indices(len(labels), 0.2, seed=0, labels=labels)
    assert sorted(train + val) == list(range(len(labels))) and not set(train) & set(val)
    lab = np.asarray(labels)
    for cls, n in [(0, 40), (1, 8), (2, 3), (3, 2)]:
        n_val = int((lab[val] == cls).sum())
        n_train = int((lab[train] == cls).sum())
        assert n_val >= 1 and n_train >= 1, cls
        assert n_val + n_train == n
    assert int((lab[val] == 0).sum()) == 8  # the class keeps its 20 % share
    assert int((lab[val] == 1).sum()) == 2
    assert (lab[train] == 4).sum() == 1 and (lab[val] == 4).sum() == 0  # single item: train


def test_stratified_split_accepts_string_labels():
    labels = ["cat", "dog"] * 10
    train, val = split_indices(20, 0.5, seed=0, labels=labels)
    assert len(val) == 10 and sorted({labels[i] for i in val}) == ["cat", "dog"]


def test_seed_everything_is_reproducible():
    seed_everything(123)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(123)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a


def test_make_loader_on_cpu():
    ds = TensorDataset(torch.arange(10).float().unsqueeze(1), torch.arange(10))
    loader = make_loader(ds, 4, shuffle=False, device=torch.device("cpu"))
    batches = list(loader)
    assert [len(y) for _, y in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([y for _, y in batches]), torch.arange(10))
    assert loader.pin_memory is False and loader.num_workers == 0
    dropped = make_loader(ds, 4, shuffle=False, drop_last=True)
    assert len(dropped) == 2


def test_make_loader_shuffle_is_seeded():
    ds = TensorDataset(torch.arange(32))

    def order(seed: int) -> list[int]:
        loader = make_loader(ds, 8, shuffle=True, seed=seed)
        return torch.cat([b[0] for b in loader]).tolist()

    assert order(5) == order(5) and order(5) != order(6)
    assert sorted(order(5)) == list(range(32))


def test_make_loader_collate_fn():
    loader = make_loader(list(range(5)), 2, shuffle=False, collate_fn=lambda items: sum(items))
    assert list(loader) == [1, 5, 4]


def test_make_loader_spawns_workers():
    loader = make_loader(TensorDataset(torch.arange(4)), 2, shuffle=False, workers=1)
    assert loader.multiprocessing_context.get_start_method() == "spawn"
    assert loader.persistent_workers is True
