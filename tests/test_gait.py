"""Gait analysis on synthetic walkers: steps, cadence, step length, events, symmetry."""

from __future__ import annotations

import numpy as np
import pytest

from posecoach.coach.gait import GaitSummary, analyze_gait
from posecoach.coach.metrics import compute_metrics
from posecoach.coach.smoothing import smooth_offline
from posecoach.pose.landmarks import NUM_LANDMARKS, Landmark, PoseSeries
from posecoach.settings import Settings, load_settings
from tests.synthetic import Truth, make_walk, reverse_time, swap_legs

L = Landmark


def _gait(series: PoseSeries, settings: Settings) -> GaitSummary:
    smooth = smooth_offline(series, settings)
    return analyze_gait(smooth, compute_metrics(smooth, settings), settings)


def _walk(**kw) -> tuple[PoseSeries, Truth]:
    kw.setdefault("leg_px", 200.0)
    kw.setdefault("duration_s", 6.0)
    return make_walk(**kw)


def _match(found: np.ndarray, expected: np.ndarray, tol_s: float) -> np.ndarray:
    """For each expected time, the index of the found time within tol_s (or -1)."""
    out = np.full(len(expected), -1)
    for i, t in enumerate(expected):
        if len(found):
            j = int(np.argmin(np.abs(found - t)))
            if abs(found[j] - t) <= tol_s:
                out[i] = j
    return out


WALKS = [
    dict(direction="backward", yaw_deg=90.0, speed_leg_s=1.0, cadence_spm=100.0),
    dict(direction="backward", yaw_deg=-90.0, speed_leg_s=0.6, cadence_spm=90.0),
    dict(direction="backward", yaw_deg=90.0, speed_leg_s=0.5, cadence_spm=80.0, noise_px=1.5),
    dict(direction="forward", yaw_deg=-90.0, speed_leg_s=1.3, cadence_spm=110.0),
    dict(direction="forward", yaw_deg=90.0, speed_leg_s=1.1, cadence_spm=120.0, noise_px=1.5),
    dict(direction="backward", yaw_deg=90.0, speed_leg_s=0.9, cadence_spm=100.0, fps=60.0),
    dict(direction="backward", yaw_deg=-90.0, speed_leg_s=0.8, cadence_spm=100.0, fps=15.0),
]


@pytest.mark.parametrize("walk", WALKS, ids=lambda w: "-".join(str(v) for v in w.values()))
def test_steps_cadence_and_step_length(settings, walk):
    series, truth = _walk(**walk)
    g = _gait(series, settings)
    fps = walk.get("fps", 30.0)
    times = np.array([s.time_s for s in g.steps])
    inner = truth.step_times_s[(truth.step_times_s > 0.3) & (truth.step_times_s < 5.7)]
    half_double_support_s = 0.05 * 120.0 / truth.cadence_spm
    matched = _match(times, inner, tol_s=half_double_support_s + 1.5 / fps)
    assert (matched >= 0).all()
    assert len(g.steps) <= len(truth.step_times_s)
    sides = [truth.step_sides[list(truth.step_times_s).index(t)] for t in inner]
    assert [g.steps[j].side for j in matched] == sides
    assert g.cadence_spm == pytest.approx(truth.cadence_spm, rel=0.03)
    assert g.step_length_leg == pytest.approx(truth.step_length_leg, rel=0.04)
    assert g.step_time_s == pytest.approx(60.0 / truth.cadence_spm, rel=0.05)
    assert g.speed_leg_s == pytest.approx(truth.speed_leg_s, rel=0.03)
    assert g.leg_length_px == pytest.approx(truth.leg_px, rel=0.01)
    assert g.step_length_symmetry > 0.95 and g.step_time_symmetry > 0.9
    assert g.step_length_m is None and g.speed_m_s is None


@pytest.mark.parametrize(
    ("direction", "contact", "lift"),
    [("backward", "toe_contact", "heel_off"), ("forward", "heel_contact", "toe_off")],
)
def test_gait_events(settings, direction, contact, lift):
    series, truth = _walk(direction=direction, yaw_deg=90.0, speed_leg_s=1.0, cadence_spm=100.0)
    g = _gait(series, settings)
    assert {e.kind for e in g.events} == {contact, lift}
    for side in ("left", "right"):
        found = np.array([e.time_s for e in g.events if e.side == side and e.kind == contact])
        landings = truth.landing_times_s[side]
        inner = landings[(landings > 0.5) & (landings < 5.5)]
        assert (_match(found, inner, tol_s=2.5 / 30.0) >= 0).all()
        lifts = [e for e in g.events if e.side == side and e.kind == lift]
        assert abs(len(lifts) - len(found)) <= 1


