"""Gait analysis on synthetic walkers: steps, cadence, step length, events, symmetry.

Which foot stepped is also checked on real motion capture seen by a virtual side camera (with
the leg labels swapped at random moments) and on real footage.
"""

from __future__ import annotations

import numpy as np
import pytest

from posecoach.coach.gait import GaitSummary, Step, analyze_gait
from posecoach.coach.metrics import compute_metrics
from posecoach.coach.smoothing import smooth_offline
from posecoach.outputs.summary import SessionSummary, StepRecord
from posecoach.outputs.words import summary_in_words
from posecoach.pose.landmarks import LEG_PAIRS, NUM_LANDMARKS, Landmark, PoseSeries
from posecoach.settings import Settings, load_settings
from tests.conftest import FIXTURES, MOCAP, VIDEO, needs_shared_data, shared_names
from tests.mocap.projection import CameraSide, load_trial, project_trial, walk_axis
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
    """Metres come from the height given and the walker's own leg-to-height proportion."""
    settings = load_settings(height_cm=175.0)
    series, truth = _walk(direction="backward", speed_leg_s=0.8, cadence_spm=96.0)
    g = _gait(series, settings)
    scale = g.body_scale
    assert scale is not None and scale.leg_m is not None and scale.leg_per_height is not None
    assert scale.sources == ("height given", "standing height in the picture",
                             "leg segments in the picture")
    assert scale.leg_m == pytest.approx(scale.leg_per_height * 1.75)
    assert scale.rel_uncertainty is not None and 0.005 < scale.rel_uncertainty < 0.05
    # a walker at one distance from the camera: one scale for every frame
    assert g.step_length_m == pytest.approx(g.step_length_leg * scale.leg_m, rel=0.02)
    assert g.speed_m_s == pytest.approx(truth.speed_leg_s * scale.leg_m, rel=0.04)
    assert all(s.step_length_m == pytest.approx(s.step_length_leg * scale.leg_m, rel=0.02)
               for s in g.steps)


def test_without_the_head_in_view_the_typical_proportion_stands_in():
    settings = load_settings(height_cm=175.0)
    series, _ = _walk(direction="backward", speed_leg_s=0.8, cadence_spm=96.0)
    points = series.points.copy()
    points[:, [L.NOSE, L.LEFT_EAR, L.RIGHT_EAR], :] = np.nan
    g = _gait(PoseSeries(series.time_s, points, series.width, series.height), settings)
    scale = g.body_scale
    assert scale is not None and scale.sources == ("height given",
                                                   "typical leg-to-height proportion")
    assert scale.leg_m == pytest.approx(settings.metrics.leg_length_ratio * 1.75)
    assert scale.rel_uncertainty is not None and scale.rel_uncertainty > 0.05
    assert g.step_length_m == pytest.approx(g.step_length_leg * scale.leg_m, rel=1e-6)


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


def _chains(steps: list[Step]) -> list[list[Step]]:
    """The runs of consecutive steps (each with a step time, so no pause between them)."""
    chains: list[list[Step]] = []
    for step in steps:
        if step.step_time_s is None or not chains:
            chains.append([step])
        else:
            chains[-1].append(step)
    return chains


def _alternate(steps: list[Step]) -> bool:
    return all(chain[k].side != chain[k + 1].side
               for chain in _chains(steps) for k in range(len(chain) - 1))


def test_whole_clip_mislabelled_keeps_the_true_sides(settings):
    """The pose model calling the near leg the far one all along: depth and visibility, with
    the facing, still tell which foot landed."""
    series, truth = _walk(direction="backward", speed_leg_s=1.0, cadence_spm=100.0)
    g = _gait(swap_legs(series, 0, len(series)), settings)
    times = np.array([s.time_s for s in g.steps])
    matched = _match(times, truth.step_times_s, tol_s=0.1)
    assert (matched >= 0).sum() >= 8
    assert all(g.steps[j].side == side
               for j, side in zip(matched, truth.step_sides, strict=True) if j >= 0)


