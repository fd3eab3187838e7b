"""DropZone: simulated drags and drops with file URLs, dialogs, and the messages it gives."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog

from playground.ui.widgets.dropzone import DropZone

# PySide6 6.12 marks the QPoint constructor of QDragEnterEvent deprecated but offers no QPointF
# one yet; this is how a drag is simulated.
pytestmark = pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent:DeprecationWarning")


def _mime(*urls: QUrl) -> QMimeData:
    mime = QMimeData()
    mime.setUrls(list(urls))
    return mime


def _drag_enter(zone: DropZone, mime: QMimeData) -> QDragEnterEvent:
    event = QDragEnterEvent(zone.rect().center(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(zone, event)
    return event


def _drop(zone: DropZone, mime: QMimeData) -> None:
    _drag_enter(zone, mime)
    event = QDropEvent(QPointF(zone.rect().center()), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(zone, event)


@pytest.fixture
def files(tmp_path):
    paths = {}
    for name in ("a.png", "b.JPG", "notes.txt"):
        paths[name] = tmp_path / name
        paths[name].write_bytes(b"x")
    paths["folder"] = tmp_path / "photos"
    paths["folder"].mkdir()
    return paths


@pytest.fixture
def zone(qtbot):
    z = DropZone({".png", ".jpg"}, accept_folders=False, multiple=True)
    qtbot.addWidget(z)
    z.resize(300, 100)
    z.show()
    return z


def test_hint_and_defaults(zone, qtbot):
    assert zone.hint() == "Drop images here, or click to choose…"
    both = DropZone({".png"}, accept_folders=True)
    qtbot.addWidget(both)
    assert both.hint() == "Drop images or a folder here, or click to choose…"
    folder_only = DropZone(set(), accept_folders=True, multiple=False, hint="Drop data")
    qtbot.addWidget(folder_only)
    assert folder_only.hint() == "Drop data"
    assert folder_only.accepts_description() == "folders, one at a time"


def test_drop_accepts_images_and_rejects_text_files(zone, files, qtbot):
    dropped, rejected = [], []
    zone.dropped.connect(dropped.append)
    zone.rejected.connect(rejected.append)
    _drop(zone, _mime(QUrl.fromLocalFile(str(files["a.png"])),
                      QUrl.fromLocalFile(str(files["b.JPG"])),
                      QUrl.fromLocalFile(str(files["notes.txt"]))))
    assert dropped == [[str(files["a.png"]), str(files["b.JPG"])]]
    assert len(rejected) == 1
    assert "notes.txt" in rejected[0]
    assert "image files (.jpg, .png)" in rejected[0]
    assert zone.state() == "idle"


def test_drag_enter_highlights_only_usable_drags(zone, files):
    _drag_enter(zone, _mime(QUrl.fromLocalFile(str(files["a.png"]))))
    assert zone.state() == "hover"
    _drag_enter(zone, _mime(QUrl.fromLocalFile(str(files["notes.txt"]))))
    assert zone.state() == "bad"
    event = _drag_enter(zone, QMimeData())  # plain text drag, no URLs
    assert not event.isAccepted()


def test_remote_urls_folders_and_missing_files_are_explained(zone, files, qtbot):
    with qtbot.waitSignal(zone.rejected, timeout=1000) as blocker:
        _drop(zone, _mime(QUrl("https://example.com/cat.png"),
                          QUrl.fromLocalFile(str(files["folder"])),
                          QUrl.fromLocalFile(str(files["folder"] / "gone.png"))))
    message = blocker.args[0]
    assert "Only files on this computer" in message and "cat.png" in message
    assert "Folders are not taken here (photos)" in message
    assert "Not found: gone.png" in message


def test_single_item_zone_keeps_the_first(qtbot, files):
    zone = DropZone(None, accept_folders=True, multiple=False)
    qtbot.addWidget(zone)
    dropped, rejected = [], []
    zone.dropped.connect(dropped.append)
    zone.rejected.connect(rejected.append)
    zone.offer_paths([str(files["folder"]), str(files["notes.txt"])])
    assert dropped == [[str(files["folder"])]]
    assert rejected == ["Only one item at a time: took photos, left out notes.txt."]


def test_click_opens_the_file_dialog(zone, files, qtbot, monkeypatch):
    calls = []

    def fake_dialog(parent, title, start, filters):
        calls.append(filters)
        return [str(files["a.png"])], filters

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(fake_dialog))
    with qtbot.waitSignal(zone.dropped, timeout=1000) as blocker:
        qtbot.mouseClick(zone, Qt.MouseButton.LeftButton)
    assert blocker.args == [[str(files["a.png"])]]
    assert calls == ["Images (*.jpg *.png);;All files (*)"]


def test_folder_zone_opens_the_folder_dialog(qtbot, files, monkeypatch):
    zone = DropZone(set(), accept_folders=True, multiple=False)
    qtbot.addWidget(zone)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *args: str(files["folder"])))
    with qtbot.waitSignal(zone.dropped, timeout=1000) as blocker:
        qtbot.keyClick(zone, Qt.Key.Key_Space)
    assert blocker.args == [[str(files["folder"])]]
