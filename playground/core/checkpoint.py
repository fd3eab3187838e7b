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
