"""Optimisers and learning-rate schedules, by name, as the forms and the CLI choose them.

Schedules are stepped once per optimisation step. Weight decay is applied to weight matrices
and convolution kernels only, not to biases, norms or embeddings' 1-D parameters (as nanoGPT).
"""

from __future__ import annotations

import math

OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine", "onecycle")


def param_groups(model, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for p in model.parameters():
        if not p.requires_grad:
            continue
        (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def make_optimizer(name: str, model, lr: float, weight_decay: float = 0.0,
                   momentum: float = 0.9, betas: tuple[float, float] = (0.9, 0.999)):
    import torch

    from playground.core.errors import ConfigError

    groups = param_groups(model, weight_decay)
    if not any(g["params"] for g in groups):
        raise ConfigError("The model has no trainable parameters: everything is frozen. With "
                          "--freeze (\"Freeze reused layers\") only the layers that are new "
                          "train, and this model reused all of its layers from the run it "
                          "starts from; train without freezing.")
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=momentum > 0)
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr, momentum=momentum, alpha=0.99)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=betas)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=betas)
    raise ConfigError(f"Unknown optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}.")


def lr_factor(schedule: str, step: int, total_steps: int, warmup_steps: int = 0,
              min_ratio: float = 0.0) -> float:
    """The multiplier of the base learning rate at ``step`` (0-based) for a named schedule."""
    total_steps = max(1, total_steps)
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    if schedule == "step":  # x0.1 at one third and two thirds of training
        return 0.1 ** int(3 * min(step, total_steps - 1) / total_steps)
    if schedule == "cosine":
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    raise ValueError(f"unknown schedule {schedule!r}")


def make_scheduler(schedule: str, optimizer, total_steps: int, warmup_steps: int = 0,
                   min_ratio: float = 0.0):
    import torch

    from playground.core.errors import ConfigError

    if schedule not in SCHEDULES:
        raise ConfigError(f"Unknown schedule {schedule!r}: choose one of {', '.join(SCHEDULES)}.")
    if schedule == "onecycle":
        max_lrs = [g["lr"] for g in optimizer.param_groups]
        cycle_momentum = "momentum" in optimizer.defaults and optimizer.defaults["momentum"] > 0
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=max_lrs, total_steps=max(2, total_steps),
            cycle_momentum=cycle_momentum)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(schedule, s, total_steps, warmup_steps, min_ratio))
