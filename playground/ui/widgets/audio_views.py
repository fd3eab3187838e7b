"""Audio views: waveform, log-mel spectrogram (with overlays), posteriorgram, level meter and
a live scrolling spectrogram.

The plots are pyqtgraph ``PlotWidget``s with a time axis in seconds, zoomable along time with
the mouse wheel (drag to pan; the "A" button restores the whole clip), and a fixed left-axis
width so that plots stacked in a column line up when their x axes are linked
(``view.setXLink(other)``).

- :class:`WaveformView`: samples against time, peak-downsampled; a playhead line.
- :class:`SpectrogramView`: a log-mel spectrogram in dB (row = mel band, low at the bottom;
  the y axis reads in Hz); an optional heat overlay in 0..1 placed over a time span (the
  keyword saliency over the window the model heard, outlined), and text markers along the top
  (the characters CTC emits, at their times).
- :class:`PosteriorgramView`: per-frame symbol probabilities ``(frames, symbols)`` as a
  heatmap, one row per symbol, with dots where greedy CTC emits each symbol.
- :class:`LevelMeter`: RMS bar and peak hold in dBFS (-60..0).
- :class:`ScrollingSpectrogram`: the last few seconds of microphone input as a live log-mel
  image, computed with :class:`StreamingMel` (numpy, no torch: it runs on the UI thread).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QLinearGradient, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from playground.ui.widgets.heatmap import AXIS_PEN, TEXT_PEN, CategoryAxis
from playground.ui.widgets.image_view import heat_colormap

LEFT_AXIS_WIDTH = 64
SPEC_CMAP = "inferno"
POST_CMAP = "viridis"
GREY = pg.ColorMap(pos=[0.0, 1.0], color=[(20, 20, 24), (235, 235, 240)], name="grey")
NICE_FREQS = (100, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000)


def _style_plot(plot: pg.PlotWidget, y_label: str) -> None:
    plot.setBackground("w")
    item = plot.getPlotItem()
    item.setMenuEnabled(False)
    item.showGrid(x=False, y=False)
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(AXIS_PEN)
        axis.setTextPen(TEXT_PEN)
        axis.enableAutoSIPrefix(False)
    item.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
    item.setLabel("left", y_label, color=TEXT_PEN)
    item.setLabel("bottom", "Time (s)", color=TEXT_PEN)
    item.getViewBox().setMouseEnabled(x=True, y=False)
    item.setDefaultPadding(0.0)


def _hz_label(f: float) -> str:
    return f"{f / 1000:g}k" if f >= 1000 else f"{f:g}"


def mel_filterbank(n_fft: int, sample_rate: int, n_mels: int, f_min: float = 0.0,
                   f_max: float | None = None) -> np.ndarray:
    """HTK-mel triangular filters ``(n_mels, n_fft // 2 + 1)`` (as torchaudio's default)."""
    f_max = float(f_max or sample_rate / 2)

    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)

    bins = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    mels = np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    lower, centre, upper = hz[:-2, None], hz[1:-1, None], hz[2:, None]
    up = (bins[None] - lower) / np.maximum(centre - lower, 1e-9)
    down = (upper - bins[None]) / np.maximum(upper - centre, 1e-9)
    return np.maximum(0.0, np.minimum(up, down)).astype(np.float32)


class StreamingMel:
    """Log-mel frames (dB) from audio that arrives in pieces: ``push(samples) -> (n_mels, k)``.

    25 ms Hann windows every 10 ms; the spectrum is scaled so that a full-scale sine reads
    about -6 dB. Samples left over between pushes are kept for the next frame.
    """

    def __init__(self, sample_rate: int = 16_000, n_mels: int = 64, hop_seconds: float = 0.01,
                 win_seconds: float = 0.025) -> None:
        self.sample_rate = int(sample_rate)
        self.n_mels = int(n_mels)
        self.hop = max(1, int(round(hop_seconds * sample_rate)))
        self.win = max(2, int(round(win_seconds * sample_rate)))
        n_fft = 1
        while n_fft < self.win:
            n_fft *= 2
        self.n_fft = n_fft
        self.window = np.hanning(self.win).astype(np.float32)
        self.fb = mel_filterbank(n_fft, self.sample_rate, self.n_mels)
        self._scale = 2.0 / float(self.window.sum())
        self._rest = np.zeros(0, np.float32)

    def reset(self) -> None:
        self._rest = np.zeros(0, np.float32)

    def push(self, samples: np.ndarray) -> np.ndarray:
        x = np.concatenate([self._rest, np.asarray(samples, dtype=np.float32).ravel()])
        if len(x) < self.win:
            self._rest = x
            return np.zeros((self.n_mels, 0), np.float32)
        count = (len(x) - self.win) // self.hop + 1
        idx = np.arange(self.win)[None, :] + self.hop * np.arange(count)[:, None]
        frames = x[idx] * self.window                                 # (k, win)
        spec = np.abs(np.fft.rfft(frames, n=self.n_fft, axis=1)) * self._scale
        mel = (spec ** 2) @ self.fb.T                                 # (k, n_mels)
        self._rest = x[count * self.hop:]
        return (10.0 * np.log10(np.maximum(mel, 1e-10))).T.astype(np.float32)


