"""The 3-metre backward walk test timed from landmarks, against motion-capture truth.

Each backward trial of ../shared/data/mocap gets 1.5 s of its first pose held still before the
walk and is projected into a side camera (tests/mocap). The truth is the time from movement onset
(the end of the hold) until the pelvis has covered 3 m along the walk, from the 3D joints.
posecoach must be within 0.3 s using the trial's height, and within 0.2 s with floor marks
projected from the same camera. A walk shorter than 3 m, a turn to walk forwards and a walker
leaving the view are each "not timed" with a reason, never a number.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from posecoach.coach.metrics import compute_metrics
from posecoach.coach.smoothing import smooth_offline
from posecoach.coach.timed_test import (
    MAX_BACKWARD_SPEED_M_S,
    PROTOCOL,
    FloorMarks,
    TimedTestResult,
    implausible_trial,
    interpret,
    metres_short_of,
    time_backward_walk,
)
from posecoach.errors import InputError
from posecoach.outputs.clinician_report import CLINICIAN_REPORT
from posecoach.outputs.landmarks_csv import write_landmarks_csv
from posecoach.outputs.summary import SessionSummary
from posecoach.pipeline.offline import analyze_landmarks_file, analyze_video
from posecoach.pose.landmarks import PoseSeries
from posecoach.server import schemas
from posecoach.settings import Settings, load_settings
from tests.conftest import MOCAP, VIDEO, needs_shared_data, shared_names
from tests.mocap.projection import Trial, load_trial, reference_values
from tests.mocap.timed_walk import (
    floor_marks,
    held_trial,
    hold_first_pose,
    leave_view,
    project_held,
    timing_truth,
    turn_and_walk_forwards,
)

pytestmark = needs_shared_data

HEIGHT_TOL_S = 0.3
MARKS_TOL_S = 0.2
NOISE_PX = 1.0
BACKWARD = shared_names(MOCAP, "*walk-back*.bvh")
LONG_ENOUGH = [n for n in BACKWARD if "normal" not in n]    # walk-back_normal covers 1.2 m
SHORT = "dataset-1_walk-back_normal_001.bvh"


@cache
def _trial(name: str) -> tuple[Trial, float]:
    """The held trial and the walker's height (cm) from its 3D joints."""
    height_cm = float(reference_values(load_trial(MOCAP / name))["height_cm"])  # type: ignore[arg-type]
    return held_trial(str(MOCAP / name)), height_cm


@cache
def _projected(name: str) -> tuple[PoseSeries, list[float]]:
    held, _ = _trial(name)
    series, camera = project_held(held, noise_px=NOISE_PX, seed=3)
    return series, floor_marks(held, camera)


def _settings(height_cm: float | None = None, **test: object) -> Settings:
    return load_settings(height_cm=height_cm, overrides={"timed_test": {"run": True, **test}})


def _time(series: PoseSeries, settings: Settings) -> TimedTestResult:
    smoothed = smooth_offline(series, settings)
    return time_backward_walk(smoothed, compute_metrics(smoothed, settings), settings)


def _assert_not_timed(result: TimedTestResult, words: str) -> None:
    assert not result.timed
    assert result.time_s is None and result.end_s is None
    assert result.reason is not None and words in result.reason, result.reason
    assert all(t.time_s is None for t in result.trials)
    assert result.interpretation == ()


# ---------------------------------------------------------------------------- timing truth


def test_the_trials_cover_the_cases() -> None:
    assert len(LONG_ENOUGH) >= 5
    assert SHORT in BACKWARD
    assert timing_truth(_trial(SHORT)[0]).end_s is None


@pytest.mark.parametrize("name", LONG_ENOUGH)
def test_time_from_height_within_0_3_s(name: str) -> None:
    held, height_cm = _trial(name)
    truth = timing_truth(held)
    assert truth.time_s is not None
    result = _time(_projected(name)[0], _settings(height_cm))
    assert result.timed, result.reason
    assert result.protocol == PROTOCOL
    assert result.scale_source == "height"
    assert result.time_s is not None and result.start_s is not None and result.end_s is not None
    assert abs(result.time_s - truth.time_s) <= HEIGHT_TOL_S, (result.time_s, truth.time_s)
    assert abs(result.start_s - truth.onset_s) <= HEIGHT_TOL_S
    assert result.uncertainty_s is not None and 0 < result.uncertainty_s < 0.5
    assert result.distance_m == 3.0


@pytest.mark.parametrize("name", LONG_ENOUGH)
def test_time_from_floor_marks_within_0_2_s(name: str) -> None:
    held, _ = _trial(name)
    truth = timing_truth(held)
    series, marks = _projected(name)
    result = _time(series, _settings(None, floor_marks_px=marks))
    assert result.timed, result.reason
    assert result.scale_source == "floor_marks"
    assert result.time_s is not None and truth.time_s is not None
    assert abs(result.time_s - truth.time_s) <= MARKS_TOL_S, (result.time_s, truth.time_s)
    assert result.end_s is not None and truth.end_s is not None
    assert abs(result.end_s - truth.end_s) <= MARKS_TOL_S


