"""Live training curves: one plot per metric, train/val series, smoothing, log scale, export.

Steps and epochs on one plot
    Trainers emit step-axis points (``loss`` every few steps) and epoch-axis points (mean
    train loss, val loss and accuracy after each epoch). Drawing both against one number would
    put epoch 3 next to step 3, so the panel has one x-axis switch, "Steps | Epochs", for all
    plots (their x axes are linked):

    * Steps (default): each epoch point is drawn at the step reached when it arrived (the
      largest step-axis x seen so far), so val loss after epoch 2 sits where epoch 2 ended on
      the train-loss curve. If no step-axis point has arrived at all, epoch points use their
      epoch number.
    * Epochs: step points are converted to fractional epochs by interpolating between the
      recorded epoch ends (extrapolated past the last one with its length); before the first
      epoch ends they cannot be placed and are not drawn.

    This reads better than a separate epoch plot: train and val loss stay on one plot, where
    over-fitting shows as the two curves parting.

Speed
    Points go into growing numpy buffers (capacity doubles); a 5 Hz single-shot timer redraws
    only the dirty series with ``setData(buffer[:n])``; curves use peak downsampling and
    clip-to-view; the EMA and the step→epoch mapping are extended incrementally, so a million
    points stay smooth.
"""

from __future__ import annotations

import csv
import math
import re
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFileDialog,
    QGraphicsItem,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from playground.core.events import Metric
from playground.ui.widgets.curve_data import (
    EpochClock,
    SeriesData,
    ema,
    x_view_range,
    y_view_range,
)

__all__ = ["CurvesPanel", "ema", "metric_title"]

TITLES = {"loss": "Loss", "accuracy": "Accuracy", "lr": "Learning rate",
          "samples_per_s": "Samples/s", "tokens_per_s": "Tokens/s", "perplexity": "Perplexity",
          "bleu": "BLEU", "wer": "WER", "cer": "CER"}
ORDER = ["loss", "accuracy", "perplexity", "bleu", "wer", "cer"]  # then others, then these:
LAST = ["lr", "samples_per_s", "tokens_per_s"]
SPLIT_COLOURS = {"train": (31, 119, 180), "val": (230, 110, 0), "test": (44, 160, 44)}
EXTRA_COLOURS = [(214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194)]
AXIS_PEN, TEXT_PEN = "#6b7280", "#2d333a"
# Redraws at most 5 times a second: live enough to watch, and a redraw of the plots costs
# ~5-10 ms of the UI thread (curves, grid, text), which on a 2-core machine is taken from
# training (at 10 Hz the UI thread used 8 % of a core and training ran at 0.93x a plain loop).
REDRAW_MS = 200
# ... and no faster than keeps the curves' UI-thread CPU (update + paint, measured) within
# DRAW_BUDGET of one core: on a slow 2-core laptop a redraw costs ~8 ms, so it redraws about
# every 400 ms rather than taking 4 % of a core from training; never slower than MAX_REDRAW_MS.
DRAW_BUDGET = 0.02
MAX_REDRAW_MS = 1000
LEFT_AXIS_WIDTH = 60


class _PlotWidget(pg.PlotWidget):
    """A PlotWidget that adds the UI-thread CPU time of its paints to ``cost[0]``."""

    def __init__(self, cost: list[float]) -> None:
        super().__init__()
        self._cost = cost

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        start = time.thread_time()
        super().paintEvent(event)
        self._cost[0] += time.thread_time() - start


def metric_title(name: str) -> str:
    return TITLES.get(name, name.replace("_", " ").title())


class _Series:
    """One series' points (see :class:`SeriesData`) and the curves that draw them."""

    def __init__(self, key: tuple[str, str, str], curve: pg.PlotDataItem,
                 raw: pg.PlotDataItem | None, colour: tuple[int, int, int]) -> None:
        self.key = key
        self.data = SeriesData()
        self.curve = curve
        self.raw = raw  # faint unsmoothed curve behind the smoothed one (train step series)
        self.colour = colour
        self.dirty = True

    @property
    def smoothed(self) -> bool:
        return self.raw is not None