# ------------------------------------------------------------------------------------------
# Waveform
# ------------------------------------------------------------------------------------------
class WaveformView(pg.PlotWidget):
    """Samples against time (s); ``set_playhead(t)`` draws a line at ``t`` (None hides it)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        _style_plot(self, "Amplitude")
        self._duration = 0.0
        self._samples = np.zeros(0, np.float32)
        self._curve = self.plot([], [], pen=pg.mkPen((41, 121, 200), width=1))
        self._curve.setDownsampling(auto=True, method="peak")
        self._curve.setClipToView(True)
        self.setYRange(-1.0, 1.0, padding=0.02)
        self._playhead = pg.InfiniteLine(angle=90, pen=pg.mkPen((214, 39, 40), width=2))
        self._playhead.setVisible(False)
        self.addItem(self._playhead, ignoreBounds=True)
        self.setMinimumHeight(90)

    def set_clip(self, samples: np.ndarray, sample_rate: int, *, keep_range: bool = False
                 ) -> None:
        x = np.asarray(samples, dtype=np.float32).ravel()
        self._samples = x
        self._duration = len(x) / float(sample_rate) if sample_rate else 0.0
        t = np.arange(len(x), dtype=np.float64) / float(sample_rate or 1)
        self._curve.setData(t, x)
        peak = float(np.max(np.abs(x))) if x.size else 1.0
        self.setYRange(-max(peak, 1e-3), max(peak, 1e-3), padding=0.05)
        span = max(self._duration, 1e-3)
        self.getViewBox().setLimits(xMin=0.0, xMax=span, minXRange=min(0.01, span))
        if not keep_range:
            self.setXRange(0.0, span, padding=0.0)

    def clear_clip(self) -> None:
        self._samples = np.zeros(0, np.float32)
        self._duration = 0.0
        self._curve.setData([], [])
        self.set_playhead(None)

    def has_clip(self) -> bool:
        return self._samples.size > 0

    def duration(self) -> float:
        return self._duration

    def curve_data(self) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = self._curve.getData()
        return (np.zeros(0) if xs is None else xs), (np.zeros(0) if ys is None else ys)

    def set_playhead(self, seconds: float | None) -> None:
        if seconds is None or seconds < 0:
            self._playhead.setVisible(False)
            return
        self._playhead.setValue(float(seconds))
        self._playhead.setVisible(True)

    def playhead(self) -> float | None:
        return float(self._playhead.value()) if self._playhead.isVisible() else None


# ------------------------------------------------------------------------------------------
# Spectrogram
# ------------------------------------------------------------------------------------------
class SpectrogramView(pg.PlotWidget):
    """A log-mel spectrogram with an optional heat overlay and text markers."""

    def __init__(self, parent: QWidget | None = None, *, colormap: str = SPEC_CMAP) -> None:
        super().__init__(parent)
        _style_plot(self, "Frequency (Hz)")
        self._image = pg.ImageItem(axisOrder="row-major")
        self._cmap = pg.colormap.get(colormap)
        self._image.setColorMap(self._cmap)
        self.addItem(self._image)
        self._overlay = pg.ImageItem(axisOrder="row-major")
        self._overlay.setZValue(2)
        self._overlay.setVisible(False)
        self.addItem(self._overlay)
        self._window = QRectF()
        self._window_box = pg.QtWidgets.QGraphicsRectItem()
        self._window_box.setPen(pg.mkPen((255, 255, 255), width=1.5, style=Qt.PenStyle.DashLine))
        self._window_box.setZValue(3)
        self._window_box.setVisible(False)
        self.addItem(self._window_box, ignoreBounds=True)
        self._markers: list[tuple[float, str]] = []
        self._marker_items: list[pg.TextItem] = []
        self._values = np.zeros((0, 0), np.float32)
        self._times = np.zeros(0, np.float32)
        self._freqs = np.zeros(0, np.float32)
        self._duration = 0.0
        self._has_overlay = False
        self._show_overlay = True
        self.setMinimumHeight(120)

    # data -----------------------------------------------------------------------------------
    def set_spectrogram(self, values: np.ndarray, times: np.ndarray, freqs: np.ndarray, *,
                        top_db: float = 80.0) -> None:
        """``values`` (n_mels, frames) in dB; ``times`` frame centres (s); ``freqs`` band
        centres (Hz). The colour range is the top ``top_db`` dB below the loudest cell."""
        v = np.asarray(values, dtype=np.float32)
        self._values, self._times = v, np.asarray(times, dtype=np.float32)
        self._freqs = np.asarray(freqs, dtype=np.float32)
        n_mels, frames = v.shape if v.ndim == 2 else (0, 0)
        step = float(self._times[1] - self._times[0]) if len(self._times) > 1 else 0.01
        self._duration = frames * step
        if frames == 0:
            self._image.clear()
        else:
            hi = float(np.max(v))
            self._image.setImage(v, autoLevels=False, levels=(hi - top_db, hi))
            self._image.setRect(QRectF(0.0, 0.0, self._duration, n_mels))
        self._set_freq_ticks()
        span = max(self._duration, 1e-3)
        self.getViewBox().setLimits(xMin=0.0, xMax=span, yMin=0, yMax=max(1, n_mels))
        self.setXRange(0.0, span, padding=0.0)
        self.setYRange(0, max(1, n_mels), padding=0.0)
        self.clear_overlay()
        self.set_markers([])

    def _set_freq_ticks(self) -> None:
        freqs = self._freqs
        axis = self.getPlotItem().getAxis("left")
        if len(freqs) < 2:
            axis.setTicks(None)
            return
        rows = np.arange(len(freqs)) + 0.5
        ticks = [(float(np.interp(f, freqs, rows)), _hz_label(f)) for f in NICE_FREQS
                 if freqs[0] <= f <= freqs[-1]]
        axis.setTicks([ticks])

    def clear_spectrogram(self) -> None:
        self.set_spectrogram(np.zeros((0, 0)), np.zeros(0), np.zeros(0))

    def has_spectrogram(self) -> bool:
        return self._values.size > 0

    def shape(self) -> tuple[int, int]:
        return tuple(self._values.shape)  # type: ignore[return-value]

    def duration(self) -> float:
        return self._duration

    # overlay --------------------------------------------------------------------------------
    def set_overlay(self, heat: np.ndarray | None, start: float = 0.0,
                    seconds: float | None = None, *, opacity: float = 0.8,
                    outline: bool = True) -> None:
        """Draw ``heat`` (rows = bands low to high, cols = frames, values 0..1) over the time
        span ``[start, start + seconds]`` (default: the whole spectrogram), stretched over the
        full frequency range; ``outline`` draws the span's border."""
        if heat is None:
            self.clear_overlay()
            return
        h = np.clip(np.nan_to_num(np.asarray(heat, dtype=np.float64)), 0.0, 1.0)
        rgba = np.zeros((*h.shape, 4), np.uint8)
        rgba[..., :3] = heat_colormap(h)
        rgba[..., 3] = (np.power(h, 0.7) * 255 * opacity).astype(np.uint8)
        seconds = self._duration if seconds is None else float(seconds)
        rows = max(1, self._values.shape[0]) if self._values.ndim == 2 else max(1, h.shape[0])
        self._overlay.setImage(rgba, autoLevels=False, levels=(0, 255))
        self._window = QRectF(float(start), 0.0, seconds, float(rows))
        self._overlay.setRect(self._window)
        self._window_box.setRect(self._window)
        self._has_overlay = True
        self._update_overlay()
        self._window_box.setVisible(outline and self.overlay_visible())

    def clear_overlay(self) -> None:
        self._has_overlay = False
        self._overlay.clear()
        self._update_overlay()

    def show_overlay(self, on: bool) -> None:
        self._show_overlay = bool(on)
        self._update_overlay()

    def _update_overlay(self) -> None:
        """Show or hide the overlay; under it the spectrogram turns grey so the heat reads."""
        on = self._has_overlay and self._show_overlay
        self._overlay.setVisible(on)
        self._window_box.setVisible(on)
        self._image.setColorMap(GREY if on else self._cmap)

    def colormap_name(self) -> str:
        return "grey" if self._has_overlay and self._show_overlay else str(self._cmap.name)

    def overlay_visible(self) -> bool:
        return self._has_overlay and self._show_overlay and self.has_spectrogram()

    def overlay_span(self) -> tuple[float, float] | None:
        if not self._has_overlay:
            return None
        return self._window.left(), self._window.right()

    # markers --------------------------------------------------------------------------------
    def set_markers(self, markers: Sequence[tuple[float, str]]) -> None:
        """Text labels along the top at ``(seconds, text)``; blank texts are skipped."""
        for item in self._marker_items:
            self.removeItem(item)
        self._marker_items = []
        self._markers = [(float(t), str(s)) for t, s in markers if str(s).strip()]
        top = float(self._values.shape[0]) if self._values.ndim == 2 and self._values.size \
            else 1.0
        font = QFont()
        font.setBold(True)
        for t, text in self._markers:
            item = pg.TextItem(text, color=(255, 255, 255), anchor=(0.5, 0.0),
                               fill=pg.mkBrush(0, 0, 0, 110))
            item.setFont(font)
            item.setPos(t, top)
            item.setZValue(4)
            self.addItem(item, ignoreBounds=True)
            self._marker_items.append(item)

    def markers(self) -> list[tuple[float, str]]:
        return list(self._markers)


