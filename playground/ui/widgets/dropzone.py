"""A drop target for files and folders that says what it takes and why it refused something.

Drags carrying URLs are always let in, so that a drop the zone cannot use still ends in a clear
``rejected`` message instead of a silent "forbidden" cursor; the frame turns blue when the
drag holds something usable and red when it holds nothing usable. Clicking the zone (or
pressing Enter/Space on it) opens a file dialog, or a small menu "Choose files… / Choose
folder…" when it takes both; chosen paths go through the same checks as dropped ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl, Signal
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QFileDialog, QFrame, QLabel, QMenu, QVBoxLayout, QWidget

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aiff", ".aif"})

_STYLE = """
DropZone { border: 2px dashed #9aa5b1; border-radius: 8px; background: #f7f9fb; }
DropZone[state="hover"] { border-color: #2979c8; background: #e8f1fb; }
DropZone[state="bad"] { border-color: #c62828; background: #fdecea; }
DropZone:disabled { border-color: #cfd4da; background: #f2f2f2; }
DropZone QLabel { border: none; background: transparent; color: #3c4650; }
DropZone QLabel:disabled { color: #9aa0a6; }
"""


def _names(paths: Iterable[str], limit: int = 5) -> str:
    names = [Path(p).name or p for p in paths]
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


class DropZone(QFrame):
    """A dashed frame with a hint text that accepts dropped (or chosen) files and folders.

    ``accept_files``: allowed suffixes such as ``{".png", ".jpg"}`` (case-insensitive); ``None``
    takes any file, an empty set takes no files. ``accept_folders``: whether folders are taken.
    ``multiple``: whether more than one item is taken at once (else the first one is kept).
    ``dropped(list[str])`` carries the accepted local paths; ``rejected(str)`` a message naming
    what was refused and saying what the zone takes.
    """

    dropped = Signal(list)
    rejected = Signal(str)

    def __init__(self, accept_files: set[str] | None = None, accept_folders: bool = False,
                 multiple: bool = True, parent: QWidget | None = None, *,
                 hint: str | None = None) -> None:
        super().__init__(parent)
        self.accept_files = (None if accept_files is None
                             else {s.lower() if s.startswith(".") else f".{s.lower()}"
                                   for s in accept_files})
        self.accept_folders = accept_folders
        self.multiple = multiple
        self._last_dir = str(Path.home())
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setStyleSheet(_STYLE)
        self.setProperty("state", "idle")
        self.setMinimumHeight(48)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        self._hint = QLabel(hint or self.default_hint())
        self._hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._hint.setWordWrap(True)
        layout.addWidget(self._hint)
        self.setToolTip(f"Takes {self.accepts_description()}.")

    # descriptions ---------------------------------------------------------------------------
    def _takes_images_only(self) -> bool:
        return bool(self.accept_files) and self.accept_files <= IMAGE_SUFFIXES

    def default_hint(self) -> str:
        if self._takes_images_only():
            plural, single = "images", "an image"
        elif self.accept_files and self.accept_files <= AUDIO_SUFFIXES:
            plural, single = "audio files", "an audio file"
        else:
            plural, single = "files", "a file"
        what = plural if self.multiple else single
        takes_files = self.accept_files is None or bool(self.accept_files)
        if takes_files and self.accept_folders:
            return f"Drop {what} or a folder here, or click to choose…"
        if takes_files:
            return f"Drop {what} here, or click to choose…"
        if self.accept_folders:
            return "Drop a folder here, or click to choose…"
        return "Nothing can be dropped here."

    def accepts_description(self) -> str:
        parts = []
        if self.accept_files is None:
            parts.append("any file")
        elif self.accept_files:
            noun = "image files" if self._takes_images_only() else "files"
            parts.append(f"{noun} ({', '.join(sorted(self.accept_files))})")
        if self.accept_folders:
            parts.append("folders")
        text = " and ".join(parts) if parts else "nothing"
        return text + ("" if self.multiple else ", one at a time")

    def hint(self) -> str:
        return self._hint.text()

    def set_hint(self, text: str) -> None:
        self._hint.setText(text)

    # checks ---------------------------------------------------------------------------------
    def _accepts_path(self, path: str) -> bool:
        p = Path(path)
        if p.is_dir():
            return self.accept_folders
        if self.accept_files is None:
            return p.exists()
        return p.suffix.lower() in self.accept_files and p.exists()

    def _usable(self, mime: QMimeData) -> bool:
        return any(url.isLocalFile() and self._accepts_path(url.toLocalFile())
                   for url in mime.urls())

    def offer_urls(self, urls: Iterable[QUrl]) -> list[str]:
        """Check ``urls``; emit ``dropped`` / ``rejected`` as for a drop; return accepted paths."""
        remote = []
        local = []
        for url in urls:
            if url.isLocalFile():
                local.append(url.toLocalFile())
            else:
                remote.append(url.toString())
        messages = []
        if remote:
            messages.append(f"Only files on this computer can be dropped here, not "
                            f"{_names(remote)}; download them first.")
        return self.offer_paths(local, _messages=messages)

    def offer_paths(self, paths: Iterable[str], _messages: list[str] | None = None) -> list[str]:
        """Check local ``paths``; emit ``dropped`` with those taken and ``rejected`` otherwise."""
        messages = list(_messages or [])
        accepted, missing, folders, wrong = [], [], [], []
        for path in paths:
            p = Path(path)
            if p.is_dir():
                (accepted if self.accept_folders else folders).append(str(p))
            elif not p.exists():
                missing.append(str(p))
            elif self.accept_files is None or p.suffix.lower() in self.accept_files:
                accepted.append(str(p))
            else:
                wrong.append(str(p))
        takes = self.accepts_description()
        if missing:
            messages.append(f"Not found: {_names(missing)}.")
        if folders:
            messages.append(f"Folders are not taken here ({_names(folders)}); "
                            f"this area takes {takes}.")
        if wrong:
            messages.append(f"Not taken: {_names(wrong)} — this area takes {takes}.")
        if not self.multiple and len(accepted) > 1:
            messages.append(f"Only one item at a time: took {_names(accepted[:1])}, "
                            f"left out {_names(accepted[1:])}.")
            accepted = accepted[:1]
        if accepted:
            self._last_dir = str(Path(accepted[0]).parent if Path(accepted[0]).is_file()
                                 else Path(accepted[0]))
            self.dropped.emit(accepted)
        if messages:
            self.rejected.emit(" ".join(messages))
        return accepted

    # drag and drop --------------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        self.setProperty("state", state)
        self.style().unpolish(self)
        self.style().polish(self)
        self.update()

    def state(self) -> str:
        """``idle``, ``hover`` (usable drag over the zone) or ``bad`` (nothing usable)."""
        return str(self.property("state"))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if not event.mimeData().hasUrls():
            event.ignore()
            return
        self._set_state("hover" if self._usable(event.mimeData()) else "bad")
        event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802 (Qt override)
        self._set_state("idle")
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        self._set_state("idle")
        mime = event.mimeData()
        if not mime.hasUrls():
            event.ignore()
            return
        event.acceptProposedAction()
        self.offer_urls(mime.urls())

    # click to choose ------------------------------------------------------------------------
    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
                event.position().toPoint()):
            self.choose(event.position().toPoint())
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.choose(QPoint(self.width() // 2, self.height() // 2))
            return
        super().keyPressEvent(event)

    def choose(self, at: QPoint | None = None) -> None:
        """Open the file or folder dialog (a menu offering both when both are taken)."""
        takes_files = self.accept_files is None or bool(self.accept_files)
        if takes_files and self.accept_folders:
            menu = QMenu(self)
            files_action = menu.addAction("Choose files…" if self.multiple else "Choose a file…")
            folder_action = menu.addAction("Choose a folder…")
            chosen = menu.exec(self.mapToGlobal(at or QPoint(0, self.height())))
            if chosen is files_action:
                self.choose_files()
            elif chosen is folder_action:
                self.choose_folder()
        elif takes_files:
            self.choose_files()
        elif self.accept_folders:
            self.choose_folder()

    def file_filter(self) -> str:
        if not self.accept_files:
            return "All files (*)"
        patterns = " ".join(f"*{s}" for s in sorted(self.accept_files))
        noun = "Images" if self._takes_images_only() else "Accepted files"
        return f"{noun} ({patterns});;All files (*)"

    def choose_files(self) -> None:
        if self.multiple:
            paths, _ = QFileDialog.getOpenFileNames(self, "Choose files", self._last_dir,
                                                    self.file_filter())
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Choose a file", self._last_dir,
                                                  self.file_filter())
            paths = [path] if path else []
        if paths:
            self.offer_paths(paths)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder", self._last_dir)
        if path:
            self.offer_paths([path])
