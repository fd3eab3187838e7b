"""The one loop's resume state, divergence guard and fork (core.engine)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from playground.core import events as ev
from playground.core.checkpoint import load_weights
from playground.core.classify import train_classification
from playground.core.engine import (
    EpochBatches,
    LoopConfig,
    TrainingDiverged,
    TrainTask,
    epoch_loader,
    fit,
    init_from,
    read_resume_state,
)
from playground.core.errors import CheckpointError, JobCancelled, RunError
from playground.core.jobs import CollectingContext
from playground.core.runs import RunStore
from playground.core.trainer import ClassifierTrainConfig
from tests.stopping import StopAtStep

LABELS = ["a", "b", "c"]


class NoisyBlobs(Dataset):
    """Three blobs; every read adds fresh noise from torch's global RNG (like augmentation)."""

    def __init__(self, n: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]], dtype=np.float32)
        self.y = np.repeat(np.arange(3), n)
        self.x = (centres[self.y] + rng.standard_normal((3 * n, 2))).astype(np.float32)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        x = torch.from_numpy(self.x[i]) + 0.3 * torch.randn(2)
        return x, int(self.y[i])


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 3))


def _cfg(**kw) -> ClassifierTrainConfig:
    base = {"epochs": 3, "batch_size": 16, "learning_rate": 0.01, "schedule": "cosine",
            "optimizer": "adamw"}
    base.update(kw)
    return ClassifierTrainConfig(**base)


def _loaders():
    train = epoch_loader(NoisyBlobs(40, 1), 16, seed=3)  # 8 steps an epoch
    val = epoch_loader(NoisyBlobs(10, 2), 64, seed=0, shuffle=False)
    return train, val


def _train(run, ctx, *, resume=False, epochs=3):
    torch.manual_seed(123)
    train, val = _loaders()
    return train_classification(ctx, run, _model(), train, val, LABELS, _cfg(epochs=epochs),
                                resume=resume)


def _evals(run):
    return [{k: r[k] for k in ("step", "val_loss", "val_accuracy", "train_loss")}
            for r in run.metrics() if "val_loss" in r]


@pytest.mark.parametrize("stop_step", [5, 8, 19])  # mid-epoch, at an epoch's end, later
def test_stop_and_resume_equals_uninterrupted(stop_step):
    store = RunStore()
    whole = store.create("image", "whole", model="mlp", config={})
    _train(whole, CollectingContext())
    parts = store.create("image", "parts", model="mlp", config={})
    with pytest.raises(JobCancelled):
        _train(parts, StopAtStep(stop_step, unit=None))
    assert parts.info()["status"] == "stopped"
    assert read_resume_state(parts)["loop"]["step"] == stop_step
    ctx = CollectingContext()
    result = _train(parts, ctx, resume=True)
    assert result["steps"] == 24 and parts.info()["status"] == "finished"
    assert any("resumed at step" in e.message for e in ctx.of_type(ev.Log))
    a, b = load_weights(whole.last_checkpoint), load_weights(parts.last_checkpoint)
    assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-6
    ea, eb = _evals(whole), _evals(parts)
    assert [r["step"] for r in eb] == [8, 16, 24]
    for ra, rb in zip(ea, eb, strict=True):
        for k in ra:
            assert rb[k] == pytest.approx(ra[k], abs=1e-6), k


def test_resume_after_kill_truncates_metrics_and_trains_further():
    """A run killed after its epoch-2 checkpoint (rows written later are cut) resumes; a
    larger total trains a finished run further."""
    store = RunStore()
    run = store.create("image", "killed", model="mlp", config={})
    _train(run, CollectingContext(), epochs=2)
    saved_size = (run.path / "metrics.jsonl").stat().st_size
    with open(run.path / "metrics.jsonl", "a") as fh:  # what a killed process left behind
        fh.write(json.dumps({"step": 99, "train_loss": 1.0}) + "\n")
    run.set_status("training", pid=2**22 + 12345)
    result = _train(run, CollectingContext(), resume=True, epochs=3)
    assert result["steps"] == 24 and result["epochs_done"] == 3
    rows = run.metrics()
    assert all(r.get("step") != 99 for r in rows)
    assert [r["epoch"] for r in rows if "val_loss" in r] == [1, 2, 3]
    assert (run.path / "metrics.jsonl").stat().st_size > saved_size


def test_resume_needs_a_checkpoint_and_a_state_that_fits():
    store = RunStore()
    run = store.create("image", "empty", model="mlp", config={})
    with pytest.raises(RunError, match="no resumable checkpoint"):
        _train(run, CollectingContext(), resume=True)
    _train(run, CollectingContext(), epochs=1)
    state = torch.load(run.optimizer_state, weights_only=True)
    assert state["loop"]["step"] == 8 and set(state["model"]) == {"0.weight", "0.bias",
                                                                 "3.weight", "3.bias"}
    state["model"]["3.weight"] = torch.zeros(7, 32)  # a hand-edited run: other sizes
    torch.save(state, run.optimizer_state)
    with pytest.raises(CheckpointError, match="does not fit this model"):
        _train(run, CollectingContext(), resume=True)
    torch.save({"loop": {}}, run.optimizer_state)
    with pytest.raises(CheckpointError, match="another version"):
        read_resume_state(run)


