"""One way to load a run for inference, and one model cache.

::

    spec = open_for_inference(run_dir, "image", checkpoint="best")   # validated run.json,
    model = build_model(spec, lambda: factory(...), device)           # checked, then loaded
    predictor = load(run_dir, "image", ImagePredictor.from_spec, device="auto")  # cached

- :func:`open_for_inference` opens a run folder of a task, validates its ``run.json``
  (:mod:`playground.core.validate`) and picks the checkpoint (``best``, falling back to
  ``last``; or ``last``) -> :class:`RunSpec`.
- :func:`build_model` builds the model a task's factory describes, but first compares it with
  the checkpoint's header (no tensor is read): the model is built on PyTorch's meta device (no
  memory) and each weight's name and shape is checked against the checkpoint's; a damaged
  ``run.json`` is refused ("run.json says n_embd 8192 but the checkpoint's weights are 128
  wide: the run folder is damaged") before a ~155 GB model is allocated. Then the memory the
  model needs is compared with what the device has free. Only then is it built and loaded.
- :class:`ModelCache` / :data:`MODELS`: the one thread-safe cache of loaded predictors the GUI
  and the CLI share, keyed by (kind, run folder, checkpoint choice, device) and stamped with the
  path, modification time and size of the checkpoint file and of run.json, so a retrained (or
  edited) run is loaded again.
- :func:`load` ties them: the task supplies only "how to build my predictor from a RunSpec"
  (``ImagePredictor.from_spec``, ``KeywordPredictor.from_spec``, ``Transcriber.from_spec``,
  ``TextGenerator.from_spec``).

Qt-free; torch is imported only when a model is built.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from playground.core.checkpoint import CheckpointHeader, load_into, read_header
from playground.core.errors import CheckpointError, ConfigError, DeviceError, RunError
from playground.core.runs import TRAINING, Run, open_run

T = TypeVar("T")

CHECKPOINTS = ("best", "last")
DEFAULT_CACHE_ITEMS = 4  # loaded models kept at once (the least recently used go first)


# ------------------------------------------------------------------------------------------
# Run folder -> what inference needs
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunSpec:
    """A run opened for inference: its validated run.json and the checkpoint to load."""

    run: Run
    info: dict[str, Any]
    checkpoint: Path
    which: str                 # the checkpoint actually chosen: "best" or "last"
    _header: list = field(default_factory=list, compare=False, repr=False)

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def task(self) -> str:
        return str(self.info.get("task", ""))

    @property
    def model(self) -> str:
        return str(self.info.get("model", ""))

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.info.get("config") or {})

    def header(self) -> CheckpointHeader:
        """The checkpoint's tensor names, dtypes and shapes (read once, no tensor loaded)."""
        if not self._header:
            self._header.append(read_header(self.checkpoint))
        return self._header[0]


def choose_checkpoint(run: Run, which: str = "best", info: dict[str, Any] | None = None
                      ) -> tuple[Path, str]:
    """``(path, which)``: ``best`` falls back to ``last``; ``last`` must exist."""
    if which not in CHECKPOINTS:
        raise ConfigError(f"Checkpoint must be 'best' or 'last'; got {which!r}.")
    order = (run.best_checkpoint, run.last_checkpoint) if which == "best" \
        else (run.last_checkpoint,)
    for path in order:
        if path.is_file():
            return path, path.stem
    if which == "last" and run.best_checkpoint.is_file():
        raise RunError(f"Run {run.path} has no last checkpoint; use its best one "
                       "(--checkpoint best).")
    status = run.effective_status(info) if info is not None else ""
    if status == TRAINING:
        raise RunError(f"The run {run.path} has no trained model yet (no checkpoint): its "
                       "training has not reached the first evaluation. Wait for the first "
                       "evaluation, then try again.")
    raise RunError(f"The run {run.path} has no trained model yet (no checkpoint): it was "
                   "stopped before its first checkpoint was saved. Train it again.")


def open_for_inference(run_dir: str | os.PathLike, task: str | None = None,
                       checkpoint: str = "best") -> RunSpec:
    """Open ``run_dir`` (of ``task`` if given) for inference; see :class:`RunSpec`."""
    if checkpoint not in CHECKPOINTS:
        raise ConfigError(f"Checkpoint must be 'best' or 'last'; got {checkpoint!r}.")
    run = open_run(run_dir, task)
    info = run.info()
    path, which = choose_checkpoint(run, checkpoint, info)
    return RunSpec(run, info, path, which)


