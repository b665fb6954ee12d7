"""A trial timed during a live session stays in the session's final result.

The walk is a motion-capture backward walk (../shared/data/mocap, its first pose held still for
1.5 s, projected into a side camera with floor marks). It runs through the real live coach and
recorder at 30 fps; the trials are timed mid-session as the live page asks for them, then the
session is finished.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from posecoach.coach import analysis
from posecoach.coach.live import LiveCoach
from posecoach.coach.metrics import compute_metrics
from posecoach.coach.smoothing import smooth_offline
from posecoach.coach.timed_test import (
    NO_TRIAL,
    TimedTestResult,
    TrialResult,
    keep_reported_trials,
    time_backward_walk,
)
from posecoach.pipeline.recorder import SessionRecorder
from posecoach.pose.landmarks import PoseSeries
from posecoach.settings import Settings, load_settings
from tests.conftest import MOCAP, needs_shared_data
from tests.mocap.timed_walk import Truth, floor_marks, held_trial, project_held, timing_truth

pytestmark = needs_shared_data

TRIAL = MOCAP / "dataset-1_walk-back_active_001.bvh"
FPS = 30.0
TOLERANCE_S = 0.3


@cache
def _walk() -> tuple[PoseSeries, list[float], Truth]:
    held = held_trial(str(TRIAL))
    series, camera = project_held(held, noise_px=1.0, seed=7)
    return series, floor_marks(held, camera), timing_truth(held)


def _settings() -> Settings:
    _, marks, _ = _walk()
    return load_settings(overrides={"timed_test": {"run": True, "floor_marks_px": marks}})


def _timed_trial(settings: Settings) -> TrialResult:
    series, _, _ = _walk()
    smoothed = smooth_offline(series, settings)
    result = time_backward_walk(smoothed, compute_metrics(smoothed, settings), settings)
    assert result.timed and result.trials[0].timed, result.reason
    return result.trials[0]


class _Walker:
    """Stands in for the pose model: the walk's landmarks at the frame's time."""

    def __init__(self, series: PoseSeries) -> None:
        self.series = series

    def detect(self, image_rgb: np.ndarray, time_s: float) -> list[np.ndarray]:
        i = int(np.searchsorted(self.series.time_s, time_s - 1e-6))
        return [self.series.points[min(i, len(self.series) - 1)].copy()]

    def close(self) -> None:
        """Nothing to release."""


def test_a_trial_the_final_analysis_loses_is_kept_with_a_note() -> None:
    settings = _settings()
    trial = _timed_trial(settings)
    lost = TimedTestResult(reason=NO_TRIAL)
    kept = keep_reported_trials(lost, [trial], settings.timed_test)
    assert kept.timed and kept.time_s == pytest.approx(trial.time_s, abs=0.01)
    assert kept.trials == (trial,) and kept.scale_source == "floor_marks"
    assert kept.trials_counted == 1 and kept.reason is None
    assert "Trial 1 was timed as walked" in kept.interpretation[0].text
    assert any(i.kind == "cutoff" for i in kept.interpretation)


def test_a_trial_the_final_analysis_times_too_is_not_doubled() -> None:
    settings = _settings()
    trial = _timed_trial(settings)
    series, _, _ = _walk()
    smoothed = smooth_offline(series, settings)
    final = time_backward_walk(smoothed, compute_metrics(smoothed, settings), settings)
    assert keep_reported_trials(final, [trial], settings.timed_test) is final


def test_an_untimed_final_trial_of_the_same_walk_gives_way_and_later_trials_count() -> None:
    settings = _settings()
    trial = _timed_trial(settings)
    assert trial.start_s is not None and trial.end_s is not None and trial.time_s is not None
    blurred = TrialResult(1, False, False, start_s=trial.start_s - 0.05, distance_m=2.6,
                          reason="the walk covered only 2.6 m backwards, less than the 3 m "
                                 "of the test")
    later = TrialResult(2, False, True, time_s=trial.time_s + 1.0, start_s=trial.end_s + 10.0,
                        end_s=trial.end_s + 10.0 + trial.time_s + 1.0, distance_m=3.0)
    final = TimedTestResult(timed=True, time_s=later.time_s, scale_source="floor_marks",
                            trials_counted=1, trials=(blurred, later))
    kept = keep_reported_trials(final, [trial], settings.timed_test)
    assert [(t.number, t.timed, t.time_s) for t in kept.trials] == [
        (1, True, trial.time_s), (2, True, later.time_s)]
    assert kept.trials_counted == 2
    assert kept.time_s == pytest.approx(trial.time_s + 0.5, abs=0.01)   # the mean of both


def test_the_recorder_keeps_a_trial_timed_during_the_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    series, _, truth = _walk()
    assert truth.time_s is not None and truth.end_s is not None
    settings = _settings()
    coach = LiveCoach(settings, estimator=_Walker(series))  # type: ignore[arg-type]
    recorder = SessionRecorder(tmp_path, settings, FPS, "browser camera", draw=False,
                               threaded=False)
    image = np.zeros((series.height, series.width, 3), dtype=np.uint8)
    told: list[TimedTestResult] = []
    t = 0.0
    while t < truth.end_s + 0.5:
        people = coach.detect(image, t)
        recorder.add(image, t, coach.process_people(people, t, series.width, series.height))
        t += 1.0 / FPS
    told.append(recorder.time_trials().result)
    assert told[-1].timed, told[-1].reason
    assert abs(told[-1].trials[0].time_s - truth.time_s) <= TOLERANCE_S  # type: ignore[operator]

    # The whole session, timed again at its end, finds no trial (as when the walker's stance
    # is blurred by what followed it): the trial the walker was told of is kept.
    def finds_nothing(*_: object) -> TimedTestResult:
        return TimedTestResult(reason=NO_TRIAL)

    monkeypatch.setattr(analysis, "time_backward_walk", finds_nothing)
    summary = recorder.finish().summary
    final = summary.timed_test
    assert final is not None and final.timed, final
    assert final.trials == told[-1].trials
    assert final.time_s == told[-1].time_s
    assert "timed as walked" in final.interpretation[0].text


def test_a_walk_just_begun_is_under_way_when_its_trial_first_appears(tmp_path: Path) -> None:
    series, _, truth = _walk()
    assert truth.end_s is not None
    settings = _settings()
    coach = LiveCoach(settings, estimator=_Walker(series))  # type: ignore[arg-type]
    recorder = SessionRecorder(tmp_path, settings, FPS, "browser camera", draw=False,
                               threaded=False)
    image = np.zeros((series.height, series.width, 3), dtype=np.uint8)
    first = None
    t = 0.0
    while first is None and t < truth.end_s:
        people = coach.detect(image, t)
        recorder.add(image, t, coach.process_people(people, t, series.width, series.height))
        if t > truth.onset_s - 0.2:
            so_far = recorder.time_trials()
            if so_far.result.trials:
                first = so_far
        t += 1.0 / FPS
    assert first is not None, "no trial appeared before the walk's end"
    assert not first.result.trials[0].timed
    assert first.walking, "a walk just begun was taken for a finished, untimed trial"
    recorder.abandon()
