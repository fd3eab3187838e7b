"""The one training loop (core.engine.fit through core.classify) on a tiny separable problem:
learning, events, files, stopping, divergence."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors import safe_open
from torch import nn
from torch.utils.data import TensorDataset

from playground.core import events as ev
from playground.core.checkpoint import load_into, load_torch
from playground.core.classify import train_classification as train_classifier
from playground.core.data import make_loader
from playground.core.engine import TrainingDiverged, epoch_loader
from playground.core.errors import ConfigError, JobCancelled
from playground.core.jobs import CollectingContext, run_job
from playground.core.runs import RunStore
from playground.core.trainer import (
    ClassifierTrainConfig,
    Trainer,
    evaluate_classifier,
)

LABELS = ["north", "east", "west"]
CENTRES = np.array([[0.0, 4.0], [4.0, -2.0], [-4.0, -2.0]], dtype=np.float32)


def _blobs(n_per_class: int, seed: int) -> TensorDataset:
    rng = np.random.default_rng(seed)
    x = np.concatenate([c + 0.8 * rng.standard_normal((n_per_class, 2)) for c in CENTRES])
    y = np.repeat(np.arange(len(CENTRES)), n_per_class)
    return TensorDataset(torch.tensor(x, dtype=torch.float32), torch.tensor(y))


@pytest.fixture
def loaders():
    train = epoch_loader(_blobs(64, seed=1), 16, seed=0)  # 12 steps per epoch
    val = make_loader(_blobs(20, seed=2), 32, shuffle=False)
    return train, val


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))


def _cfg(**changes) -> ClassifierTrainConfig:
    base = {"epochs": 3, "batch_size": 16, "learning_rate": 0.02, "schedule": "constant",
            "weight_decay": 0.0}
    base.update(changes)
    return ClassifierTrainConfig(**base)


def _run(name: str = "blobs"):
    return RunStore().create("image", name, model="mlp", config={})


def _epoch_metric(ctx, name: str, split: str) -> list[float]:
    return [m.value for m in ctx.of_type(ev.Metric)
            if m.name == name and m.split == split and m.axis == "epoch"]


class CancelAfter(CollectingContext):
    """Presses Stop (from the emitting thread) after ``n`` progress events."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def emit(self, event: ev.Event) -> None:
        super().emit(event)
        if isinstance(event, ev.Progress) and len(self.of_type(ev.Progress)) >= self.n:
            self.cancel()


