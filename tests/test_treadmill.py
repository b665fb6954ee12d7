"""Treadmill and in-place walking: direction, setting, gait on a belt, handrails.

Motion capture from `../shared/data/mocap` is projected to a side view twice: as recorded
(overground) and with the pelvis held in place along the walk as a belt holds it
(`tests/mocap/projection.py`, `in_place=True`), from both sides, with the same noise and
visibility as tests/test_mocap.py. The truth is what a side view can see of the 3D joints: the
ankles' separation along the walk, its peaks giving the cadence and the step length.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d
from scipy.signal import find_peaks

from posecoach.coach.gait import GaitSummary, analyze_gait
from posecoach.coach.live import LiveCoach
from posecoach.coach.metrics import MetricsSeries, compute_metrics
from posecoach.coach.setting import SettingTracker
from posecoach.coach.smoothing import smooth_offline
from posecoach.media.reader import VideoReader
from posecoach.media.writer import VideoWriter
from posecoach.outputs.landmarks_csv import write_landmarks_csv
from posecoach.outputs.summary import SessionSummary
from posecoach.outputs.words import summary_in_words
from posecoach.pipeline.offline import analyze_series
from posecoach.pose.landmarks import Landmark as L
from posecoach.pose.landmarks import PoseSeries
from posecoach.server.progression import suggest_next
from posecoach.server.storage import SessionRecord, StoredCheckIn
from posecoach.settings import Settings, load_settings
from tests.conftest import FIXTURES, MOCAP, VIDEO, needs_shared_data, shared_names
from tests.mocap.projection import CameraSide, load_trial, project_trial, walk_axis
from tests.server.conftest import finished_session

pytestmark = needs_shared_data

TRIALS = shared_names(MOCAP, "*.bvh")
# walk-back_normal is one second long: too short for a cadence or a setting
LONG_TRIALS = [t for t in TRIALS if "walk-back_normal" not in t]
SIDES: tuple[CameraSide, ...] = ("left", "right")

CADENCE_REL_TOL = 0.05
STEP_LENGTH_REL_TOL = 0.10


@dataclass(frozen=True)
class Truth:
    direction: str
    cadence_spm: float
    step_length_leg: float


@functools.cache
def truth(name: str) -> Truth:
    """The side-view truth of a trial from its 3D joints (the same for both settings)."""
    trial = load_trial(MOCAP / name)
    along = np.abs((trial.joint("Foot_L") - trial.joint("Foot_R")) @ walk_axis(trial))
    peaks, _ = find_peaks(along, prominence=0.05)
    cadence = (peaks.size - 1) / ((peaks[-1] - peaks[0]) / trial.fps) * 60.0
    leg = float(
        np.linalg.norm(trial.joint("UpperLeg_L") - trial.joint("LowerLeg_L"), axis=-1).mean()
        + np.linalg.norm(trial.joint("LowerLeg_L") - trial.joint("Foot_L"), axis=-1).mean()
    )
    return Truth("backward" if "walk-back_" in name else "forward", float(cadence),
                 float(np.median(along[peaks])) / leg)


@functools.cache
def projected(name: str, side: CameraSide, in_place: bool) -> PoseSeries:
    series, _ = project_trial(load_trial(MOCAP / name), side, noise_px=2.0,
                              near_visibility=0.95, far_visibility=0.6, seed=7,
                              in_place=in_place)
    return series


@functools.cache
def measured(name: str, side: CameraSide, in_place: bool) -> tuple[MetricsSeries, GaitSummary]:
    settings = load_settings()
    smoothed = smooth_offline(projected(name, side, in_place), settings)
    metrics = compute_metrics(smoothed, settings)
    return metrics, analyze_gait(smoothed, metrics, settings)


def _majority_direction(metrics: MetricsSeries) -> str:
    directions = metrics.direction.tolist()
    back, fwd = directions.count("backward"), directions.count("forward")
    if back + fwd == 0:
        return "unknown"
    return "backward" if back > fwd else "forward"


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("name", LONG_TRIALS)
def test_pelvis_held_in_place_reads_treadmill_with_the_walk_measured(name, side):
    want = truth(name)
    metrics, gait = measured(name, side, True)
    assert _majority_direction(metrics) == want.direction
    assert gait.setting == "treadmill"
    assert gait.cadence_spm == pytest.approx(want.cadence_spm, rel=CADENCE_REL_TOL)
    assert gait.step_length_leg == pytest.approx(want.step_length_leg, rel=STEP_LENGTH_REL_TOL)
    # the belt's speed is one step length per step
    assert gait.speed_leg_s == pytest.approx(gait.step_length_leg * gait.cadence_spm / 60.0)
    contact = "toe_contact" if want.direction == "backward" else "heel_contact"
    assert sum(e.kind == contact for e in gait.events) >= 4
    assert gait.step_length_symmetry is not None and gait.step_time_symmetry is not None
    assert gait.handrail_share is not None and gait.handrail_share < 0.1, "the arms swing"


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("name", TRIALS)
def test_the_same_trials_overground_read_overground(name, side):
    metrics, gait = measured(name, side, False)
    assert _majority_direction(metrics) == truth(name).direction
    assert gait.setting == "overground"
    assert not metrics.in_place.any()
    assert gait.handrail_share is None


def _on_rails(series: PoseSeries) -> PoseSeries:
    """The walker's hands held still on rails: wrists and fingers fixed in the image."""
    points = series.points.copy()
    for hand in ((L.LEFT_WRIST, L.LEFT_PINKY, L.LEFT_INDEX, L.LEFT_THUMB),
                 (L.RIGHT_WRIST, L.RIGHT_PINKY, L.RIGHT_INDEX, L.RIGHT_THUMB)):
        idx = list(hand)
        points[:, idx, :2] = np.median(points[:, idx, :2], axis=0)
    return PoseSeries(time_s=series.time_s, points=points, width=series.width,
                      height=series.height)


