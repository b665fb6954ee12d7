"""The NaN-aware window statistics against plain numpy, and the body and frame-interval helpers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from posecoach.coach.body import leg_length_px
from posecoach.coach.rolling import (
    EXPANDING_MEDIAN_VECTOR_MAX,
    expanding_median,
    ffill,
    median_of_finite,
    nanmean_pair,
    nanmedian_rows,
    rolling_median,
    rolling_slope,
    runs,
    window_len,
    window_sums,
    windows,
)
from posecoach.pose.landmarks import NUM_LANDMARKS, Landmark, median_frame_interval_s

RNG = np.random.default_rng(7)


def _with_gaps(n: int, share: float = 0.3) -> np.ndarray:
    values = RNG.normal(size=n)
    values[RNG.random(n) < share] = np.nan
    return values


def _explicit_windows(values: np.ndarray, n: int, causal: bool) -> list[np.ndarray]:
    """Each frame's window cut out by hand: trailing n frames, or n // 2 either side."""
    half = n // 2
    return [values[max(0, i - n + 1): i + 1] if causal else values[max(0, i - half): i + half + 1]
            for i in range(len(values))]


def test_runs() -> None:
    assert runs([]) == []
    assert runs(np.array([True])) == [(0, 1, True)]
    labels = np.array(["a", "a", "", "b", "b", "b", "a"], dtype=object)
    assert runs(labels) == [(0, 2, "a"), (2, 3, ""), (3, 6, "b"), (6, 7, "a")]
    mask = np.array([False, True, True, False, True])
    assert [(s, e) for s, e, on in runs(mask) if on] == [(1, 3), (4, 5)]
    assert all(type(label) is bool for _s, _e, label in runs(mask))


def test_window_len() -> None:
    assert window_len(0.5, 30.0) == 15
    assert window_len(0.001, 30.0) == 1


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("n", [1, 4, 7])
def test_rolling_median_and_window_sums_match_explicit_windows(causal: bool, n: int) -> None:
    values = _with_gaps(40)
    expected = []
    for w in _explicit_windows(values, n, causal):
        finite = w[np.isfinite(w)]
        expected.append(np.median(finite) if finite.size else np.nan)
    np.testing.assert_allclose(rolling_median(values, n, causal), expected, rtol=0, atol=1e-12)
    assert windows(values, n, causal).shape[0] == len(values)

    counts = (RNG.random((2, 40)) < 0.5).astype(float)
    sums = window_sums(counts, n, causal)
    for i, w in enumerate(_explicit_windows(np.arange(40), n, causal)):
        np.testing.assert_array_equal(sums[:, i], counts[:, w].sum(axis=1))


def test_last_only_is_the_last_causal_window() -> None:
    values = _with_gaps(25)
    for n in (3, 10, 40):
        assert rolling_median(values, n, True, last_only=True)[0] == pytest.approx(
            rolling_median(values, n, True)[-1], nan_ok=True)
        counts = np.isfinite(values)[None, :].astype(float)
        last = window_sums(counts, n, True, last_only=True)
        assert last[0, 0] == window_sums(counts, n, True)[0, -1]


def test_nanmedian_rows_and_nanmean_pair() -> None:
    table = RNG.normal(size=(30, 6))
    table[RNG.random(table.shape) < 0.4] = np.nan
    table[3] = np.nan
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanmedian(table, axis=1)
    np.testing.assert_array_equal(nanmedian_rows(table), expected)
    a, b = table[:, 0], table[:, 1]
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanmean(np.stack([a, b]), axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # both NaN in some rows: no 0/0 warning
        np.testing.assert_array_equal(nanmean_pair(a, b), expected)


@pytest.mark.parametrize("n", [1, 12, EXPANDING_MEDIAN_VECTOR_MAX + 40])
def test_expanding_median(n: int) -> None:
    values = _with_gaps(n)
    expected = []
    for i in range(n):
        seen = values[: i + 1]
        seen = seen[np.isfinite(seen)]
        expected.append(np.median(seen) if seen.size else np.nan)
    np.testing.assert_allclose(expanding_median(values), expected, rtol=0, atol=1e-12)
    assert median_of_finite(values) == pytest.approx(expected[-1], nan_ok=True)
    assert np.isnan(median_of_finite(np.full(3, np.nan)))


def test_ffill() -> None:
    values = np.array([np.nan, 1.0, np.nan, np.nan, 2.0, np.nan])
    np.testing.assert_array_equal(ffill(values), [np.nan, 1.0, 1.0, 1.0, 2.0, 2.0])
    assert len(ffill(np.zeros(0))) == 0


def test_rolling_slope() -> None:
    t = np.arange(30) / 30.0
    x = 3.0 * t + 1.0
    x[5] = np.nan
    with np.errstate(all="ignore"):
        slope = rolling_slope(t, x, 9, causal=True, dt_median_s=1 / 30.0)
        last = rolling_slope(t, x, 9, causal=True, dt_median_s=1 / 30.0, last_only=True)
    assert np.isnan(slope[:2]).all()                  # fewer than three samples
    np.testing.assert_allclose(slope[8:], 3.0, rtol=1e-9)
    assert last[0] == pytest.approx(slope[-1])


def test_median_frame_interval() -> None:
    t = np.array([0.0, 0.1, 0.1, 0.3, 0.35, 0.45])
    dt = np.diff(t)
    assert median_frame_interval_s(t) == np.median(dt[dt > 0])             # repeats skipped
    assert median_frame_interval_s(np.array([2.0])) == 0.0
    assert median_frame_interval_s(np.array([1.0, 1.0])) == 0.0


def test_leg_length_per_frame_and_series() -> None:
    points = np.full((3, NUM_LANDMARKS, 4), np.nan)
    chain_left = [Landmark.LEFT_HIP, Landmark.LEFT_KNEE, Landmark.LEFT_ANKLE]
    chain_right = [Landmark.RIGHT_HIP, Landmark.RIGHT_KNEE, Landmark.RIGHT_ANKLE]
    points[:, chain_left] = [[0, 0, 0, 0.9], [0, 30, 0, 0.9], [0, 70, 0, 0.9]]       # 30 + 40
    points[:, chain_right] = [[0, 0, 0, 0.9], [0, 40, 0, 0.9], [0, 90, 0, 0.9]]      # 40 + 50
    points[1, Landmark.RIGHT_KNEE, 3] = 1.0               # frame 1: the right leg is seen better
    points[2, Landmark.LEFT_ANKLE, :2] = np.nan           # frame 2: only the right leg is whole
    with np.errstate(invalid="ignore"):
        per_series = leg_length_px(points)
        per_frame = [float(leg_length_px(p)) for p in points]
    np.testing.assert_array_equal(per_series, [70.0, 90.0, 90.0])   # a tie goes to the left
    np.testing.assert_array_equal(per_frame, per_series)
    with np.errstate(invalid="ignore"):
        assert np.isnan(leg_length_px(np.full((NUM_LANDMARKS, 4), np.nan)))
