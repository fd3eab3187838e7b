"""The one training loop every task runs through.

A task supplies only what is its own, as a :class:`TrainTask`: the model, its training batches,
the loss of one batch, and an ``evaluate()`` that returns its metrics with one primary metric
and its direction. :func:`fit` owns everything tasks do alike: steps and epochs (or plain
iterations), evaluation on a schedule, Stop, failure status, ``last`` and ``best`` checkpoints,
early stopping, the divergence guard, metrics logging and the resume state.

Resume is exact: ``checkpoints/last.safetensors`` holds the weights and
``checkpoints/optimizer.pt`` (loaded with ``torch.load(..., weights_only=True)``) holds the rest:
optimizer, LR schedule, gradient scaler, the loop's counters (step, epoch, position in the
epoch, best metric, early-stopping counter, where ``metrics.jsonl`` stood), the task's own state
(data order, its random generators) and the RNG states of torch, CUDA, NumPy and Python. A run
stopped after a checkpoint and resumed ends with the same weights as one left uninterrupted
(``tests/core/test_engine.py`` and the per-task resume tests check it to 1e-6).

Fork / fine-tune: :func:`init_from` copies another run's weights into a new model, layer by
layer where the shapes agree (a new classifier head when the classes differ), optionally
freezing what was reused; the new run records its parent.

Several processes (``torchrun``): the same loop, with :mod:`playground.core.distributed`
wrapping the model in DistributedDataParallel, sharing each global batch, averaging metrics,
agreeing on Stop and letting rank 0 alone write the run folder.
"""

from __future__ import annotations

import math
import os
import random
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from playground.core import distributed
from playground.core import events as ev
from playground.core.errors import CheckpointError, JobCancelled, RunError
from playground.core.jobs import JobContext
from playground.core.runs import Run
from playground.core.trainer import TrainingDiverged

__all__ = ["EpochBatches", "InitReport", "LoopConfig", "LoopState", "TrainTask",
           "TrainingDiverged", "epoch_loader", "fit", "init_from", "loader_batches",
           "open_parent", "parse_init_spec"]

STATE_VERSION = 1


# --------------------------------------------------------------------------------------------
# What a task supplies
# --------------------------------------------------------------------------------------------
class TrainTask:
    """The task's side of :func:`fit`. Subclass and override what the task needs.

    ``model`` must be on ``ctx.device`` before :func:`fit` is called. ``primary`` names the
    metric (a key of ``evaluate()``'s dict) that chooses the best checkpoint and drives early
    stopping; ``higher_is_better`` gives its direction.
    """

    model: Any = None
    precision: Any = None  # the loop's Precision (autocast), set by fit() before training
    primary: str = "val_loss"
    higher_is_better: bool = False
    _ddp: Any = None  # under torchrun: the DistributedDataParallel wrapper fit() made

    @property
    def forward_model(self) -> Any:
        """The module ``loss()`` calls: the model itself, or under torchrun its
        DistributedDataParallel wrapper (which averages the gradients across processes)."""
        return self._ddp if self._ddp is not None else self.model

    def build_optimizer(self, total_steps: int) -> tuple[Any, Any]:
        """``(optimizer, scheduler or None)`` for a run of ``total_steps`` steps."""
        raise NotImplementedError

    def batches(self, epoch: int, start: int) -> Iterable[Any]:
        """The training batches of ``epoch`` (1-based), skipping the first ``start``.

        In iteration mode (``steps_per_epoch`` None) this is an endless stream and ``epoch`` is
        always 1. The order must depend only on the task's state, so a resumed run sees the
        same batches.
        """
        raise NotImplementedError

    def loss(self, batch: Any) -> tuple[Any, int]:
        """``(loss tensor, batch size)`` of one batch (called under autocast, model in train)."""
        raise NotImplementedError

    def after_step(self, batch: Any, loss: Any) -> None:
        """Called after each step with its (detached) loss: accumulate training metrics on the
        device (never ``.item()`` here: that would synchronise a GPU every step)."""

    def epoch_metrics(self, epoch: int) -> dict[str, float]:
        """Training metrics of the finished epoch (epoch mode); reset the accumulators."""
        return {}

    def evaluate(self, ctx: JobContext, step: int, epoch: int | None) -> dict[str, float]:
        """Metrics on held-out data; emit any views (confusion matrix, samples) as events."""
        return {}

    def describe_eval(self, metrics: dict[str, float], step: int, epoch: int | None) -> str:
        """One log line after an evaluation."""
        where = f"epoch {epoch}" if epoch is not None else f"step {step}"
        return where + ": " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())

    def finish(self, result: dict[str, Any]) -> None:
        """Add the task's own entries to the result before it is stored in run.json."""

    def state_dict(self) -> dict[str, Any]:
        """The task's own resume state: tensors, numbers, strings, lists and dicts of them."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def reseed_for_rank(self, rank: int, step: int) -> None:
        """Resumed with another number of processes: give rank ``rank`` its own random
        streams (rank 0 keeps the saved ones)."""


@dataclass
class LoopConfig:
    """How long to train and when to evaluate."""

    total_steps: int                    # optimisation steps in the whole run
    steps_per_epoch: int | None = None  # None: iteration mode
    eval_interval: int = 0              # iteration mode: steps between evaluations
    eval_at_start: bool = False         # iteration mode: evaluate at step 0 too
    patience: int = 0                   # evaluations without improvement before stopping
    grad_clip: float = 0.0
    mixed_precision: bool = True
    epochs: int | None = None           # epoch mode: the number of epochs (for messages)


@dataclass
class LoopState:
    """The loop's counters; saved with every ``last`` checkpoint."""

    step: int = 0
    epoch: int = 1          # the epoch in progress (1-based)
    position: int = 0       # batches of that epoch already trained
    best: float | None = None
    best_step: int = -1
    best_epoch: int = 0
    stale: int = 0
    evals: int = 0
    metrics_bytes: int = 0  # size of metrics.jsonl when the checkpoint was written
    pending_eval: bool = False  # stopped during an evaluation: redo it first on resume
    train_seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# RNG and resume state
