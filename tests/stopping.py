"""A job context that presses Stop at a given training step (resume tests)."""

from __future__ import annotations

from playground.core import events as ev
from playground.core.jobs import CollectingContext


class StopAtStep(CollectingContext):
    """Collects events and cancels once a training Progress event reaches ``step``.

    ``unit`` / ``total`` narrow which Progress events count (data loading reports progress
    too).
    """

    def __init__(self, step: int, *, unit: str | None = "step", total: int | None = None,
                 epochs_only: bool = False) -> None:
        super().__init__()
        self.stop_step, self.unit, self.total, self.epochs_only = step, unit, total, epochs_only

    def emit(self, event):
        super().emit(event)
        if not isinstance(event, ev.Progress) or event.done < self.stop_step:
            return
        if self.unit is not None and event.unit != self.unit:
            return
        if self.total is not None and event.total != self.total:
            return
        if self.epochs_only and not event.message.startswith("epoch"):
            return
        self.cancel()