_ARM = [L.LEFT_ELBOW, L.RIGHT_ELBOW, L.LEFT_WRIST, L.RIGHT_WRIST, L.LEFT_PINKY, L.RIGHT_PINKY,
        L.LEFT_INDEX, L.RIGHT_INDEX, L.LEFT_THUMB, L.RIGHT_THUMB]
LITTLE_SWING = 0.15


def _little_arm_swing(series: PoseSeries) -> PoseSeries:
    """The same walk with arms that barely swing (an elderly-style walk): elbows, wrists and
    fingers keep their place relative to the shoulders with 15% of their swing left, so the
    hands move with the trunk only."""
    points = series.points.copy()
    shoulder = (points[:, L.LEFT_SHOULDER, :2] + points[:, L.RIGHT_SHOULDER, :2]) / 2
    offset = points[:, _ARM, :2] - shoulder[:, None]
    typical = np.median(offset, axis=0)
    points[:, _ARM, :2] = shoulder[:, None] + typical + LITTLE_SWING * (offset - typical)
    return PoseSeries(time_s=series.time_s, points=points, width=series.width,
                      height=series.height)


HANDS = {"free": lambda s: s, "little_arm_swing": _little_arm_swing, "on_rails": _on_rails}


@pytest.mark.parametrize("hands", list(HANDS))
@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("name", LONG_TRIALS)
def test_handrails_by_where_the_hands_are(name, side, hands):
    """Rails read >= 0.8 and free walking <= 0.2 on every trial on a belt, arms that barely
    swing (hands nearly still in the picture, moving with the trunk) included."""
    settings = load_settings()
    smoothed = smooth_offline(HANDS[hands](projected(name, side, True)), settings)
    gait = analyze_gait(smoothed, compute_metrics(smoothed, settings), settings)
    assert gait.setting == "treadmill"
    assert gait.handrail_share is not None
    if hands == "on_rails":
        assert gait.handrail_share >= 0.8
    else:
        assert gait.handrail_share <= 0.2