# --------------------------------------------------------------------------------------------
def rng_state() -> dict[str, Any]:
    import torch

    np_state = np.random.get_state()
    py_state = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)),
                  "pos": int(np_state[2]), "has_gauss": int(np_state[3]),
                  "gauss": float(np_state[4])},
        "python": {"version": py_state[0], "state": list(py_state[1]),
                   "gauss": py_state[2]},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


def generator_state(gen: np.random.Generator) -> str:
    """A NumPy Generator's state as JSON text (its integers exceed 64 bits)."""
    import json

    return json.dumps(gen.bit_generator.state)


def set_generator_state(gen: np.random.Generator, text: str) -> None:
    import json

    gen.bit_generator.state = json.loads(text)


def read_resume_state(run: Run) -> dict[str, Any]:
    """The saved training state of ``run``'s last checkpoint, checked against the weights."""
    from playground.core.checkpoint import load_torch

    path = run.optimizer_state
    if not path.is_file():
        raise RunError(f"Run {run.path} has no resumable checkpoint yet (it was stopped before "
                       "the first one was saved). Train it again.")
    state = load_torch(path)
    if (not isinstance(state, dict) or state.get("version") != STATE_VERSION
            or not isinstance(state.get("loop"), dict) or "model" not in state):
        raise CheckpointError(f"{path} was written by another version of the app and cannot "
                              "be resumed; start a new run from this run's weights instead "
                              "(Start from run… / --init-from).")
    return state


