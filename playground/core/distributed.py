"""Training on several processes: ``torchrun --nproc-per-node N -m playground train …``.

torchrun starts N copies of the command and tells each one its place through environment
variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``). When the
``train`` command sees ``WORLD_SIZE`` above 1 it calls :func:`init_from_env`, which joins the
process group (NCCL on CUDA, gloo on the CPU) and puts each process on its own GPU. Then the one
training loop (:func:`playground.core.engine.fit`) does the rest with the helpers here:

- The model is wrapped in :class:`~torch.nn.parallel.DistributedDataParallel` for the training
  forward pass (``TrainTask.forward_model``); gradients are averaged across processes during
  backward. BatchNorm becomes SyncBatchNorm on CUDA.
- The config's ``batch_size`` is the **global** batch: every step all processes together train
  on the same batch a single process would, each on its share (:func:`share`). So a run has the
  same steps, learning-rate schedule and data order on 1 GPU or 8, and a run started on one
  machine resumes on another with a different number of processes.
- Training metrics and evaluation results are averaged across processes (:meth:`World.mean`),
  so every process takes the same decisions (best checkpoint, early stopping, divergence).
- Stop is agreed on: a process that is asked to stop (Ctrl-C, or torchrun's SIGTERM) stops
  all of them at the same step (:meth:`World.any`), and rank 0 saves the checkpoint.
- Rank 0 alone writes the run folder; the other ranks train into a scratch folder that is
  removed when they exit. The resume state holds every rank's random generators.

Everything here is a no-op in a single process, which is what the app and the tests run by
default.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from playground.core.errors import ConfigError, DeviceError


@dataclass(frozen=True)
class World:
    """Where this process stands among the processes of one training run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    # collectives (all ranks must call them at the same point) --------------------------------
    def _device(self):
        import torch

        if self.backend == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")

    def mean(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` with every float averaged over the ranks (other entries as given)."""
        if not self.distributed or not values:
            return values
        import torch
        import torch.distributed as dist

        keys = sorted(k for k, v in values.items()
                      if isinstance(v, float) and not isinstance(v, bool))
        if not keys:
            return values
        t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=self._device())
        dist.all_reduce(t)
        out = dict(values)
        for k, v in zip(keys, (t / self.world_size).tolist(), strict=True):
            out[k] = float(v)
        return out

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on at least one."""
        if not self.distributed:
            return bool(flag)
        import torch
        import torch.distributed as dist

        t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=self._device())
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order (on every rank)."""
        if not self.distributed:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def sync_buffers(self, model) -> None:
        """Rank 0's buffers (batch-norm statistics) on every rank: each rank's last forward
        pass moved its own, and an evaluation or a saved checkpoint must see one model."""
        if not self.distributed:
            return
        import torch
        import torch.distributed as dist

        for buf in model.buffers():
            if buf.dtype != torch.bool:
                dist.broadcast(buf.data, src=0)

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.distributed:
            return obj
        import torch.distributed as dist

        box = [obj if self.main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]


_WORLD = World()


def current() -> World:
    """This process's :class:`World` (one process unless :func:`init_from_env` joined a group)."""
    return _WORLD


def env_world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def share(n: int, world: World | None = None) -> tuple[int, int]:
    """``(start, stop)`` of this rank's part of ``n`` items split as evenly as possible."""
    world = world or _WORLD
    base, extra = divmod(n, world.world_size)
    start = world.rank * base + min(world.rank, extra)
    return start, start + base + (1 if world.rank < extra else 0)


def keeps_partial(size: int, world: World | None = None) -> bool:
    """Whether a last, partial batch of ``size`` is trained on: under torchrun each process
    must get at least two of its samples (one sample breaks batch norm)."""
    world = world or _WORLD
    return not world.distributed or size >= 2 * world.world_size


def take_share(batch: list[int], world: World | None = None) -> list[int]:
    """This rank's part of a global batch of indices."""
    world = world or _WORLD
    return batch[slice(*share(len(batch), world))] if world.distributed else batch


def check_batch(batch_size: int, world: World | None = None) -> None:
    world = world or _WORLD
    if world.distributed and batch_size < world.world_size:
        raise ConfigError(f"The batch size {batch_size} cannot be split over "
                          f"{world.world_size} processes: give a batch size of at least "
                          f"{world.world_size} (it is the global batch, shared by all "
                          "processes).")


def init_from_env(device: str = "auto") -> World:
    """Join torchrun's process group when ``WORLD_SIZE`` > 1; return the device name to use.

    ``device`` is the ``--device`` flag: ``auto`` and ``cuda`` take GPU ``LOCAL_RANK`` (NCCL),
    ``cpu`` uses gloo. Returns this process's :class:`World`.
    """
    global _WORLD
    size = env_world_size()
    if size <= 1 or _WORLD.distributed:
        return _WORLD
    import torch
    import torch.distributed as dist

    try:
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    except (KeyError, ValueError) as exc:
        raise DeviceError("WORLD_SIZE is set but RANK is not: start distributed training "
                          "with torchrun (torchrun --nproc-per-node N -m playground train "
                          "…).") from exc
    name = (device or "auto").strip().lower()
    use_cuda = name.startswith("cuda") or (name == "auto" and torch.cuda.is_available())
    if use_cuda:
        if not torch.cuda.is_available():
            raise DeviceError("--device cuda was asked for under torchrun but no CUDA GPU is "
                              "available here: use --device cpu (gloo) or run on a GPU node.")
        if local >= torch.cuda.device_count():
            raise DeviceError(f"torchrun started {os.environ.get('LOCAL_WORLD_SIZE', '?')} "
                              f"processes on this node but it has {torch.cuda.device_count()} "
                              "GPU(s): give --nproc-per-node at most the number of GPUs.")
        torch.cuda.set_device(local)
    backend = "nccl" if use_cuda else "gloo"
    dist.init_process_group(backend, timeout=timedelta(minutes=30))
    _WORLD = World(rank, dist.get_world_size(), local, backend)
    atexit.register(shutdown)
    return _WORLD


def device_name(requested: str) -> str:
    """The device this rank trains on: its own GPU under NCCL, else what was asked for."""
    if _WORLD.backend == "nccl":
        return f"cuda:{_WORLD.local_rank}"
    if _WORLD.distributed:
        return "cpu"
    return requested


def shutdown() -> None:
    global _WORLD
    if not _WORLD.distributed:
        return
    import torch.distributed as dist

    try:
        if dist.is_initialized():
            dist.destroy_process_group()
    finally:
        _WORLD = World()


def scratch_home() -> str:
    """A private run home for ranks other than 0 (removed when the process exits)."""
    path = tempfile.mkdtemp(prefix=f"playground-rank{_WORLD.rank}-")
    atexit.register(shutil.rmtree, path, True)
    return path


def wrap(model, device) -> Any:
    """``model`` wrapped for training across the ranks (SyncBatchNorm on CUDA)."""
    import torch
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ConfigError("Every layer is frozen, so there is nothing to train on several "
                          "processes: unfreeze some layers.")
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                   else None)


def weights_digest(model) -> str:
    """A hash of the model's weights (to check that every rank ends with the same ones)."""
    import hashlib

    import torch

    h = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        h.update(key.encode())
        flat = value.detach().to("cpu").contiguous().reshape(-1)
        h.update(flat.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def reseed(rank: int, step: int) -> None:
    """Give rank ``rank`` its own random streams (rank 0 keeps its own unchanged)."""
    if not rank:
        return
    import random

    import numpy as np
    import torch

    base = (torch.initial_seed() + 1_000_003 * rank + 7919 * step) % 2**31
    torch.manual_seed(base)
    np.random.seed(base)
    random.seed(base)


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first (it fills a shared cache); the others wait, then run it."""
    world = _WORLD
    if not world.distributed:
        yield
        return
    import torch.distributed as dist

    if not world.main:
        dist.barrier()
    try:
        yield
    finally:
        if world.main:
            dist.barrier()