@pytest.mark.parametrize("name", ["dataset-1_walk-back_sad_001.bvh",
                                  "dataset-1_walk-back_chimpira_001.bvh"])
def test_the_other_side_with_more_noise(name: str) -> None:
    """Seen from the walker's right (walking towards the other side of the picture), 2 px
    noise."""
    held, height_cm = _trial(name)
    truth = timing_truth(held)
    series, camera = project_held(held, noise_px=2.0, seed=5, side="right")
    by_height = _time(series, _settings(height_cm))
    by_marks = _time(series, _settings(None, floor_marks_px=floor_marks(held, camera)))
    assert truth.time_s is not None
    assert by_height.time_s is not None and by_marks.time_s is not None
    assert abs(by_height.time_s - truth.time_s) <= HEIGHT_TOL_S
    assert abs(by_marks.time_s - truth.time_s) <= MARKS_TOL_S


def test_floor_marks_win_over_the_height() -> None:
    name = LONG_ENOUGH[0]
    truth = timing_truth(_trial(name)[0])
    series, marks = _projected(name)
    # A height 30 % off would put the end far from the truth; the marks decide.
    result = _time(series, _settings(110.0, floor_marks_px=marks))
    assert result.scale_source == "floor_marks"
    assert result.time_s is not None and truth.time_s is not None
    assert abs(result.time_s - truth.time_s) <= MARKS_TOL_S
    wrong = _time(series, _settings(110.0))
    assert wrong.time_s is not None and abs(wrong.time_s - truth.time_s) > MARKS_TOL_S


# ---------------------------------------------------------------------------- not timed


def test_no_scale_refuses_to_time() -> None:
    result = _time(_projected(LONG_ENOUGH[0])[0], _settings(None))
    _assert_not_timed(result, "no distance scale")
    assert "--height-cm" in (result.reason or "") and "--floor-marks" in (result.reason or "")


def test_a_walk_shorter_than_3_m_is_not_timed() -> None:
    held, height_cm = _trial(SHORT)
    series, _ = project_held(held, noise_px=NOISE_PX)
    result = _time(series, _settings(height_cm))
    _assert_not_timed(result, "covered only")
    assert result.trials and result.trials[0].distance_m is not None
    assert 0.8 < result.trials[0].distance_m < 1.6      # the trial covers 1.2 m


def test_a_walker_who_turns_and_walks_forwards_is_not_timed() -> None:
    back = load_trial(MOCAP / "dataset-1_walk-back_active_001.bvh")
    forward = load_trial(MOCAP / "dataset-1_walk_normal_001.bvh")
    turned = hold_first_pose(turn_and_walk_forwards(back, forward, after_m=1.5))
    # The whole path is long enough: only the turn stops the timing.
    assert timing_truth(turned).end_s is not None
    series, _ = project_held(turned, noise_px=NOISE_PX)
    result = _time(series, _settings(float(reference_values(back)["height_cm"])))
    _assert_not_timed(result, "turned and walked forwards")


def test_a_walker_who_leaves_the_view_before_3_m_is_not_timed() -> None:
    name = "dataset-1_walk-back_active_001.bvh"
    held, height_cm = _trial(name)
    series, _ = _projected(name)
    hip_x = (series.points[:, 23, 0] + series.points[:, 24, 0]) / 2
    truth = timing_truth(held)
    assert truth.end_s is not None
    px_per_m = abs(hip_x[int(round(truth.end_s * held.fps))] - hip_x[45]) / 3.0
    narrow = leave_view(series, visible_px=2.0 * px_per_m + 150)
    result = _time(narrow, _settings(height_cm))
    _assert_not_timed(result, "left the camera's view")
    # The same walk in the full view is timed.
    assert _time(series, _settings(height_cm)).timed


# ---------------------------------------------------------------------------- trials, scoring


def _two_trials() -> tuple[PoseSeries, list[float], float]:
    """Two walks in one clip, one after the other, and their true times."""
    names = ("dataset-1_walk-back_active_001.bvh", "dataset-1_walk-back_masculinity_001.bvh")
    parts = [_projected(n)[0] for n in names]
    fps = 30.0
    points = np.concatenate([p.points for p in parts])
    series = PoseSeries(np.arange(len(points)) / fps, points, parts[0].width, parts[0].height)
    truths = [timing_truth(_trial(n)[0]).time_s for n in names]
    heights = [_trial(n)[1] for n in names]
    return series, [float(t) for t in truths if t is not None], float(np.mean(heights))


