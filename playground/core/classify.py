"""Classification (images, keywords) as a task of the one training loop.

:class:`ClassifierTask` supplies the model, the batches of a resumable epoch order, the
cross-entropy loss and an ``evaluate()`` that reports validation loss and accuracy (the primary
metric), a confusion matrix and a per-class report. :func:`train_classification` is what the
image and keyword jobs call: it builds the loop's configuration from a
:class:`~playground.core.trainer.ClassifierTrainConfig` and runs
:func:`~playground.core.engine.fit`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from playground.core import events as ev
from playground.core.engine import LoopConfig, TrainTask, fit, loader_batches
from playground.core.errors import ConfigError
from playground.core.jobs import JobContext
from playground.core.metrics import confusion_matrix, report_from_confusion
from playground.core.runs import Run
from playground.core.trainer import ClassifierTrainConfig, evaluate_classifier

AfterValidation = Callable[[int, np.ndarray, np.ndarray, np.ndarray], None]


class ClassifierTask(TrainTask):
    primary = "val_accuracy"
    higher_is_better = True

    def __init__(self, ctx: JobContext, model, train_loader, val_loader, labels: list[str],
                 cfg: ClassifierTrainConfig, *, after_validation: AfterValidation | None = None,
                 extra_state: Any = None) -> None:
        self.ctx, self.model, self.cfg = ctx, model, cfg
        self.train_loader, self.val_loader = train_loader, val_loader
        self.labels = labels
        self.after_validation = after_validation
        self.extra_state = extra_state  # an object with state_dict()/load_state_dict()
        self.device = ctx.device
        self.precision = None  # set by the loop's trainer at the first evaluation
        self._reset()

    def _reset(self) -> None:
        import torch

        self._loss_sum = torch.zeros((), device=self.device)
        self._correct = torch.zeros((), device=self.device, dtype=torch.long)
        self._seen = 0
        self._logits = None

    def build_optimizer(self, total_steps: int):
        from playground.core.optim import make_optimizer, make_scheduler

        c = self.cfg
        optimizer = make_optimizer(c.optimizer, self.model, c.learning_rate, c.weight_decay,
                                   c.momentum)
        return optimizer, make_scheduler(c.schedule, optimizer, total_steps)

    def batches(self, epoch: int, start: int):
        for x, y in loader_batches(self.train_loader, epoch, start):
            yield (x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True))

    def loss(self, batch):
        import torch.nn.functional as F

        x, y = batch
        logits = self.forward_model(x)
        self._logits = logits
        return F.cross_entropy(logits, y, label_smoothing=self.cfg.label_smoothing), len(y)

    def after_step(self, batch, loss) -> None:
        _, y = batch
        self._loss_sum += loss * len(y)
        self._correct += (self._logits.detach().argmax(1) == y).sum()
        self._seen += len(y)
        self._logits = None

    def epoch_metrics(self, epoch: int) -> dict[str, float]:
        """Mean loss and accuracy over the epoch's (augmented) training batches."""
        seen = max(1, self._seen)
        loss, acc = float(self._loss_sum) / seen, float(self._correct) / seen
        self._reset()
        self.ctx.emit(ev.Metric("loss", loss, epoch, "train", "epoch"))
        self.ctx.emit(ev.Metric("accuracy", acc, epoch, "train", "epoch"))
        return {"train_loss": loss, "train_accuracy": acc}

    def evaluate(self, ctx: JobContext, step: int, epoch: int | None) -> dict[str, float]:
        labels = self.labels
        if self.val_loader is None or len(self.val_loader.dataset) == 0:
            return {}
        val_loss, preds, targets, probs = evaluate_classifier(
            self.model, self.val_loader, self.device, self.precision, ctx)
        cm = confusion_matrix(targets, preds, len(labels))
        rep = report_from_confusion(cm)
        e = epoch or 0
        ctx.emit(ev.Metric("loss", val_loss, e, "val", "epoch"))
        ctx.emit(ev.Metric("accuracy", rep.accuracy, e, "val", "epoch"))
        ctx.emit(ev.ConfusionMatrix(tuple(labels), cm.copy(), e))
        ctx.emit(ev.ClassReport(tuple(labels), tuple(map(float, rep.precision)),
                                tuple(map(float, rep.recall)), tuple(map(float, rep.f1)),
                                tuple(map(int, rep.support)), rep.accuracy, e))
        self.last_report = {"confusion": cm.tolist(), "per_class": {
            lab: {"precision": float(rep.precision[k]), "recall": float(rep.recall[k]),
                  "f1": float(rep.f1[k]), "support": int(rep.support[k])}
            for k, lab in enumerate(labels)}}
        if self.after_validation is not None:
            self.after_validation(e, preds, targets, probs)
        return {"val_loss": val_loss, "val_accuracy": rep.accuracy, "macro_f1": rep.macro_f1}

    def finish(self, result: dict[str, Any]) -> None:
        result.update(getattr(self, "last_report", {}))
        best = result.get("best")
        result["best_val_accuracy"] = best if best is not None else 0.0

    def describe_eval(self, metrics: dict[str, float], step: int, epoch: int | None) -> str:
        text = (f"epoch {epoch}: train loss {metrics.get('train_loss', float('nan')):.4f} "
                f"acc {metrics.get('train_accuracy', float('nan')):.3f}")
        if "val_loss" in metrics:
            text += (f", val loss {metrics['val_loss']:.4f} acc "
                     f"{metrics['val_accuracy']:.3f}")
        return text

    def state_dict(self) -> dict[str, Any]:
        state = {"loss_sum": self._loss_sum.detach().cpu(), "correct": self._correct.cpu(),
                 "seen": self._seen}
        if self.extra_state is not None:
            state["extra"] = self.extra_state.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "loss_sum" in state:
            self._loss_sum = state["loss_sum"].to(self.device)
            self._correct = state["correct"].to(self.device)
            self._seen = int(state["seen"])
        if self.extra_state is not None and "extra" in state:
            self.extra_state.load_state_dict(state["extra"])


