"""Guard against PySide6 6.12's missing references to ``None``/``True``/``False`` on Python 3.11.

The PySide6/shiboken6 6.12.0 wheels (``cp310-abi3``) return ``None`` from every void method
(``widget.update()``, ``painter.drawRect()`` …) and ``True`` from ``SignalInstance.emit()``
without taking a reference. From Python 3.12 on these objects are immortal and nothing
happens; on 3.11 every such call drops one of their few thousand references, and the
interpreter soon aborts with "Fatal Python error: none_dealloc: deallocating None" (or
``bool_dealloc``). A plot repainting 30 times a second killed the app within a minute, and
a test session that draws a few plots aborted at exit.

:func:`install_refcount_guard` checks whether this PySide6 drops references and, if it does,
adds 2**60 to the reference counts of these singletons, which is what Python 3.12 does to make
them immortal. They are never freed anyway, so an extra count changes nothing else. It does
nothing on Python >= 3.12, with a PySide6 that does not have the bug, or on a CPython build
whose object layout it cannot verify. It is idempotent and must run before the UI makes
thousands of Qt calls: ``playground.ui.widgets`` runs it when it is imported, and the app
should call it first thing after importing PySide6.
"""

from __future__ import annotations

import ctypes
import sys

_SINGLETONS = (None, True, False, NotImplemented, Ellipsis)
_BOOST = 1 << 60
_state: dict[str, bool] = {}


def pyside_drops_references(probes: int = 8) -> bool:
    """True if void PySide6 calls or ``Signal.emit()`` lose references to None/True."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(probes):
        probe.setObjectName("probe")  # void method: returns None
        probe.ping.emit()  # returns True
    lost_none = none_before - sys.getrefcount(None)
    lost_true = true_before - sys.getrefcount(True)
    return lost_none >= probes or lost_true >= probes


def _refcount_field(obj: object) -> ctypes.c_ssize_t | None:
    """The object's ``ob_refcnt`` if the layout is the standard one (checked), else None."""
    if hasattr(sys, "gettotalrefcount"):  # debug build: other fields come first
        return None
    field = ctypes.c_ssize_t.from_address(id(obj))
    # sys.getrefcount counts its own argument once more than the object holds.
    return field if field.value == sys.getrefcount(obj) - 1 else None


def install_refcount_guard() -> bool:
    """Make None/True/False/NotImplemented/Ellipsis immortal if PySide6 leaks them.

    Returns True when the guard is in place (now or from an earlier call).
    """
    if "installed" in _state:
        return _state["installed"]
    installed = False
    if sys.version_info < (3, 12) and pyside_drops_references():
        fields = [_refcount_field(obj) for obj in _SINGLETONS]
        if all(f is not None for f in fields):
            for field in fields:
                field.value += _BOOST
            installed = True
    _state["installed"] = installed
    return installed