def test_hands_on_the_rails_are_seen_and_trunk_still_judged():
    name = LONG_TRIALS[0]
    settings = load_settings()
    result = analyze_series(_on_rails(projected(name, "left", True)), settings)
    assert result.summary.setting == "treadmill"
    assert result.summary.handrail_share is not None and result.summary.handrail_share > 0.8
    assert result.summary.trunk_lean_deg_median is not None
    assert result.summary.upright_share is not None
    assert result.summary.steps and result.summary.steps >= 6


def test_a_stated_setting_wins_over_the_measured_one():
    name = LONG_TRIALS[0]
    stated = load_settings(overrides={"walk_setting": {"setting": "overground"}})
    smoothed = smooth_offline(projected(name, "left", True), stated)
    metrics = compute_metrics(smoothed, stated)
    assert analyze_gait(smoothed, metrics, stated).setting == "overground"
    stated = load_settings(overrides={"walk_setting": {"setting": "treadmill"}})
    smoothed = smooth_offline(projected(name, "left", False), stated)
    metrics = compute_metrics(smoothed, stated)
    gait = analyze_gait(smoothed, metrics, stated)
    assert gait.setting == "treadmill"
    assert _majority_direction(metrics) == truth(name).direction


def _live(series: PoseSeries, settings: Settings) -> list[tuple[float, str]]:
    coach = LiveCoach(settings, estimator=object())  # type: ignore[arg-type]
    out = []
    for i in range(len(series)):
        result = coach.process_people([series.points[i]], float(series.time_s[i]),
                                      series.width, series.height)
        out.append((result.frame.time_s, result.setting))
    return out


@pytest.mark.parametrize("name", [t for t in LONG_TRIALS if "walk-back_sad" in t])
def test_live_setting_is_measured_within_a_few_seconds(name):
    settings = load_settings()
    on_belt = _live(projected(name, "right", True), settings)
    first = next(t for t, setting in on_belt if setting == "treadmill")
    assert first < 4.0
    assert all(setting == "treadmill" for t, setting in on_belt if t > first + 1.0)
    overground = _live(projected(name, "right", False), settings)
    assert all(setting == "overground" for _, setting in overground)


def _standing_sway(seconds: float = 8.0, fps: float = 30.0) -> PoseSeries:
    """A person standing still who sways and shifts their weight from foot to foot."""
    base = projected(LONG_TRIALS[0], "left", False)
    # a frame with the feet close together, taken as the standing pose
    gap = np.abs(base.points[:, L.LEFT_ANKLE, 0] - base.points[:, L.RIGHT_ANKLE, 0])
    pose = base.points[int(np.argmin(gap))].copy()
    n = int(seconds * fps)
    t = np.arange(n) / fps
    points = np.repeat(pose[None], n, axis=0)
    hip_y = (pose[L.LEFT_HIP, 1] + pose[L.RIGHT_HIP, 1]) / 2
    leg_px = abs(pose[L.LEFT_ANKLE, 1] - hip_y)
    height_above_ankle = np.clip((pose[L.LEFT_ANKLE, 1] - pose[:, 1]) / leg_px, 0.0, None)
    sway = 0.12 * leg_px * np.sin(2 * np.pi * 0.4 * t)   # the body rocks over still feet
    shift = 0.05 * leg_px * np.sin(2 * np.pi * 0.25 * t)
    points[:, :, 0] += (sway + shift)[:, None] * np.minimum(height_above_ankle, 1.0)[None, :]
    rng = np.random.default_rng(3)
    points[:, :, :2] += rng.normal(0.0, 1.5, size=points[:, :, :2].shape)
    return PoseSeries(time_s=t, points=points, width=base.width, height=base.height)


