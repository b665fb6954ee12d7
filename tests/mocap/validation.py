"""posecoach's numbers against motion-capture truth under every set-up of `tests/mocap/harness`.

`step_row` measures one trial's median step length and cadence (the height given is the
changed body's stature); `timed_row` times one backward trial's 3-metre walk from the stature
and from floor marks. tests/test_mocap_harness.py asserts on them and
`python -m tools.validation_table` prints them into docs/measurement-validation.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from posecoach.coach.gait import analyze_gait
from posecoach.coach.metrics import compute_metrics
from posecoach.coach.smoothing import smooth_offline
from posecoach.coach.timed_test import time_backward_walk
from posecoach.settings import load_settings
from tests.mocap.harness import (
    HOLD_S,
    camera,
    floor_marks,
    load_body,
    project,
    timed_truth_s,
    truth,
    with_legs,
)


@dataclass(frozen=True)
class StepRow:
    trial: str
    side: str
    distance_m: float
    angle_deg: float
    leg_scale: float
    truth_step_m: float
    step_m: float | None
    steps: int
    scale_sources: tuple[str, ...]
    scale_uncertainty: float | None

    @property
    def error(self) -> float | None:
        return None if self.step_m is None else self.step_m / self.truth_step_m - 1.0


@dataclass(frozen=True)
class TimedRow:
    trial: str
    side: str
    distance_m: float
    angle_deg: float
    leg_scale: float
    truth_s: float
    height_s: float | None
    height_uncertainty_s: float | None
    marks_s: float | None
    reason: str | None

    @property
    def height_error_s(self) -> float | None:
        return None if self.height_s is None else self.height_s - self.truth_s

    @property
    def marks_error_s(self) -> float | None:
        return None if self.marks_s is None else self.marks_s - self.truth_s


def step_row(path: Path, side: str, distance_m: float, angle_deg: float,
             leg_scale: float) -> StepRow:
    body = with_legs(load_body(str(path)), leg_scale)
    want = truth(body)
    assert want.step_length_m is not None
    settings = load_settings(height_cm=round(want.stature_cm, 1))
    series = project(body, camera(body, side, distance_m, angle_deg), side)
    smoothed = smooth_offline(series, settings)
    gait = analyze_gait(smoothed, compute_metrics(smoothed, settings), settings)
    scale = gait.body_scale
    return StepRow(path.name, side, distance_m, angle_deg, leg_scale, want.step_length_m,
                   gait.step_length_m, len(gait.steps), scale.sources if scale else (),
                   scale.rel_uncertainty if scale else None)


@cache
def _held(path: str, leg_scale: float):
    return with_legs(load_body(path, hold_s=HOLD_S), leg_scale)


def timed_row(path: Path, side: str, distance_m: float, angle_deg: float,
              leg_scale: float) -> TimedRow:
    body = _held(str(path), leg_scale)
    onset = int(round(HOLD_S * body.fps))
    want = timed_truth_s(body, onset)
    assert want is not None
    end = onset + int(round(want * body.fps)) + 1
    travel = body.pelvis[end] - body.pelvis[onset]
    travel[1] = 0.0
    travel /= np.linalg.norm(travel)
    cam = camera(body, side, distance_m, angle_deg, centre_frames=slice(0, end + 1))
    series = project(body, cam, side, seed=3)
    stature = round(truth(body).stature_cm, 1)
    results = []
    for settings in (
        load_settings(height_cm=stature, overrides={"timed_test": {"run": True}}),
        load_settings(overrides={"timed_test": {
            "run": True, "floor_marks_px": floor_marks(body, cam, onset, travel)}}),
    ):
        smoothed = smooth_offline(series, settings)
        results.append(time_backward_walk(smoothed, compute_metrics(smoothed, settings),
                                          settings))
    by_height, by_marks = results
    return TimedRow(path.name, side, distance_m, angle_deg, leg_scale, want,
                    by_height.time_s, by_height.uncertainty_s, by_marks.time_s,
                    by_height.reason or by_marks.reason)
