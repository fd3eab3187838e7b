"""What every tab shares with the window: the chosen device, notices, the data folder.

Tabs receive one :class:`AppContext`; they never reach into the main window.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from playground.core import events as ev

log = logging.getLogger(__name__)


class AppContext(QObject):
    device_changed = Signal(str)
    torch_ready = Signal()
    notice = Signal(str, str, str)       # level (info/warning/error), message, details
    progress = Signal(object, object)    # runner name, Progress event (or None when idle)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._device = "auto"
        self.torch_loaded = False

    @property
    def device(self) -> str:
        return self._device

    def set_device(self, name: str) -> None:
        if name != self._device:
            self._device = name
            self.device_changed.emit(name)

    def info(self, message: str) -> None:
        self.notice.emit("info", message, "")

    def warn(self, message: str, details: str = "") -> None:
        self.notice.emit("warning", message, details)

    def error(self, message: str, details: str = "") -> None:
        if details:
            log.error("%s\n%s", message, details)
        self.notice.emit("error", message, details)

    def report_terminal(self, event: ev.Event, what: str) -> None:
        """Show how a job ended: failures with details, stops and successes briefly."""
        if isinstance(event, ev.Failed):
            self.error(f"{what} failed: {event.message}", event.details)
        elif isinstance(event, ev.Finished):
            self.info(f"{what} stopped." if event.stopped else f"{what} finished.")

    def watch(self, runner) -> None:
        """Forward a runner's progress to the status bar."""
        def on_event(event: ev.Event) -> None:
            if isinstance(event, ev.Progress):
                self.progress.emit(runner.name, event)

        runner.event.connect(on_event)
        runner.busy_changed.connect(
            lambda busy: None if busy else self.progress.emit(runner.name, None))
