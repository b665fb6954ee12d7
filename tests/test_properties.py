"""Property-based tests: the landmarks parser and the metric pipeline on random and odd input.

The parser must never raise anything but `LandmarksCSVError`, and a valid series must survive a
write/read round trip. The metric stages (smoothing, metrics, gait, rules) must not raise on any
sequence: NaN patterns, constant points, zero-size bodies, huge values, 1-3 frames, uneven
timestamps; they keep one row per frame and angles within [-180, 180] degrees or NaN.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from posecoach.coach.gait import analyze_gait
from posecoach.coach.metrics import MetricsSeries, compute_metrics
from posecoach.coach.rules import evaluate_rules
from posecoach.coach.smoothing import LiveSmoother, smooth_offline
from posecoach.outputs.landmarks_csv import (
    HEADER,
    LandmarksCSVError,
    read_landmarks_csv,
    write_landmarks_csv,
)
from posecoach.outputs.results import analyze_series
from posecoach.pose.landmarks import NUM_LANDMARKS, PoseFrame, PoseSeries
from posecoach.settings import load_settings
from tests.synthetic import make_walk

SETTINGS = load_settings()
ANGLE_FIELDS = ("trunk_lean_deg", "trunk_lateral_lean_deg", "head_angle_deg")
FRACTION_FIELDS = ("head_turn",)
PROPS = settings(
    max_examples=int(os.environ.get("POSECOACH_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# ---------------------------------------------------------------- the landmarks parser

CELL = st.one_of(
    st.just(""),
    st.just("nan"),
    st.just("inf"),
    st.just("-inf"),
    st.just("1e400"),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6),
)


@st.composite
def csv_texts(draw: st.DrawFn) -> str:
    """Text shaped like a landmarks CSV, with random damage."""
    header = list(HEADER)
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(header)))
        header = header[:cut]
    lines = [",".join(header)]
    for _ in range(draw(st.integers(0, 4))):
        width = draw(st.integers(0, len(HEADER) + 3))
        lines.append(",".join(draw(st.lists(CELL, min_size=width, max_size=width))))
    text = "\n".join(lines)
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]
    return text


def _read(tmp_path: Path, data: bytes) -> PoseSeries | None:
    path = tmp_path / "x.landmarks.csv"
    path.write_bytes(data)
    try:
        return read_landmarks_csv(path)
    except LandmarksCSVError as exc:
        assert str(exc), "an error must say what is wrong"
        return None


@PROPS
@given(data=st.binary(max_size=4000))
def test_random_bytes_raise_only_landmarks_errors(tmp_path: Path, data: bytes) -> None:
    _read(tmp_path, data)


@PROPS
@given(text=csv_texts())
def test_damaged_csv_raises_only_landmarks_errors(tmp_path: Path, text: str) -> None:
    series = _read(tmp_path, text.encode("utf-8", "surrogatepass"))
    if series is not None:
        assert series.points.shape[1:] == (NUM_LANDMARKS, 4)
        assert np.all(np.diff(series.time_s) > 0)
        assert not np.isinf(series.points).any()


@PROPS
@given(
    row=st.lists(CELL, min_size=len(HEADER), max_size=len(HEADER)),
    time_cell=st.sampled_from(["0", "nan", "inf", "", "x", "-1e308"]),
    size_cell=st.sampled_from(["640", "0", "-3", "nan", "inf", "1e400", "1.5"]),
)
def test_single_rows_with_odd_numbers(
    tmp_path: Path, row: list[str], time_cell: str, size_cell: str
) -> None:
    row = ["0", time_cell, size_cell, "480", *row[4:]]
    series = _read(tmp_path, (",".join(HEADER) + "\n" + ",".join(row) + "\n").encode())
    if series is not None:
        assert len(series) == 1
        assert series.width > 0 and series.height > 0
        assert math.isfinite(series.time_s[0])
        assert not np.isinf(series.points).any()


@st.composite
def valid_series(draw: st.DrawFn) -> PoseSeries:
    n = draw(st.integers(1, 6))
    steps = draw(st.lists(st.floats(1e-3, 5.0), min_size=n, max_size=n))
    time_s = np.cumsum(steps) - steps[0]
    coord = st.floats(-1e5, 1e5, allow_nan=False)
    points = np.array(
        draw(st.lists(coord, min_size=n * NUM_LANDMARKS * 4, max_size=n * NUM_LANDMARKS * 4))
    ).reshape(n, NUM_LANDMARKS, 4)
    mask = np.array(draw(st.lists(st.booleans(), min_size=n * NUM_LANDMARKS,
                                  max_size=n * NUM_LANDMARKS))).reshape(n, NUM_LANDMARKS)
    points[mask] = np.nan
    width = draw(st.integers(1, 10_000))
    height = draw(st.integers(1, 10_000))
    return PoseSeries(time_s, points, width, height, frame_index=np.arange(n) * 2)


def _tolerance(values: np.ndarray) -> np.ndarray:
    """What the CSV's 3 decimals (5 below 1) keep of each value."""
    return np.where(np.abs(values) >= 1, 5e-4, 5e-6) + 1e-9


@PROPS
@given(series=valid_series())
def test_valid_series_round_trip(tmp_path: Path, series: PoseSeries) -> None:
    path = write_landmarks_csv(tmp_path / "rt.landmarks.csv", series)
    back = read_landmarks_csv(path)
    assert (back.width, back.height) == (series.width, series.height)
    assert np.array_equal(back.frame_index, series.frame_index)
    assert np.all(np.abs(back.time_s - series.time_s) <= 5e-5 + 1e-9)
    assert np.array_equal(np.isnan(back.points), np.isnan(series.points))
    finite = np.isfinite(series.points)
    diff = np.abs(back.points[finite] - series.points[finite])
    assert np.all(diff <= _tolerance(series.points[finite]))


