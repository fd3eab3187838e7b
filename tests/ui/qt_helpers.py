"""Helpers for driving real widgets in tests: a task tab opened on its own, its form filled
in, simulated drops of local files."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from playground.ui.appctx import AppContext


def collect_notices(appctx: AppContext) -> list[tuple[str, str]]:
    """A list that fills with the ``(level, message)`` of every notice ``appctx`` shows."""
    notices: list[tuple[str, str]] = []
    appctx.notice.connect(lambda level, msg, details: notices.append((level, msg)))
    return notices


def open_tab(qtbot, make_tab: Callable[[AppContext], QWidget],
             size: tuple[int, int] = (1400, 900), show: bool = True) -> QWidget:
    """``make_tab(appctx)`` on a new app context, ``size`` large (shown unless ``show`` is
    False); its ``notices`` attribute collects the notices (:func:`collect_notices`)."""
    appctx = AppContext()
    notices = collect_notices(appctx)
    widget = make_tab(appctx)
    widget.notices = notices
    qtbot.addWidget(widget)
    widget.resize(*size)
    if show:
        widget.show()
    return widget


def set_fields(form, **values) -> None:
    """Set fields of a schema form by name: spin boxes, check boxes, text boxes, and menus by
    the item's data."""
    for name, value in values.items():
        w = form.widget_for(name)
        if hasattr(w, "setValue"):
            w.setValue(value)
        elif hasattr(w, "setChecked"):
            w.setChecked(value)
        elif hasattr(w, "setText"):
            w.setText(value)
        else:
            w.setCurrentIndex(w.findData(value))


def file_mime(*paths) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def drop_files(widget: QWidget, *paths) -> None:
    """Drag ``paths`` over ``widget`` and drop them, as a file manager would."""
    mime = file_mime(*paths)
    pos = QPointF(widget.rect().center())
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)
