"""Optimisers and schedules by name: factors at key steps, schedulers, weight-decay groups."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from playground.core.errors import ConfigError
from playground.core.optim import (
    OPTIMIZERS,
    SCHEDULES,
    lr_factor,
    make_optimizer,
    make_scheduler,
    param_groups,
)


def _model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))


def test_constant():
    assert [lr_factor("constant", s, 10) for s in (0, 5, 9, 20)] == [1.0] * 4


def test_constant_with_warmup():
    assert [lr_factor("constant", s, 10, warmup_steps=4) for s in range(6)] == [
        0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_step_schedule_drops_at_thirds():
    f = [lr_factor("step", s, 9) for s in range(9)]
    assert f[:3] == [1.0] * 3
    assert f[3:6] == pytest.approx([0.1] * 3)
    assert f[6:] == pytest.approx([0.01] * 3)
    assert lr_factor("step", 100, 9) == pytest.approx(0.01)  # past the end stays at the floor


def test_cosine_key_points():
    total = 101
    assert lr_factor("cosine", 0, total) == pytest.approx(1.0)
    assert lr_factor("cosine", 50, total) == pytest.approx(0.5 * (1 + math.cos(math.pi * 50 / 101)))
    assert lr_factor("cosine", total, total) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor("cosine", 10 * total, total) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor("cosine", total, total, min_ratio=0.1) == pytest.approx(0.1)
    values = [lr_factor("cosine", s, total) for s in range(total)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))  # monotone decay


def test_cosine_with_warmup():
    total, warm = 110, 10
    ramp = [lr_factor("cosine", s, total, warmup_steps=warm) for s in range(warm)]
    assert ramp == pytest.approx([(s + 1) / warm for s in range(warm)])
    assert lr_factor("cosine", warm, total, warmup_steps=warm) == pytest.approx(1.0)
    mid = warm + (total - warm) // 2
    assert lr_factor("cosine", mid, total, warmup_steps=warm) == pytest.approx(0.5)
    assert lr_factor("cosine", total, total, warmup_steps=warm, min_ratio=0.2) == pytest.approx(0.2)


def test_lr_factor_unknown_schedule():
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_factor("linear", 0, 10)


def test_lambda_scheduler_follows_lr_factor():
    model = _model()
    opt = make_optimizer("sgd", model, lr=0.3)
    sched = make_scheduler("cosine", opt, total_steps=20, warmup_steps=5)
    seen = []
    for _ in range(20):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    expected = [0.3 * lr_factor("cosine", s, 20, 5) for s in range(20)]
    assert seen == pytest.approx(expected)
    # every group (decay and no-decay) follows the schedule
    assert opt.param_groups[1]["lr"] == pytest.approx(opt.param_groups[0]["lr"])


@pytest.mark.parametrize("name", ["sgd", "adamw"])
def test_onecycle_runs_with_sgd_and_adamw(name):
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    opt = make_optimizer(name, model, lr=0.1, weight_decay=0.01)
    sched = make_scheduler("onecycle", opt, total_steps=20)
    assert isinstance(sched, torch.optim.lr_scheduler.OneCycleLR)
    lrs = []
    for _ in range(20):
        lrs.append(opt.param_groups[0]["lr"])
        model(torch.randn(3, 4)).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
        sched.step()
    peak = max(lrs)
    assert peak == pytest.approx(0.1, rel=0.05)  # rises to the base lr ...
    assert lrs[0] == pytest.approx(0.1 / 25)  # (OneCycleLR's default div_factor)
    assert lrs[-1] < peak / 1000  # ... and anneals far below it
    assert len({round(g["lr"], 12) for g in opt.param_groups}) == 1  # all groups in step


def test_onecycle_single_step_does_not_crash():
    opt = make_optimizer("adamw", nn.Linear(2, 2), lr=0.1)
    sched = make_scheduler("onecycle", opt, total_steps=1)
    opt.step()
    sched.step()


def test_weight_decay_groups():
    model = _model()
    groups = param_groups(model, 0.05)
    decay, no_decay = groups
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    assert {id(p) for p in decay["params"]} == {id(model[0].weight), id(model[3].weight)}
    expected_no = {id(model[0].bias), id(model[1].weight), id(model[1].bias), id(model[3].bias)}
    assert {id(p) for p in no_decay["params"]} == expected_no
    opt = make_optimizer("adamw", model, lr=1e-3, weight_decay=0.05)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.05, 0.0]


def test_frozen_parameters_are_left_out():
    model = _model()
    model[0].requires_grad_(False)
    opt = make_optimizer("adam", model, lr=1e-3)
    ids = {id(p) for g in opt.param_groups for p in g["params"]}
    assert id(model[0].weight) not in ids and id(model[3].weight) in ids
    assert len(ids) == 4


def test_model_with_only_1d_parameters():
    opt = make_optimizer("sgd", nn.LayerNorm(5), lr=0.1, weight_decay=0.1)
    assert sum(len(g["params"]) for g in opt.param_groups) == 2


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_takes_a_step(name):
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    before = model.weight.detach().clone()
    opt = make_optimizer(name, model, lr=0.1, weight_decay=0.01, momentum=0.5)
    model(torch.randn(8, 3)).pow(2).mean().backward()
    opt.step()
    assert not torch.equal(before, model.weight)


def test_sgd_options():
    opt = make_optimizer("sgd", nn.Linear(2, 2), lr=0.1, momentum=0.9)
    assert opt.defaults["nesterov"] is True and opt.defaults["momentum"] == 0.9
    opt0 = make_optimizer("sgd", nn.Linear(2, 2), lr=0.1, momentum=0.0)
    assert opt0.defaults["nesterov"] is False


def test_unknown_names_are_config_errors():
    with pytest.raises(ConfigError, match="Unknown optimizer 'lion'.*sgd, rmsprop, adam, adamw"):
        make_optimizer("lion", nn.Linear(2, 2), lr=0.1)
    opt = make_optimizer("sgd", nn.Linear(2, 2), lr=0.1)
    with pytest.raises(ConfigError, match="Unknown schedule 'linear'.*constant"):
        make_scheduler("linear", opt, 10)


def test_fully_frozen_model_is_config_error():
    model = _model().requires_grad_(False)
    with pytest.raises(ConfigError, match="no trainable parameters"):
        make_optimizer("adamw", model, lr=1e-3)


def test_names_are_the_schema_choices():
    assert set(SCHEDULES) == {"constant", "step", "cosine", "onecycle"}
    assert set(OPTIMIZERS) == {"sgd", "rmsprop", "adam", "adamw"}