def file_stamp(path: str | os.PathLike) -> tuple[str, int, int] | None:
    """``(path, mtime_ns, size)`` of a file (None when absent): what changes on a retrain."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return str(path), st.st_mtime_ns, st.st_size


# ------------------------------------------------------------------------------------------
# Checked model building
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConfigHint:
    """A run.json setting that one checkpoint tensor's size shows, for a message in the
    user's terms: ``ConfigHint("n_embd", 8192, "transformer.wte.weight", 1, "wide")``."""

    field: str
    value: Any
    tensor: str
    axis: int
    unit: str = "wide"


def _fmt_shape(shape: Iterable[int]) -> str:
    return "×".join(str(int(d)) for d in shape) or "a scalar"


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def check_hints(spec: RunSpec, hints: Iterable[ConfigHint]) -> None:
    tensors = spec.header().tensors
    for hint in hints:
        info = tensors.get(hint.tensor)
        if info is None or not -len(info.shape) <= hint.axis < len(info.shape):
            continue
        actual = info.shape[hint.axis]
        if actual != hint.value:
            raise CheckpointError(
                f"run.json says {hint.field} {hint.value} but the checkpoint's weights are "
                f"{actual} {hint.unit}: the run folder is damaged ({spec.path / 'run.json'} "
                f"does not match {spec.checkpoint.name}). Restore run.json or train again.")


def meta_state_shapes(factory: Callable[[], Any]) -> tuple[dict[str, tuple[int, ...]], int] | None:
    """``({name: shape}, bytes)`` of the model ``factory`` builds, built on the meta device so
    nothing is allocated; None when the factory cannot build there."""
    import torch

    try:
        with torch.device("meta"):
            model = factory()
        state = model.state_dict()
        nbytes = sum(t.numel() * t.element_size() for t in model.parameters())
        nbytes += sum(t.numel() * t.element_size() for t in model.buffers())
    except (ConfigError, RunError):
        raise
    except Exception:  # noqa: BLE001 - a factory that needs real tensors: checked after building
        return None
    return {k: tuple(v.shape) for k, v in state.items()}, int(nbytes)


def compare_with_checkpoint(spec: RunSpec, shapes: dict[str, tuple[int, ...]]) -> None:
    """Refuse when the model run.json describes and the checkpoint disagree."""
    tensors = spec.header().tensors
    damaged = (f"the run folder is damaged ({spec.path / 'run.json'} does not match "
               f"{spec.checkpoint.name}). Restore run.json or train again.")
    wrong = [(k, s, tensors[k].shape) for k, s in shapes.items()
             if k in tensors and tuple(tensors[k].shape) != s]
    if wrong:
        name, want, have = wrong[0]
        more = f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""
        raise CheckpointError(f"run.json describes a model whose weight '{name}' is "
                              f"{_fmt_shape(want)}, but the checkpoint's is {_fmt_shape(have)}"
                              f"{more}: {damaged}")
    missing = [k for k in shapes if k not in tensors]
    extra = [k for k in tensors if k not in shapes]
    if missing:
        raise CheckpointError(f"run.json describes a model with {len(missing)} weight(s) the "
                              f"checkpoint does not have (e.g. '{missing[0]}'): {damaged}")
    if extra:
        raise CheckpointError(f"The checkpoint has {len(extra)} weight(s) the model run.json "
                              f"describes does not (e.g. '{extra[0]}'): {damaged}")


def available_memory(device: Any) -> int | None:
    """Bytes free on ``device`` (system RAM for the CPU and MPS); None when unknown."""
    kind = getattr(device, "type", str(device).split(":")[0])
    if kind == "cuda":
        import torch

        try:
            free, _ = torch.cuda.mem_get_info(device)
            return int(free)
        except Exception:  # noqa: BLE001 - unknown is not an error
            return None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass  # no /proc (macOS, Windows) or an odd format: ask sysconf below instead
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(spec: RunSpec, model_bytes: int, device: Any,
                 available: Callable[[Any], int | None] | None = None) -> None:
    """Refuse a model that cannot fit: building it on the CPU and loading its checkpoint need
    about ``model_bytes`` + the checkpoint's tensors of RAM; on a GPU ``model_bytes`` there."""
    kind = getattr(device, "type", str(device).split(":")[0])
    available = available or available_memory
    needs = [("cpu", model_bytes + spec.header().nbytes)]
    if kind == "cuda":
        needs.append((device, model_bytes))
    for where, need in needs:
        free = available(where)
        if free is not None and need > free:
            label = "memory" if where == "cpu" else f"memory on {where}"
            raise DeviceError(f"Loading run {spec.path.name} needs about {_gb(need)} of "
                              f"{label}, but only {_gb(free)} is free. Its run.json describes "
                              "a model too large for this machine; close other programs, or "
                              "pick another run.")


