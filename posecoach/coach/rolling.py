"""NaN-aware statistics over frame-indexed arrays: windows, rolling and expanding medians, runs.

Every array is indexed by frame first, and NaN is the normal "not measured": the helpers skip
it rather than propagate it. Windows are trailing (causal) or centred; with `last_only` a
causal statistic is evaluated at the last frame alone, which is what a live caller needs.
Callers run the window statistics under `np.errstate(all="ignore")`: an empty window divides
0 by 0 on purpose.
"""

from __future__ import annotations

import bisect
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

EXPANDING_MEDIAN_VECTOR_MAX = 256  # longest series whose expanding median is one array sort

_FLOAT_MAX = float(np.finfo(np.float64).max)


@contextmanager
def quiet_nan_warnings() -> Iterator[None]:
    """Silence numpy's warnings about all-NaN slices (expected where values are missing)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        yield


def nan_to_zero(values: np.ndarray) -> np.ndarray:
    """`np.nan_to_num(values, nan=0.0)` of a float array, at a fraction of the cost.

    NaN becomes 0 and +-inf the largest finite float, as numpy does.
    """
    return np.minimum(np.maximum(np.where(np.isnan(values), 0.0, values), -_FLOAT_MAX),
                      _FLOAT_MAX)


def nanmean_pair(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise mean of two arrays ignoring NaN: the one present, NaN if neither is.

    The same numbers as `np.nanmean(np.stack([a, b]), axis=0)` at a fraction of the cost, and
    without its warning where both are NaN.
    """
    a_nan, b_nan = np.isnan(a), np.isnan(b)
    total = np.where(a_nan, 0.0, a) + np.where(b_nan, 0.0, b)
    with np.errstate(invalid="ignore"):
        return total / (2.0 - a_nan - b_nan)


def runs(labels: np.ndarray | list[Any]) -> list[tuple[int, int, Any]]:
    """(start, stop, label) of each run of equal consecutive labels, `stop` exclusive.

    Labels come back as plain Python values (str, bool, int), in order; every run is listed,
    so a caller keeps the labels it wants (for a mask, the runs labelled True).
    """
    values = np.asarray(labels)
    n = len(values)
    if n == 0:
        return []
    change = np.flatnonzero(values[1:] != values[:-1]) + 1
    starts = [0, *change.tolist()]
    stops = [*change.tolist(), n]
    return list(zip(starts, stops, values[starts].tolist(), strict=True))


def window_len(window_s: float, fps: float) -> int:
    """Frames in a window of `window_s` seconds at `fps` (at least one)."""
    return max(1, int(round(window_s * fps)))


def windows(values: np.ndarray, n: int, causal: bool, last_only: bool = False) -> np.ndarray:
    """(T, n) sliding windows, NaN-padded: trailing when causal, else centred (n made odd).

    With `last_only` (causal windows only) just the last frame's window, shape (1, n).
    A window longer than the series would add only padding, which every statistic skips, so
    `n` is bounded by the number of frames whatever the frame rate says.
    """
    values = np.asarray(values, dtype=np.float64)
    n = max(1, min(n, len(values) if causal else 2 * len(values) - 1))
    if causal:
        if last_only:
            last = values[-n:]
            if len(last) < n:
                last = np.concatenate([np.full(n - len(last), np.nan), last])
            return last[None, :]
        padded = np.concatenate([np.full(n - 1, np.nan), values])
    else:
        half = n // 2
        n = 2 * half + 1
        padded = np.concatenate([np.full(half, np.nan), values, np.full(half, np.nan)])
    return sliding_window_view(padded, n)


def window_bounds(
    length: int, n: int, causal: bool, last_only: bool
) -> tuple[np.ndarray, np.ndarray]:
    """[start, stop) frame indices of each window of `windows`, clipped to the series."""
    stop = np.arange(length - 1 if last_only else 0, length) + 1
    if causal:
        start = stop - n
    else:
        half = n // 2
        start = stop - 1 - half
        stop = np.minimum(stop + half, length)
    return np.maximum(start, 0), stop


