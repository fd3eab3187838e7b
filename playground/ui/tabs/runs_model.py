"""What the Runs tab shows, worked out from the run folders (no widgets here).

Reads only ``run.json`` and ``metrics.jsonl``: each run's effective status (a "training" run
whose process died is "interrupted"), damaged runs named with their reason, the lineage
(``run.json["parent"]``: the run a fork was started from) and, for the compare plot, how far
along the x axis a fork's curves start so that they continue from the step of its parent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.core.runs import INTERRUPTED, Run, RunStore

RESUMABLE = ("stopped", INTERRUPTED, "finished")
METRIC_SKIP = ("epoch", "step", "time", "epoch_seconds")
INTERRUPTED_TIP = ("Its training process is gone (killed, crashed, or the computer went down). "
                   "Resume continues it from its last checkpoint.")


def best_figure(info: dict) -> str:
    result = info.get("result") or {}
    for key, fmt in (("best_val_accuracy", "acc {:.1%}"), ("best_val_loss", "val loss {:.3f}"),
                     ("best_cer", "CER {:.1%}")):
        if isinstance(result.get(key), (int, float)):
            return fmt.format(result[key])
    return ""


def parent_record(info: dict | None) -> dict[str, Any] | None:
    """run.json's ``parent`` as a dict with at least ``run`` (a path), or None (from scratch).
    Older runs may hold just the path as a string."""
    parent = (info or {}).get("parent")
    if isinstance(parent, str) and parent:
        return {"run": parent}
    if isinstance(parent, dict) and isinstance(parent.get("run"), str) and parent["run"]:
        return parent
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(eq=False)
class RunEntry:
    """One row of the Runs tab: a readable run, or a damaged one (``problem`` says why)."""

    run: Run
    info: dict[str, Any] | None = None
    problem: str = ""
    status: str = ""
    parent: RunEntry | None = None
    children: list[RunEntry] = field(default_factory=list)
    _metrics: list[dict[str, Any]] | None = None

    @property
    def name(self) -> str:
        return self.run.name

    @property
    def task(self) -> str:
        return str((self.info or {}).get("task") or self.run.path.parent.name)

    @property
    def damaged(self) -> bool:
        return self.info is None

    @property
    def parent_info(self) -> dict[str, Any] | None:
        return parent_record(self.info)

    def metrics(self) -> list[dict[str, Any]]:
        if self._metrics is None:
            self._metrics = self.run.metrics()
        return self._metrics

    def can_resume(self) -> tuple[bool, str]:
        """(whether Resume applies, why not in a sentence the user reads as a tooltip)."""
        if self.damaged:
            return False, f"This run cannot be read: {self.problem}"
        if self.status not in RESUMABLE:
            if self.status == "training":
                return False, "This run is training now."
            if self.status == "failed":
                return False, ("This run failed; start a new run from its weights instead "
                               "(Start from this run…) with other settings.")
            return False, f"A run that is {self.status or 'new'} cannot be resumed."
        if not self.run.optimizer_state.is_file():
            return False, ("This run has no resumable checkpoint: it was stopped before the "
                           "first one was saved.")
        return True, f"Continue {self.name} from its last checkpoint."

    def has_weights(self) -> bool:
        return not self.damaged and (self.run.best_checkpoint.is_file()
                                     or self.run.last_checkpoint.is_file())

    def lineage_text(self) -> str:
        """"started from X (best, step N): reused K tensors; new: …" or ""."""
        parent = self.parent_info
        if parent is None:
            return ""
        name = self.parent.name if self.parent else Path(parent["run"]).name
        how = [str(parent.get("checkpoint") or "best")]
        if _int(parent.get("step")) is not None:
            how.append(f"step {parent['step']}")
        text = f"started from {name} ({', '.join(how)})"
        if self.parent is None:
            text += " [that run is no longer listed here]"
        details = []
        if _int(parent.get("reused")) is not None:
            details.append(f"reused {parent['reused']} tensors")
        new = parent.get("new")
        if isinstance(new, list):
            names = [str(n) for n in new]
            details.append("new: " + (", ".join(names[:8]) + (" …" if len(names) > 8 else "")
                                      if names else "none"))
        return text + (": " + "; ".join(details) if details else "")

    def from_text(self) -> str:
        """The table's "From" cell: the parent's name with the checkpoint and step."""
        parent = self.parent_info
        if parent is None:
            return ""
        name = self.parent.name if self.parent else Path(parent["run"]).name + " (gone)"
        how = str(parent.get("checkpoint") or "best")
        if _int(parent.get("step")) is not None:
            how += f", step {parent['step']}"
        return f"{name} ({how})"

    def details_text(self) -> str:
        """The details pane's text: path, status, lineage, then run.json's main fields."""
        if self.damaged:
            return f"{self.run.path}\ndamaged: {self.problem}"
        info = self.info or {}
        lines = [str(self.run.path), f"status: {self.status}"
                 + (f" ({INTERRUPTED_TIP})" if self.status == INTERRUPTED else "")]
        if self.parent_info:
            lines.append(self.lineage_text())
        if self.children:
            lines.append("started from it: " + ", ".join(c.name for c in self.children))
        shown = {k: info.get(k) for k in ("task", "model", "created", "config", "dataset",
                                           "result", "versions")}
        if isinstance(shown.get("result"), dict):
            shown["result"] = {k: v for k, v in shown["result"].items()
                               if k not in ("confusion", "per_class", "evals")}
        return "\n".join(lines) + "\n" + json.dumps(shown, indent=2, default=str)


def load_entries(task: str | None = None, store: RunStore | None = None) -> list[RunEntry]:
    """Every run of ``task`` (all tasks: None), newest first, damaged ones among them, with
    parents and children linked."""
    store = store or RunStore()
    runs, problems = store.scan(task)
    entries = []
    for run in runs:
        try:
            info = run.info()
        except Exception as exc:  # noqa: BLE001 - changed since scan(): listed as damaged
            entries.append(RunEntry(run, problem=str(exc), status="damaged"))
            continue
        entries.append(RunEntry(run, info, status=run.effective_status(info)))
    entries += [RunEntry(Run(p.path), problem=p.message, status="damaged") for p in problems]
    entries.sort(key=lambda e: e.name, reverse=True)
    link_lineage(entries)
    return entries


def _key(path: Path) -> str:
    try:
        return str(path.resolve())
    except OSError:
        return str(path)


def link_lineage(entries: list[RunEntry]) -> None:
    """Set each entry's ``parent`` and ``children``. A parent is found by its folder, or, when
    the data folder moved, by the same task and folder name."""
    by_path = {_key(e.run.path): e for e in entries}
    by_name = {(e.run.path.parent.name, e.name): e for e in entries}
    for e in entries:
        e.parent, e.children = None, []
    for e in entries:
        record = e.parent_info
        if record is None:
            continue
        path = Path(record["run"]).expanduser()
        parent = by_path.get(_key(path)) or by_name.get((path.parent.name, path.name))
        if parent is not None and parent is not e:
            e.parent = parent
            parent.children.append(e)


def metric_series(run: Run | RunEntry, key: str) -> tuple[list[float], list[float], str]:
    """(xs, ys, axis) of one metric key in a run's metrics.jsonl; epochs preferred.

    A key logged both per step and in the evaluation rows (``train_loss``) is drawn from the
    step rows, so the curve does not zig-zag between a step's loss and an epoch's mean.
    """
    rows = [r for r in run.metrics() if isinstance(r.get(key), (int, float))]
    if not rows:
        return [], [], ""
    if all("epoch" in r for r in rows):
        axis = "epoch"
    else:
        axis = "step"
        rows = [r for r in rows if "epoch" not in r] or rows
    return ([float(r.get(axis, i)) for i, r in enumerate(rows)],
            [float(r[key]) for r in rows], axis)


def epoch_at(entry: RunEntry, step: int) -> float | None:
    """How many epochs ``entry`` had trained at ``step``: the epoch of its evaluation at that
    step, else step / steps per epoch from run.json."""
    rows = [r for r in entry.metrics() if r.get("step") == step and "epoch" in r]
    if rows and isinstance(rows[-1]["epoch"], (int, float)):
        return float(rows[-1]["epoch"])
    per_epoch = _int((entry.info or {}).get("steps_per_epoch"))
    if per_epoch:
        return step / per_epoch
    return None


def fork_offset(entry: RunEntry, axis: str, _seen: frozenset[int] = frozenset()) -> float:
    """Where ``entry``'s curves start on the compare plot's ``axis`` when forks are aligned to
    their parents: the parent's step (or the epochs the parent had at that step), added up
    along the chain of parents. 0 for a run from scratch."""
    record = entry.parent_info
    if record is None or id(entry) in _seen:
        return 0.0
    step = _int(record.get("step"))
    parent = entry.parent
    if step is None:
        step = _int(((parent.info or {}).get("result") or {}).get("step")) if parent else None
    if step is None:
        return 0.0
    if axis == "epoch":
        within = epoch_at(parent, step) if parent is not None else None
        if within is None:  # the parent is gone: count its steps in this run's epochs
            per_epoch = _int((entry.info or {}).get("steps_per_epoch"))
            within = step / per_epoch if per_epoch else 0.0
    else:
        within = float(step)
    if parent is None:
        return within
    return within + fork_offset(parent, axis, _seen | {id(entry)})


def metric_keys(entries: list[RunEntry], limit: int = 200) -> list[str]:
    """The numeric metric names of ``entries``, validation metrics first."""
    keys: list[str] = []
    for entry in entries:
        for row in entry.metrics()[:limit]:
            for key, value in row.items():
                if (isinstance(value, (int, float)) and not isinstance(value, bool)
                        and key not in METRIC_SKIP and key not in keys):
                    keys.append(key)
    return sorted(keys, key=lambda k: (not k.startswith("val"), k))