def checkpoint_step(path: Path) -> int | None:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        return int(meta["step"]) if "step" in meta else None
    except Exception:  # noqa: BLE001 - a damaged file is reported when it is loaded
        return None


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------
class _Loop:
    def __init__(self, ctx: JobContext, task: TrainTask, run: Run | None, cfg: LoopConfig,
                 result: dict[str, Any]) -> None:
        from playground.core.trainer import Trainer

        self.ctx, self.task, self.run, self.cfg, self.result = ctx, task, run, cfg, result
        self.state = LoopState()
        optimizer, scheduler = task.build_optimizer(cfg.total_steps)
        self.trainer = Trainer(task.model, optimizer, ctx, scheduler=scheduler,
                               grad_clip=cfg.grad_clip, mixed_precision=cfg.mixed_precision,
                               run=run)
        task.precision = self.trainer.precision  # evaluation uses the same autocast
        self.pre_eval: dict[str, Any] | None = None
        self.epoch_mode = cfg.steps_per_epoch is not None
        self.world = distributed.current()

    # state ------------------------------------------------------------------------------------
    def full_state(self) -> dict[str, Any]:
        tr = self.trainer
        # The weights travel in the resume state too, so it is one file written atomically:
        # a kill between writing last.safetensors and this file never leaves a mismatch.
        state = {"version": STATE_VERSION, "optimizer": tr.optimizer.state_dict(),
                 "model": {k: v.detach().to("cpu", copy=True)
                           for k, v in self.task.model.state_dict().items()},
                 "loop": asdict(self.state), "task": self.task.state_dict(),
                 "rng": rng_state()}
        if tr.scheduler is not None:
            state["scheduler"] = _plain_scheduler_state(tr.scheduler)
        if tr.precision.scaler is not None:
            state["scaler"] = tr.precision.scaler.state_dict()
        if self.world.distributed:  # a collective: every rank's own random streams
            state["ranks"] = self.world.gather({"rng": state["rng"], "task": state["task"]})
            state["world_size"] = self.world.world_size
        return state

    def restore(self, state: dict[str, Any]) -> None:
        try:
            self.task.model.load_state_dict(state["model"])
        except (RuntimeError, KeyError) as exc:
            raise CheckpointError(f"The saved training state does not fit this model "
                                  f"({str(exc).splitlines()[0][:200]}): the run's settings "
                                  "were changed by hand. Restore run.json or start a new run "
                                  "from this one's weights (--init-from).") from exc
        tr = self.trainer
        tr.optimizer.load_state_dict(state["optimizer"])
        if tr.scheduler is not None and "scheduler" in state:
            total = self.cfg.total_steps
            tr.scheduler.load_state_dict(state["scheduler"])
            if hasattr(tr.scheduler, "total_steps"):  # OneCycleLR: keep the new length
                tr.scheduler.total_steps = total
        if tr.precision.scaler is not None and "scaler" in state:
            tr.precision.scaler.load_state_dict(state["scaler"])
        loop = dict(state["loop"])
        self.state = LoopState(**{k: v for k, v in loop.items()
                                  if k in LoopState.__dataclass_fields__})
        tr.step_count = self.state.step
        own, world = {"task": state.get("task", {}), "rng": state["rng"]}, self.world
        ranks = state.get("ranks")
        same_world = isinstance(ranks, list) and len(ranks) == world.world_size
        if world.distributed and same_world:
            own = ranks[world.rank]
        self.task.load_state_dict(own["task"])
        set_rng_state(own["rng"])
        if world.distributed and not same_world and world.rank:
            distributed.reseed(world.rank, self.state.step)
            self.task.reseed_for_rank(world.rank, self.state.step)
        if self.run is not None:
            _truncate(self.run.path / "metrics.jsonl", self.state.metrics_bytes)

    def save(self, kind: str, metric: float | None = None,
             state: dict[str, Any] | None = None) -> None:
        """Write ``<kind>.safetensors`` (and with ``last`` the resume state, or ``state``).

        Under torchrun every rank calls this at the same points (the resume state gathers
        every rank's random streams); rank 0 alone writes."""
        if kind == "last" and state is None and self.world.distributed:
            if self.run is not None and self.world.main:
                self.state.metrics_bytes = _size(self.run.path / "metrics.jsonl")
            state = self.full_state()
        if self.run is None or not self.world.main:
            return
        from playground.core.checkpoint import save_torch, save_weights

        st = self.state
        meta = {"step": str(st.step)}
        if self.epoch_mode:  # the epoch the weights come from (the last finished one)
            meta["epoch"] = str(st.epoch - 1 if st.position == 0 else st.epoch)
        if metric is not None:
            meta[self.task.primary] = repr(metric)
        path = self.run.checkpoints / f"{kind}.safetensors"
        save_weights(self.task.model, path, meta)
        if kind == "last":
            if state is None:
                self.state.metrics_bytes = _size(self.run.path / "metrics.jsonl")
                state = self.full_state()
            save_torch(state, self.run.optimizer_state)
        self.ctx.emit(ev.CheckpointSaved(str(path), self.state.step, kind, metric))

    # training ---------------------------------------------------------------------------------
    def progress(self) -> None:
        # One small event a step: the UI's runner coalesces them, the CLI's bar throttles.
        if self.epoch_mode:
            msg = f"epoch {self.state.epoch}/{self.cfg.epochs or '?'}"
            self.ctx.emit(ev.Progress(self.state.step, self.cfg.total_steps, msg))
        else:
            self.ctx.emit(ev.Progress(self.state.step, self.cfg.total_steps, "training",
                                      unit="step"))

    def guard(self, name: str, value: float) -> None:
        if not math.isfinite(value):
            raise TrainingDiverged(
                f"The {name.replace('_', ' ')} became {value} at step {self.state.step}: "
                "training diverged. Lower the learning rate (or turn on gradient clipping) "
                "and train again; the last good checkpoint was kept.")

    def evaluate(self, end_of_epoch: bool) -> bool:
        """Evaluate, log, checkpoint; return True when early stopping says stop."""
        st, task = self.state, self.task
        self.flush()
        self.world.sync_buffers(task.model)  # under torchrun: evaluate and save one model
        # Stop during the evaluation resumes from just before it (the evaluation may draw
        # from the RNG, and the task's epoch accumulators are read and reset by it).
        st.metrics_bytes = _size(self.run.path / "metrics.jsonl") if self.run else 0
        st.pending_eval = True
        self.pre_eval = self.full_state()
        st.pending_eval = False
        epoch = st.epoch if self.epoch_mode else None
        row: dict[str, Any] = {"step": st.step}
        if epoch is not None:
            row["epoch"] = epoch
        if end_of_epoch:
            train = self.world.mean(task.epoch_metrics(st.epoch))
            for key, value in train.items():
                self.guard(key, value)
            row.update(train)
        metrics = self.world.mean(task.evaluate(self.ctx, st.step, epoch))
        for key, value in metrics.items():
            if isinstance(value, float) and key == task.primary:
                self.guard(key, value)
        row.update(metrics)
        row["train_seconds"] = round(st.train_seconds, 3)
        st.evals += 1
        st.history.append({k: v for k, v in row.items() if isinstance(v, (int, float))})
        if self.run is not None:
            self.run.log_metrics(**row)
        self.ctx.emit(ev.Log(task.describe_eval(row, st.step, epoch)))
        value = metrics.get(task.primary, row.get(task.primary))
        improved = value is not None and (
            st.best is None or (value > st.best if task.higher_is_better else value < st.best))
        if improved:
            st.best, st.best_step, st.best_epoch, st.stale = float(value), st.step, \
                (epoch or 0), 0
        elif value is not None:
            st.stale += 1
        self.result.update({k: v for k, v in row.items()})
        if end_of_epoch:
            st.epoch += 1
            st.position = 0
        self.pre_eval = None
        self.save("last", float(value) if value is not None else None)
        if improved:
            self.save("best", float(value))
        return bool(self.cfg.patience and st.stale >= self.cfg.patience)

    def flush(self) -> None:
        self.trainer.flush_metrics()

    def check_stop(self) -> None:
        if self.world.distributed:  # all ranks stop at the same step, or none does
            if self.world.any(self.ctx.cancelled):
                raise JobCancelled()
        else:
            self.ctx.check_cancelled()

    def run_loop(self) -> str:
        """Train to ``total_steps``; return "finished" or "early-stopped"."""
        st, cfg, task = self.state, self.cfg, self.task
        if not self.epoch_mode and (st.pending_eval or (st.step == 0 and st.evals == 0
                                                        and cfg.eval_at_start)):
            st.pending_eval = False
            if self.evaluate(False):
                return "early-stopped"
        while st.step < cfg.total_steps:
            start = time.perf_counter()
            stepped = False
            for batch in task.batches(st.epoch, st.position):
                loss = self.trainer.step(lambda b=batch: task.loss(b))
                stepped = True
                st.step += 1
                st.position += 1
                task.after_step(batch, loss)
                self.progress()
                if not self.epoch_mode and (st.step % cfg.eval_interval == 0
                                            or st.step >= cfg.total_steps):
                    st.train_seconds += time.perf_counter() - start
                    if self.evaluate(False):
                        return "early-stopped"
                    start = time.perf_counter()
                if st.step >= cfg.total_steps:
                    break
                if self.epoch_mode and st.position >= (cfg.steps_per_epoch or 0):
                    break
                # Stop before the next batch is drawn: drawing it would move the data order
                # and the RNG past the state a resume starts from.
                self.check_stop()
            st.train_seconds += time.perf_counter() - start
            if not stepped and st.step < cfg.total_steps and not self.epoch_mode:
                raise RunError("The training data ran out of batches.")
            if self.epoch_mode:
                if not stepped and st.position == 0:
                    raise RunError("The training set gave no batches: add data or lower the "
                                   "batch size.")
                if self.evaluate(True):
                    return "early-stopped"
        return "finished"


