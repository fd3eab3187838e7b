"""Checkpoints that survive a crash.

Weights are safetensors; optimizer state is ``torch.save``'d and loaded back with
``weights_only=True`` (never unpickle a user's file). Every write goes to a temporary file in
the same folder and is renamed into place, so a crash or ``kill -9`` mid-write leaves the
previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.core.errors import CheckpointError


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` then rename the temporary file over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    return atomic_write(path, write)


def atomic_write_json(path: str | os.PathLike, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str))


def save_weights(model_or_state, path: str | os.PathLike,
                 metadata: dict[str, str] | None = None) -> Path:
    """Save a module's (or a state dict's) tensors as safetensors, atomically.

    Tensors that share storage (tied embeddings) are stored as separate copies, so any
    architecture can be saved; ``load_state_dict`` re-ties them on load.
    """
    from safetensors.torch import save_file

    state = model_or_state.state_dict() if hasattr(model_or_state, "state_dict") else model_or_state
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))


def load_weights(path: str | os.PathLike, device: str = "cpu") -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} does not exist. Train the run first, or pick "
                              "another run.")
    try:
        return load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"Checkpoint {path} could not be read ({exc}). The file is "
                              "damaged; use the run's other checkpoint or train again.") from exc


def load_into(model, path: str | os.PathLike, device: str = "cpu") -> None:
    """Load a safetensors checkpoint into ``model``, with a clear message on a mismatch."""
    state = load_weights(path, device)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"Checkpoint {path} does not fit this model: "
                              f"{str(exc).splitlines()[0]}") from exc


def save_torch(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` (tensors, dicts, numbers only) atomically; for optimizer state."""
    import torch

    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def load_torch(path: str | os.PathLike) -> Any:
    import torch

    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to read means "not usable"
        raise CheckpointError(f"{path} could not be read safely ({type(exc).__name__}). "
                              "It is damaged or not a Model Playground file.") from exc


# ------------------------------------------------------------------------------------------
# Reading a safetensors header without loading (or allocating) any tensor
# ------------------------------------------------------------------------------------------
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2,
               "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
MAX_HEADER_BYTES = 100 * 1024 * 1024  # safetensors' own limit


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of a safetensors file as its header describes it."""

    dtype: str               # safetensors' name: "F32", "BF16", "I64", ...
    shape: tuple[int, ...]
    nbytes: int


@dataclass(frozen=True)
class CheckpointHeader:
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]

    @property
    def nbytes(self) -> int:
        """The bytes all tensors take in memory once loaded."""
        return sum(t.nbytes for t in self.tensors.values())


def read_header(path: str | os.PathLike) -> CheckpointHeader:
    """The names, dtypes and shapes of a safetensors file's tensors, from its header alone.

    Reads the 8-byte little-endian header length and the JSON header that follows, checks
    that every tensor's offsets fit the file and its byte count matches its shape, and
    allocates no tensor. A missing, truncated or damaged file raises :class:`CheckpointError`
    naming it.
    """
    path = Path(path)

    def damaged(detail: str) -> CheckpointError:
        return CheckpointError(f"Checkpoint {path} is damaged ({detail}): use the run's other "
                               "checkpoint or train again.")

    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise damaged(f"it is only {size} bytes long")
            length = int.from_bytes(head, "little")
            if length <= 1 or length > MAX_HEADER_BYTES or 8 + length > size:
                raise damaged(f"its header says {length} bytes; the file has {size}")
            raw = fh.read(length)
    except FileNotFoundError:
        raise CheckpointError(f"Checkpoint {path} does not exist. Train the run first, or pick "
                              "another run.") from None
    except IsADirectoryError:
        raise CheckpointError(f"Checkpoint {path} is a folder, not a file.") from None
    except OSError as exc:
        raise CheckpointError(f"Checkpoint {path} could not be read "
                              f"({exc.strerror or exc}).") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise damaged("its header is not JSON") from None
    if not isinstance(header, dict):
        raise damaged("its header is not a JSON object")
    data_size = size - 8 - length
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise damaged("its metadata is not a JSON object")
    tensors: dict[str, TensorInfo] = {}
    for name, entry in header.items():
        try:
            dtype, shape, (start, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
            if not (isinstance(dtype, str) and isinstance(shape, list)
                    and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                            for d in shape)
                    and isinstance(start, int) and isinstance(end, int)):
                raise TypeError
        except (TypeError, KeyError, ValueError):
            raise damaged(f"tensor {name!r} is described wrongly in its header") from None
        numel = 1
        for d in shape:
            numel *= d
        nbytes = numel * DTYPE_BYTES.get(dtype, 0)
        if dtype not in DTYPE_BYTES or not 0 <= start <= end <= data_size \
                or end - start != nbytes:
            raise damaged(f"tensor {name!r}: {dtype} {shape} does not fit bytes "
                          f"{start}..{end} of {data_size}")
        tensors[str(name)] = TensorInfo(dtype, tuple(shape), nbytes)
    return CheckpointHeader(tensors, {str(k): str(v) for k, v in metadata.items()})