def train_classification(ctx: JobContext, run: Run | None, model, train_loader, val_loader,
                         labels: list[str], cfg: ClassifierTrainConfig, *,
                         after_validation: AfterValidation | None = None,
                         max_steps: int | None = None, resume: bool = False,
                         extra_state: Any = None) -> dict[str, Any]:
    """Train a classifier through :func:`~playground.core.engine.fit`; return its result.

    ``train_loader`` must come from :func:`~playground.core.engine.epoch_loader` (its epoch
    order can be resumed). ``max_steps`` caps the steps (tests, benchmarks). The result holds
    run_dir, labels, steps, epochs_done, train/val metrics of the last epoch,
    best_val_accuracy and best_epoch, the confusion matrix and per-class report.
    """
    model.to(ctx.device)
    steps_per_epoch = len(train_loader)
    if steps_per_epoch == 0:
        raise ConfigError("The training set is empty: add images/clips or lower the "
                          "validation split.")
    total = cfg.epochs * steps_per_epoch
    if max_steps:
        total = min(total, max_steps)
    task = ClassifierTask(ctx, model, train_loader, val_loader, labels, cfg,
                          after_validation=after_validation, extra_state=extra_state)
    has_val = val_loader is not None and len(val_loader.dataset) > 0
    if not has_val:  # no validation data: the best checkpoint follows the training accuracy
        task.primary = "train_accuracy"
    loop = LoopConfig(total_steps=total, steps_per_epoch=steps_per_epoch,
                      patience=cfg.patience, grad_clip=cfg.grad_clip,
                      mixed_precision=cfg.mixed_precision, epochs=cfg.epochs)
    return fit(ctx, task, run, loop, resume=resume, result={"labels": labels})