def test_swapped_label_at_one_step_keeps_sides_alternating(settings):
    """The pose model giving one step's legs each other's labels (depth and visibility with
    them), unrepaired as on the real sample clip, does not give two steps in a row to the same
    foot."""
    series, truth = _walk(direction="backward", speed_leg_s=1.0, cadence_spm=100.0)
    reference = analyze_gait(series, compute_metrics(series, settings), settings)
    middle = reference.steps[len(reference.steps) // 2].frame
    swapped = swap_legs(series, middle - 2, middle + 3)
    g = analyze_gait(swapped, compute_metrics(swapped, settings), settings)
    assert [s.side for s in g.steps] == [s.side for s in reference.steps]
    assert _alternate(g.steps)


SWAPS_PER_S = 2.0
SWAP_FRAMES = 3


def _swap_positions(series: PoseSeries, swaps: int, seed: int) -> PoseSeries:
    """The leg labels' image positions swapped for `SWAP_FRAMES` frames at `swaps` random
    moments, depth and visibility staying with the label (as the pose model swaps)."""
    rng = np.random.default_rng(seed)
    points = series.points.copy()
    starts = np.arange(0, len(points) - SWAP_FRAMES, SWAP_FRAMES + 1)
    for start in rng.choice(starts, size=min(swaps, starts.size), replace=False):
        frames = slice(int(start), int(start) + SWAP_FRAMES)
        for a, b in LEG_PAIRS:
            points[frames, a, :2], points[frames, b, :2] = (
                points[frames, b, :2].copy(), points[frames, a, :2].copy())
    return PoseSeries(series.time_s, points, series.width, series.height)


@needs_shared_data
@pytest.mark.parametrize("swap", ["whole", "position"])
@pytest.mark.parametrize("camera", ["left", "right"])
@pytest.mark.parametrize("name", shared_names(MOCAP, "*.bvh"))
def test_mocap_step_sides_with_label_swaps(settings, name: str, camera: CameraSide, swap: str):
    """Real motion capture, side view, leg labels swapped about twice a second: "whole" swaps
    every channel of the leg landmarks, "position" only x and y. The truth is the foot ahead
    along the pelvis's travel in 3D at each found step."""
    trial = load_trial(MOCAP / name)
    swaps = max(1, round(SWAPS_PER_S * len(trial) / trial.fps))
    series, _ = project_trial(trial, camera, noise_px=2.0, far_visibility=0.6,
                              swaps=swaps if swap == "whole" else 0, seed=11)
    if swap == "position":
        series = _swap_positions(series, swaps, seed=11)
    g = _gait(series, settings)
    axis = walk_axis(trial)
    pelvis = (trial.joint("UpperLeg_L") + trial.joint("UpperLeg_R")) / 2
    travel = np.sign(np.median(np.gradient(pelvis, axis=0) @ axis))
    ahead_left = (trial.joint("Foot_L") - trial.joint("Foot_R")) @ axis * travel > 0
    truth = ["left" if ahead_left[s.frame] else "right" for s in g.steps]
    found = [s.side for s in g.steps]
    assert len(found) >= 2
    assert _alternate(g.steps), found
    right = sum(a == b for a, b in zip(found, truth, strict=True))
    assert right >= 0.9 * len(found), f"sides {found}, truth {truth}"
    assert g.step_length_symmetry is not None


@pytest.mark.video
@pytest.mark.parametrize("clip", [FIXTURES / "backward_walk_side_1080p60.mp4",
                                  VIDEO / "side_walk_1080p60.mp4",
                                  VIDEO / "side_walk_two_people_vp9.mp4"])
def test_real_clip_steps_on_both_sides(analysed, clip):
    """The pose model labels the same leg as the landing one at every step of the first two
    clips; walking alternates the feet, so both get steps and symmetry is measured."""
    gait = analysed(clip).gait
    sides = [s.side for s in gait.steps]
    assert {"left", "right"} <= set(sides), sides
    assert _alternate(gait.steps), sides
    assert gait.step_length_symmetry is not None and gait.step_length_symmetry > 0.8
    assert gait.step_time_symmetry is not None


def _summary_with(sides: list[str], length_symmetry: float | None,
                  time_symmetry: float | None) -> SessionSummary:
    steps = tuple(StepRecord(time_s=0.6 * k, side=side, step_length_leg=0.6,
                             step_time_s=0.6 if k else None) for k, side in enumerate(sides))
    return SessionSummary(frames=100, frames_with_person=100, view="side", steps=len(sides),
                          step_list=steps, step_length_symmetry=length_symmetry,
                          step_time_symmetry=time_symmetry)


@pytest.mark.parametrize(
    ("sides", "length_symmetry", "time_symmetry", "expected"),
    [
        (["left"], None, None, "only one step was seen"),
        (["right", "right"], None, None, "every step seen was taken with the right foot"),
        (["left", "right"], 0.97, None, "step timing was not compared"),
        (["left", "right", "left"], 0.97, 0.95, None),
    ],
)
def test_words_say_why_symmetry_is_missing(sides, length_symmetry, time_symmetry, expected):
    text = " ".join(summary_in_words(_summary_with(sides, length_symmetry, time_symmetry)))
    if expected is None:
        assert "not measured" not in text and "not compared" not in text
    else:
        assert expected in text
