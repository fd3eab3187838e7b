"""Data utilities shared by the tasks: seeding, splits, loaders."""

from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def split_indices(n: int, val_fraction: float, seed: int = 0,
                  labels=None) -> tuple[list[int], list[int]]:
    """Shuffle ``range(n)`` into train and validation indices.

    With ``labels`` the split is stratified: each class keeps the same share in validation
    (at least one item of every class with two or more items).
    """
    rng = np.random.default_rng(seed)
    if labels is None:
        order = rng.permutation(n)
        n_val = int(round(n * val_fraction))
        if val_fraction > 0 and n > 1:
            n_val = min(max(1, n_val), n - 1)
        return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())
    labels = np.asarray(labels)
    train, val = [], []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n_val = int(round(len(idx) * val_fraction))
        if val_fraction > 0 and len(idx) > 1:
            n_val = min(max(1, n_val), len(idx) - 1)
        val += idx[:n_val].tolist()
        train += idx[n_val:].tolist()
    return sorted(train), sorted(val)


def make_loader(dataset, batch_size: int, *, shuffle: bool, device=None, workers: int = 0,
                seed: int = 0, drop_last: bool = False, collate_fn=None):
    """A DataLoader that pins memory on CUDA and never forks (``spawn`` workers).

    Forking a process that runs Qt threads can deadlock, so worker processes are spawned.
    """
    import torch
    from torch.utils.data import DataLoader

    generator = torch.Generator()
    generator.manual_seed(seed)
    kwargs = {}
    if workers > 0:
        kwargs.update(multiprocessing_context="spawn", persistent_workers=True)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=workers,
                      pin_memory=getattr(device, "type", "") == "cuda", drop_last=drop_last,
                      generator=generator, collate_fn=collate_fn, **kwargs)
