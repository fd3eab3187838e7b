"""The Qt side of a model registry: a signal when entries come or go.

``core/registry.py`` stays Qt-free and calls plain listeners (``Registry.subscribe``); a
:class:`RegistryWatcher` turns that into the ``changed`` signal a tab connects to (queued to the
UI thread when the registry changed on another thread). It unsubscribes when it is destroyed,
so a closed tab leaves nothing behind in the registry.

:func:`apply_model_uses` greys out the form fields the chosen model does not read, from the
entries' ``extra["uses"]`` (no per-model lists in the tabs).
"""

from __future__ import annotations

import weakref
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal


class RegistryWatcher(QObject):
    """Emits ``changed(task)`` after each change of ``registry`` while this object lives."""

    changed = Signal(str)

    def __init__(self, registry: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        ref = weakref.ref(self)

        def on_change(reg: Any) -> None:
            watcher = ref()
            if watcher is None or not shiboken6.isValid(watcher):
                unsubscribe()
                return
            watcher.changed.emit(reg.task)

        unsubscribe = registry.subscribe(on_change)
        self._unsubscribe = unsubscribe
        self.destroyed.connect(lambda *_: unsubscribe())

    def stop(self) -> None:
        self._unsubscribe()


def apply_model_uses(form: Any, registry: Any, model: str | None = None) -> None:
    """Enable the fields of ``form`` that ``model`` (default: the one chosen in the form's
    ``model`` menu) reads and grey out those only others read.

    A field that no entry lists in ``extra["uses"]`` is left alone; an entry without ``uses``
    (or one not registered) enables every listed field.
    """
    if model is None:
        model = str(form.widget_for("model").currentData())
    listed: set[str] = set()
    for entry in registry:
        listed.update(entry.extra.get("uses", ()))
    names = [n for n in form.field_names() if n in listed]
    uses = registry.get(model).extra.get("uses") if model in registry else None
    for name in names:
        form.set_field_enabled(name, uses is None or name in uses)
