"""Resume any run folder: one entry point over the task packages, used by the CLI
(``playground resume``) and the UI (Resume buttons).

It sits above the task packages (it imports them) and below ``cli`` and ``ui``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from playground.core.errors import ConfigError
from playground.core.jobs import JobContext


def total_kind(task: str) -> str:
    """What a run's length is counted in: "iterations" (text) or "epochs"."""
    return "iterations" if task == "text" else "epochs"


def make_resume_job(run_dir: str | os.PathLike, *, epochs: int | None = None,
                    max_iters: int | None = None, home: str | os.PathLike | None = None
                    ) -> Callable[[JobContext], dict[str, Any]]:
    """A job that continues ``run_dir`` from its last checkpoint (see each task's
    ``make_resume_job``); ``epochs`` / ``max_iters`` set a new total."""
    from playground.core.runs import open_run

    run = open_run(run_dir)
    task = run.info().get("task")
    if task == "text":
        if epochs is not None:
            raise ConfigError("A text run counts iterations: use --max-iters, not --epochs.")
        from playground.text.train import make_resume_job as text_resume

        return text_resume(run.path, max_iters=max_iters, home=home)
    if task in ("image", "speech"):
        if max_iters is not None:
            raise ConfigError(f"An {task} run counts epochs: use --epochs, not --max-iters.")
        if task == "image":
            from playground.vision.train import make_resume_job as image_resume

            return image_resume(run.path, epochs=epochs, home=home)
        from playground.speech.train import make_resume_job as speech_resume

        return speech_resume(run.path, epochs=epochs, home=home)
    if task == "translate":
        if max_iters is not None:
            raise ConfigError("A translate run counts epochs: use --epochs, not --max-iters.")
        from playground.text.translate_train import make_resume_job as translate_resume

        return translate_resume(run.path, epochs=epochs, home=home)
    raise ConfigError(f"Runs of the task {task!r} cannot be resumed by this version.")
