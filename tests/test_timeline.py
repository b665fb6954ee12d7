"""The safe time line: from the first frame, strictly increasing, a camera's rate, breaks capped.

Hypothesis feeds it any timestamps (huge, tiny, repeated, backwards, missing, not finite); the
result must always be usable: as many times as frames, finite, from zero, consecutive frames
1 ms to `max_gap_s` apart, a median rate between 0.5 and 1,000 frames per second, and the same
again when it is run a second time.
"""

from __future__ import annotations

import math
import os
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posecoach.frame_rate import DEFAULT_FPS, MAX_FPS, MIN_FPS, is_camera_rate
from posecoach.media.timeline import (
    MAX_GAP_S,
    MIN_STEP_S,
    FrameClock,
    clip_length_s,
    safe_timeline,
)

PROPS = settings(
    max_examples=int(os.environ.get("POSECOACH_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TOL = 1e-6


def test_a_clean_time_line_comes_back_unchanged() -> None:
    times = np.arange(300) / 30.0
    timeline = safe_timeline(times)
    assert np.array_equal(timeline.time_s, times)
    assert timeline.warnings == () and timeline.breaks == 0 and not timeline.from_frame_count
    variable = np.cumsum(np.r_[0.0, np.random.default_rng(3).uniform(0.02, 0.05, 199)])
    assert np.array_equal(safe_timeline(variable).time_s, variable)


def test_times_count_from_the_first_frame() -> None:
    times = 12.5 + np.arange(100) / 25.0
    np.testing.assert_allclose(safe_timeline(times).time_s, np.arange(100) / 25.0, atol=1e-12)


def test_unix_epoch_times_read_like_times_from_zero() -> None:
    floats = safe_timeline(1.7e9 + np.arange(600) / 60.0)
    np.testing.assert_allclose(floats.time_s, np.arange(600) / 60.0, atol=1e-6)
    assert floats.warnings == ()
    # Decimals (as a CSV writes them) and Fractions (as a video stores them) stay exact.
    decimals = [Decimal("1700000000") + Decimal(k) / Decimal(60) for k in range(600)]
    assert np.array_equal(safe_timeline(decimals).time_s,
                          np.array([float(Decimal(k) / Decimal(60)) for k in range(600)]))
    fractions = [Fraction(1_700_000_000) + Fraction(k, 60) for k in range(600)]
    assert np.array_equal(safe_timeline(fractions).time_s,
                          np.array([float(Fraction(k, 60)) for k in range(600)]))


@pytest.mark.parametrize("interval_s", [1e-9, 1e-5, 5e-4, 3.0, 1e15])
def test_rates_no_camera_makes_fall_back_to_the_frame_count(interval_s: float) -> None:
    timeline = safe_timeline(np.arange(50) * interval_s, label="odd.mp4")
    assert timeline.from_frame_count
    np.testing.assert_allclose(timeline.time_s, np.arange(50) / DEFAULT_FPS)
    (warning,) = timeline.warnings
    assert "odd.mp4" in warning and "frames per second" in warning
    assert "30 frames per second instead" in warning


def test_the_fallback_uses_the_nominal_rate_when_it_is_a_cameras() -> None:
    timeline = safe_timeline(np.arange(10) * 1e-9, nominal_fps=25.0)
    np.testing.assert_allclose(timeline.time_s, np.arange(10) / 25.0)
    timeline = safe_timeline(np.arange(10) * 1e-9, nominal_fps=2700.0)
    np.testing.assert_allclose(timeline.time_s, np.arange(10) / DEFAULT_FPS)


def test_the_limits_are_a_cameras() -> None:
    assert is_camera_rate(MIN_FPS) and is_camera_rate(MAX_FPS) and is_camera_rate(30.0)
    assert not is_camera_rate(0.49) and not is_camera_rate(1001.0)
    assert not is_camera_rate(math.nan) and not is_camera_rate(math.inf)
    assert not is_camera_rate(None)


def test_a_long_gap_is_a_break_counted_as_max_gap() -> None:
    times = np.arange(90) / 30.0
    times[30:] += 1e9
    timeline = safe_timeline(times, label="jump.mp4")
    assert timeline.breaks == 1 and not timeline.from_frame_count
    assert timeline.time_s[30] - timeline.time_s[29] == pytest.approx(MAX_GAP_S)
    np.testing.assert_allclose(np.diff(timeline.time_s[30:]), 1 / 30.0, atol=1e-6)
    (warning,) = timeline.warnings
    assert "jump.mp4" in warning and "break" in warning and "1.0 s" in warning
    assert "1,000,000,000 s" in warning
    again = safe_timeline(timeline.time_s)
    assert np.array_equal(again.time_s, timeline.time_s) and again.warnings == ()


def test_the_gap_setting_is_honoured() -> None:
    times = np.r_[np.arange(30) / 30.0, 3.0 + np.arange(30) / 30.0]
    assert safe_timeline(times).breaks == 0
    short = safe_timeline(times, max_gap_s=1.0)
    assert short.breaks == 1
    assert short.time_s[30] - short.time_s[29] == pytest.approx(1.0)


def test_a_jump_back_restarts_one_frame_later() -> None:
    times = np.r_[1000.0 + np.arange(30) / 30.0, np.arange(30) / 30.0]
    timeline = safe_timeline(times)
    assert timeline.breaks == 1
    assert np.all(np.diff(timeline.time_s) > 0)
    assert timeline.time_s[30] - timeline.time_s[29] == pytest.approx(1 / 30.0)
    assert "back by 1,001 s" in timeline.warnings[0]


def test_repeated_timestamps_are_nudged_a_millisecond() -> None:
    times = np.array([0.0, 1 / 30, 1 / 30, 2 / 30, 3 / 30, 4 / 30])
    timeline = safe_timeline(times)
    assert timeline.time_s[2] == pytest.approx(1 / 30 + MIN_STEP_S)
    assert timeline.time_s[3] == pytest.approx(2 / 30)  # the next frame keeps its own time
    assert timeline.warnings == ()


def test_all_frames_at_one_time() -> None:
    timeline = safe_timeline(np.full(20, 7.0), label="still.csv")
    assert timeline.from_frame_count
    assert "same time" in timeline.warnings[0]


def test_missing_timestamps_take_the_typical_interval() -> None:
    timeline = safe_timeline([0.0, None, 0.1, math.nan, 0.2, 0.25])
    np.testing.assert_allclose(timeline.time_s, [0.0, 0.05, 0.1, 0.15, 0.2, 0.25])
    timeline = safe_timeline([None, None, 0.1, 0.15, 0.2, 0.25])
    np.testing.assert_allclose(timeline.time_s, [0.0, 0.05, 0.1, 0.15, 0.2, 0.25])


def test_many_breaks_make_one_short_warning() -> None:
    times = np.arange(2000) * 60.0 + (np.arange(2000) % 2) / 30.0
    timeline = safe_timeline(np.sort(times))
    assert len(timeline.warnings) <= 2
    assert all(len(w) < 600 for w in timeline.warnings)


def test_one_and_no_frames() -> None:
    assert safe_timeline([]).time_s.shape == (0,)
    one = safe_timeline([1.7e9])
    assert np.array_equal(one.time_s, [0.0]) and one.warnings == ()


def test_the_frame_clock_matches_the_whole_series() -> None:
    for times in (np.arange(200) / 30.0, 1.7e9 + np.arange(200) / 60.0,
                  np.r_[np.arange(30) / 30.0, 1e9 + np.arange(30) / 30.0]):
        clock = FrameClock()
        streamed = np.array([clock.time_of(float(t)) for t in times])
        np.testing.assert_allclose(streamed, safe_timeline(times).time_s, atol=1e-6)
        assert clock.warnings == list(safe_timeline(times).warnings)


def test_the_frame_clock_decides_the_rate_from_the_first_intervals() -> None:
    clock = FrameClock(nominal_fps=2700.0, label="ns.mp4")
    times = [clock.time_of(Fraction(k, 10**9)) for k in range(100)]
    assert clock.from_frame_count and "ns.mp4" in clock.warnings[0]
    assert np.all(np.diff(times) >= MIN_STEP_S * (1 - TOL))
    np.testing.assert_allclose(np.diff(times[5:]), 1 / DEFAULT_FPS)
    np.testing.assert_allclose(times, np.arange(100) / DEFAULT_FPS)


def test_clip_length_trusts_the_frame_count_over_the_stated_duration() -> None:
    assert clip_length_s(2.0, 60, 30.0) == pytest.approx(2.0)
    assert clip_length_s(0.000_001, 900_000, 2700.0) == pytest.approx(30_000.0)
    assert clip_length_s(2.0, 900_000, 60.0) == pytest.approx(15_000.0)
    assert clip_length_s(None, None, None) is None
    assert clip_length_s(math.inf, None, 30.0) is None
    assert clip_length_s("2", 10, object()) == pytest.approx(10 / DEFAULT_FPS)


# ------------------------------------------------------------------------- any timestamps

ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)


@st.composite
def raw_timestamps(draw: st.DrawFn) -> list[float | None]:
    """Timestamps as files and streams have them: a base, a step, and damage."""
    n = draw(st.integers(0, 120))
    if draw(st.integers(0, 4)) == 0:
        return draw(st.lists(st.one_of(ANY_FLOAT, st.none()), min_size=n, max_size=n))
    base = draw(st.sampled_from([0.0, 12.5, 1.7e9, -3.0, 1e15, 1e300]))
    step = draw(st.sampled_from([1e-12, 1e-9, 1e-6, 1e-3, 1 / 60, 1 / 30, 0.5, 2.0, 4.9, 7.0,
                                 1e9, 1e15]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    times = base + np.arange(n) * step * rng.uniform(0.5, 1.5, n).cumsum() / np.arange(1, n + 1)
    out: list[float | None] = [float(t) for t in times]
    for _ in range(draw(st.integers(0, 4))):
        if not out:
            break
        i = int(rng.integers(0, len(out)))
        kind = draw(st.sampled_from(["jump", "back", "repeat", "none", "nan", "inf"]))
        if kind == "jump":
            out[i:] = [v + draw(st.sampled_from([6.0, 1e9])) if v is not None else v
                       for v in out[i:]]
        elif kind == "back":
            out[i:] = [v - draw(st.sampled_from([0.01, 3.0, 1e6])) if v is not None else v
                       for v in out[i:]]
        elif kind == "repeat" and i > 0:
            out[i] = out[i - 1]
        elif kind == "none":
            out[i] = None
        elif kind == "nan":
            out[i] = math.nan
        elif kind == "inf":
            out[i] = math.inf
    return out


def _check_safe(times: np.ndarray, n: int, max_gap_s: float) -> None:
    assert times.shape == (n,)
    assert np.all(np.isfinite(times))
    if n == 0:
        return
    assert times[0] == 0.0
    dt = np.diff(times)
    assert np.all(dt >= MIN_STEP_S * (1 - TOL)), dt.min()
    assert np.all(dt <= max_gap_s * (1 + TOL)), dt.max()


@PROPS
@given(raw=raw_timestamps(), max_gap_s=st.sampled_from([MAX_GAP_S, 0.5, 60.0]))
def test_any_timestamps_give_a_safe_time_line(raw: list[float | None], max_gap_s: float) -> None:
    timeline = safe_timeline(raw, max_gap_s=max_gap_s)
    _check_safe(timeline.time_s, len(raw), max_gap_s)
    if len(raw) >= 2:
        assert is_camera_rate(timeline.fps), timeline.fps
    assert len(timeline.warnings) <= 2 and all(len(w) < 600 for w in timeline.warnings)
    again = safe_timeline(timeline.time_s, max_gap_s=max_gap_s)
    assert np.array_equal(again.time_s, timeline.time_s)
    assert again.warnings == ()


@PROPS
@given(raw=raw_timestamps(), max_gap_s=st.sampled_from([MAX_GAP_S, 0.5]))
def test_any_timestamps_give_safe_times_one_frame_at_a_time(
    raw: list[float | None], max_gap_s: float
) -> None:
    clock = FrameClock(max_gap_s=max_gap_s)
    times = np.array([clock.time_of(v) for v in raw], dtype=np.float64)
    _check_safe(times, len(raw), max_gap_s)
    assert len(clock.warnings) <= 2
