"""Show a numpy RGB image scaled to fit, with an optional overlay (e.g. a Grad-CAM heatmap).

``numpy_to_qimage`` copies the pixel data into the QImage it returns, so the image stays valid
after the numpy array is freed (a QImage built on a numpy buffer would otherwise dangle).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

# Anchor colours of a perceptually ordered "turbo"-like map for 2-D overlays (0 -> 1).
_HEAT_ANCHORS = np.array([
    [48, 18, 59], [70, 107, 227], [41, 187, 236], [50, 241, 152], [164, 252, 60],
    [237, 208, 58], [251, 128, 34], [208, 47, 5], [122, 4, 3]], dtype=np.float64)


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """uint8 pixels: floats are taken as 0..1 (clipped), other integers are clipped to 0..255."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        return (np.nan_to_num(np.clip(arr, 0.0, 1.0)) * 255.0 + 0.5).astype(np.uint8)
    return np.clip(arr, 0, 255).astype(np.uint8)


def numpy_to_qimage(arr: np.ndarray) -> QImage:
    """A QImage that owns a copy of ``arr``: (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA.

    uint8 arrays are used as they are; float arrays are read as 0..1.
    """
    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        fmt = QImage.Format.Format_Grayscale8
    elif a.ndim == 3 and a.shape[2] == 3:
        fmt = QImage.Format.Format_RGB888
    elif a.ndim == 3 and a.shape[2] == 4:
        fmt = QImage.Format.Format_RGBA8888
    else:
        raise ValueError(f"Expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {a.shape}.")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"Cannot show an empty image (shape {a.shape}).")
    a = np.ascontiguousarray(_to_uint8(a))
    height, width = a.shape[:2]
    image = QImage(a.data, width, height, a.strides[0], fmt)
    return image.copy()  # deep copy: the QImage no longer points into ``a``


def heat_colormap(values: np.ndarray) -> np.ndarray:
    """(H, W) values in 0..1 -> (H, W, 3) uint8 colours (blue = low, red = high)."""
    v = np.nan_to_num(np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0))
    pos = v * (len(_HEAT_ANCHORS) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(_HEAT_ANCHORS) - 2)
    frac = (pos - lo)[..., None]
    rgb = _HEAT_ANCHORS[lo] * (1.0 - frac) + _HEAT_ANCHORS[lo + 1] * frac
    return (rgb + 0.5).astype(np.uint8)


class ImageView(QWidget):
    """An image scaled to fit the widget, aspect ratio kept, centred; an overlay on request.

    The overlay may be an (H, W) float map in 0..1 (drawn with a heat colour map at
    ``overlay_opacity``), an (H, W, 3) image (drawn at ``overlay_opacity``) or an (H, W, 4) RGBA
    image (drawn with its own alpha). It is stretched to the image's size when they differ.
    """

    def __init__(self, parent: QWidget | None = None, *, empty_text: str = "No image",
                 overlay_opacity: float = 0.5) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._overlay: QImage | None = None
        self._overlay_is_rgba = False
        self._show_overlay = False
        self._composed: QPixmap | None = None
        self._base: QPixmap | None = None
        self._empty_text = empty_text
        self.overlay_opacity = overlay_opacity
        self._opacity = overlay_opacity
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(64, 64)

    # public API -----------------------------------------------------------------------------
    def set_image(self, array: np.ndarray | None) -> None:
        """Show ``array`` (uint8 RGB / grey / RGBA, or float 0..1); ``None`` clears the view."""
        self._image = None if array is None else numpy_to_qimage(array)
        self._invalidate()

    def set_overlay(self, array: np.ndarray | None, *, opacity: float | None = None) -> None:
        """Set (or with ``None`` remove) the overlay; it is drawn only while ``show_overlay``.

        ``opacity`` overrides ``overlay_opacity`` for this overlay: pass 1.0 for an image that
        already has the heatmap blended in.
        """
        self._opacity = self.overlay_opacity if opacity is None else float(opacity)
        if array is None:
            self._overlay = None
        else:
            a = np.asarray(array)
            if a.ndim == 2:
                a = heat_colormap(a.astype(np.float64))
            self._overlay_is_rgba = a.ndim == 3 and a.shape[2] == 4
            self._overlay = numpy_to_qimage(a)
        self._invalidate()

    def show_overlay(self, on: bool) -> None:
        self._show_overlay = bool(on)
        self._invalidate()

    def overlay_visible(self) -> bool:
        """True when an overlay is set and currently drawn."""
        return self._show_overlay and self._overlay is not None and self._image is not None

    def has_image(self) -> bool:
        return self._image is not None

    def clear(self) -> None:
        self._image = None
        self._overlay = None
        self._invalidate()

    def set_empty_text(self, text: str) -> None:
        self._empty_text = text
        self.update()

    def rendered(self) -> QImage | None:
        """What is shown, at the image's own resolution (image plus overlay when visible)."""
        pixmap = self._composed_pixmap()
        return None if pixmap is None else pixmap.toImage()

    # painting -------------------------------------------------------------------------------
    def _invalidate(self) -> None:
        self._composed = None
        self._base = None
        self.update()

    def _composed_pixmap(self) -> QPixmap | None:
        if self._image is None:
            return None
        if self._composed is None:
            base = self._image.convertToFormat(QImage.Format.Format_RGB32)
            if self.overlay_visible():
                painter = QPainter(base)
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                if not self._overlay_is_rgba:
                    painter.setOpacity(self._opacity)
                painter.drawImage(QRectF(0, 0, base.width(), base.height()), self._overlay)
                painter.end()
            self._composed = QPixmap.fromImage(base)
        return self._composed

    def _base_pixmap(self) -> QPixmap:
        if self._base is None:
            self._base = QPixmap.fromImage(self._image)
        return self._base

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        if self._image is not None:
            return self._image.size().boundedTo(QSize(512, 512)).expandedTo(QSize(160, 160))
        return QSize(240, 240)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        rect = self.rect()
        if self._image is None:
            painter.setPen(QColor(120, 120, 120))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self._empty_text)
            return
        base = self._base_pixmap()
        size = base.size().scaled(rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRectF((rect.width() - size.width()) / 2, (rect.height() - size.height()) / 2,
                        size.width(), size.height())
        # Nearest-neighbour when enlarging small images (28x28 digits stay crisp), smooth when
        # shrinking large photos; the overlay (a coarse heatmap) is always drawn smoothly.
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform,
                              size.width() < base.width())
        painter.drawPixmap(target, base, QRectF(base.rect()))
        if self.overlay_visible():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            if not self._overlay_is_rgba:
                painter.setOpacity(self._opacity)
            painter.drawImage(target, self._overlay)
