"""Steps that read the same whichever way a clip plays, and cadence against a count by eye.

A clip played backwards is the same walk backwards: the same steps at the same cadence. Checked
on the shared real side-view clips (their recorded MediaPipe landmarks, every frame's people,
played forwards and backwards, the walker chosen among them each way as the analysis of a file
chooses: with hindsight over the whole clip, so a second person in the picture cannot make the
two directions follow different people), on one real reversed clip end to end (the fixture made by
tools/reverse_clip.py, through the pose model), and on motion capture seen by a side camera
with the walker entering and leaving the picture, at low resolution and with the feet out of
view. The counts by eye are fixtures/cadence_by_eye.toml (how they were counted is written
there).
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from posecoach.coach.gait import GaitSummary
from posecoach.pipeline.offline import AnalysisResult, analyze_series
from posecoach.pose.landmarks import PoseSeries
from posecoach.pose.tracker import WalkerTracker, follow_walker_offline
from posecoach.settings import load_settings
from tests.conftest import DATA, FIXTURES, MOCAP, VIDEO, needs_shared_data, shared_names
from tests.mocap.projection import CameraSide, load_trial, project_trial
from tests.pose.reference import REFERENCE_DIR, ClipLandmarks

CADENCE_REVERSAL_REL = 0.03
CADENCE_EYE_REL = 0.05


@dataclass(frozen=True)
class EyeCount:
    file: str
    fps: float
    widest_frames: tuple[int, ...]

    @property
    def cadence_spm(self) -> float:
        return 60.0 * self.fps / float(np.median(np.diff(self.widest_frames)))


def _eye_counts() -> dict[str, EyeCount]:
    data = tomllib.loads((FIXTURES / "cadence_by_eye.toml").read_text())
    return {Path(c["file"]).stem: EyeCount(c["file"], float(c["fps"]),
                                           tuple(c["widest_frames"])) for c in data["clip"]}


EYE = _eye_counts()
CACHED = ["side_walk_1080p60", "backward_walk_side_1080p60", "side_walk_two_people_vp9"]


def reversed_series(series: PoseSeries) -> PoseSeries:
    """The walk played backwards: frames in reverse order, times mirrored from the end."""
    t = series.time_s
    return PoseSeries(time_s=t[-1] - t[::-1], points=series.points[::-1].copy(),
                      width=series.width, height=series.height,
                      frame_index=np.arange(len(series)))


def chosen_walker(name: str, backwards: bool) -> PoseSeries:
    """The walker of a cached clip played forwards or backwards, chosen among every frame's
    people with hindsight as the analysis of a file chooses."""
    clip = ClipLandmarks.load(REFERENCE_DIR / f"{name}.npz")
    order = np.arange(clip.frames)[::-1] if backwards else np.arange(clip.frames)
    t = clip.time_s
    time_s = t[-1] - t[::-1] if backwards else t
    points = follow_walker_offline([clip.people(int(i)) for i in order], time_s, clip.width,
                                   clip.height, load_settings().tracking.lost_after_s)
    return PoseSeries(points=points, time_s=time_s, width=clip.width, height=clip.height,
                      frame_index=np.arange(clip.frames))


@functools.cache
def analysed_both_ways(name: str) -> tuple[AnalysisResult, AnalysisResult]:
    settings = load_settings()
    return (analyze_series(chosen_walker(name, False), settings, source=name),
            analyze_series(chosen_walker(name, True), settings, source=f"{name} reversed"))


def _same_walk(ahead: GaitSummary, back: GaitSummary) -> None:
    assert len(ahead.steps) == len(back.steps) >= 3
    assert ahead.cadence_spm is not None and back.cadence_spm is not None
    assert back.cadence_spm == pytest.approx(ahead.cadence_spm, rel=CADENCE_REVERSAL_REL)


@needs_shared_data
@pytest.mark.parametrize("name", CACHED)
def test_a_real_clip_and_its_reversal_give_the_same_steps(name: str):
    ahead, back = analysed_both_ways(name)
    _same_walk(ahead.gait, back.gait)
    directions = {ahead.summary.direction, back.summary.direction}
    assert directions in ({"forward", "backward"}, {"unknown"}), directions


@needs_shared_data
@pytest.mark.parametrize("name", CACHED)
def test_the_walker_chosen_is_the_same_person_whichever_way_the_clip_plays(name: str):
    """Frame n forwards and frame N - 1 - n backwards hold the same person; on the clip with a
    second person (a man standing on a box before the walker comes into view) the walker is
    the woman walking in every frame she is seen, both ways."""
    ahead, back = chosen_walker(name, False), chosen_walker(name, True)
    np.testing.assert_array_equal(ahead.points, back.points[::-1])
    live = WalkerTracker(load_settings().tracking.lost_after_s)
    clip = ClipLandmarks.load(REFERENCE_DIR / f"{name}.npz")
    followed = np.array([live.update(clip.people(i), float(t), clip.width, clip.height)
                         for i, t in enumerate(clip.time_s)])
    seen = np.isfinite(ahead.points[:, 23, 0])
    assert seen.mean() >= np.isfinite(followed[:, 23, 0]).mean() - 0.01


@needs_shared_data
@pytest.mark.parametrize("name", CACHED)
def test_cadence_is_within_five_percent_of_the_count_by_eye_both_ways(name: str):
    eye = EYE[name].cadence_spm
    for result in analysed_both_ways(name):
        assert result.gait.cadence_spm == pytest.approx(eye, rel=CADENCE_EYE_REL)


@pytest.mark.video
def test_a_real_reversed_clip_end_to_end_matches_its_original_and_the_eye(analysed):
    """Through the pose model: the fixture is side_walk_1080p60.mp4 reversed frame by frame."""
    ahead = analysed(VIDEO / "side_walk_1080p60.mp4")
    back = analysed(FIXTURES / "backward_walk_side_1080p60.mp4")
    assert (ahead.summary.direction, back.summary.direction) == ("forward", "backward")
    _same_walk(ahead.gait, back.gait)
    for name, result in (("side_walk_1080p60", ahead), ("backward_walk_side_1080p60", back)):
        assert result.gait.cadence_spm == pytest.approx(EYE[name].cadence_spm,
                                                        rel=CADENCE_EYE_REL)


def test_the_counts_by_eye_are_one_clip_reversed():
    """The two records of the same walk agree: frame n forwards is frame N - 1 - n reversed."""
    ahead, back = EYE["side_walk_1080p60"], EYE["backward_walk_side_1080p60"]
    assert sorted(134 - f for f in ahead.widest_frames) == sorted(back.widest_frames)
    assert (DATA / EYE["side_walk_two_people_vp9"].file).name == "side_walk_two_people_vp9.mp4"


# ------------------------------------------------------------------ motion capture, hard views

def _window(series: PoseSeries, lo_frac: float = 0.3, hi_frac: float = 0.7) -> PoseSeries:
    """Only the middle of the picture seen: the walker enters and leaves the frame."""
    points = series.points.copy()
    lo, hi = lo_frac * series.width, hi_frac * series.width
    points[(points[:, :, 0] < lo) | (points[:, :, 0] > hi)] = np.nan
    points[:, :, 0] -= lo
    return PoseSeries(series.time_s, points, int((hi_frac - lo_frac) * series.width),
                      series.height)


def _low_resolution(series: PoseSeries) -> PoseSeries:
    """The picture at 640 pixels wide (the issue's 640x352 clip), with 1.5 px of noise."""
    scale = 640.0 / series.width
    points = series.points.copy()
    points[:, :, :3] *= scale
    points[:, :, :2] += np.random.default_rng(1).normal(0.0, 1.5, points[:, :, :2].shape)
    return PoseSeries(series.time_s, points, 640, int(round(series.height * scale)))


def _feet_cut(series: PoseSeries) -> PoseSeries:
    """The picture ends above the planted feet: the ankles are seen only when lifted."""
    points = series.points.copy()
    bottom = float(np.nanpercentile(points[:, 27, 1], 30))
    points[points[:, :, 1] > bottom] = np.nan
    return PoseSeries(series.time_s, points, series.width, int(bottom))


VIEWS = {"whole": lambda s: s, "window": _window, "low_resolution": _low_resolution}
TRIALS = [t for t in shared_names(MOCAP, "*.bvh") if "walk-back_normal" not in t]


@functools.cache
def _mocap(name: str, side: CameraSide, in_place: bool = False) -> PoseSeries:
    series, _ = project_trial(load_trial(MOCAP / name), side, noise_px=2.0,
                              far_visibility=0.6, seed=7, in_place=in_place)
    return series


@needs_shared_data
@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("name", TRIALS)
def test_mocap_walk_and_its_reversal_give_the_same_steps(name: str, side: CameraSide,
                                                          view: str):
    series = VIEWS[view](_mocap(name, side))
    settings = load_settings()
    ahead = analyze_series(series, settings).gait
    back = analyze_series(reversed_series(series), settings).gait
    _same_walk(ahead, back)
    assert [s.step_length_leg for s in ahead.steps] == pytest.approx(
        [s.step_length_leg for s in back.steps[::-1]], rel=0.01)


@needs_shared_data
@pytest.mark.parametrize("in_place", [False, True], ids=["overground", "belt"])
@pytest.mark.parametrize("name", TRIALS[:3])
def test_feet_out_of_view_give_no_steps_and_say_so(name: str, in_place: bool):
    settings = load_settings()
    for series in (_feet_cut(_mocap(name, "left", in_place)),
                   reversed_series(_feet_cut(_mocap(name, "left", in_place)))):
        result = analyze_series(series, settings)
        assert result.gait.steps == [] and result.gait.cadence_spm is None
        assert result.gait.feet_out_of_view_share is not None
        assert result.gait.feet_out_of_view_share > 0.5
        if in_place or result.summary.direction in ("mixed", "unknown"):
            assert result.summary.direction == "unknown"
            assert result.summary.direction_reason == "feet out of frame"
