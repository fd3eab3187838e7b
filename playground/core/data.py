"""Data utilities shared by the tasks: seeding, splits, loaders, reading users' text files."""

from __future__ import annotations

import errno
import random

import numpy as np

from playground.core.errors import DatasetError

# Byte-order marks, longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32 BE"),
    (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32 LE"),
    (b"\xef\xbb\xbf", "utf-8", "UTF-8"),
    (b"\xfe\xff", "utf-16-be", "UTF-16 BE"),
    (b"\xff\xfe", "utf-16-le", "UTF-16 LE"),
)


def decode_bom(data: bytes, name: str) -> tuple[str, str] | None:
    """Decode ``data`` by its byte-order mark: ``(text without the mark, encoding name)``.

    ``None`` when ``data`` has no byte-order mark (UTF-8, UTF-16 LE/BE or UTF-32 LE/BE).
    A file whose bytes do not follow its own mark raises :class:`DatasetError` naming the
    file ``name``, the encoding and the line that failed.
    """
    for mark, codec, label in _BOMS:
        if data.startswith(mark):
            body = data[len(mark):]
            try:
                return body.decode(codec), label
            except UnicodeDecodeError as exc:
                line = body[:exc.start].decode(codec, errors="replace").count("\n") + 1
                raise DatasetError(
                    f"{name} starts with a {label} byte-order mark, but line {line} is not "
                    f"valid {label} (byte {exc.start + len(mark)}: {exc.reason}). The file is "
                    "damaged or mixes encodings: save it again as UTF-8.") from None
    return None


def os_reason(exc: OSError) -> str:
    """A short, plain reason for an operating-system error on a user's file or folder."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "it is a folder"
    if isinstance(exc, FileNotFoundError):
        return "not found"
    if exc.errno == errno.ELOOP:
        return "a symbolic link that points to itself (a link loop)"
    if exc.errno == errno.EIO:
        return "input/output error (a failing disk or a disconnected drive?)"
    return (exc.strerror or str(exc) or type(exc).__name__).rstrip(".").lower()


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
