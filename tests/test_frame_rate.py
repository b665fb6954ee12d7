"""The one frame-rate fallback: a usable rate is kept, anything else becomes DEFAULT_FPS."""

from __future__ import annotations

import math

import pytest

from posecoach.frame_rate import DEFAULT_FPS, MAX_FPS, MIN_FPS, fps_or_default


@pytest.mark.parametrize(("fps", "camera_only", "expected"), [
    (25.0, False, 25.0),
    (25.0, True, 25.0),
    (MIN_FPS, True, MIN_FPS),
    (MAX_FPS, True, MAX_FPS),
    (0.2, False, 0.2),
    (0.2, True, DEFAULT_FPS),
    (5000.0, False, 5000.0),
    (5000.0, True, DEFAULT_FPS),
    (0.0, False, DEFAULT_FPS),
    (-30.0, False, DEFAULT_FPS),
    (math.nan, False, DEFAULT_FPS),
    (math.inf, False, DEFAULT_FPS),
    (None, False, DEFAULT_FPS),
    (None, True, DEFAULT_FPS),
])
def test_fps_or_default(fps: float | None, camera_only: bool, expected: float) -> None:
    assert fps_or_default(fps, camera_only=camera_only) == expected


def test_the_fallback_is_a_camera_rate() -> None:
    assert MIN_FPS <= DEFAULT_FPS <= MAX_FPS