def build_model(spec: RunSpec, factory: Callable[[], Any], device: Any = "cpu", *,
                hints: Iterable[ConfigHint] = (),
                available: Callable[[Any], int | None] | None = None):
    """Build ``factory()``'s model, load ``spec``'s checkpoint into it and move it to
    ``device`` in eval mode, after checking (with no allocation) that run.json's settings and
    the checkpoint's tensor shapes agree and that the model fits in memory."""
    check_hints(spec, hints)
    meta = meta_state_shapes(factory)
    if meta is not None:
        shapes, model_bytes = meta
        compare_with_checkpoint(spec, shapes)
    else:
        model_bytes = spec.header().nbytes
    check_memory(spec, model_bytes, device, available)
    model = factory()
    load_into(model, spec.checkpoint)
    return model.to(device).eval()


# ------------------------------------------------------------------------------------------
# The one model cache
# ------------------------------------------------------------------------------------------
class ModelCache:
    """A thread-safe cache of loaded predictors, least recently used evicted first.

    ``get_or_load(key, stamp, load)`` returns the cached value while its stamp equals
    ``stamp`` (e.g. the checkpoint's :func:`file_stamp`); otherwise the old value is dropped
    (its memory freed before the new one is built) and ``load()`` is called. Two threads
    asking for the same key load it once; different keys load concurrently.
    """

    def __init__(self, max_items: int = DEFAULT_CACHE_ITEMS) -> None:
        self.max_items = max(1, int(max_items))
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[Hashable, Any]] = OrderedDict()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def get_or_load(self, key: Hashable, stamp: Hashable, load: Callable[[], T]) -> T:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] == stamp:
                self._items.move_to_end(key)
                return hit[1]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                hit = self._items.get(key)
                if hit is not None and hit[0] == stamp:
                    self._items.move_to_end(key)
                    return hit[1]
                self._items.pop(key, None)  # stale: free it before loading the new one
            value = load()
            self.put(key, stamp, value)
            return value

    def put(self, key: Hashable, stamp: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = (stamp, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def peek(self, key: Hashable) -> Any | None:
        with self._lock:
            hit = self._items.get(key)
            return None if hit is None else hit[1]

    def discard_run(self, run_dir: str | os.PathLike) -> int:
        """Forget every model of ``run_dir`` (e.g. when the run is deleted)."""
        target = str(Path(run_dir).resolve())
        with self._lock:
            keys = [k for k in self._items
                    if isinstance(k, tuple) and len(k) > 1 and k[1] == target]
            for k in keys:
                del self._items[k]
        return len(keys)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


MODELS = ModelCache()
"""The cache the GUI's tabs and the CLI share."""


def resolve(device: Any):
    from playground.core.device import resolve_device

    return resolve_device(device) if device is None or isinstance(device, str) else device


def load(run_dir: str | os.PathLike, task: str | None,
         build: Callable[[RunSpec, Any], T], *, device: Any = "cpu",
         checkpoint: str = "best", kind: str = "", cache: ModelCache | None = None) -> T:
    """``build(spec, device)`` for ``run_dir``, reused from ``cache`` (default :data:`MODELS`)
    until the chosen checkpoint file changes on disk.

    ``kind`` separates predictors of different types built from the same run (default: the
    task). The run folder is opened and run.json validated on every call (cheap), so a
    damaged or deleted run is reported rather than served from the cache.
    """
    dev = resolve(device)
    spec = open_for_inference(run_dir, task, checkpoint)
    key = (kind or spec.task, str(spec.path.resolve()), checkpoint, str(dev))
    # A retrain rewrites the checkpoint; an edit of run.json (or a resume) rewrites run.json.
    stamp = (file_stamp(spec.checkpoint), file_stamp(spec.path / "run.json"))
    return (MODELS if cache is None else cache).get_or_load(key, stamp, lambda: build(spec, dev))