class ToyRegression(TrainTask):
    """Iteration mode: an endless stream from the task's own generator."""

    primary = "val_loss"

    def __init__(self, lr: float = 0.05, nan_at: int | None = None) -> None:
        torch.manual_seed(0)
        self.model = nn.Linear(4, 1)
        self.gen = torch.Generator().manual_seed(7)
        self.lr, self.nan_at, self.calls = lr, nan_at, 0
        self.w = torch.tensor([[1.0, -2.0, 0.5, 3.0]])

    def build_optimizer(self, total_steps):
        opt = torch.optim.SGD(self.model.parameters(), lr=self.lr)
        return opt, None

    def batches(self, epoch, start):
        while True:
            x = torch.randn(8, 4, generator=self.gen)
            yield x, x @ self.w.T

    def loss(self, batch):
        self.calls += 1
        x, y = batch
        loss = (self.model(x) - y).pow(2).mean()
        if self.nan_at and self.calls >= self.nan_at:
            loss = loss * float("nan")
        return loss, len(x)

    def evaluate(self, ctx, step, epoch):
        with torch.no_grad():
            x = torch.randn(64, 4, generator=torch.Generator().manual_seed(1))
            return {"val_loss": float((self.model(x) - x @ self.w.T).pow(2).mean())}

    def state_dict(self):
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state):
        self.gen.set_state(state["gen"])


def test_iteration_mode_resume_and_eval_schedule():
    store = RunStore()
    cfg = LoopConfig(total_steps=30, eval_interval=10, eval_at_start=True)
    whole = store.create("text", "whole", model="toy", config={})
    fit(CollectingContext(), ToyRegression(), whole, cfg)
    part = store.create("text", "part", model="toy", config={})
    with pytest.raises(JobCancelled):
        fit(StopAtStep(14, unit=None), ToyRegression(), part, cfg)
    result = fit(CollectingContext(), ToyRegression(), part, cfg, resume=True)
    assert [r["step"] for r in part.metrics() if "val_loss" in r] == [0, 10, 20, 30]
    assert result["val_loss"] < 0.5 and result["best_step"] == 30
    a, b = load_weights(whole.last_checkpoint), load_weights(part.last_checkpoint)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_divergence_keeps_last_good_checkpoint_and_fails_the_run():
    run = RunStore().create("text", "nan", model="toy", config={})
    cfg = LoopConfig(total_steps=40, eval_interval=10)
    with pytest.raises(TrainingDiverged, match=r"loss became nan at step 25.*Lower the "
                                               "learning rate"):
        fit(CollectingContext(), ToyRegression(nan_at=25), run, cfg)
    assert run.info()["status"] == "failed"
    assert read_resume_state(run)["loop"]["step"] == 20  # the last good checkpoint
    assert all(torch.isfinite(t).all() for t in load_weights(run.last_checkpoint).values())


def test_early_stopping_counts_evaluations():
    class Flat(ToyRegression):
        def evaluate(self, ctx, step, epoch):
            return {"val_loss": 1.0}

    result = fit(CollectingContext(), Flat(), None, LoopConfig(total_steps=100,
                                                               eval_interval=10, patience=2))
    assert result["early_stopped"] and result["steps"] == 30 and result["best_step"] == 10


def test_epoch_batches_are_reproducible_and_skip():
    s = EpochBatches(10, 3, seed=5)
    s.set_epoch(2)
    full = list(s)
    s.set_epoch(2, start=2)
    assert list(s) == full[2:] and len(s) == 4
    s.set_epoch(3)
    assert list(s) != full
    assert sorted(i for b in full for i in b) == list(range(10))


def test_init_from_reuses_matching_layers_and_freezes():
    store = RunStore()
    parent = store.create("image", "parent", model="mlp", config={})
    _train(parent, CollectingContext(), epochs=1)
    torch.manual_seed(5)
    child = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 5))
    report = init_from(child, str(parent.path), freeze=True)
    assert sorted(report.new) == ["3.bias", "3.weight"] and len(report.reused) == 2
    assert torch.equal(child[0].weight, load_weights(parent.best_checkpoint)["0.weight"])
    assert not child[0].weight.requires_grad and child[3].weight.requires_grad
    assert report.frozen == 2 * 32 + 32 and "new: 3" in report.summary()
    assert report.to_json()["checkpoint"] == "best"
    with pytest.raises(CheckpointError, match="No layer"):
        init_from(nn.Linear(7, 7), f"{parent.path}:last")


def test_divergence_on_an_accelerator_is_caught_at_the_next_read(monkeypatch):
    """On a GPU the loss is not read every step (that would synchronise); the throttled read
    catches it, the run fails and the last good checkpoint stays."""
    from playground.core import trainer as trainer_module

    original = trainer_module.Trainer.__init__

    def gpu_like(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self._on_cpu = False  # take the accelerator path on this CPU-only machine

    monkeypatch.setattr(trainer_module.Trainer, "__init__", gpu_like)
    run = RunStore().create("text", "nan-gpu", model="toy", config={})
    with pytest.raises(TrainingDiverged, match=r"loss became nan at or before step 30"):
        fit(CollectingContext(), ToyRegression(nan_at=25), run,
            LoopConfig(total_steps=40, eval_interval=10))
    assert run.info()["status"] == "failed"
    assert read_resume_state(run)["loop"]["step"] == 20
    assert all(torch.isfinite(t).all() for t in load_weights(run.last_checkpoint).values())