def test_a_standing_person_who_sways_is_not_walking():
    settings = load_settings()
    series = _standing_sway()
    smoothed = smooth_offline(series, settings)
    metrics = compute_metrics(smoothed, settings)
    gait = analyze_gait(smoothed, metrics, settings)
    assert gait.steps == []
    assert gait.setting == "overground"
    assert not metrics.in_place.any()
    assert all(setting == "overground" for _, setting in _live(series, settings))


def test_a_walker_cut_off_at_the_knees_gets_the_in_frame_cue_and_no_steps():
    series = projected(LONG_TRIALS[0], "left", True)
    points = series.points.copy()
    knee_y = np.nanmin(points[:, [L.LEFT_KNEE, L.RIGHT_KNEE], 1])
    # the frame ends just above the knees: nothing below is seen
    below = points[:, :, 1] > knee_y - 5
    points[below] = np.nan
    cut = PoseSeries(time_s=series.time_s, points=points, width=series.width,
                     height=int(knee_y - 5))
    result = analyze_series(cut, load_settings())
    assert not result.gait.steps
    assert not result.summary.steps
    assert "in_frame" in {cue.rule for cue in result.summary.cues}


def test_setting_tracker_follows_the_last_seconds_only():
    settings = load_settings()
    name = LONG_TRIALS[0]
    metrics, _ = measured(name, "left", True)
    tracker = SettingTracker(settings)
    settings_seen = [tracker.update(m) for m in metrics.rows()]
    assert settings_seen[0] == "overground"
    assert settings_seen[-1] == "treadmill"


def _session(day: int, pain: str = "none", score: int = 0, **summary: object
             ) -> SessionRecord:
    good = {"upright_share": 0.9, "head_up_share": 0.85, "cues": [], "duration_s": 600.0}
    checkin = StoredCheckIn(pain=pain, score=score, created_at=f"2025-01-{day:02d}T11:00:00+00:00")
    return finished_session(day, SessionSummary.from_json({**good, **summary}), checkin)


def test_progression_suggests_letting_go_of_the_rails_after_good_sessions():
    settings = load_settings()
    on_rails = {"setting": "treadmill", "handrail_share": 0.9}
    advice = suggest_next([_session(d, **on_rails) for d in (1, 2, 3)], settings)
    assert advice.action == "progress"
    assert "letting go" in advice.message
    # not before several sessions, nor when one of them hurt or was let go already
    assert "letting go" not in suggest_next([_session(d, **on_rails) for d in (1, 2)],
                                            settings).message
    free = {"setting": "treadmill", "handrail_share": 0.0}
    mixed = [_session(1, **on_rails), _session(2, **free), _session(3, **on_rails)]
    assert "letting go" not in suggest_next(mixed, settings).message
    hurt = [_session(1, **on_rails), _session(2, **on_rails),
            _session(3, "pain", 5, **on_rails)]
    assert suggest_next(hurt, settings).action == "ease_off"


def test_words_say_the_setting_and_that_holding_on_is_fine():
    on_belt = SessionSummary.from_json({
        "frames": 300, "frames_with_person": 300, "duration_s": 10.0, "direction": "backward",
        "backward_time_s": 9.0, "setting": "treadmill", "handrail_share": 0.7,
        "speed_m_s": 0.45, "view": "side", "steps": 12, "cadence_spm": 100.0,
        "step_length_leg": 0.5,
    })
    text = " ".join(summary_in_words(on_belt))
    assert "treadmill" in text and "Belt speed about 0.45 m/s" in text
    assert "70%" in text and "fine" in text
    assert on_belt.to_json()["setting"] == "treadmill"
    assert on_belt.to_json()["handrail_share"] == 0.7
    overground = SessionSummary.from_json({**on_belt.to_json(), "setting": "overground",
                                           "handrail_share": None})
    text = " ".join(summary_in_words(overground))
    assert "Setting: overground" in text and "handrails" not in text


# ---------------------------------------------------------------------------- real footage

CROP_WIDTH_PX = 900


