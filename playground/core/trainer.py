"""The training engine shared by every task.

:class:`Trainer` does one optimisation step at a time (device, mixed precision, gradient
clipping, schedule, cancellation, throttled metric events); the task owns its loop.
:func:`train_classifier` is the whole epoch loop for classification (images, keywords):
validation metrics, confusion matrix, per-class report, best/last checkpoints, early stopping.

Metric events are throttled by time (about 20 a second) and the step loss is accumulated on
the device, so a fast loop is never slowed by ``.item()`` synchronisation or by its watchers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from playground.core import events as ev
from playground.core.checkpoint import save_torch, save_weights
from playground.core.device import Precision
from playground.core.errors import ConfigError, JobCancelled
from playground.core.jobs import JobContext
from playground.core.metrics import confusion_matrix, report_from_confusion
from playground.core.optim import OPTIMIZERS, SCHEDULES, make_optimizer, make_scheduler
from playground.core.runs import Run
from playground.core.schema import option


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

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def step(self, compute_loss: Callable[[], Any], batch_size: int = 0):
        """Run forward (``compute_loss()``), backward and the optimiser; return the loss tensor."""
        self.ctx.check_cancelled()
        self.model.train()
        with self.precision.autocast():
            loss = compute_loss()
        if not torch_isfinite(loss):
            raise ConfigError(f"The loss became {float(loss.detach())} at step "
                              f"{self.step_count + 1}: "
                              "training diverged. Lower the learning rate and train again.")
        self.optimizer.zero_grad(set_to_none=True)
        self.precision.backward(loss)
        self.precision.step(self.optimizer, self._params, self.grad_clip)
        if self.scheduler is not None:
            self.scheduler.step()
        self.step_count += 1
        detached = loss.detach()
        self._loss_sum = detached if self._loss_sum is None else self._loss_sum + detached
        self._loss_n += 1
        self._samples += batch_size
        now = time.perf_counter()
        if now - self._last_emit >= self.emit_interval:
            self.flush_metrics(now)
        return detached

    def flush_metrics(self, now: float | None = None) -> None:
        """Emit the mean loss since the last emit, the learning rate and samples/s."""
        if not self._loss_n:
            return
        now = now or time.perf_counter()
        loss = float(self._loss_sum) / self._loss_n
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

    def save(self, kind: str = "last", metric: float | None = None,
             metadata: dict[str, str] | None = None) -> None:
        """Write ``<kind>.safetensors`` (and the optimizer state with ``last``) atomically."""
        if self.run is None:
            return
        path = self.run.checkpoints / f"{kind}.safetensors"
        meta = {"step": str(self.step_count), **(metadata or {})}
        save_weights(self.model, path, meta)
        if kind == "last":
            save_torch({"optimizer": self.optimizer.state_dict(), "step": self.step_count},
                       self.run.optimizer_state)
        self.ctx.emit(ev.CheckpointSaved(str(path), self.step_count, kind, metric))


def torch_isfinite(loss) -> bool:
    # Checking every step would synchronise the GPU; check on CPU only, and on GPU when the
    # throttled metric is read (a NaN there is caught by the next flush's float()).
    if loss.device.type != "cpu":
        return True
    return math.isfinite(float(loss.detach()))


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


def train_classifier(ctx: JobContext, run: Run | None, model, train_loader, val_loader,
                     labels: list[str], cfg: ClassifierTrainConfig, *,
                     after_validation: Callable[[int, np.ndarray, np.ndarray, np.ndarray],
                                                None] | None = None,
                     max_steps: int | None = None) -> dict[str, Any]:
    """Train ``model`` for ``cfg.epochs`` epochs; report, checkpoint and return final metrics.

    ``after_validation(epoch, preds, targets, probs)`` lets the task add its own views
    (e.g. a gallery of misclassified images). ``max_steps`` caps the total steps (tests,
    benchmarks). Stop raises :class:`JobCancelled` carrying the metrics so far as ``result``
    after saving the weights reached.
    """
    import torch
    import torch.nn.functional as F

    device = ctx.device
    model.to(device)
    steps_per_epoch = len(train_loader)
    if steps_per_epoch == 0:
        raise ConfigError("The training set is empty: add images/clips or lower the "
                          "validation split.")
    total = cfg.epochs * steps_per_epoch
    if max_steps:
        total = min(total, max_steps)
    optimizer = make_optimizer(cfg.optimizer, model, cfg.learning_rate, cfg.weight_decay,
                               cfg.momentum)
    scheduler = make_scheduler(cfg.schedule, optimizer, total)
    trainer = Trainer(model, optimizer, ctx, scheduler=scheduler, grad_clip=cfg.grad_clip,
                      mixed_precision=cfg.mixed_precision, run=run)
    smoothing = cfg.label_smoothing
    n_classes = len(labels)
    best_acc, best_epoch, stale = -1.0, 0, 0
    result: dict[str, Any] = {"run_dir": str(run.path) if run else None, "labels": labels}
    if run is not None:
        run.set_status("training", steps_per_epoch=steps_per_epoch)

    def finish(status: str) -> dict[str, Any]:
        result.update(best_val_accuracy=max(best_acc, 0.0), best_epoch=best_epoch,
                      steps=trainer.step_count)
        if run is not None:
            run.set_status(status, result={k: v for k, v in result.items() if k != "labels"})
        return result

    epoch = 0
    try:
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            correct = seen = 0
            loss_sum = torch.zeros((), device=device)
            start = time.perf_counter()
            for x, y in train_loader:
                x = x.to(device, non_blocking=True)
                y = y.to(device, non_blocking=True)
                out = {}

                def compute_loss(x=x, y=y, out=out):
                    logits = model(x)
                    out["logits"] = logits
                    return F.cross_entropy(logits, y, label_smoothing=smoothing)

                loss = trainer.step(compute_loss, batch_size=len(y))
                loss_sum += loss * len(y)
                correct_t = (out["logits"].argmax(1) == y).sum()
                correct += correct_t  # stays on device: no per-step sync
                seen += len(y)
                ctx.emit(ev.Progress(trainer.step_count, total, f"epoch {epoch}/{cfg.epochs}"))
                if max_steps and trainer.step_count >= max_steps:
                    break
            trainer.flush_metrics()
            train_loss = float(loss_sum) / max(1, seen)
            train_acc = float(correct) / max(1, seen)
            elapsed = time.perf_counter() - start
            ctx.emit(ev.Metric("loss", train_loss, epoch, "train", "epoch"))
            ctx.emit(ev.Metric("accuracy", train_acc, epoch, "train", "epoch"))
            row: dict[str, Any] = {"epoch": epoch, "train_loss": train_loss,
                                   "train_accuracy": train_acc, "epoch_seconds": elapsed}
            if val_loader is not None and len(val_loader.dataset) > 0:
                val_loss, preds, targets, probs = evaluate_classifier(
                    model, val_loader, device, trainer.precision, ctx)
                cm = confusion_matrix(targets, preds, n_classes)
                rep = report_from_confusion(cm)
                val_acc = rep.accuracy
                ctx.emit(ev.Metric("loss", val_loss, epoch, "val", "epoch"))
                ctx.emit(ev.Metric("accuracy", val_acc, epoch, "val", "epoch"))
                ctx.emit(ev.ConfusionMatrix(tuple(labels), cm.copy(), epoch))
                ctx.emit(ev.ClassReport(tuple(labels), tuple(map(float, rep.precision)),
                                        tuple(map(float, rep.recall)), tuple(map(float, rep.f1)),
                                        tuple(map(int, rep.support)), rep.accuracy, epoch))
                row.update(val_loss=val_loss, val_accuracy=val_acc, macro_f1=rep.macro_f1)
                result.update(val_loss=val_loss, val_accuracy=val_acc, macro_f1=rep.macro_f1,
                              confusion=cm.tolist(),
                              per_class={lab: {"precision": float(rep.precision[k]),
                                               "recall": float(rep.recall[k]),
                                               "f1": float(rep.f1[k]),
                                               "support": int(rep.support[k])}
                                         for k, lab in enumerate(labels)})
                if after_validation is not None:
                    after_validation(epoch, preds, targets, probs)
            else:
                val_acc = train_acc  # no validation data: track the training accuracy
            result.update(train_loss=train_loss, train_accuracy=train_acc, epochs_done=epoch)
            if run is not None:
                run.log_metrics(**row)
            trainer.save("last", metadata={"epoch": str(epoch)})
            if val_acc > best_acc:
                best_acc, best_epoch, stale = val_acc, epoch, 0
                trainer.save("best", val_acc, metadata={"epoch": str(epoch)})
            else:
                stale += 1
            ctx.emit(ev.Log(f"epoch {epoch}: train loss {train_loss:.4f} acc {train_acc:.3f}"
                            + (f", val loss {row['val_loss']:.4f} acc {val_acc:.3f}"
                               if "val_loss" in row else "")))
            if max_steps and trainer.step_count >= max_steps:
                break
            if cfg.patience and stale >= cfg.patience:
                ctx.emit(ev.Log(f"Early stop: no better validation accuracy for "
                                f"{cfg.patience} epochs (best {best_acc:.3f} at epoch "
                                f"{best_epoch})."))
                result["early_stopped"] = True
                break
    except JobCancelled as exc:
        trainer.flush_metrics()
        trainer.save("last", metadata={"epoch": str(epoch), "stopped": "true"})
        if best_acc < 0:
            trainer.save("best")
        exc.result = finish("stopped")
        raise
    except BaseException:
        if run is not None:
            run.set_status("failed")
        raise
    return finish("finished")
