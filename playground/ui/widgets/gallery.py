"""A scrollable grid of fixed-size thumbnails with captions (e.g. misclassified images)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QListView, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from playground.core.events import ImageSamples
from playground.ui.widgets.image_view import numpy_to_qimage


def thumbnail(array: np.ndarray, size: int) -> QPixmap:
    """A ``size`` x ``size`` pixmap with the image scaled to fit and centred on white."""
    image = numpy_to_qimage(array)
    smooth = image.width() > size or image.height() > size
    scaled = image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                          Qt.TransformationMode.SmoothTransformation if smooth
                          else Qt.TransformationMode.FastTransformation)
    canvas = QPixmap(size, size)
    canvas.fill(QColor(255, 255, 255))
    painter = QPainter(canvas)
    painter.drawImage((size - scaled.width()) // 2, (size - scaled.height()) // 2, scaled)
    painter.setPen(QColor(210, 214, 220))
    painter.drawRect(0, 0, size - 1, size - 1)
    painter.end()
    return canvas


class ImageGallery(QWidget):
    """Thumbnails of ``thumb_size`` pixels in a wrapping, scrollable grid, captions below.

    ``activated(index)`` is emitted when a thumbnail is double-clicked or Enter is pressed.
    """

    activated = Signal(int)

    def __init__(self, parent: QWidget | None = None, *, thumb_size: int = 96,
                 show_title: bool = False, empty_text: str = "") -> None:
        super().__init__(parent)
        self.thumb_size = thumb_size
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self._title = QLabel("")
        self._title.setVisible(False)
        self._show_title = show_title
        layout.addWidget(self._title)
        self._list = QListWidget()
        self._list.setViewMode(QListView.ViewMode.IconMode)
        self._list.setMovement(QListView.Movement.Static)
        self._list.setResizeMode(QListView.ResizeMode.Adjust)
        self._list.setWrapping(True)
        self._list.setWordWrap(True)
        self._list.setUniformItemSizes(True)
        self._list.setSpacing(4)
        self._list.setIconSize(QSize(thumb_size, thumb_size))
        caption_h = self._list.fontMetrics().height() * 2 + 6
        self._list.setGridSize(QSize(max(thumb_size + 12, 64), thumb_size + caption_h + 8))
        self._list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self._list.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self._list.itemActivated.connect(lambda item: self.activated.emit(self._list.row(item)))
        layout.addWidget(self._list, 1)
        self._empty_label = QLabel(empty_text)
        self._empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty_label.setStyleSheet("color: #787878;")
        self._empty_label.setVisible(bool(empty_text))
        layout.addWidget(self._empty_label)

    def set_images(self, images: Sequence[np.ndarray], captions: Sequence[str] | None = None,
                   title: str = "") -> None:
        """Replace the gallery's content; ``captions`` may be empty or shorter than ``images``."""
        captions = list(captions or [])
        self._list.clear()
        for i, array in enumerate(images):
            self.add_image(array, captions[i] if i < len(captions) else "")
        self._list.setCurrentRow(-1)  # no thumbnail looks selected until the user picks one
        self.set_title(title)
        self._empty_label.setVisible(bool(self._empty_label.text()) and not images)

    def set_samples(self, event: ImageSamples) -> None:
        self.set_images(event.images, event.captions, event.title)

    def add_image(self, array: np.ndarray, caption: str = "") -> None:
        item = QListWidgetItem(QIcon(thumbnail(array, self.thumb_size)), caption)
        shape = np.asarray(array).shape
        item.setToolTip(f"{caption}\n{shape[1]}×{shape[0]} pixels" if caption
                        else f"{shape[1]}×{shape[0]} pixels")
        item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self._list.addItem(item)
        self._empty_label.setVisible(False)

    def set_title(self, title: str) -> None:
        self._title.setText(title)
        self._title.setVisible(self._show_title and bool(title))

    def clear(self) -> None:
        self.set_images([], [])

    def count(self) -> int:
        return self._list.count()

    def captions(self) -> list[str]:
        return [self._list.item(i).text() for i in range(self._list.count())]

    def title(self) -> str:
        return self._title.text()

    def list_widget(self) -> QListWidget:
        return self._list