def _plain_scheduler_state(scheduler) -> dict[str, Any]:
    # LambdaLR keeps its lambdas out of state_dict only when they are functions; drop any
    # object so the file stays loadable with weights_only=True.
    state = scheduler.state_dict()
    if "lr_lambdas" in state:
        state["lr_lambdas"] = [None] * len(state["lr_lambdas"])
    state.pop("anneal_func", None)
    return state


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _truncate(path: Path, size: int) -> None:
    """Cut ``metrics.jsonl`` back to where the checkpoint stood (drops rows written after it)."""
    if path.is_file() and path.stat().st_size > size:
        with open(path, "r+b") as fh:
            fh.truncate(size)


def fit(ctx: JobContext, task: TrainTask, run: Run | None, cfg: LoopConfig, *,
        resume: bool = False, result: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train ``task`` under ``cfg``; write ``run``'s checkpoints, metrics and status.

    ``resume`` continues ``run`` from its last checkpoint (the loop state, RNG, optimizer and
    the task's state come back exactly); ``cfg.total_steps`` may be larger than the run's
    original length to train a finished run further. Returns ``result`` updated with the last
    evaluation's metrics and ``steps``, ``best``, ``best_step``, ``best_epoch``, ``status``.
    Stop raises :class:`JobCancelled` (carrying the result) after saving ``last``; divergence
    raises :class:`TrainingDiverged` and keeps the last good checkpoint; the run's status on
    disk always says which.
    """
    result = result if result is not None else {}
    result.setdefault("run_dir", str(run.path) if run is not None else None)
    loop = _Loop(ctx, task, run, cfg, result)
    world = loop.world
    if resume:
        if run is None:
            raise RunError("Resuming needs a run folder.")
        # Under torchrun rank 0 reads the saved state and hands it to the others.
        loop.restore(world.broadcast(read_resume_state(run) if world.main else None))
        ctx.emit(ev.Log(f"resumed at step {loop.state.step}"
                        + (f", epoch {loop.state.epoch}" if loop.epoch_mode else "")
                        + f" of {cfg.total_steps}"))
    if world.distributed:
        task._ddp = distributed.wrap(task.model, ctx.device)
        ctx.defer_cancel(True)  # tasks' own checks pause: Stop is agreed on at step ends
        if not resume:
            distributed.reseed(world.rank, 0)  # own augmentation and dropout streams
    if run is not None:
        run.set_status("training", pid=os.getpid(), host=socket.gethostname(),
                       steps_per_epoch=cfg.steps_per_epoch, total_steps=cfg.total_steps,
                       world_size=world.world_size)

    def finish(status: str) -> dict[str, Any]:
        st = loop.state
        result.update(steps=st.step, best=st.best, best_step=st.best_step,
                      best_epoch=st.best_epoch, primary=task.primary, status=status,
                      epochs_done=(st.epoch - 1) if loop.epoch_mode else None,
                      train_seconds=st.train_seconds)
        result[f"best_{task.primary}"] = st.best
        result["evals"] = st.history
        if world.distributed:
            world.sync_buffers(task.model)
            digests = world.gather(distributed.weights_digest(task.model))
            result.update(world_size=world.world_size, ranks_in_sync=len(set(digests)) == 1)
            if not result["ranks_in_sync"]:
                ctx.emit(ev.Log("warning: the processes ended with different weights "
                                f"({', '.join(digests)}); the run folder has rank 0's."))
        task.finish(result)
        if run is not None:
            run.set_status(status, pid=None, result=_jsonable(
                {k: v for k, v in result.items() if k not in ("labels", "vocab")}))
        return result

    try:
        status = loop.run_loop()
        if status == "early-stopped":
            result["early_stopped"] = True
            ctx.emit(ev.Log(f"Early stop: no better {task.primary.replace('_', ' ')} for "
                            f"{cfg.patience} evaluations (best {loop.state.best:.4g} at step "
                            f"{loop.state.best_step})."))
    except JobCancelled as exc:
        if loop.pre_eval is not None:  # stopped during an evaluation
            loop.state = LoopState(**loop.pre_eval["loop"])
            loop.save("last", state=loop.pre_eval)
        else:
            try:
                loop.flush()
            except TrainingDiverged:
                if run is not None:
                    run.set_status("failed", pid=None)
                raise
            if loop.state.step and (world.distributed or run is None
                                    or _checkpoint_behind(run, loop.state.step)):
                loop.save("last")  # under torchrun always: the save is a collective
        if run is not None and not run.best_checkpoint.is_file() and loop.state.step:
            loop.save("best")
        exc.result = finish("stopped")
        raise
    except BaseException:
        if run is not None:
            run.set_status("failed", pid=None)
        raise
    finally:
        task._ddp = None
        ctx.defer_cancel(False)
    return finish("finished")


def _checkpoint_behind(run: Run, step: int) -> bool:
    saved = checkpoint_step(run.last_checkpoint) if run.last_checkpoint.is_file() else None
    return saved != step


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


# --------------------------------------------------------------------------------------------
# Data order that can be resumed mid-epoch
# --------------------------------------------------------------------------------------------
class EpochBatches:
    """Shuffled batches of ``range(n)``: the order of epoch ``e`` depends only on (seed, e).

    A ``batch_sampler`` for a DataLoader; call :meth:`set_epoch` before iterating. Resuming
    at ``start`` skips the first batches of the epoch without loading them.

    With ``distributed`` (training batches) under torchrun, ``batch_size`` is the global batch:
    every rank walks the same order and takes its share of each batch, so one step of N
    processes trains on what one step of a single process would. A last, partial batch that
    would give a process fewer than two samples is left out (on every rank).
    """

    def __init__(self, n: int, batch_size: int, *, seed: int = 0, shuffle: bool = True,
                 drop_last: bool = False, distributed: bool = False) -> None:
        from playground.core import distributed as dist

        self.n, self.batch_size, self.seed = n, max(1, int(batch_size)), int(seed)
        self.shuffle, self.drop_last = shuffle, drop_last
        self.epoch, self.start = 1, 0
        self.world = dist.current() if distributed else dist.World()
        dist.check_batch(self.batch_size, self.world)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def order(self, epoch: int) -> list[int]:
        import torch

        if not self.shuffle:
            return list(range(self.n))
        gen = torch.Generator()
        gen.manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.n, generator=gen).tolist()

    def _keeps_last(self, rest: int) -> bool:
        from playground.core.distributed import keeps_partial

        return bool(rest) and not self.drop_last and keeps_partial(rest, self.world)

    def __iter__(self) -> Iterator[list[int]]:
        from playground.core.distributed import take_share

        order, b = self.order(self.epoch), self.batch_size
        batches = [order[i:i + b] for i in range(0, self.n, b)]
        if batches and len(batches[-1]) < b and not self._keeps_last(len(batches[-1])):
            batches.pop()
        yield from (take_share(batch, self.world) for batch in batches[self.start:])

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (1 if self._keeps_last(rest) else 0)


def epoch_loader(dataset, batch_size: int, *, seed: int, device=None, workers: int = 0,
                 drop_last: bool = False, shuffle: bool = True, collate_fn=None,
                 distributed: bool | None = None):
    """A DataLoader over :class:`EpochBatches` (pinned memory on CUDA, ``spawn`` workers).

    ``distributed`` (default: ``shuffle``, i.e. training loaders) shares each batch among
    torchrun's processes; evaluation loaders give every process the whole set.
    """
    import torch
    from torch.utils.data import DataLoader

    from playground.core.device import cap_to_cpus

    sampler = EpochBatches(len(dataset), batch_size, seed=seed, shuffle=shuffle,
                           drop_last=drop_last,
                           distributed=shuffle if distributed is None else distributed)
    workers = cap_to_cpus(max(0, int(workers)), "data-loader workers")[0]
    kwargs: dict[str, Any] = {}
    if workers > 0:
        kwargs.update(multiprocessing_context="spawn", persistent_workers=True)
    # The loader's own generator: creating an iterator draws a base seed from it, never from
    # torch's global RNG (which the resume state restores and augmentation uses).
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(dataset, batch_sampler=sampler, num_workers=workers,
                      pin_memory=getattr(device, "type", "") == "cuda", collate_fn=collate_fn,
                      generator=generator, **kwargs)


def loader_batches(loader, epoch: int, start: int) -> Iterable[Any]:
    """Iterate ``loader`` (built by :func:`epoch_loader`) for ``epoch`` from batch ``start``."""
    loader.batch_sampler.set_epoch(epoch, start)
    return loader


# --------------------------------------------------------------------------------------------
# Fork and fine-tune
# --------------------------------------------------------------------------------------------
@dataclass
class InitReport:
    parent: str
    checkpoint: str
    reused: list[str]
    new: list[str]
    frozen: int = 0
    parent_step: int | None = None

    def summary(self) -> str:
        layers = sorted({k.rsplit(".", 1)[0] for k in self.new})
        text = (f"started from {self.parent} ({self.checkpoint}): reused {len(self.reused)} "
                f"tensors")
        if layers:
            text += f"; new: {', '.join(layers[:6])}{' …' if len(layers) > 6 else ''}"
        if self.frozen:
            text += f"; {self.frozen:,} reused parameters frozen"
        return text

    def to_json(self) -> dict[str, Any]:
        return {"run": self.parent, "checkpoint": self.checkpoint, "step": self.parent_step,
                "reused": len(self.reused), "new": sorted({k.rsplit(".", 1)[0]
                                                            for k in self.new})}


def parse_init_spec(spec: str) -> tuple[Path, str]:
    """``RUN_DIR[:best|:last]`` -> (folder, "best" | "last")."""
    path, which = spec, "best"
    for kind in ("best", "last"):
        if spec.endswith(":" + kind):
            path, which = spec[: -len(kind) - 1], kind
    return Path(path).expanduser(), which


def open_parent(spec: str | None, task: str | None = None) -> None:
    """Open the run a fork starts from (``RUN_DIR[:best|:last]``) before its config is checked,
    so a model the run folder defines (a Builder graph, registered by
    :func:`playground.core.runs.open_run`) is a valid ``model`` for the new run. A parent that
    cannot be opened is left for :func:`init_from` to report when the job runs."""
    from playground.core.errors import PlaygroundError
    from playground.core.runs import open_run

    if not spec:
        return
    try:
        open_run(parse_init_spec(spec)[0], task)
    except PlaygroundError:  # reported by init_from, in the job, as for any fork
        return


def init_from(model, spec: str, *, freeze: bool = False, task: str | None = None
              ) -> InitReport:
    """Copy the weights of the run ``spec`` (``RUN_DIR[:best|:last]``) into ``model``.

    Tensors whose name and shape agree are copied; the rest (a classifier head for other
    classes, a resized embedding) keep their fresh initialisation and are listed as new. With
    ``freeze`` the reused parameters stop training. Raises CheckpointError when nothing fits.
    """
    import torch

    from playground.core.checkpoint import load_weights
    from playground.core.runs import open_run

    folder, which = parse_init_spec(spec)
    parent = open_run(folder, task)
    path = parent.best_checkpoint if which == "best" else parent.last_checkpoint
    if not path.is_file():
        path = parent.best_or_last()
        which = path.stem
    weights = load_weights(path)
    own = model.state_dict()
    reused, new = [], []
    with torch.no_grad():
        for key, tensor in own.items():
            src = weights.get(key)
            if src is not None and tuple(src.shape) == tuple(tensor.shape):
                tensor.copy_(src.to(tensor.dtype))
                reused.append(key)
            else:
                new.append(key)
    if not reused:
        raise CheckpointError(f"No layer of {parent.path.name} fits this model (different "
                              "architecture or sizes): choose the same model and sizes as the "
                              "run you start from.")
    frozen = 0
    if freeze:
        reused_set = set(reused)
        for name, p in model.named_parameters():
            if name in reused_set:
                p.requires_grad_(False)
                frozen += p.numel()
    return InitReport(str(parent.path), which, reused, new, frozen, checkpoint_step(path))


# --------------------------------------------------------------------------------------------
# Resume: the settings a run was trained with
# --------------------------------------------------------------------------------------------
def resume_settings(run_dir: str | os.PathLike, task: str, config_cls: type,
                    **overrides: Any) -> tuple[Any, Any]:
    """``(config, data spec)`` a run was trained with, for resuming it.

    ``overrides`` (e.g. ``epochs=12`` or ``max_iters=5000``; None means keep) set a new total;
    it may not be below what the run has already trained.
    """
    from playground.core import schema
    from playground.core.runs import open_run

    run = open_run(run_dir, task)
    info = run.info()
    data = info.get("data_spec")
    if isinstance(data, list) and data and all(isinstance(d, str) for d in data):
        pass  # several files (a text corpus)
    elif not isinstance(data, str) or not data:
        raise RunError(f"{run.path / 'run.json'} does not say which data the run was trained "
                       "on (no 'data_spec'), so it cannot be resumed; start a new run from its "
                       "weights instead (--init-from).")
    raw = info.get("config")
    if not isinstance(raw, dict):
        raise RunError(f"{run.path / 'run.json'}: field 'config' should be an object.")
    cfg = schema.from_dict(config_cls, raw)
    changes = {k: v for k, v in overrides.items() if v is not None}
    if changes:
        cfg = schema.replace(cfg, **changes)
    if run.optimizer_state.is_file():
        done = read_resume_state(run)["loop"]
        for key, value in changes.items():
            if key == "epochs" and value < done["epoch"] - (1 if done["position"] == 0 else 0):
                raise RunError(f"The run has already trained {done['epoch'] - 1} epochs: "
                               f"give --epochs {done['epoch']} or more.")
            if key == "max_iters" and value < done["step"]:
                raise RunError(f"The run has already trained {done['step']} iterations: give "
                               f"--max-iters {done['step'] + 1} or more.")
    return cfg, data


def begin_run(task: str, *, ctx: JobContext, resume: str | os.PathLike | None,
              home: str | os.PathLike | None,
              name: str, model: str, config: dict[str, Any], data_spec: str,
              dataset: dict[str, Any] | None = None, extra: dict[str, Any] | None = None,
              parent: InitReport | None = None, same: dict[str, Any] | None = None) -> Run:
    """The run a training job writes into: a new folder, or with ``resume`` the existing one.

    ``same`` lists run.json entries that must not have changed for a resume (the classes, the
    vocabulary): a difference is refused with a message pointing to ``--init-from``.
    """
    from playground.core.runs import RunStore, open_run

    ctx.device  # noqa: B018 - a device that is not there fails before a folder is made
    world = distributed.current()
    scale = {"world_size": world.world_size}
    if isinstance(config.get("batch_size"), int):
        distributed.check_batch(config["batch_size"], world)  # before a folder is made
        scale["global_batch_size"] = config["batch_size"]
    if not world.main:  # rank 0 alone writes the run folder; the others train in scratch
        home, resume_from, resume = distributed.scratch_home(), resume, None
        if resume_from:
            info = open_run(resume_from, task).info()  # read only, for the checks below
            data_spec = info.get("data_spec", data_spec)
            for key, value in (same or {}).items():
                if info.get(key) is not None and info.get(key) != value:
                    raise RunError(f"The data no longer matches the run ({key} changed).")
    if resume:
        run = open_run(resume, task)
        info = run.info()
        for key, value in (same or {}).items():
            saved = info.get(key)
            if saved is not None and saved != value:
                raise RunError(f"The data no longer matches the run: its {key} were "
                               f"{_short(saved)}, now {_short(value)}. Resume with the same "
                               "data, or start a new run from this one (Start from run… / "
                               "--init-from).")
        run.update(config=config, **scale)
        return run
    fields = {"data_spec": data_spec, **scale, **(extra or {})}
    if parent is not None:
        fields["parent"] = parent.to_json()
    return RunStore(home).create(task, name, model=model, config=config, dataset=dataset,
                                 extra=fields)


def _short(value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return text if len(text) <= 80 else text[:77] + "…"