@pytest.mark.parametrize(("scoring", "practice", "expected"), [
    ("mean", 0, lambda t: (t[0] + t[1]) / 2),
    ("best", 0, min),
    ("first", 0, lambda t: t[0]),
    ("mean", 1, lambda t: t[1]),
])
def test_trials_and_scoring_follow_the_settings(scoring, practice, expected) -> None:
    series, truths, height_cm = _two_trials()
    result = _time(series, _settings(height_cm, scoring=scoring, practice_trials=practice,
                                     trials=2))
    assert [t.timed for t in result.trials] == [True, True]
    assert [t.practice for t in result.trials] == [practice >= 1, False]
    assert result.trials_counted == 2 - practice
    assert result.time_s is not None
    assert abs(result.time_s - expected(truths)) <= HEIGHT_TOL_S
    assert result.start_s is not None and result.end_s is not None


# ---------------------------------------------------------------------------- interpretation


def test_interpretation_cites_the_cutoffs_and_never_diagnoses() -> None:
    items = interpret(4.6, "community")
    cutoffs = [i for i in items if i.kind == "cutoff"]
    assert {i.cutoff_s for i in cutoffs} == {4.5, 3.0, 5.5}
    assert all(i.source for i in cutoffs)
    met = {i.cutoff_s: i.met for i in cutoffs}
    assert met == {4.5: True, 3.0: False, 5.5: False}
    assert any("Carter" in i.source for i in cutoffs)
    assert any("Polo-Ferrero" in i.source for i in cutoffs)
    assert any("not a diagnosis" in i.text for i in items)
    text = " ".join(i.text for i in items).lower()
    assert "you have" not in text and "diagnosed" not in text
    assert {i.cutoff_s for i in interpret(9.0, "nursing_home") if i.kind == "cutoff"} == {
        8.15, 9.31}
    assert 4.2 in {i.cutoff_s for i in interpret(5.0, "parkinsons")}
    assert any(i.kind == "note" and "No published fall cut-off" in i.text
               for i in interpret(5.0, "stroke"))
    assert interpret(None, "community") == ()


def test_change_against_the_minimal_detectable_change() -> None:
    real = [i for i in interpret(9.0, "parkinsons", previous_time_s=6.5) if i.kind == "change"]
    assert real and real[0].met is True and real[0].cutoff_s == 2.13
    noise = [i for i in interpret(7.5, "ms", previous_time_s=6.5) if i.kind == "change"]
    assert noise and noise[0].met is False and noise[0].cutoff_s == 1.69
    unknown = [i for i in interpret(5.0, "community", previous_time_s=4.0) if i.kind == "change"]
    assert unknown and unknown[0].met is None and "not known" in unknown[0].text


def test_floor_marks_parse_and_refuse_plainly() -> None:
    marks = FloorMarks.parse("100,900,140,700, 1000,900,980,700")
    assert marks.start == ((100.0, 900.0), (140.0, 700.0))
    assert marks.gap_px(900.0) == pytest.approx(900.0)
    for bad in ("1,2,3", "a,b,c,d,e,f,g,h", "0,500,100,500,900,500,1000,500"):
        with pytest.raises(InputError) as info:
            FloorMarks.parse(bad)
        assert "Traceback" not in str(info.value)


@pytest.mark.parametrize(("marks", "words"), [
    ("100,900,1000,700, 1000,900,100,700", "cross"),          # an X
    ("100,900,140,700, 140,900,100,700", "cross"),            # meet within the rows
    ("100,900,140,700, 101.5,900,141.5,700", "1.5 pixels apart"),
    ("100,900,140,700, 110,900,150,700", "10.0 pixels apart"),
])
def test_floor_marks_that_cannot_be_are_refused_with_the_reason(marks: str, words: str) -> None:
    with pytest.raises(InputError) as refused:
        FloorMarks.parse(marks)
    assert words in str(refused.value)


@pytest.mark.parametrize(("covered", "shown"), [
    (2.97, "2.97 m"), (2.999, "2.999 m"), (2.9996, "2.999 m"), (2.94, "2.9 m"),
    (1.26, "1.3 m"), (0.0, "0.0 m"),
])
def test_a_shortfall_never_reads_as_the_whole_distance(covered: float, shown: str) -> None:
    assert metres_short_of(covered, 3.0) == shown


def test_a_trial_faster_than_anyone_walks_is_refused() -> None:
    reason = implausible_trial(3.0, 0.26)
    assert reason is not None and "0.26 s" in reason and "11.5 m/s" in reason
    assert implausible_trial(3.0, 3.0 / MAX_BACKWARD_SPEED_M_S + 0.01) is None
    assert implausible_trial(3.0, 2.0) is None