def _follow_hips(src: Path, dst: Path, hip_x_px: np.ndarray, fps: float) -> None:
    """Write `src` cropped to a window that follows the walker's hips, so they stay centred
    (black where the window leaves the picture): the walk as seen on a treadmill."""
    half = CROP_WIDTH_PX // 2
    with VideoReader(src) as reader:
        writer = None
        for frame in reader:
            image = frame.image
            height, width = image.shape[:2]
            if writer is None:
                writer = VideoWriter(dst, fps, CROP_WIDTH_PX, height, crf=18)
            centre = int(round(hip_x_px[min(frame.index, len(hip_x_px) - 1)]))
            padded = np.zeros((height, width + 2 * half, 3), dtype=np.uint8)
            padded[:, half:half + width] = image
            writer.write(np.ascontiguousarray(padded[:, centre:centre + 2 * half]), frame.time_s)
        assert writer is not None
        writer.close()


@pytest.fixture(scope="module")
def in_place_clip(analysed, tmp_path_factory) -> tuple[Path, str]:
    """side_walk_1080p60.mp4 cropped to follow the walker's hips, and the clip's direction."""
    source = analysed(VIDEO / "side_walk_1080p60.mp4")
    points = source.series.points
    hip_x = np.nanmean(points[:, [L.LEFT_HIP, L.RIGHT_HIP], 0], axis=1)
    ok = np.isfinite(hip_x)
    hip_x = np.interp(np.arange(len(hip_x)), np.flatnonzero(ok), hip_x[ok])
    # the belt holds the average position, not the sway within a stride
    hip_x = uniform_filter1d(hip_x, max(1, int(round(0.5 * source.series.fps))), mode="nearest")
    dst = tmp_path_factory.mktemp("in_place") / "in_place_side_walk.mp4"
    _follow_hips(VIDEO / "side_walk_1080p60.mp4", dst, hip_x, source.series.fps)
    assert source.summary.direction is not None
    return dst, source.summary.direction


@pytest.mark.video
@pytest.mark.parametrize("clip", [VIDEO / "side_walk_1080p60.mp4",
                                  VIDEO / "side_walk_two_people_vp9.mp4",
                                  FIXTURES / "backward_walk_side_1080p60.mp4"])
def test_real_side_clips_read_overground(analysed, clip):
    summary = analysed(clip).summary
    assert summary.setting == "overground"
    assert summary.handrail_share is None


@pytest.mark.video
def test_a_clip_following_the_hips_reads_treadmill_with_the_same_direction(
        analysed, in_place_clip):
    clip, direction = in_place_clip
    summary = analysed(clip).summary
    assert summary.setting == "treadmill"
    assert summary.direction == direction
    assert summary.steps and summary.steps >= 2


@pytest.mark.video
def test_a_clip_and_its_time_reversed_twin_are_the_same_walk(analysed):
    ahead = analysed(VIDEO / "side_walk_1080p60.mp4").summary
    back = analysed(FIXTURES / "backward_walk_side_1080p60.mp4").summary
    assert (ahead.direction, back.direction) == ("forward", "backward")
    assert ahead.steps == back.steps
    assert ahead.cadence_spm is not None and back.cadence_spm is not None
    assert ahead.cadence_spm == pytest.approx(back.cadence_spm, rel=0.03)


def _posecoach(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "posecoach", *args], capture_output=True,
                          text=True, timeout=600)


def test_the_command_line_takes_the_setting(tmp_path):
    csv_path = tmp_path / "belt.csv"
    write_landmarks_csv(csv_path, projected(LONG_TRIALS[0], "left", True))
    for stated, want in (("auto", "treadmill"), ("overground", "overground")):
        proc = _posecoach("analyze", str(csv_path), "--out", str(tmp_path / stated),
                          "--setting", stated)
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(next((tmp_path / stated).rglob("summary.json")).read_text())
        assert summary["setting"] == want
    proc = _posecoach("analyze", str(csv_path), "--out", str(tmp_path / "bad"),
                      "--setting", "sideways")
    assert proc.returncode == 2
    assert "treadmill" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr + proc.stdout
