"""Qt-free numerics behind :class:`~playground.ui.widgets.curves.CurvesPanel`.

Growing buffers (capacity doubling, so appending is amortised O(1) and ``buffer[:n]`` views
can be handed to pyqtgraph without copying), TensorBoard-style debiased EMA smoothing that
extends chunk by chunk, and the mapping between steps and epochs.
"""

from __future__ import annotations

import math

import numpy as np


def _recurrence(w: np.ndarray, p: float, s0: float) -> np.ndarray:
    """``s_k = p s_{k-1} + w_k`` with ``s_{-1} = s0``, vectorised: blocks of 64 are solved with
    one matrix product, and the carries between blocks form the same recurrence again."""
    n, block = len(w), 64
    lags = np.arange(min(n, block))
    diff = lags[:, None] - lags[None, :]
    kernel = np.where(diff >= 0, p ** np.maximum(diff, 0), 0.0)
    powers = p ** (lags + 1.0)
    if n <= block:
        return kernel @ w + s0 * powers
    full = n // block * block
    within = w[:full].reshape(-1, block) @ kernel.T  # each block as if it started from 0
    ends = _recurrence(within[:, -1], p**block, s0)  # s at the end of each block
    starts = np.concatenate([[s0], ends[:-1]])
    out = np.empty(n)
    out[:full] = (within + starts[:, None] * powers[None, :]).ravel()
    if full < n:
        out[full:] = _recurrence(w[full:], p, float(ends[-1]))
    return out


def ema(values: np.ndarray, alpha: float, state: float = 0.0,
        start: int = 0) -> tuple[np.ndarray, float]:
    """Debiased exponential moving average (TensorBoard's smoothing), vectorised.

    ``s_t = alpha s_{t-1} + (1 - alpha) x_t`` with ``s_{-1} = 0``, shown as
    ``s_t / (1 - alpha^(t+1))``. ``state`` is ``s`` before ``values`` and ``start`` the index of
    ``values[0]`` in the whole series, so a series can be extended chunk by chunk.
    Returns the smoothed values and the new state.
    """
    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0:
        return np.zeros(0), state
    raw = _recurrence((1.0 - alpha) * x, alpha, state)
    out = raw.copy()
    if 0.0 < alpha < 1.0:
        # alpha^(t+1) is below 1e-17 after this many points: later ones need no correction.
        horizon = math.ceil(math.log(1e-17) / math.log(alpha))
        m = max(0, min(len(x), horizon - start))
        if m:
            out[:m] /= 1.0 - alpha ** (np.arange(start, start + m) + 1.0)
    return out, float(raw[-1])