def test_marks_far_too_close_for_the_walk_give_no_time() -> None:
    """Marks a tenth of the real 3 m apart make the walk ten times too fast: not timed, with
    the speed given as the reason, instead of a time of a fraction of a second."""
    name = LONG_ENOUGH[0]
    series, marks = _projected(name)
    start, end = marks[:4], marks[4:]
    tenth = [*start, *(s + (e - s) / 10 for s, e in zip(start, end, strict=True))]
    result = _time(series, _settings(None, floor_marks_px=tenth))
    _assert_not_timed(result, "faster than anyone walks backwards")


# ---------------------------------------------------------------------------- outputs


def test_summary_round_trip_and_api_schema() -> None:
    result = _time(_projected(LONG_ENOUGH[0])[0], _settings(_trial(LONG_ENOUGH[0])[1],
                                                            previous_time_s=3.5))
    summary = SessionSummary(source="x.csv", timed_test=result)
    data = json.loads(json.dumps(summary.to_json()))
    assert set(data["timed_test"]) >= {"protocol", "time_s", "start_s", "end_s", "distance_m",
                                       "scale_source", "trials", "interpretation"}
    again = SessionSummary.from_json(data)
    assert again.timed_test == result
    assert SessionSummary.from_json({"source": "old.mp4"}).timed_test is None
    assert SessionSummary().to_json()["timed_test"] is None
    assert schemas.SessionSummary is SessionSummary, "the API serves the one declaration"


def test_landmarks_csv_end_to_end_with_the_clinician_report(tmp_path: Path) -> None:
    name = LONG_ENOUGH[0]
    held, height_cm = _trial(name)
    truth = timing_truth(held)
    csv_path = write_landmarks_csv(tmp_path / "walk.csv", _projected(name)[0])
    out = tmp_path / "out"
    result = analyze_landmarks_file(csv_path, out, _settings(height_cm, population="community",
                                                             previous_time_s=4.0))
    stored = json.loads((out / "summary.json").read_text())["timed_test"]
    assert stored["protocol"] == "3m_backward_walk"
    assert truth.time_s is not None
    assert abs(stored["time_s"] - truth.time_s) <= HEIGHT_TOL_S
    assert result.files[CLINICIAN_REPORT] == out / CLINICIAN_REPORT
    page = (out / CLINICIAN_REPORT).read_text()
    assert f"{stored['time_s']:.2f} s" in page
    assert "Carter" in page and "Polo-Ferrero" in page
    assert "Gait of the timed walk" in page and "Change since the last test" in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")
    # Without --test nothing is timed and no clinician report is written.
    plain = analyze_landmarks_file(csv_path, tmp_path / "plain", load_settings(height_cm=height_cm))
    assert plain.summary.timed_test is None
    assert not (tmp_path / "plain" / CLINICIAN_REPORT).exists()


def test_cli_times_a_landmarks_csv_and_refuses_bad_marks(tmp_path: Path) -> None:
    name = LONG_ENOUGH[0]
    _, height_cm = _trial(name)
    csv_path = write_landmarks_csv(tmp_path / "walk.csv", _projected(name)[0])
    run = [sys.executable, "-m", "posecoach", "analyze", str(csv_path), "--out",
           str(tmp_path / "out"), "--test", "3m-backward"]
    ok = subprocess.run([*run, "--height-cm", f"{height_cm:.1f}", "--population", "community"],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert "3-metre backward walk:" in ok.stdout
    summary = json.loads((tmp_path / "out" / "walk" / "summary.json").read_text())
    assert summary["timed_test"]["time_s"] is not None
    bad = subprocess.run([*run, "--floor-marks", "1,2,3"], capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode == 2
    assert "floor marks need 8 numbers" in bad.stderr and "Traceback" not in bad.stderr
    no_test = subprocess.run([*run[:-2], "--population", "ms"], capture_output=True, text=True,
                             timeout=300)
    assert no_test.returncode == 2 and "go with --test" in no_test.stderr


def test_a_real_video_without_a_still_start_says_why(tmp_path: Path) -> None:
    """Real footage through the whole pipeline: a clip that starts mid-walk has no onset."""
    clip = VIDEO / "side_walk_1080p60.mp4"
    result = analyze_video(clip, tmp_path, _settings(175.0))
    timed = result.summary.timed_test
    assert timed is not None and not timed.timed and timed.time_s is None
    assert timed.reason and "still" in timed.reason
    assert (tmp_path / CLINICIAN_REPORT).exists()
    assert "Not timed" in (tmp_path / CLINICIAN_REPORT).read_text()


def test_settings_carry_the_protocol_defaults() -> None:
    cfg = load_settings().timed_test
    assert cfg.run is False and cfg.distance_m == 3.0 and cfg.floor_marks_apart_m == 3.0
    assert cfg.scoring in ("mean", "best", "first", "median")
    assert cfg.practice_trials + cfg.trials >= 1
