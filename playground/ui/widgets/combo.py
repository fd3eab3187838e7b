"""Refill a combo box without losing the user's choice (run pickers in every tab)."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtWidgets import QComboBox


def fill_combo(combo: QComboBox, items: Iterable[tuple[str, object]], *,
               select: object = None, empty: str | None = None) -> None:
    """Replace ``combo``'s items with ``(label, data)`` pairs, quietly.

    ``select`` (else the current data) stays chosen when it is still listed; otherwise the
    first item is. With no items and an ``empty`` text, that text is the one item (data None).
    No ``currentIndexChanged`` is emitted: callers react once, after filling.
    """
    previous = select if select is not None else combo.currentData()
    combo.blockSignals(True)
    try:
        combo.clear()
        for label, data in items:
            combo.addItem(label, data)
        if combo.count() == 0 and empty:
            combo.addItem(empty, None)
        index = combo.findData(previous) if previous is not None else 0
        combo.setCurrentIndex(max(0, index))
    finally:
        combo.blockSignals(False)