def test_lengths_in_metres_with_height():
    settings = load_settings(height_cm=175.0)
    series, truth = _walk(direction="backward", speed_leg_s=0.8, cadence_spm=96.0)
    g = _gait(series, settings)
    leg_m = settings.metrics.leg_length_ratio * 1.75
    assert g.step_length_m == pytest.approx(g.step_length_leg * leg_m, rel=1e-9)
    assert g.speed_m_s == pytest.approx(truth.speed_leg_s * leg_m, rel=0.03)
    assert all(s.step_length_m == pytest.approx(s.step_length_leg * leg_m) for s in g.steps)


def test_steps_survive_leg_label_swaps(settings):
    series, truth = _walk(direction="backward", speed_leg_s=1.0, cadence_spm=100.0)
    reference = _gait(series, settings)
    sep = np.abs(series.points[:, L.LEFT_ANKLE, 0] - series.points[:, L.RIGHT_ANKLE, 0])
    start = int(np.flatnonzero(sep > 0.3 * truth.leg_px)[5])
    swapped = _gait(swap_legs(series, start, len(series)), settings)
    assert [s.time_s for s in swapped.steps] == [s.time_s for s in reference.steps]
    assert [s.side for s in swapped.steps] == [s.side for s in reference.steps]
    assert swapped.cadence_spm == pytest.approx(reference.cadence_spm)


def test_reversed_forward_walk_is_a_backward_walk(settings):
    series, truth = _walk(direction="forward", yaw_deg=90.0, speed_leg_s=1.0, cadence_spm=100.0)
    g = _gait(reverse_time(series), settings)
    assert g.cadence_spm == pytest.approx(truth.cadence_spm, rel=0.03)
    assert g.step_length_leg == pytest.approx(truth.step_length_leg, rel=0.04)
    assert {e.kind for e in g.events} == {"toe_contact", "heel_off"}


@pytest.mark.parametrize(
    "walk",
    [dict(direction="standing"), dict(direction="backward", yaw_deg=0.0),
     dict(direction="backward", yaw_deg=180.0)],
    ids=["standing", "front", "back"],
)
def test_no_steps_when_standing_or_not_in_side_view(settings, walk):
    series, _ = _walk(**walk)
    g = _gait(series, settings)
    assert g.steps == [] and g.events == []
    assert g.cadence_spm is None and g.step_length_leg is None
    assert g.step_length_symmetry is None


def test_cadence_needs_three_steps(settings):
    series, truth = _walk(direction="backward", duration_s=1.3, cadence_spm=100.0)
    g = _gait(series, settings)
    assert 1 <= len(g.steps) <= 2
    assert g.cadence_spm is None
    assert g.step_length_leg == pytest.approx(truth.step_length_leg, rel=0.05)


def test_asymmetric_steps_are_measured(settings):
    series, truth = _walk(direction="backward", speed_leg_s=1.0, cadence_spm=100.0)
    pts = series.points.copy()
    pts[:, [L.LEFT_ANKLE, L.LEFT_HEEL, L.LEFT_FOOT_INDEX], 0] -= 0.1 * truth.leg_px
    g = _gait(PoseSeries(series.time_s, pts, series.width, series.height), settings)
    assert g.step_length_symmetry == pytest.approx(0.5 / 0.7, rel=0.05)


@pytest.mark.parametrize("n_frames", [1, 2, 3, 10])
def test_degenerate_series(settings, n_frames):
    empty = PoseSeries(np.arange(n_frames) / 30.0,
                       np.full((n_frames, NUM_LANDMARKS, 4), np.nan), 640, 480)
    g = _gait(empty, settings)
    assert g.steps == [] and g.cadence_spm is None and g.leg_length_px is None
    walk, _ = make_walk(duration_s=n_frames / 30.0)
    g = _gait(walk, settings)
    assert g.cadence_spm is None
    assert g.leg_length_px == pytest.approx(300.0, rel=0.01)