def window_sums(values: np.ndarray, n: int, causal: bool, last_only: bool = False) -> np.ndarray:
    """Sums of (k, T) rows over each frame's window (windows as in `windows`).

    Only for integer-valued rows (votes, counts): their running sums are exact, so these equal
    the window-by-window sums without building the windows.
    """
    length = values.shape[1]
    totals = np.zeros((values.shape[0], length + 1))
    np.cumsum(values, axis=1, out=totals[:, 1:])
    start, stop = window_bounds(length, n, causal, last_only)
    return totals[:, stop] - totals[:, start]


def nanmedian_rows(table: np.ndarray) -> np.ndarray:
    """`np.nanmedian(table, axis=1)` of a 2-D array, by one sort (NaNs sort last).

    NumPy's nanmedian goes through masked arrays for small rows, which makes it far slower on
    the short windows of a live caller.
    """
    if table.shape[1] == 0:
        return np.full(len(table), np.nan)
    ordered = np.sort(table, axis=1)
    count = table.shape[1] - np.isnan(ordered).sum(axis=1)
    rows = np.arange(len(table))
    lo = ordered[rows, np.maximum(count - 1, 0) // 2]
    hi = ordered[rows, np.minimum(count // 2, table.shape[1] - 1)]
    return np.where(count > 0, 0.5 * (lo + hi), np.nan)


def rolling_median(
    values: np.ndarray, n: int, causal: bool, last_only: bool = False
) -> np.ndarray:
    """Rolling median ignoring NaN (NaN where a window holds no value)."""
    return nanmedian_rows(windows(values, n, causal, last_only))


def rolling_slope(
    t: np.ndarray, x: np.ndarray, n: int, causal: bool, dt_median_s: float,
    last_only: bool = False,
) -> np.ndarray:
    """Least-squares slope dx/dt over each window, NaN where the window holds too little.

    `dt_median_s` is the median sample interval of the whole series (0 for a single sample): a
    window must hold three samples spanning at least 30 % of its nominal duration.
    """
    tw = windows(t, n, causal, last_only)
    xw = windows(x, n, causal, last_only)
    ok = np.isfinite(tw) & np.isfinite(xw)
    cnt = ok.sum(axis=1)
    tz = np.where(ok, tw, 0.0)
    xz = np.where(ok, xw, 0.0)
    tm = tz.sum(axis=1) / cnt
    xm = xz.sum(axis=1) / cnt
    dtw = np.where(ok, tw - tm[:, None], 0.0)
    dxw = np.where(ok, xw - xm[:, None], 0.0)
    slope = (dtw * dxw).sum(axis=1) / (dtw**2).sum(axis=1)
    span = np.where(ok, tw, -np.inf).max(axis=1) - np.where(ok, tw, np.inf).min(axis=1)
    full_span = dt_median_s * (n - 1)
    enough = (cnt >= 3) & (span >= 0.3 * full_span)
    return np.where(enough, slope, np.nan)


def ffill(values: np.ndarray) -> np.ndarray:
    """Carry the last finite value forward over NaNs."""
    idx = np.where(np.isfinite(values), np.arange(len(values)), -1)
    idx = np.maximum.accumulate(idx) if len(idx) else idx
    return np.where(idx >= 0, values[np.maximum(idx, 0)], np.nan)


def expanding_median(values: np.ndarray) -> np.ndarray:
    """Median of the finite values seen so far, for each frame."""
    n = len(values)
    if 0 < n <= EXPANDING_MEDIAN_VECTOR_MAX:
        # short series (a live caller's windows): one (n, n) sort beats a Python loop
        prefix = np.where(np.tri(n, dtype=bool), np.asarray(values, dtype=np.float64), np.nan)
        return nanmedian_rows(np.where(np.isfinite(prefix), prefix, np.nan))
    out = np.full(n, np.nan)
    seen: list[float] = []
    for i, v in enumerate(values):
        if np.isfinite(v):
            bisect.insort(seen, float(v))
        if seen:
            k = len(seen)
            out[i] = seen[k // 2] if k % 2 else 0.5 * (seen[k // 2 - 1] + seen[k // 2])
    return out


def median_of_finite(values: np.ndarray) -> float:
    """Median of the finite values (NaN if none): the last entry of `expanding_median`."""
    ordered = np.sort(values[np.isfinite(values)])
    k = len(ordered)
    if k == 0:
        return math.nan
    return float(0.5 * (ordered[(k - 1) // 2] + ordered[k // 2]))