class ScaledFrozen(nn.Module):
    """A frozen classifier times a learnable positive scale: accuracy can never change."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Linear(2, 3).requires_grad_(False)
        self.log_scale = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.net(x) * self.log_scale.exp()


class NaNModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 3)

    def forward(self, x):
        return self.lin(x) * float("nan")


def test_train_classifier_learns_and_reports(loaders):
    train, val = loaders
    run = _run()
    ctx = CollectingContext()
    seen_validations = []
    model = _mlp()
    result = train_classifier(ctx, run, model, train, val, LABELS, _cfg(),
                              after_validation=lambda *a: seen_validations.append(a))

    # it learned
    train_losses = _epoch_metric(ctx, "loss", "train")
    assert len(train_losses) == 3 and train_losses[-1] < train_losses[0] * 0.7
    val_acc = _epoch_metric(ctx, "accuracy", "val")
    assert len(val_acc) == 3 and val_acc[-1] > 0.9
    assert len(_epoch_metric(ctx, "loss", "val")) == 3
    assert len(_epoch_metric(ctx, "accuracy", "train")) == 3
    assert result["val_accuracy"] == pytest.approx(val_acc[-1]) and result["val_accuracy"] > 0.9
    assert result["best_val_accuracy"] == pytest.approx(max(val_acc))
    assert result["steps"] == 36 and result["epochs_done"] == 3 and result["labels"] == LABELS
    assert set(result["per_class"]) == set(LABELS)
    assert sum(map(sum, result["confusion"])) == 60

    # step metrics: loss, lr (plain floats, x counts steps)
    step_loss = [m for m in ctx.of_type(ev.Metric) if m.name == "loss" and m.axis == "step"]
    assert step_loss and all(isinstance(m.value, float) and math.isfinite(m.value)
                             for m in step_loss)
    assert all(0 < m.x <= 36 for m in step_loss) and step_loss[-1].x == 36
    lrs = [m.value for m in ctx.of_type(ev.Metric) if m.name == "lr"]
    assert lrs and all(v == pytest.approx(0.02) for v in lrs)
    progress = ctx.of_type(ev.Progress)
    assert [p.done for p in progress] == list(range(1, 37)) and progress[0].total == 36

    # validation views
    cms = ctx.of_type(ev.ConfusionMatrix)
    assert [c.epoch for c in cms] == [1, 2, 3] and cms[0].labels == tuple(LABELS)
    assert isinstance(cms[-1].matrix, np.ndarray) and cms[-1].matrix.sum() == 60
    assert np.trace(cms[-1].matrix) / 60 == pytest.approx(val_acc[-1])
    reports = ctx.of_type(ev.ClassReport)
    assert len(reports) == 3 and reports[-1].support == (20, 20, 20)
    assert reports[-1].accuracy == pytest.approx(val_acc[-1])
    assert all(isinstance(v, float) for v in reports[-1].f1)
    assert [a[0] for a in seen_validations] == [1, 2, 3]
    epoch, preds, targets, probs = seen_validations[-1]
    assert preds.shape == (60,) and targets.shape == (60,) and probs.shape == (60, 3)
    assert np.allclose(probs.sum(1), 1.0, atol=1e-5)

    # checkpoints
    saved = ctx.of_type(ev.CheckpointSaved)
    last = [s for s in saved if s.kind == "last"]
    best = [s for s in saved if s.kind == "best"]
    assert [s.step for s in last] == [12, 24, 36] and best and best[0].step == 12
    assert best[-1].metric == pytest.approx(max(val_acc))
    assert last[-1].path == str(run.last_checkpoint)
    assert best[-1].path == str(run.best_checkpoint)

    # run files
    assert run.last_checkpoint.is_file() and run.best_checkpoint.is_file()
    opt_state = load_torch(run.optimizer_state)
    assert opt_state["loop"]["step"] == 36 and "state" in opt_state["optimizer"]
    with safe_open(str(run.last_checkpoint), "pt") as fh:
        assert fh.metadata()["step"] == "36" and fh.metadata()["epoch"] == "3"
    rows = run.metrics()
    epoch_rows = [r for r in rows if "epoch" in r]
    step_rows = [r for r in rows if "epoch" not in r]
    assert [r["epoch"] for r in epoch_rows] == [1, 2, 3]
    assert {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "macro_f1"} <= set(
        epoch_rows[-1])
    assert step_rows and step_rows[-1]["step"] == 36 and "lr" in step_rows[-1]
    info = run.info()
    assert info["status"] == "finished" and info["steps_per_epoch"] == 12
    assert info["result"]["val_accuracy"] == pytest.approx(val_acc[-1])
    assert "labels" not in info["result"]
    json.dumps(result)  # the result is plain data

    # the best checkpoint reproduces the best accuracy
    fresh = _mlp()
    load_into(fresh, run.best_checkpoint)
    _, p, t, _ = evaluate_classifier(fresh, val, torch.device("cpu"))
    assert float((p == t).mean()) == pytest.approx(max(val_acc))


def test_runs_without_a_run_folder_or_validation(loaders):
    train, _ = loaders
    ctx = CollectingContext()
    result = train_classifier(ctx, None, _mlp(), train, None, LABELS, _cfg(epochs=2))
    assert result["run_dir"] is None and result["epochs_done"] == 2
    assert "val_accuracy" not in result and result["train_accuracy"] > 0.8
    assert result["best_val_accuracy"] == pytest.approx(result["train_accuracy"], abs=0.2)
    assert ctx.of_type(ev.ConfusionMatrix) == [] and ctx.of_type(ev.CheckpointSaved) == []


def test_patience_stops_early(loaders):
    train, val = loaders
    ctx = CollectingContext()
    run = _run()
    result = train_classifier(ctx, run, ScaledFrozen(), train, val, LABELS,
                              _cfg(epochs=10, patience=2, learning_rate=0.1))
    assert result["epochs_done"] == 3 and result["early_stopped"] is True
    assert result["steps"] == 36 and result["best_epoch"] == 1
    assert any("Early stop" in log.message for log in ctx.of_type(ev.Log))
    assert len(ctx.of_type(ev.ConfusionMatrix)) == 3
    assert [s.kind for s in ctx.of_type(ev.CheckpointSaved)].count("best") == 1
    assert run.info()["status"] == "finished"


@pytest.mark.parametrize("stop_after", [5, 12])  # mid-epoch; during the first validation
def test_cancellation_saves_and_carries_result(loaders, stop_after):
    train, val = loaders
    run = _run()
    ctx = CancelAfter(stop_after)
    with pytest.raises(JobCancelled) as info:
        train_classifier(ctx, run, _mlp(), train, val, LABELS, _cfg())
    result = info.value.result
    assert result["steps"] == stop_after and result["run_dir"] == str(run.path)
    assert len(ctx.of_type(ev.Progress)) == stop_after
    assert ctx.of_type(ev.ConfusionMatrix) == []  # stopped before the first report
    kinds = {s.kind: s for s in ctx.of_type(ev.CheckpointSaved)}
    assert kinds["last"].step == stop_after and "best" in kinds
    assert run.last_checkpoint.is_file() and run.best_checkpoint.is_file()
    with safe_open(str(run.last_checkpoint), "pt") as fh:
        assert fh.metadata()["step"] == str(stop_after)
    assert load_torch(run.optimizer_state)["loop"]["step"] == stop_after
    info_json = run.info()
    assert info_json["status"] == "stopped" and info_json["result"]["steps"] == stop_after
    load_into(_mlp(), run.last_checkpoint)  # what was saved is usable


def test_cancellation_through_run_job(loaders):
    train, val = loaders
    run = _run()
    ctx = CancelAfter(20)  # in the second epoch
    event = run_job(lambda c: train_classifier(c, run, _mlp(), train, val, LABELS, _cfg()), ctx)
    assert isinstance(event, ev.Finished) and event.stopped
    assert event.result["steps"] == 20 and event.result["epochs_done"] == 1
    assert event.result["best_val_accuracy"] > 0
    assert [e for e in ctx.events if isinstance(e, ev.TERMINAL_EVENTS)] == [event]
    assert run.info()["status"] == "stopped"


def test_nan_model_raises_divergence(loaders):
    train, val = loaders
    run = _run()
    with pytest.raises(TrainingDiverged, match=r"loss became nan at step 1.*diverged.*Lower "
                                               "the learning rate"):
        train_classifier(CollectingContext(), run, NaNModel(), train, val, LABELS, _cfg())
    assert run.info()["status"] == "failed"


def test_huge_learning_rate_diverges(loaders):
    train, val = loaders
    ctx = CollectingContext()
    event = run_job(lambda c: train_classifier(c, None, _mlp(), train, val, LABELS,
                                               _cfg(optimizer="sgd", learning_rate=1e9)), ctx)
    assert isinstance(event, ev.Failed) and event.error_type == "TrainingDiverged"
    assert "diverged" in event.message


def test_max_steps_caps_training(loaders):
    train, val = loaders
    run = _run()
    ctx = CollectingContext()
    result = train_classifier(ctx, run, _mlp(), train, val, LABELS, _cfg(epochs=5), max_steps=7)
    assert result["steps"] == 7 and result["epochs_done"] == 1
    progress = ctx.of_type(ev.Progress)
    assert len(progress) == 7 and progress[-1].total == 7
    assert len(ctx.of_type(ev.ConfusionMatrix)) == 1  # the cut epoch is still validated
    assert load_torch(run.optimizer_state)["loop"]["step"] == 7
    result = train_classifier(CollectingContext(), None, _mlp(), train, val, LABELS,
                              _cfg(epochs=2), max_steps=15)
    assert result["steps"] == 15 and result["epochs_done"] == 2


def test_empty_training_set_is_config_error():
    empty = epoch_loader(TensorDataset(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long)), 4,
                         seed=0, shuffle=False)
    with pytest.raises(ConfigError, match="training set is empty"):
        train_classifier(CollectingContext(), None, _mlp(), empty, None, LABELS, _cfg())


def test_trainer_step_emits_metrics_and_clips():
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    ctx = CollectingContext()
    trainer = Trainer(model, opt, ctx, grad_clip=0.1, emit_interval=0.0)
    x = torch.full((8, 2), 50.0)
    before = [p.detach().clone() for p in model.parameters()]
    loss = trainer.step(lambda: model(x).pow(2).mean(), batch_size=8)
    assert not loss.requires_grad and trainer.step_count == 1
    moved = torch.cat([(p - b).flatten() for p, b in zip(model.parameters(), before, strict=True)])
    assert moved.norm() <= 0.1 + 1e-5  # clipped to the max norm (lr 1)
    names = [m.name for m in ctx.of_type(ev.Metric)]
    assert names == ["loss", "lr", "samples_per_s"]
    assert ctx.of_type(ev.Metric)[0].value == pytest.approx(float(loss))
    trainer.flush_metrics()  # nothing new since the last emit: no duplicate point
    assert len(ctx.of_type(ev.Metric)) == 3


def test_trainer_step_checks_cancel():
    model = nn.Linear(2, 1)
    ctx = CollectingContext()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), ctx)
    ctx.cancel()
    with pytest.raises(JobCancelled):
        trainer.step(lambda: model(torch.ones(1, 2)).sum())
    assert trainer.step_count == 0
