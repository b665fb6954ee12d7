"""Per-frame metrics on synthetic walkers with known geometry."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest

from posecoach.coach.metrics import METRIC_FIELDS, FrameMetrics, MetricsSeries, compute_metrics
from posecoach.coach.smoothing import smooth_offline
from posecoach.pose.landmarks import NUM_LANDMARKS, Landmark, PoseSeries
from tests.synthetic import make_walk, reverse_time, with_points

L = Landmark


def _metrics(settings, causal: bool = False, **kw) -> MetricsSeries:
    kw.setdefault("leg_px", 200.0)
    series, _ = make_walk(**kw)
    return compute_metrics(smooth_offline(series, settings), settings, causal=causal)


def _col(metrics: MetricsSeries, name: str) -> np.ndarray:
    return metrics.column(name)


def _share(metrics: MetricsSeries, name: str, value: object) -> float:
    return float(np.mean(metrics.column(name) == value))


def test_fields_are_kept():
    assert METRIC_FIELDS[:4] == ("frame", "time_s", "has_person", "view")
    assert "trunk_lean_deg" in METRIC_FIELDS and "fallen" in METRIC_FIELDS
    assert tuple(f.name for f in dataclasses.fields(MetricsSeries)) == METRIC_FIELDS


def test_rows_and_columns_agree(settings):
    m = _metrics(settings, direction="backward", duration_s=1.0)
    rows = list(m.rows())
    assert len(rows) == len(m) == 30
    for i in (0, 17, -1):
        assert _same_metrics(m.row(i), rows[i])
    for name in METRIC_FIELDS:
        assert not isinstance(getattr(m.row(0), name), np.generic), name
    assert type(rows[0].frame) is int and type(rows[0].time_s) is float
    assert type(rows[0].has_person) is bool and type(rows[0].view) is str
    again = MetricsSeries.from_rows(rows)
    for name in METRIC_FIELDS:
        np.testing.assert_array_equal(again.column(name), m.column(name))
        assert again.column(name).dtype == m.column(name).dtype, name
    assert len(MetricsSeries.from_rows([])) == 0
    assert len(m.subset(m.time_s < 0.5)) == 15
    with pytest.raises(KeyError):
        m.column("speed")


@pytest.mark.parametrize("yaw_deg", [90.0, -90.0])
@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("lean_deg", [-10.0, 0.0, 8.0, 15.0])
def test_trunk_lean_sign_and_value(settings, yaw_deg, direction, lean_deg):
    m = _metrics(settings, yaw_deg=yaw_deg, direction=direction, trunk_lean_deg=lean_deg,
                 noise_px=1.0)
    lean = _col(m, "trunk_lean_deg")
    assert np.median(lean) == pytest.approx(lean_deg, abs=1.0)
    assert np.isnan(_col(m, "trunk_lateral_lean_deg")).all()


@pytest.mark.parametrize("yaw_deg", [90.0, -90.0])
@pytest.mark.parametrize("head_deg", [0.0, 15.0, 30.0])
def test_head_angle(settings, yaw_deg, head_deg):
    m = _metrics(settings, yaw_deg=yaw_deg, head_angle_deg=head_deg, trunk_lean_deg=5.0)
    assert np.median(_col(m, "head_angle_deg")) == pytest.approx(head_deg, abs=1.0)


@pytest.mark.parametrize(
    ("yaw_deg", "view"),
    [(90.0, "side"), (-90.0, "side"), (70.0, "side"), (-110.0, "side"), (0.0, "front"),
     (25.0, "front"), (-20.0, "front"), (180.0, "back"), (155.0, "back"), (-160.0, "back")],
)
@pytest.mark.parametrize("direction", ["backward", "standing"])
def test_view(settings, yaw_deg, view, direction):
    m = _metrics(settings, yaw_deg=yaw_deg, direction=direction, duration_s=3.0)
    assert _share(m, "view", view) == 1.0


def test_back_view_needs_no_face(settings):
    series, _ = make_walk(yaw_deg=180.0, direction="standing", duration_s=2.0)
    pts = series.points.copy()
    pts[:, [L.NOSE, L.LEFT_EYE, L.RIGHT_EYE], 3] = 0.99
    m = compute_metrics(smooth_offline(with_points(series, pts), settings), settings)
    assert _share(m, "view", "back") == 1.0


@pytest.mark.parametrize(
    ("direction", "yaw_deg", "facing", "expected"),
    [
        ("backward", 90.0, 1, "backward"),
        ("backward", -90.0, -1, "backward"),
        ("forward", 90.0, 1, "forward"),
        ("forward", -90.0, -1, "forward"),
        ("standing", 90.0, 1, "standing"),
        ("standing", -90.0, -1, "standing"),
    ],
)
@pytest.mark.parametrize("causal", [False, True])
def test_direction_and_facing(settings, direction, yaw_deg, facing, expected, causal):
    series, truth = make_walk(direction=direction, yaw_deg=yaw_deg, leg_px=200.0, noise_px=1.0)
    m = compute_metrics(smooth_offline(series, settings), settings, causal=causal)
    settled = m.subset(slice(30, None)) if causal else m
    assert _share(settled, "direction", expected) == 1.0
    assert _share(settled, "facing", facing) == 1.0
    sign = {"forward": 1.0, "backward": -1.0, "standing": 0.0}[direction]
    speed = np.median(_col(settled, "pelvis_speed_leg_s"))
    assert speed == pytest.approx(sign * truth.speed_leg_s, abs=0.03)


def test_feet_pointing_against_the_travel_read_backward(settings):
    series, _ = make_walk(direction="backward", yaw_deg=90.0, leg_px=200.0)
    p = series.points
    toe_minus_heel = p[:, L.LEFT_FOOT_INDEX, 0] - p[:, L.LEFT_HEEL, 0]
    pelvis_dx = p[-1, L.LEFT_HIP, 0] - p[0, L.LEFT_HIP, 0]
    assert (toe_minus_heel > 0).all() and pelvis_dx < 0
    m = compute_metrics(smooth_offline(series, settings), settings)
    assert _share(m, "direction", "backward") == 1.0


def test_facing_falls_back_to_the_feet_without_a_face(settings):
    series, _ = make_walk(direction="backward", yaw_deg=-90.0, leg_px=200.0)
    pts = series.points.copy()
    pts[:, [L.NOSE, L.LEFT_EAR, L.RIGHT_EAR], 3] = 0.1
    m = compute_metrics(smooth_offline(with_points(series, pts), settings), settings)
    assert _share(m, "facing", -1) == 1.0
    assert _share(m, "direction", "backward") == 1.0


def test_looking_behind_does_not_turn_the_body(settings):
    m = _metrics(settings, direction="backward", yaw_deg=90.0, head_yaw_deg=170.0)
    assert _share(m, "facing", 1) == 1.0
    assert _share(m, "direction", "backward") == 1.0
    assert _share(m, "head_turned", True) == 1.0
    assert np.median(_col(m, "head_turn")) > 0.9


def test_turning_around(settings):
    m = _metrics(settings, direction="backward", duration_s=6.0,
                 yaw_deg=lambda t: np.where(t < 3.0, 90.0, -90.0))
    t = _col(m, "time_s")
    direction = _col(m, "direction")
    assert (direction[np.abs(t - 3.0) < 0.2] == "turning").all()
    assert (direction[(t > 0.2) & (t < 2.2)] == "backward").all()
    assert (direction[(t > 3.8) & (t < 5.8)] == "backward").all()
    assert set(_col(m, "facing")[t < 2.5]) == {1} and set(_col(m, "facing")[t > 3.5]) == {-1}


def test_a_reversed_forward_clip_reads_backward(settings):
    series, _ = make_walk(direction="forward", yaw_deg=90.0, leg_px=200.0)
    m = compute_metrics(smooth_offline(reverse_time(series), settings), settings)
    assert _share(m, "direction", "backward") == 1.0


@pytest.mark.parametrize(
    ("yaw_deg", "head_yaw_deg", "turned"),
    [(90.0, 0.0, False), (90.0, 30.0, False), (90.0, 100.0, True), (90.0, 180.0, True),
     (-90.0, -100.0, True), (0.0, 0.0, False), (0.0, 20.0, False), (0.0, 80.0, True),
     (0.0, -85.0, True), (180.0, 0.0, False)],
)
def test_head_turn(settings, yaw_deg, head_yaw_deg, turned):
    m = _metrics(settings, direction="standing", yaw_deg=yaw_deg, head_yaw_deg=head_yaw_deg,
                 duration_s=2.0)
    assert _share(m, "head_turned", turned) == 1.0
    turn = np.median(_col(m, "head_turn"))
    assert 0.0 <= turn <= 1.0
    if not turned:
        assert turn < 0.4


@pytest.mark.parametrize(
    ("yaw_deg", "pitch_deg", "down"),
    [(90.0, 0.0, False), (90.0, 10.0, False), (90.0, 30.0, True), (-90.0, 40.0, True),
     (0.0, 0.0, False), (0.0, 35.0, True), (180.0, 40.0, False)],
)
def test_looking_down(settings, yaw_deg, pitch_deg, down):
    m = _metrics(settings, direction="standing", yaw_deg=yaw_deg, head_pitch_deg=pitch_deg,
                 duration_s=2.0)
    assert _share(m, "looking_down", down) == 1.0


@pytest.mark.parametrize(("yaw_deg", "lateral_deg", "expected"),
                         [(0.0, 6.0, -6.0), (0.0, -4.0, 4.0), (180.0, 6.0, 6.0)])
def test_trunk_lateral_lean_in_front_and_back_view(settings, yaw_deg, lateral_deg, expected):
    m = _metrics(settings, direction="standing", yaw_deg=yaw_deg, lateral_lean_deg=lateral_deg,
                 duration_s=2.0)
    assert np.median(_col(m, "trunk_lateral_lean_deg")) == pytest.approx(expected, abs=1.0)
    assert np.isnan(_col(m, "trunk_lean_deg")).all()
    assert np.isnan(_col(m, "head_angle_deg")).all()


def test_leg_length_and_hip_height(settings):
    series, truth = make_walk(direction="backward", leg_px=250.0)
    m = compute_metrics(smooth_offline(series, settings), settings)
    assert np.median(_col(m, "leg_length_px")) == pytest.approx(truth.leg_px, rel=0.01)
    hip_y = (series.points[:, L.LEFT_HIP, 1] + series.points[:, L.RIGHT_HIP, 1]) / 2
    expected = (series.height - hip_y) / series.height
    np.testing.assert_allclose(_col(m, "hip_height_frac"), expected, atol=0.005)


@pytest.mark.parametrize(
    ("center_x_px", "inside"),
    [(960.0, True), (30.0, False), (1890.0, False)],
)
def test_edge_distance_and_in_frame(settings, center_x_px, inside):
    series, _ = make_walk(direction="standing", yaw_deg=90.0, leg_px=250.0,
                          center_x_px=center_x_px, duration_s=1.0)
    m = compute_metrics(series, settings)
    p = series.points[0]
    x, y = p[:, 0] / series.width, p[:, 1] / series.height
    expected = np.min(np.minimum.reduce([x, 1 - x, y, 1 - y])[p[:, 3] >= 0.5])
    assert m.row(0).edge_distance_frac == pytest.approx(expected, abs=1e-9)
    assert _share(m, "fully_in_frame", inside) == 1.0
    if not inside:
        assert m.row(0).edge_distance_frac < settings.metrics.edge_margin_frac


def test_feet_at_the_bottom_edge_are_not_in_frame(settings):
    series, _ = make_walk(direction="standing", leg_px=250.0, duration_s=1.0,
                          ground_y_px=1075.0)
    m = compute_metrics(series, settings)
    assert _share(m, "fully_in_frame", False) == 1.0
    assert 0 <= m.row(0).edge_distance_frac < 0.03


def _fall(t: np.ndarray, start_s: float, length_s: float, end: float) -> np.ndarray:
    return end * np.clip((t - start_s) / length_s, 0.0, 1.0)


@pytest.mark.parametrize(
    ("kw", "falls"),
    [
        (dict(direction="backward"), False),
        (dict(direction="forward", trunk_lean_deg=20.0), False),
        (dict(direction="standing",
              trunk_lean_deg=lambda t: 80.0 * ((t > 2.0) & (t < 3.5))), False),
        (dict(direction="standing", trunk_lean_deg=lambda t: _fall(t, 2.0, 0.3, 80.0),
              hip_drop_leg=lambda t: _fall(t, 2.0, 0.5, 0.8)), True),
        (dict(direction="backward", trunk_lean_deg=lambda t: _fall(t, 2.0, 0.4, -85.0),
              hip_drop_leg=lambda t: _fall(t, 2.0, 0.4, 0.8)), True),
    ],
    ids=["walking", "leaning-walk", "bending", "fall-forward", "fall-backward"],
)
def test_fallen(settings, kw, falls):
    m = _metrics(settings, duration_s=5.0, **kw)
    fallen = _col(m, "fallen")
    t = _col(m, "time_s")
    if falls:
        assert not fallen[t < 2.0].any()
        assert fallen[t > 3.0].all()
    else:
        assert not fallen.any()


def test_causal_metrics_use_no_future_frames(settings):
    series, _ = make_walk(direction="backward", leg_px=200.0, noise_px=1.0,
                          yaw_deg=lambda t: np.where(t < 3.0, 90.0, -90.0))
    full = compute_metrics(series, settings, causal=True)
    cut = 100
    part = compute_metrics(
        PoseSeries(series.time_s[:cut], series.points[:cut], series.width, series.height),
        settings, causal=True,
    )
    for a, b in zip(full.subset(slice(None, cut)).rows(), part.rows(), strict=True):
        for name in METRIC_FIELDS:
            va, vb = getattr(a, name), getattr(b, name)
            if isinstance(va, float) and np.isnan(va):
                assert np.isnan(vb), name
            else:
                assert va == vb or va == pytest.approx(vb, rel=1e-9), name


def test_causal_last_row_is_valid(settings):
    m = _metrics(settings, causal=True, direction="backward", duration_s=4.0)
    last = m.row(-1)
    assert last.direction == "backward"
    assert last.pelvis_speed_leg_s == pytest.approx(-1.0, abs=0.05)


@pytest.mark.parametrize("n_frames", [1, 2, 3])
@pytest.mark.parametrize("causal", [False, True])
def test_degenerate_series(settings, n_frames, causal):
    empty = PoseSeries(np.arange(n_frames) / 30.0,
                       np.full((n_frames, NUM_LANDMARKS, 4), np.nan), 640, 480)
    m = compute_metrics(empty, settings, causal=causal)
    assert len(m) == n_frames
    assert all(not x.has_person and x.direction == "unknown" and x.view == "unknown"
               for x in m.rows())
    assert all(not x.fallen and not x.fully_in_frame for x in m.rows())
    walk, _ = make_walk(duration_s=n_frames / 30.0)
    m = compute_metrics(walk, settings, causal=causal)
    assert len(m) == n_frames and all(x.has_person for x in m.rows())
    assert Counter(x.view for x in m.rows()) == Counter({"side": n_frames})


def test_empty_series_gives_no_rows(settings):
    assert len(compute_metrics(
        PoseSeries(np.zeros(0), np.zeros((0, NUM_LANDMARKS, 4)), 640, 480), settings
    )) == 0


def _same_metrics(a: FrameMetrics, b: FrameMetrics) -> bool:
    """Field by field equality, NaN equal to NaN."""
    for name in METRIC_FIELDS:
        va, vb = getattr(a, name), getattr(b, name)
        both_nan = isinstance(va, float) and isinstance(vb, float) and np.isnan(va) and np.isnan(vb)
        if not (both_nan or va == vb):
            return False
    return True


@pytest.mark.parametrize(
    "kw",
    [
        dict(direction="backward", noise_px=1.0),
        dict(direction="backward", noise_px=1.0, yaw_deg=lambda t: np.where(t < 2.0, 90.0, 0.0)),
        dict(direction="standing", trunk_lean_deg=lambda t: _fall(t, 1.5, 0.3, 80.0),
             hip_drop_leg=lambda t: _fall(t, 1.5, 0.5, 0.8)),
    ],
    ids=["walking", "turning-to-front", "fall"],
)
def test_last_only_is_the_last_row(settings, kw):
    """The live coach's `last_only` row equals the last row of the whole window's metrics."""
    series, _ = make_walk(duration_s=4.0, leg_px=200.0, **kw)
    series = smooth_offline(series, settings)
    series.points[40:44, Landmark.LEFT_EAR] = np.nan          # some landmarks missing
    series.points[70:73] = np.nan                             # and frames without the walker
    for end in range(1, len(series) + 1, 3):
        for length in (1, 2, 5, 45):
            start = max(0, end - length)
            window = PoseSeries(series.time_s[start:end], series.points[start:end],
                                series.width, series.height)
            for causal in (True, False):
                last = compute_metrics(window, settings, causal=causal, last_only=True)
                every = compute_metrics(window, settings, causal=causal)
                assert len(last) == 1
                assert _same_metrics(last.row(0), every.row(-1)), (end, length, causal)
