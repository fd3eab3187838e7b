"""One optimisation step at a time, and the options classification tasks share.

:class:`Trainer` runs one step (device, mixed precision, gradient clipping, schedule,
cancellation, the divergence guard, throttled metric events). The loop around it lives once, in
:func:`playground.core.engine.fit`; classification (images, keywords) plugs into it as
:class:`playground.core.classify.ClassifierTask`.

Metric events are throttled by time (about 20 a second) and the step loss is accumulated on
the device, so a fast loop is never slowed by ``.item()`` synchronisation or by its watchers.
On the CPU a NaN or infinite loss is caught at the step that produced it, before the weights
change; on a GPU (where a per-step read would synchronise) it is caught at the next throttled
read, and the run keeps its last good checkpoint.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from playground.core import events as ev
from playground.core.device import Precision
from playground.core.errors import PlaygroundError
from playground.core.jobs import JobContext
from playground.core.optim import OPTIMIZERS, SCHEDULES
from playground.core.runs import Run
from playground.core.schema import option


class TrainingDiverged(PlaygroundError):
    """The loss or the primary metric became NaN or infinite."""


def diverged(value: float, step: int, what: str = "loss", exact: bool = True) -> TrainingDiverged:
    at = f"at step {step}" if exact else f"at or before step {step}"
    return TrainingDiverged(
        f"The {what} became {value} {at}: training diverged. Lower the learning rate (or "
        "turn on gradient clipping) and train again; the last good checkpoint was kept.")


class Trainer:
    """One optimisation step at a time, on ``ctx.device``."""

    def __init__(self, model, optimizer, ctx: JobContext, *, scheduler=None,
                 grad_clip: float = 0.0, mixed_precision: bool = True,
                 emit_interval: float = 0.05, run: Run | None = None) -> None:
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.ctx = ctx
        self.run = run
        self.device = ctx.device
        self.precision = Precision(self.device, mixed_precision)
        self.grad_clip = grad_clip
        self.step_count = 0
        self.emit_interval = emit_interval
        self._params = [p for p in model.parameters() if p.requires_grad]
        self._loss_sum = None
        self._loss_n = 0
        self._samples = 0
        self._last_emit = time.perf_counter()
        self._on_cpu = getattr(self.device, "type", str(self.device)) == "cpu"

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def step(self, compute_loss: Callable[[], Any], batch_size: int = 0):
        """Run forward (``compute_loss()``), backward and the optimiser; return the loss tensor.

        ``compute_loss`` returns the loss, or ``(loss, batch_size)``.
        """
        self.ctx.check_cancelled()
        self.model.train()
        with self.precision.autocast():
            out = compute_loss()
        loss, n = (out if isinstance(out, tuple) else (out, batch_size))
        if self._on_cpu:
            value = float(loss.detach())
            if not math.isfinite(value):
                raise diverged(value, self.step_count + 1)
        self.optimizer.zero_grad(set_to_none=True)
        self.precision.backward(loss)
        self.precision.step(self.optimizer, self._params, self.grad_clip)
        if self.scheduler is not None:
            self.scheduler.step()
        self.step_count += 1
        detached = loss.detach()
        self._loss_sum = detached if self._loss_sum is None else self._loss_sum + detached
        self._loss_n += 1
        self._samples += int(n)
        now = time.perf_counter()
        if now - self._last_emit >= self.emit_interval:
            self.flush_metrics(now)
        return detached

    def flush_metrics(self, now: float | None = None) -> None:
        """Emit the mean loss since the last emit, the learning rate and samples/s.

        On a GPU this is where a NaN or infinite loss is noticed (one read per flush).
        """
        if not self._loss_n:
            return
        now = now or time.perf_counter()
        loss = float(self._loss_sum) / self._loss_n
        if not math.isfinite(loss):
            self._loss_sum, self._loss_n, self._samples = None, 0, 0
            raise diverged(loss, self.step_count, exact=self._on_cpu)
        elapsed = max(1e-9, now - self._last_emit)
        step = self.step_count
        self.ctx.emit(ev.Metric("loss", loss, step, "train"))
        self.ctx.emit(ev.Metric("lr", self.lr(), step, "train"))
        row: dict[str, Any] = {"step": step, "train_loss": loss, "lr": self.lr()}
        if self._samples:
            rate = self._samples / elapsed
            self.ctx.emit(ev.Metric("samples_per_s", rate, step, "train"))
            row["samples_per_s"] = rate
        if self.run is not None:
            self.run.log_metrics(**row)
        self._loss_sum, self._loss_n, self._samples = None, 0, 0
        self._last_emit = now


# --------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------
@dataclass
class ClassifierTrainConfig:
    """Training options every classification task shares (images, keywords)."""

    epochs: int = option(5, label="Epochs", min=1, max=10000, group="Training",
                         help="Passes over the training set.")
    batch_size: int = option(64, label="Batch size", min=1, max=4096, group="Training")
    optimizer: str = option("adamw", label="Optimizer", choices=OPTIMIZERS, group="Training",
                            help="SGD uses Nesterov momentum.")
    learning_rate: float = option(3e-3, label="Learning rate", min=1e-7, max=10.0, log=True,
                                  group="Training")
    schedule: str = option("cosine", label="LR schedule", choices=SCHEDULES, group="Training",
                           help="constant; step (x0.1 at 1/3 and 2/3); cosine decay; one-cycle.")
    weight_decay: float = option(1e-4, label="Weight decay", min=0.0, max=1.0, step=1e-4,
                                 group="Regularisation")
    label_smoothing: float = option(0.0, label="Label smoothing", min=0.0, max=0.5, step=0.05,
                                    group="Regularisation")
    momentum: float = option(0.9, label="Momentum", min=0.0, max=0.999, step=0.05,
                             group="Training", advanced=True, help="For SGD and RMSprop.")
    grad_clip: float = option(0.0, label="Gradient clip", min=0.0, max=100.0, step=0.5,
                              group="Training", advanced=True, help="Max gradient norm; 0 = off.")
    patience: int = option(0, label="Early-stopping patience", min=0, max=1000,
                           group="Training", help="Stop after this many epochs without a "
                           "better validation accuracy; 0 = never stop early.")
    val_fraction: float = option(0.2, label="Validation split", min=0.0, max=0.9, step=0.05,
                                 group="Data", help="Share of each class held out for "
                                 "validation (ignored when the data has its own val/ folder).")
    seed: int = option(0, label="Seed", min=0, max=2**31 - 1, group="Data")
    mixed_precision: bool = option(True, label="Mixed precision on CUDA", group="Training",
                                   advanced=True)


def evaluate_classifier(model, loader, device, precision: Precision | None = None,
                        ctx: JobContext | None = None):
    """Mean loss, predictions, targets and probabilities over ``loader`` (no gradients)."""
    import torch
    import torch.nn.functional as F

    model.eval()
    losses, preds, targets, probs = [], [], [], []
    precision = precision or Precision(device, False)
    with torch.no_grad():
        for x, y in loader:
            if ctx is not None:
                ctx.check_cancelled()
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            with precision.autocast():
                logits = model(x)
            logits = logits.float()
            losses.append(F.cross_entropy(logits, y, reduction="sum").item())
            p = logits.softmax(dim=1)
            probs.append(p.cpu().numpy())
            preds.append(p.argmax(dim=1).cpu().numpy())
            targets.append(y.cpu().numpy())
    n = sum(len(t) for t in targets)
    if n == 0:
        return float("nan"), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 0))
    return (sum(losses) / n, np.concatenate(preds), np.concatenate(targets),
            np.concatenate(probs))
