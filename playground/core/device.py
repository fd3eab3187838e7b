"""What compute is present, which device to use, and mixed precision on it.

``auto`` means the first CUDA device, else Apple's MPS, else the CPU. On CUDA training uses
autocast (bf16 where supported, else fp16 with a gradient scaler).
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass

from playground.core.errors import DeviceError


@dataclass(frozen=True)
class DeviceInfo:
    name: str            # "cuda:0", "mps", "cpu"
    title: str           # what the picker shows
    total_memory: int = 0  # bytes, 0 when unknown
    free_memory: int = 0


def list_devices() -> list[DeviceInfo]:
    import torch

    found = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            try:
                free, total = torch.cuda.mem_get_info(i)
            except RuntimeError:
                free, total = 0, props.total_memory
            found.append(DeviceInfo(f"cuda:{i}", f"cuda:{i} — {props.name} "
                                    f"({total / 2**30:.0f} GiB)", total, free))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append(DeviceInfo("mps", "mps — Apple GPU"))
    found.append(DeviceInfo("cpu", f"cpu — {torch.get_num_threads()} threads"))
    return found


def resolve_device(name: str | None = "auto"):
    """``auto`` / ``cpu`` / ``cuda`` / ``cuda:N`` / ``mps`` -> ``torch.device``.

    Raises :class:`DeviceError` with a clear message when the device is absent or unknown.
    """
    import torch

    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda:0")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        match = re.fullmatch(r"cuda(?::(\d+))?", name)
        if match is None:
            raise DeviceError(f"Unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps.")
        if not torch.cuda.is_available():
            raise DeviceError(f"Device {name!r} was asked for but no CUDA GPU is available here. "
                              "Choose 'auto' or 'cpu'.")
        index = int(match.group(1) or 0)
        if index >= torch.cuda.device_count():
            raise DeviceError(f"Device {name!r} does not exist: this machine has "
                              f"{torch.cuda.device_count()} CUDA device(s).")
        return torch.device("cuda", index)
    if name == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise DeviceError("Device 'mps' was asked for but Apple's MPS is not available here. "
                              "Choose 'auto' or 'cpu'.")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise DeviceError(f"Unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps.")


def cpu_count() -> int:
    """CPU cores this process may use (its affinity mask where the system has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def cap_to_cpus(n: int, what: str = "workers") -> tuple[int, str | None]:
    """``n`` limited to the cores present, and a note when it was lowered.

    Asking for 32 data-loader workers (or threads) on a 2-core machine starts 32 processes
    that fight over two cores and look like a hang; use at most one per core instead.
    """
    cores = cpu_count()
    if n <= cores:
        return n, None
    return cores, (f"note: {n} {what} asked for, but this machine has {cores} CPU "
                   f"core{'s' if cores != 1 else ''}; using {cores}.")


def set_cpu_threads(n: int) -> None:
    """torch's CPU threads: 0 keeps torch's default; more than the cores is capped."""
    import torch

    if n > 0:
        torch.set_num_threads(cap_to_cpus(n, "threads")[0])


def memory_in_use(device) -> tuple[int, int]:
    """(allocated, total) bytes on a CUDA device; (0, 0) elsewhere."""
    import torch

    if getattr(device, "type", str(device)).startswith("cuda") and torch.cuda.is_available():
        index = device.index if hasattr(device, "index") and device.index is not None else 0
        total = torch.cuda.get_device_properties(index).total_memory
        return torch.cuda.memory_allocated(index), total
    return 0, 0


class Precision:
    """Mixed precision for one device: ``with precision.autocast():`` and ``precision.backward``.

    bf16 autocast on CUDA where supported (no scaler needed), else fp16 with a GradScaler;
    full precision on CPU and MPS (CPU autocast is slower than fp32 for small models).
    """

    def __init__(self, device, enabled: bool = True) -> None:
        import torch

        self.device = device
        self.dtype = None
        self.scaler = None
        if enabled and device.type == "cuda":
            if torch.cuda.is_bf16_supported():
                self.dtype = torch.bfloat16
            else:
                self.dtype = torch.float16
                self.scaler = torch.amp.GradScaler("cuda")

    @property
    def name(self) -> str:
        return {None: "fp32"}.get(self.dtype, str(self.dtype).replace("torch.", ""))

    def autocast(self):
        import torch

        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def backward(self, loss) -> None:
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()

    def step(self, optimizer, parameters=None, clip: float = 0.0) -> None:
        import torch

        if self.scaler is not None:
            if clip > 0:
                self.scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(parameters, clip)
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            if clip > 0:
                torch.nn.utils.clip_grad_norm_(parameters, clip)
            optimizer.step()