class CurvesPanel(QWidget):
    """A grid of live plots, one per metric name; see the module docstring for the x axis."""

    def __init__(self, parent: QWidget | None = None, *, columns: int | None = None) -> None:
        super().__init__(parent)
        self._columns = columns
        self._plots: dict[str, pg.PlotWidget] = {}
        self._hover_lines: dict[str, pg.InfiniteLine] = {}
        self._series: dict[tuple[str, str, str], _Series] = {}
        self._clock = EpochClock()
        self._x_cache: dict[tuple[str, str, str], tuple[int, int, np.ndarray]] = {}
        # View ranges the panel manages (None: the user zoomed or panned; pyqtgraph's "A"
        # button hands the plot back). x is shared: the plots' x axes are linked.
        self._x_range: tuple[float, float] | None = None
        self._auto_x = True
        self._y_ranges: dict[str, tuple[float, float] | None] = {}
        self._auto_y: dict[str, bool] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._on_timer)
        self._draw_cost = [0.0]  # UI-thread seconds of the current redraw (update + paints)
        self._redraw_cost = 0.0  # smoothed cost of one redraw, sets the timer's interval
        self._build()

    # layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Smoothing"))
        self.smoothing_slider = QSlider(Qt.Orientation.Horizontal)
        self.smoothing_slider.setRange(0, 99)
        self.smoothing_slider.setValue(60)
        self.smoothing_slider.setFixedWidth(120)
        self.smoothing_slider.setToolTip("Exponential moving average of the per-step train "
                                         "curves (the raw curve stays faint behind).")
        self.smoothing_label = QLabel()
        self.smoothing_label.setMinimumWidth(32)
        bar.addWidget(self.smoothing_slider)
        bar.addWidget(self.smoothing_label)
        self.log_check = QCheckBox("Log y")
        bar.addWidget(self.log_check)
        bar.addSpacing(12)
        bar.addWidget(QLabel("x axis:"))
        self.steps_radio = QRadioButton("Steps")
        self.epochs_radio = QRadioButton("Epochs")
        self.steps_radio.setChecked(True)
        self._axis_group = QButtonGroup(self)
        for button in (self.steps_radio, self.epochs_radio):
            self._axis_group.addButton(button)
            bar.addWidget(button)
        bar.addStretch(1)
        self.export_png_button = QPushButton("Export PNG…")
        self.export_csv_button = QPushButton("Export CSV…")
        bar.addWidget(self.export_png_button)
        bar.addWidget(self.export_csv_button)
        layout.addLayout(bar)
        self._grid_host = QWidget()
        self._grid_host.setStyleSheet("background: white;")
        self._grid = QGridLayout(self._grid_host)
        self._grid.setContentsMargins(2, 2, 2, 2)
        self._grid.setSpacing(4)
        self._empty_label = QLabel("Curves appear here when training starts.")
        self._empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty_label.setStyleSheet("color: #787878;")
        self._grid.addWidget(self._empty_label, 0, 0)
        layout.addWidget(self._grid_host, 1)
        self.hover_label = QLabel(" ")
        self.hover_label.setStyleSheet("color: #4b5563;")
        self.hover_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.hover_label)

        self.smoothing_slider.valueChanged.connect(self._on_smoothing)
        self.log_check.toggled.connect(self._on_log)
        self.epochs_radio.toggled.connect(self._on_x_mode)
        self.export_png_button.clicked.connect(self._export_png_dialog)
        self.export_csv_button.clicked.connect(self._export_csv_dialog)
        self._on_smoothing(self.smoothing_slider.value())

    def _plot_for(self, name: str) -> pg.PlotWidget:
        plot = self._plots.get(name)
        if plot is not None:
            return plot
        plot = _PlotWidget(self._draw_cost)
        plot.setBackground("w")
        item = plot.getPlotItem()
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            axis.setPen(AXIS_PEN)
            axis.setTextPen(TEXT_PEN)
            # An SI prefix that follows the range rewrites the axis label on every new point
            # and the layout change costs a second paint of the plot.
            axis.enableAutoSIPrefix(False)
        # Same left-axis width everywhere: linked x axes align by screen position, so plots
        # with wider tick labels would otherwise show a shifted x range.
        item.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        # Grid lines at major ticks only: pyqtgraph redraws the axis picture whenever the
        # range moves (every new point), and minor grid lines made that 4x slower.
        for side in ("left", "bottom"):
            item.getAxis(side).setStyle(maxTickLevel=0)
            item.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        item.showGrid(x=True, y=True, alpha=0.12)
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        view = item.getViewBox()
        view.disableAutoRange()  # the panel sets stable ranges itself (see _fit_ranges)
        view.sigRangeChangedManually.connect(lambda mask, n=name: self._user_moved(n, mask))
        self._auto_y[name] = True
        self._y_ranges[name] = None
        item.setMenuEnabled(True)
        item.setLogMode(False, self.log_check.isChecked())
        self._set_x_label(item)
        first = next(iter(self._plots.values()), None)
        if first is not None:
            item.setXLink(first.getPlotItem())
        line = pg.InfiniteLine(angle=90, movable=False,
                               pen=pg.mkPen("#9aa0a6", width=1, style=Qt.PenStyle.DashLine))
        line.setVisible(False)
        item.addItem(line, ignoreBounds=True)
        self._hover_lines[name] = line
        plot.scene().sigMouseMoved.connect(
            lambda pos, n=name: self._on_mouse_moved(n, pos))
        self._plots[name] = plot
        self._update_title(name)
        self._relayout()
        return plot

    def _update_title(self, name: str) -> None:
        """Title plus a colour-coded legend of the plot's series (never covers the data)."""
        parts = [f'<span style="color:{TEXT_PEN}; font-weight:600">{metric_title(name)}</span>']
        for (metric, split, axis), series in self._series.items():
            if metric != name:
                continue
            r, g, b = series.colour
            mark = "●" if axis == "epoch" else "━"
            label = f"{split} (epoch)" if axis == "epoch" else split
            parts.append(f'<span style="color:rgb({r},{g},{b})">{mark}&nbsp;{label}</span>')
        self._plots[name].getPlotItem().setTitle("&nbsp;&nbsp;&nbsp;".join(parts), size="10pt")

    def plot_title(self, name: str) -> str:
        """The plot's title as plain text, legend included (e.g. "Loss ━ train ● val (epoch)")."""
        html = self._plots[name].getPlotItem().titleLabel.text
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html).replace("&nbsp;", " ")).strip()

    def _relayout(self) -> None:
        order = {m: i for i, m in enumerate(ORDER)}

        def rank(name: str) -> tuple[int, int]:
            if name in order:
                return (0, order[name])
            if name in LAST:
                return (2, LAST.index(name))
            return (1, list(self._plots).index(name))

        names = sorted(self._plots, key=rank)
        for plot in self._plots.values():
            self._grid.removeWidget(plot)
        self._empty_label.setVisible(not names)
        cols = self._columns or (1 if len(names) <= 1 else 2 if len(names) <= 4 else 3)
        for i, name in enumerate(names):
            self._grid.addWidget(self._plots[name], i // cols, i % cols)
        for c in range(3):
            self._grid.setColumnStretch(c, 1 if c < cols else 0)

    def _series_for(self, key: tuple[str, str, str]) -> _Series:
        series = self._series.get(key)
        if series is not None:
            return series
        name, split, axis = key
        plot = self._plot_for(name).getPlotItem()
        colour = SPLIT_COLOURS.get(split)
        if colour is None:
            used = {s.key[1] for s in self._series.values()} - set(SPLIT_COLOURS)
            colour = EXTRA_COLOURS[len(used) % len(EXTRA_COLOURS)]
        raw = None
        if axis == "epoch":
            if split == "train":
                colour = tuple(int(c * 0.6) for c in colour)
            curve = plot.plot(pen=pg.mkPen(colour, width=2),
                              symbol="o", symbolSize=6, symbolBrush=pg.mkBrush(colour),
                              symbolPen=pg.mkPen("w"))
        else:
            if split == "train":
                raw = plot.plot(pen=pg.mkPen((*colour, 60), width=1))
                raw.setZValue(-1)
            curve = plot.plot(pen=pg.mkPen(colour, width=1.6))
        for item in (curve, raw):
            if item is not None:
                item.setDownsampling(auto=True, method="peak")
                item.setClipToView(True)
                item.setCurveClickable(False)
        series = _Series(key, curve, raw, colour)
        self._series[key] = series
        self._update_title(name)
        return series

    # data in --------------------------------------------------------------------------------
    def add_metric(self, event: Metric) -> None:
        """Append one point; the plots redraw at most ~5 times a second."""
        self.add_points(event.name, event.split, event.axis, [event.x], [event.value])

    def add_points(self, name: str, split: str, axis: str, xs, ys, steps=None) -> None:
        """Append many points to one series (e.g. history read back from a run's metrics).

        ``steps``, for epoch-axis points, is the step at which each epoch ended; without it
        the largest step seen so far is used.
        """
        xs = np.asarray(xs, dtype=np.float64).ravel()
        ys = np.asarray(ys, dtype=np.float64).ravel()
        if len(xs) != len(ys):
            raise ValueError(f"{len(xs)} x values but {len(ys)} y values for {name}/{split}")
        if len(xs) == 0:
            return
        axis = "epoch" if axis == "epoch" else "step"
        if axis == "step":
            self._clock.saw_steps(xs)
            steps_at = np.full(len(xs), np.nan)
        else:
            steps_at = (np.full(len(xs), self._clock.last_step) if steps is None
                        else np.asarray(steps, dtype=np.float64).ravel())
            version = self._clock.version
            self._clock.record(xs, steps_at)
            if self._clock.version != version:
                self._mark_all_dirty()  # new epoch ends move step points in epoch mode
        series = self._series_for((name, split, axis))
        series.data.extend(xs, ys, steps_at)
        series.dirty = True
        self._schedule()

    def clear(self) -> None:
        """Remove every plot and point."""
        for plot in self._plots.values():
            self._grid.removeWidget(plot)
            plot.deleteLater()
        self._plots.clear()
        self._hover_lines.clear()
        self._series.clear()
        self._x_cache.clear()
        self._x_range, self._auto_x = None, True
        self._y_ranges.clear()
        self._auto_y.clear()
        self._clock = EpochClock()
        self._empty_label.setVisible(True)
        self.hover_label.setText(" ")

    # data out -------------------------------------------------------------------------------
    def metric_names(self) -> list[str]:
        return list(self._plots)

    def series_keys(self) -> list[tuple[str, str, str]]:
        return list(self._series)

    def series(self, name: str, split: str = "train", axis: str = "step"
               ) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the raw points ``(xs, ys)`` of one series (KeyError if it has none)."""
        s = self._series[(name, split, axis)]
        return s.data.xs.copy(), s.data.ys.copy()

    def plot(self, name: str) -> pg.PlotWidget:
        return self._plots[name]

    def displayed(self, name: str, split: str = "train", axis: str = "step"
                  ) -> tuple[np.ndarray, np.ndarray]:
        """What the main curve of a series currently draws (after smoothing / x mapping)."""
        self.refresh()
        xs, ys = self._series[(name, split, axis)].curve.getOriginalDataset()
        return (np.zeros(0) if xs is None else np.asarray(xs).copy(),
                np.zeros(0) if ys is None else np.asarray(ys).copy())

    def smoothing(self) -> float:
        return self.smoothing_slider.value() / 100.0

    def set_smoothing(self, value: float) -> None:
        self.smoothing_slider.setValue(round(min(0.99, max(0.0, value)) * 100))

    def x_mode(self) -> str:
        return "epoch" if self.epochs_radio.isChecked() else "step"

    def set_x_mode(self, mode: str) -> None:
        (self.epochs_radio if mode == "epoch" else self.steps_radio).setChecked(True)

    # drawing --------------------------------------------------------------------------------
    def _mark_all_dirty(self) -> None:
        for series in self._series.values():
            series.dirty = True
        for plot in self._plots.values():
            self._set_x_label(plot.getPlotItem())
        self._schedule()

    def _set_x_label(self, item: pg.PlotItem) -> None:
        item.setLabel("bottom", self.x_mode(), color=TEXT_PEN)

    def _display_x(self, series: _Series) -> np.ndarray:
        xs = series.data.xs
        axis = series.key[2]
        if self.x_mode() == "step":
            if axis == "step" or math.isnan(self._clock.last_step):
                return xs
            return series.data.steps
        if axis == "epoch":
            return xs
        version, done, cached = self._x_cache.get(series.key, (-1, 0, np.zeros(0)))
        if version != self._clock.version:
            done, cached = 0, np.zeros(0)
        if done < len(xs):
            cached = np.concatenate([cached, self._clock.to_epochs(xs[done:])])
            self._x_cache[series.key] = (self._clock.version, len(xs), cached)
        return cached

    def _schedule(self) -> None:
        """Redraw within REDRAW_MS, if the user can see the plots: a hidden panel (another
        tab or page is shown) only stores points, and draws them when shown (showEvent)."""
        if self.isVisible() and not self._timer.isActive():
            self._timer.start(self.redraw_interval_ms())

    def redraw_interval_ms(self) -> int:
        """REDRAW_MS, or longer where a redraw costs more than DRAW_BUDGET of a core."""
        wanted = 1000.0 * self._redraw_cost / DRAW_BUDGET
        return int(min(MAX_REDRAW_MS, max(REDRAW_MS, wanted)))

    def _on_timer(self) -> None:
        if not self.isVisible():
            return  # hidden since the timer started: showEvent draws
        if self.window().isMinimized():
            self._timer.start()  # nothing to see; look again later
            return
        # the paints of the previous redraw have happened by now: learn what a redraw costs
        if self._draw_cost[0] > 0.0:
            cost = self._draw_cost[0]
            self._redraw_cost = cost if not self._redraw_cost else (
                0.7 * self._redraw_cost + 0.3 * cost)
        start = time.thread_time()
        self.refresh()
        self._draw_cost[0] = time.thread_time() - start

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if any(series.dirty for series in self._series.values()):
            self.refresh()  # before the first paint: the page appears up to date

    def refresh(self) -> None:
        """Redraw every series with new points now (the timer calls this while the panel is
        visible; ``displayed`` and ``export_png`` call it for a hidden panel too)."""
        self._timer.stop()
        alpha = self.smoothing()
        touched = set()
        for series in self._series.values():
            if not series.dirty:
                continue
            series.dirty = False
            touched.add(series.key[0])
            xs, ys = self._display_x(series), series.data.ys
            keep = np.isfinite(xs)
            if not keep.all():
                xs, ys = xs[keep], ys[keep]
            if series.smoothed and alpha > 0:
                smooth = series.data.smoothed(alpha)
                series.curve.setData(xs, smooth if keep.all() else smooth[keep],
                                     connect="finite")
                series.raw.setData(xs, ys, connect="finite")
                series.raw.setVisible(True)
            else:
                series.curve.setData(xs, ys, connect="finite")
                if series.raw is not None:
                    series.raw.setVisible(False)
        for name in touched:
            self._guard_flat_range(name)
        if touched:
            self._fit_ranges(touched)
            # Apply the new ranges now: pyqtgraph otherwise applies them while preparing the
            # paint, and that change asks for a second paint of every linked plot.
            for plot in self._plots.values():
                plot.getPlotItem().getViewBox().prepareForPaint()

    def _on_x_mode(self, _checked: bool = False) -> None:
        self._x_range = None  # steps and epochs have different x values
        self._mark_all_dirty()

    def _user_moved(self, name: str, mask) -> None:
        """The user zoomed or panned a plot: stop fitting what they moved."""
        if mask is None or mask[0]:
            self._auto_x = False
        if mask is None or mask[1]:
            self._auto_y[name] = False

    def _fit_ranges(self, names) -> None:
        """Keep each plot's view on its data with ranges that rarely change (x_view_range)."""
        log_y = self.log_check.isChecked()
        x_lo, x_hi = math.inf, -math.inf
        for name, plot in self._plots.items():
            view = plot.getPlotItem().getViewBox()
            auto_x, auto_y = view.autoRangeEnabled()
            if auto_x or auto_y:  # pyqtgraph's "A" button: hand the plot back to the panel
                self._auto_x = self._auto_x or bool(auto_x)
                self._auto_y[name] = self._auto_y.get(name, True) or bool(auto_y)
                view.disableAutoRange()
                self._y_ranges[name] = None
                self._x_range = None
            y_lo, y_hi = math.inf, -math.inf
            for series in self._series.values():
                if series.key[0] != name or not len(series.data):
                    continue
                xs, ys = self._display_x(series), series.data.ys
                keep = np.isfinite(xs) & np.isfinite(ys)
                if log_y:
                    keep &= ys > 0
                if not keep.any():
                    continue
                xs, ys = xs[keep], ys[keep]
                x_lo, x_hi = min(x_lo, float(xs.min())), max(x_hi, float(xs.max()))
                if log_y:
                    ys = np.log10(ys)
                y_lo, y_hi = min(y_lo, float(ys.min())), max(y_hi, float(ys.max()))
            if name in names and self._auto_y.get(name, True) and y_lo <= y_hi:
                new = y_view_range(y_lo, y_hi, self._y_ranges.get(name))
                if new != self._y_ranges.get(name):
                    self._y_ranges[name] = new
                    view.setYRange(*new, padding=0)
        if self._auto_x and x_lo <= x_hi:
            new = x_view_range(x_lo, x_hi, self._x_range)
            if new != self._x_range:
                self._x_range = new
                first = next(iter(self._plots.values()))
                first.getPlotItem().getViewBox().setXRange(*new, padding=0)  # linked: all

    def _guard_flat_range(self, name: str) -> None:
        """Give a constant curve (a fixed learning rate) a sensible y range: without this the
        auto-range zooms into floating-point noise and labels ticks 0.0030000000000000005."""
        values = [(s.data.y_min, s.data.y_max) for s in self._series.values()
                  if s.key[0] == name and s.data.y_min <= s.data.y_max]
        if not values:
            return
        lo, hi = min(v[0] for v in values), max(v[1] for v in values)
        item = self._plots[name].getPlotItem()
        flat = hi - lo <= 1e-9 * max(abs(lo), abs(hi), 1e-300)
        if not flat:
            item.getViewBox().setLimits(minYRange=None)
        elif self.log_check.isChecked():
            item.getViewBox().setLimits(minYRange=0.2)  # in decades
        else:
            item.getViewBox().setLimits(minYRange=abs(hi) * 0.2 if hi else 1.0)

    def _on_smoothing(self, value: int) -> None:
        self.smoothing_label.setText(f"{value / 100:.2f}")
        for series in self._series.values():
            if series.smoothed:
                series.dirty = True
        self._schedule()

    def _on_log(self, on: bool) -> None:
        for name, plot in self._plots.items():
            plot.getPlotItem().setLogMode(False, on)
            self._guard_flat_range(name)
            self._y_ranges[name] = None
        self._fit_ranges(set(self._plots))

    # hover ----------------------------------------------------------------------------------
    def hover_text(self, name: str, x: float) -> str:
        """The values of each series of plot ``name`` at the point nearest to ``x``
        (``x`` in the current x-axis units)."""
        parts = []
        alpha = self.smoothing()
        for key, series in self._series.items():
            if key[0] != name or len(series.data) == 0:
                continue
            dx = self._display_x(series)
            finite = np.isfinite(dx)
            if not finite.any():
                continue
            candidates = np.flatnonzero(finite)
            i = int(candidates[np.argmin(np.abs(dx[candidates] - x))])
            px, py = series.data.xs[i], series.data.ys[i]
            where = f"epoch {px:g}" if key[2] == "epoch" else f"step {px:,.0f}"
            text = f"{key[1]}{' (epoch)' if key[2] == 'epoch' else ''}: {where} = {py:.5g}"
            if series.smoothed and alpha > 0:
                text += f" (smoothed {series.data.smoothed(alpha)[i]:.5g})"
            parts.append(text)
        return f"{metric_title(name)} — " + " · ".join(parts) if parts else ""

    def _on_mouse_moved(self, name: str, scene_pos: QPointF) -> None:
        plot = self._plots.get(name)
        if plot is None:
            return
        vb = plot.getPlotItem().getViewBox()
        line = self._hover_lines[name]
        if not vb.sceneBoundingRect().contains(scene_pos):
            line.setVisible(False)
            return
        x = vb.mapSceneToView(scene_pos).x()
        text = self.hover_text(name, x)
        line.setPos(x)
        line.setVisible(bool(text))
        if text:
            self.hover_label.setStyleSheet("color: #4b5563;")
            self.hover_label.setText(text)

    # export ---------------------------------------------------------------------------------
    def export_png(self, path: str | Path) -> Path:
        """Save the plots as they are shown to a PNG file."""
        self.refresh()
        path = Path(path)
        if not self._grid_host.grab().save(str(path), "PNG"):
            raise OSError(f"Could not write {path}; choose a folder you can write to.")
        return path

    def export_csv(self, path: str | Path) -> Path:
        """Write every point as rows ``metric, split, axis, x, y``."""
        path = Path(path)
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["metric", "split", "axis", "x", "y"])
            for (name, split, axis), series in self._series.items():
                xs, ys = series.data.xs, series.data.ys
                writer.writerows((name, split, axis, repr(float(x)), repr(float(y)))
                                 for x, y in zip(xs, ys, strict=True))
        return path

    def _export_dialog(self, title: str, default: str, filters: str, export) -> None:
        path, _ = QFileDialog.getSaveFileName(self, title, default, filters)
        if not path:
            return
        try:
            export(path)
        except OSError as exc:
            self.hover_label.setText(f"Export failed: {exc}")
            self.hover_label.setStyleSheet("color: #b00020;")
            return
        self.hover_label.setStyleSheet("color: #4b5563;")
        self.hover_label.setText(f"Saved {path}")

    def _export_png_dialog(self) -> None:
        self._export_dialog("Export curves as PNG", "curves.png", "PNG image (*.png)",
                            self.export_png)

    def _export_csv_dialog(self) -> None:
        self._export_dialog("Export curves as CSV", "curves.csv", "CSV file (*.csv)",
                            self.export_csv)