def fill_non_finite(x: np.ndarray, previous: float) -> np.ndarray:
    """Forward-fill NaN/inf (a diverged step must not poison the whole smoothed curve)."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return x
    idx = np.maximum.accumulate(np.where(bad, -1, np.arange(len(x))))
    return np.where(idx >= 0, x[np.maximum(idx, 0)], previous if math.isfinite(previous) else 0.0)


class GrowingBuffer:
    """Growing (capacity doubling) float64 columns."""

    def __init__(self, columns: int, capacity: int = 256) -> None:
        self.data = np.empty((capacity, columns))
        self.n = 0

    def extend(self, rows: np.ndarray) -> None:
        need = self.n + len(rows)
        if need > len(self.data):
            grown = np.empty((max(need, 2 * len(self.data)), self.data.shape[1]))
            grown[: self.n] = self.data[: self.n]
            self.data = grown
        self.data[self.n:need] = rows
        self.n = need

    def column(self, i: int) -> np.ndarray:
        return self.data[: self.n, i]


class SeriesData:
    """The points of one series: x, y and, for epoch points, the step at which they arrived.

    Keeps the y range up to date and a smoothed copy of y that is extended incrementally
    (recomputed only when the smoothing factor changes).
    """

    def __init__(self) -> None:
        self.points = GrowingBuffer(3)
        self.y_min = math.inf
        self.y_max = -math.inf
        self._smooth = GrowingBuffer(1)
        self._alpha = -1.0
        self._state = 0.0
        self._last_finite = 0.0

    def __len__(self) -> int:
        return self.points.n

    @property
    def xs(self) -> np.ndarray:
        return self.points.column(0)

    @property
    def ys(self) -> np.ndarray:
        return self.points.column(1)

    @property
    def steps(self) -> np.ndarray:
        return self.points.column(2)

    def extend(self, xs: np.ndarray, ys: np.ndarray, steps: np.ndarray) -> None:
        self.points.extend(np.column_stack([xs, ys, steps]))
        finite = ys[np.isfinite(ys)]
        if finite.size:
            self.y_min = min(self.y_min, float(finite.min()))
            self.y_max = max(self.y_max, float(finite.max()))

    def smoothed(self, alpha: float) -> np.ndarray:
        """EMA-smoothed y (NaN/inf points hold the previous value)."""
        ys = self.ys
        if alpha != self._alpha:
            self._smooth = GrowingBuffer(1, max(256, len(ys)))
            self._alpha, self._state, self._last_finite = alpha, 0.0, 0.0
        done = self._smooth.n
        if done < len(ys):
            new = fill_non_finite(ys[done:], self._last_finite)
            values, self._state = ema(new, alpha, self._state, done)
            self._last_finite = float(new[-1])
            self._smooth.extend(values[:, None])
        return self._smooth.column(0)


class EpochClock:
    """Where epochs end in steps: learnt from epoch points as they arrive.

    ``last_step`` is the largest step-axis x seen; an epoch point arriving then is taken to
    end at that step. ``version`` changes whenever a new epoch end is recorded.
    """

    def __init__(self) -> None:
        self.last_step = math.nan
        self.ends: dict[float, float] = {}  # epoch -> step at which it ended
        self.version = 0

    def saw_steps(self, xs: np.ndarray) -> None:
        finite = xs[np.isfinite(xs)]
        if finite.size:
            top = float(finite.max())
            self.last_step = top if math.isnan(self.last_step) else max(top, self.last_step)

    def record(self, epochs: np.ndarray, steps: np.ndarray) -> None:
        for epoch, step in zip(epochs, steps, strict=True):
            if math.isfinite(step) and float(epoch) not in self.ends:
                self.ends[float(epoch)] = float(step)
                self.version += 1

    def to_epochs(self, steps: np.ndarray) -> np.ndarray:
        """Fractional epochs for ``steps`` (NaN before any epoch has ended)."""
        if not self.ends:
            return np.full(len(steps), np.nan)
        order = sorted(self.ends)
        epochs = np.array([0.0, *order])
        ends = np.array([0.0, *(self.ends[e] for e in order)])
        out = np.interp(steps, ends, epochs)
        last_len = ends[-1] - ends[-2] if len(ends) > 1 else 0.0
        beyond = steps > ends[-1]
        if last_len > 0 and beyond.any():
            out[beyond] = epochs[-1] + (steps[beyond] - ends[-1]) / last_len * (
                epochs[-1] - epochs[-2])
        return out


NICE_MANTISSAS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def nice_ceil(value: float) -> float:
    """The smallest number of the form m x 10^k (m in NICE_MANTISSAS) that is >= ``value``."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    base = 10.0 ** math.floor(math.log10(value))
    for m in NICE_MANTISSAS:
        if m * base >= value * (1 - 1e-12):
            return m * base
    return 10.0 * base


def x_view_range(lo: float, hi: float, current: tuple[float, float] | None
                 ) -> tuple[float, float]:
    """A growing x axis: from the first x to a round number past the last one.

    While the data stays inside ``current`` the range is kept, so a new point redraws only the
    curve and not the axes (pyqtgraph re-renders an axis's ticks and text whenever its range
    moves, which is most of a redraw's cost). It grows in steps of at most ~25 %.
    """
    if current is not None and current[0] == lo and hi <= current[1]:
        return current
    return lo, lo + nice_ceil(max(hi - lo, 1e-12 * max(abs(lo), 1.0)))


def y_view_range(lo: float, hi: float, current: tuple[float, float] | None
                 ) -> tuple[float, float]:
    """A y range that changes only when the data leaves it or fills less than 40 % of it.

    A new range is the data's, padded by 5 % and snapped outward to a tenth of a round span;
    a constant series gets +-10 % around its value (instead of zooming into rounding noise).
    """
    span = hi - lo
    if current is not None:
        c_lo, c_hi = current
        if c_lo <= lo and hi <= c_hi and span >= 0.4 * (c_hi - c_lo):
            return current
    if span <= 1e-9 * max(abs(lo), abs(hi), 1e-300):
        if current is not None and current[0] <= lo and hi <= current[1]:
            return current
        pad = abs(hi) * 0.1 or 0.5
        return lo - pad, hi + pad
    step = nice_ceil(span / 10)
    return (math.floor((lo - 0.05 * span) / step) * step,
            math.ceil((hi + 0.05 * span) / step) * step)
