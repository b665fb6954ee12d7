"""The start-up check on real footage: whole body, side-on, distance and light."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import cv2
import numpy as np
import pytest

from posecoach.coach.live import LiveCoach
from posecoach.coach.setup_check import CHECK_ADVICE, NOBODY_ADVICE, SetupReport
from posecoach.media.reader import VideoReader
from posecoach.settings import load_settings
from tests.conftest import VIDEO

pytestmark = pytest.mark.video

SETTINGS = load_settings(overrides={"setup_check": {"duration_s": 1.8}})


def frames(clip: str, start_s: float = 0.0, seconds: float = 2.2,
           every: int = 3) -> Iterator[tuple[np.ndarray, float]]:
    for i, frame in enumerate(VideoReader(VIDEO / clip, max_side_px=960)):
        if frame.time_s < start_s or i % every:
            continue
        if frame.time_s > start_s + seconds:
            return
        yield frame.image, frame.time_s - start_s


def check(clip: str, change: Callable[[np.ndarray], np.ndarray],
          start_s: float = 0.0) -> SetupReport:
    """Run a fresh live coach with the start-up check over a clip; its final report."""
    coach = LiveCoach(SETTINGS, check_setup=True)
    try:
        reports = []
        for image, time_s in frames(clip, start_s):
            result = coach.process(np.ascontiguousarray(change(image)), time_s)
            assert result.new_cues == [] or result.setup is None
            if result.setup is not None:
                reports.append(result.setup)
    finally:
        coach.close()
    assert reports, "the check reported"
    assert [r.done for r in reports].count(True) == 1 and reports[-1].done
    return reports[-1]


def unchanged(image: np.ndarray) -> np.ndarray:
    return image


def feet_cut_off(image: np.ndarray) -> np.ndarray:
    return image[: int(image.shape[0] * 0.62)]


def small_in_a_corner(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    small = cv2.resize(image, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    out = np.full_like(image, 110)
    out[height - small.shape[0]:, : small.shape[1]] = small
    return out


def darkened(image: np.ndarray) -> np.ndarray:
    return (image * 0.12).astype(np.uint8)


def test_side_walk_passes_every_check() -> None:
    report = check("side_walk_1080p60.mp4", unchanged)
    assert report.passed, report
    assert report.check("side_on").value < 0.2
    assert report.check("distance").value > 0.55
    assert report.message == "Set-up looks good."


def test_back_view_fails_side_on() -> None:
    report = check("back_view_people_139s.mp4", unchanged, start_s=10.0)
    side_on = report.check("side_on")
    assert side_on.passed is False and side_on.value > 0.6
    assert CHECK_ADVICE["side_on"] in report.advice
    assert report.check("whole_body").passed is True


def test_feet_cut_off_fails_whole_body() -> None:
    report = check("side_walk_1080p60.mp4", feet_cut_off)
    assert report.check("whole_body").passed is False
    assert report.check("side_on").passed is True
    assert report.advice[0] == CHECK_ADVICE["whole_body"]


def test_small_in_a_corner_fails_distance() -> None:
    report = check("side_walk_1080p60.mp4", small_in_a_corner)
    distance = report.check("distance")
    assert distance.passed is False and distance.value < 0.4
    assert report.check("whole_body").passed is True
    assert CHECK_ADVICE["distance"] in report.advice


def test_darkened_fails_light() -> None:
    report = check("side_walk_1080p60.mp4", darkened)
    light = report.check("light")
    assert light.passed is False and light.value is not None and light.value < 30
    assert CHECK_ADVICE["light"] in report.advice


def test_nobody_in_view_says_step_in() -> None:
    coach = LiveCoach(SETTINGS, check_setup=True)
    report = None
    for i in range(60):
        report = coach.process_people([], i / 30, 640, 480).setup or report
    assert report is not None and report.done
    assert report.advice == (NOBODY_ADVICE,)
    assert report.check("side_on").passed is None


def test_coaching_starts_after_the_check() -> None:
    coach = LiveCoach(SETTINGS, check_setup=True)
    results = [coach.process_people([], i / 30, 640, 480) for i in range(90)]
    with_setup = [r for r in results if r.setup is not None]
    assert 50 <= len(with_setup) <= 60
    assert all(r.setup is None for r in results[len(with_setup):])
    payload = results[len(with_setup) - 1].to_json()
    assert payload["setup"]["done"] is True
    assert {c["name"] for c in payload["setup"]["checks"]} == {
        "whole_body", "side_on", "distance", "light"}
    assert results[-1].to_json()["setup"] is None
