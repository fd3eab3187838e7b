"""Runs on disk: nothing is lost.

::

    <home>/runs/<task>/<YYYYmmdd-HHMMSS>-<name>/
        run.json          task, model entry, full config, dataset description, versions, status
        metrics.jsonl     one JSON object per logged point, appended and flushed
        labels.json       class names / vocabulary info where the task has them
        tokenizer.model   SentencePiece model for text runs
        checkpoints/last.safetensors, best.safetensors, optimizer.pt
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground import __version__
from playground.core.checkpoint import atomic_write_json
from playground.core.errors import RunError
from playground.core.paths import runs_dir

TASKS = ("image", "text", "translate", "speech")


def _versions() -> dict[str, str]:
    versions = {"playground": __version__, "python": platform.python_version()}
    for module in ("torch", "torchvision", "torchaudio"):
        try:
            versions[module] = __import__(module).__version__
        except Exception:  # noqa: BLE001 - a missing optional package is simply not listed
            continue
    return versions


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return slug[:60] or "run"


@dataclass
class Run:
    """One run folder. Cheap to construct; reads files on demand."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.safetensors"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / "best.safetensors"

    @property
    def optimizer_state(self) -> Path:
        return self.checkpoints / "optimizer.pt"

    def best_or_last(self) -> Path:
        for p in (self.best_checkpoint, self.last_checkpoint):
            if p.is_file():
                return p
        raise RunError(f"Run {self.path} has no checkpoint yet: it was stopped before the first "
                       "one was saved. Train it again.")

    # run.json -------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / "run.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunError(f"{self.path} is not a run folder (no run.json).") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RunError(f"{self.path / 'run.json'} is damaged ({exc}).") from exc

    def update(self, **fields: Any) -> None:
        info = self.info()
        info.update(fields)
        info["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        atomic_write_json(self.path / "run.json", info)

    def set_status(self, status: str, **fields: Any) -> None:
        self.update(status=status, **fields)

    @property
    def task(self) -> str:
        return self.info().get("task", "")

    # metrics ---------------------------------------------------------------------------------
    def log_metrics(self, **values: Any) -> None:
        values.setdefault("time", round(time.time(), 3))
        with open(self.path / "metrics.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(values) + "\n")
            fh.flush()

    def metrics(self) -> list[dict[str, Any]]:
        path = self.path / "metrics.jsonl"
        if not path.is_file():
            return []
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a crash
        return rows

    # labels ----------------------------------------------------------------------------------
    def save_labels(self, labels: Any) -> None:
        atomic_write_json(self.path / "labels.json", labels)

    def labels(self) -> Any:
        try:
            return json.loads((self.path / "labels.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunError(f"Run {self.path} has no labels.json.") from None


class RunStore:
    """All runs under one home folder."""

    def __init__(self, home: str | Path | None = None) -> None:
        self.root = runs_dir(home)

    def create(self, task: str, name: str, *, model: str, config: dict[str, Any],
               dataset: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> Run:
        folder = self.root / task
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{_slug(name)}"
        path = folder / base
        n = 1
        while True:
            try:
                path.mkdir()
                break
            except FileExistsError:
                n += 1
                path = folder / f"{base}-{n}"
        (path / "checkpoints").mkdir()
        info = {"task": task, "name": name, "model": model, "config": config,
                "dataset": dataset or {}, "versions": _versions(), "status": "created",
                "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        info.update(extra or {})
        atomic_write_json(path / "run.json", info)
        return Run(path)

    def list(self, task: str | None = None) -> list[Run]:
        tasks = [task] if task else sorted(p.name for p in self.root.iterdir() if p.is_dir())
        runs = []
        for t in tasks:
            folder = self.root / t
            if folder.is_dir():
                runs += [Run(p) for p in folder.iterdir() if (p / "run.json").is_file()]
        return sorted(runs, key=lambda r: r.name, reverse=True)

    def latest(self, task: str) -> Run | None:
        runs = self.list(task)
        return runs[0] if runs else None

    def delete(self, run: Run) -> None:
        root, path = self.root.resolve(), run.path.resolve()
        # A run folder is exactly <root>/<task>/<name>: never the store or a task folder, and
        # never a look-alike such as "<root>-old/..." (which a string prefix test would accept).
        if path.parent.parent != root:
            raise RunError(f"{run.path} is not a run folder inside {self.root}; not deleting it.")
        shutil.rmtree(path)


def open_run(path: str | Path, task: str | None = None) -> Run:
    """A run from a folder path, checking it is one (and of ``task`` if given)."""
    run = Run(Path(path).expanduser())
    if not run.path.is_dir():
        raise RunError(f"Run folder {run.path} does not exist.")
    info = run.info()
    if task and info.get("task") != task:
        raise RunError(f"{run.path} is a {info.get('task')!r} run, not a {task!r} run.")
    return run