# ------------------------------------------------------------------------------------------
# Posteriorgram
# ------------------------------------------------------------------------------------------
class PosteriorgramView(pg.PlotWidget):
    """Per-frame symbol probabilities as a heatmap (time across, one row per symbol)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        axis = CategoryAxis("left", max_labels=60, max_chars=6)
        super().__init__(parent, axisItems={"left": axis})
        self._axis = axis
        _style_plot(self, "Symbol")
        self.getPlotItem().invertY(True)
        self._image = pg.ImageItem(axisOrder="row-major")
        self._image.setColorMap(pg.colormap.get(POST_CMAP))
        self.addItem(self._image)
        self._dots = pg.ScatterPlotItem(size=7, pen=pg.mkPen((255, 255, 255), width=1.2),
                                        brush=pg.mkBrush(214, 39, 40))
        self._dots.setZValue(2)
        self.addItem(self._dots)
        self._posteriors = np.zeros((0, 0), np.float32)
        self._labels: list[str] = []
        self._emissions: list[tuple[int, str]] = []
        self._frame_seconds = 0.02
        self.setMinimumHeight(120)

    def set_alignment(self, posteriors: np.ndarray, labels: Sequence[str],
                      emissions: Sequence[tuple[int, str]], frame_seconds: float) -> None:
        p = np.asarray(posteriors, dtype=np.float32)
        if p.ndim != 2 or p.shape[1] != len(labels):
            raise ValueError(f"posteriors of shape {p.shape} do not match {len(labels)} labels")
        self._posteriors, self._labels = p, [self._show(s) for s in labels]
        self._emissions = [(int(f), str(s)) for f, s in emissions]
        self._frame_seconds = float(frame_seconds)
        frames, symbols = p.shape
        duration = frames * self._frame_seconds
        self._image.setImage(p.T, autoLevels=False, levels=(0.0, 1.0))
        self._image.setRect(QRectF(0.0, 0.0, duration, symbols))
        self._axis.set_labels(self._labels)
        index = {s: k for k, s in enumerate(labels)}
        xs, ys = [], []
        for frame, symbol in self._emissions:
            if symbol in index:
                xs.append((frame + 0.5) * self._frame_seconds)
                ys.append(index[symbol] + 0.5)
        self._dots.setData(xs, ys)
        span = max(duration, 1e-3)
        self.getViewBox().setLimits(xMin=0.0, xMax=span, yMin=0, yMax=max(1, symbols))
        self.setXRange(0.0, span, padding=0.0)
        self.setYRange(0, max(1, symbols), padding=0.0)

    @staticmethod
    def _show(symbol: str) -> str:
        return "␣" if symbol == " " else symbol

    def clear_alignment(self) -> None:
        self._posteriors = np.zeros((0, 0), np.float32)
        self._labels, self._emissions = [], []
        self._image.clear()
        self._dots.setData([], [])
        self._axis.set_labels([])

    def has_alignment(self) -> bool:
        return self._posteriors.size > 0

    def shape(self) -> tuple[int, int]:
        return tuple(self._posteriors.shape)  # type: ignore[return-value]

    def emission_times(self) -> list[tuple[float, str]]:
        return [(f * self._frame_seconds, s) for f, s in self._emissions]


# ------------------------------------------------------------------------------------------
# Live input
# ------------------------------------------------------------------------------------------
class LevelMeter(QWidget):
    """A horizontal input-level bar: RMS in dBFS from -60 to 0, with a decaying peak mark."""

    FLOOR = -60.0

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rms = self.FLOOR
        self._peak = self.FLOOR
        self._hold = self.FLOOR
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Input level (RMS, dB full scale); the mark is the recent peak. Speak "
                        "so the bar reaches the yellow part; red means clipping.")

    def set_level(self, rms_db: float, peak_db: float) -> None:
        self._rms = max(self.FLOOR, min(0.0, float(rms_db)))
        self._peak = max(self.FLOOR, min(0.0, float(peak_db)))
        self._hold = max(self._peak, self._hold - 0.6)
        self.update()

    def reset(self) -> None:
        self._rms = self._peak = self._hold = self.FLOOR
        self.update()

    def level(self) -> tuple[float, float]:
        return self._rms, self._peak

    def text(self) -> str:
        return "—" if self._rms <= self.FLOOR else f"{self._rms:.0f} dB"

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(200, 22)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        label_w = 52
        rect = QRectF(1, 3, max(10, self.width() - label_w - 2), self.height() - 6)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(236, 239, 243))
        painter.drawRoundedRect(rect, 3, 3)

        def x_of(db: float) -> float:
            return rect.left() + rect.width() * (db - self.FLOOR) / -self.FLOOR

        gradient = QLinearGradient(rect.left(), 0, rect.right(), 0)
        gradient.setColorAt(0.0, QColor(67, 160, 71))
        gradient.setColorAt(0.7, QColor(124, 179, 66))
        gradient.setColorAt(0.85, QColor(251, 192, 45))
        gradient.setColorAt(1.0, QColor(229, 57, 53))
        if self._rms > self.FLOOR:
            painter.setBrush(gradient)
            painter.drawRoundedRect(QRectF(rect.left(), rect.top(), x_of(self._rms) - rect.left(),
                                           rect.height()), 3, 3)
        if self._hold > self.FLOOR:
            painter.setPen(QPen(QColor(40, 40, 40), 2))
            x = x_of(self._hold)
            painter.drawLine(int(x), int(rect.top()), int(x), int(rect.bottom()))
        painter.setPen(self.palette().windowText().color())
        painter.drawText(QRectF(rect.right() + 4, 0, label_w - 4, self.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.text())


class ScrollingSpectrogram(pg.PlotWidget):
    """The last ``seconds`` of live audio as a log-mel image scrolling to the left."""

    def __init__(self, parent: QWidget | None = None, *, seconds: float = 5.0,
                 n_mels: int = 64) -> None:
        super().__init__(parent)
        _style_plot(self, "Frequency (Hz)")
        self.getPlotItem().setLabel("bottom", "Seconds ago", color=TEXT_PEN)
        self.getViewBox().setMouseEnabled(x=False, y=False)
        self.seconds = float(seconds)
        self.n_mels = int(n_mels)
        self._image = pg.ImageItem(axisOrder="row-major")
        self._image.setColorMap(pg.colormap.get(SPEC_CMAP))
        self.addItem(self._image)
        self._frames_seen = 0
        self.reset(16_000)
        self.setMinimumHeight(120)

    def reset(self, sample_rate: int) -> None:
        self._mel = StreamingMel(sample_rate, self.n_mels)
        frames = int(round(self.seconds * sample_rate / self._mel.hop))
        self._data = np.full((self.n_mels, frames), -100.0, np.float32)
        self._frames_seen = 0
        self._image.setImage(self._data, autoLevels=False, levels=(-90.0, -10.0))
        self._image.setRect(QRectF(-self.seconds, 0.0, self.seconds, self.n_mels))
        self.setXRange(-self.seconds, 0.0, padding=0.0)
        self.setYRange(0, self.n_mels, padding=0.0)
        freqs = np.asarray([float(np.argmax(row)) for row in self._mel.fb])
        freqs = freqs * sample_rate / self._mel.n_fft
        rows = np.arange(self.n_mels) + 0.5
        ticks = [(float(np.interp(f, freqs, rows)), _hz_label(f)) for f in NICE_FREQS
                 if freqs[0] <= f <= freqs[-1]]
        self.getPlotItem().getAxis("left").setTicks([ticks])

    def push(self, samples: np.ndarray) -> None:
        new = self._mel.push(samples)
        k = new.shape[1]
        if k == 0:
            return
        width = self._data.shape[1]
        if k >= width:
            self._data[:] = new[:, -width:]
        else:
            self._data[:, :-k] = self._data[:, k:]
            self._data[:, -k:] = new
        self._frames_seen += k
        self._image.setImage(self._data, autoLevels=False, levels=(-90.0, -10.0))

    def frames_seen(self) -> int:
        return self._frames_seen

    def image(self) -> np.ndarray:
        return self._data.copy()