# ---------------------------------------------------------------- the metric pipeline

BASE, _ = make_walk(duration_s=2.0, fps=30.0, noise_px=1.0)


@st.composite
def odd_series(draw: st.DrawFn) -> PoseSeries:
    """A walk (or random points) with random damage: gaps, constants, scale, odd timing."""
    n = draw(st.integers(1, 45))
    if draw(st.booleans()):
        points = BASE.points[:n].copy()
        if n > len(points):
            points = np.concatenate([points, np.repeat(points[-1:], n - len(points), 0)])
    else:
        seed = draw(st.integers(0, 2**31))
        points = np.random.default_rng(seed).uniform(-200, 2200, (n, NUM_LANDMARKS, 4))
        points[..., 3] = np.random.default_rng(seed + 1).uniform(0, 1, (n, NUM_LANDMARKS))
    damage = draw(st.sampled_from(
        ["none", "nan_frames", "nan_points", "all_nan", "constant", "zero_body", "huge",
         "tiny", "nan_visibility", "one_visible", "negative"]
    ))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    if damage == "nan_frames":
        points[rng.random(n) < 0.5] = np.nan
    elif damage == "nan_points":
        points[rng.random((n, NUM_LANDMARKS)) < 0.4] = np.nan
    elif damage == "all_nan":
        points[:] = np.nan
    elif damage == "constant":
        points[:] = points[:1]
    elif damage == "zero_body":
        points[..., :3] = 500.0
    elif damage == "huge":
        points[..., :3] *= draw(st.sampled_from([1e6, 1e12, 1e300]))
    elif damage == "tiny":
        points[..., :3] *= 1e-9
    elif damage == "nan_visibility":
        points[..., 3] = np.nan
    elif damage == "one_visible":
        points[..., 3] = 0.0
        points[:, draw(st.integers(0, NUM_LANDMARKS - 1)), 3] = 1.0
    elif damage == "negative":
        points[..., :2] *= -1
    timing = draw(st.sampled_from(["uniform", "uneven", "tiny_steps", "gaps", "slow"]))
    if timing == "uniform":
        dt = np.full(n, 1 / 30)
    elif timing == "uneven":
        dt = rng.uniform(0.001, 0.2, n)
    elif timing == "tiny_steps":
        dt = np.full(n, 1e-6)
    elif timing == "gaps":
        dt = np.where(rng.random(n) < 0.2, rng.uniform(1, 30, n), 1 / 30)
    else:
        dt = np.full(n, 2.0)
    time_s = np.cumsum(dt) - dt[0] + draw(st.sampled_from([0.0, 1e5]))
    width, height = draw(st.sampled_from([(1920, 1080), (1, 1), (64, 4000), (7680, 4320)]))
    return PoseSeries(time_s, points, width, height)


def _check_metrics(metrics: MetricsSeries, series: PoseSeries) -> None:
    assert len(metrics) == len(series)
    for i, m in enumerate(metrics.rows()):
        assert m.time_s == pytest.approx(series.time_s[i])
        for name in ANGLE_FIELDS:
            value = getattr(m, name)
            assert math.isnan(value) or -180.0 <= value <= 180.0, (name, value)
        for name in FRACTION_FIELDS:
            value = getattr(m, name)
            assert math.isnan(value) or -1e-9 <= value <= 1.0 + 1e-9, (name, value)
        assert isinstance(m.has_person, bool | np.bool_)


@PROPS
@given(series=odd_series())
def test_offline_pipeline_never_raises(series: PoseSeries) -> None:
    smoothed = smooth_offline(series, SETTINGS)
    assert smoothed.points.shape == series.points.shape
    assert np.array_equal(smoothed.time_s, series.time_s)
    metrics = compute_metrics(smoothed, SETTINGS)
    _check_metrics(metrics, series)
    gait = analyze_gait(smoothed, metrics, SETTINGS)
    for step in gait.steps:
        assert series.time_s[0] - 1e-9 <= step.time_s <= series.time_s[-1] + 1e-9
        assert step.side in ("left", "right")
    cues = evaluate_rules(list(metrics.rows()), gait.steps, SETTINGS)
    for cue in cues:
        assert cue.end_s is None or cue.end_s >= cue.start_s
    causal = compute_metrics(smoothed, SETTINGS, causal=True)
    _check_metrics(causal, series)


@PROPS
@given(series=odd_series())
def test_summary_is_valid_json_for_any_series(series: PoseSeries) -> None:
    result = analyze_series(series, SETTINGS, "odd.csv")
    text = json.dumps(result.summary.to_json(), allow_nan=False)
    summary = json.loads(text)
    assert summary["frames"] == len(series)
    assert 0 <= summary["frames_with_person"] <= len(series)


@PROPS
@given(series=odd_series())
def test_live_smoother_never_raises(series: PoseSeries) -> None:
    smoother = LiveSmoother(SETTINGS)
    for i in range(len(series)):
        frame = PoseFrame(
            index=i, time_s=float(series.time_s[i]), points=series.points[i].copy(),
            width=series.width, height=series.height,
        )
        out = smoother.update(frame)
        assert out.points.shape == (NUM_LANDMARKS, 4)


@PROPS
@given(n=st.integers(1, 3), yaw=st.sampled_from([90.0, -90.0, 0.0, 180.0]))
def test_one_to_three_frames_of_a_real_pose(n: int, yaw: float) -> None:
    walk, _ = make_walk(duration_s=n / 30.0, fps=30.0, yaw_deg=yaw)
    assume(len(walk) == n)
    result = analyze_series(walk, SETTINGS)
    assert len(result.metrics) == n
    assert result.summary.frames == n
    assert result.summary.steps in (None, 0)
