"""Live direction without flicker: a jump of the body restarts the direction window, on real
motion capture (a backward walk that stands, walks, then starts over like a looped video or
another person taken for the walker)."""

from __future__ import annotations

import numpy as np
import pytest

from posecoach.coach.live import LiveCoach
from tests.conftest import needs_shared_data
from tests.test_smoothing import _looped_walk

# (trial, fps or None for the trial's own rate, jitter s, shift px)
JUMPS = [
    ("dataset-1_walk-back_normal_001.bvh", 30.0, 0.005, 0.0),
    ("dataset-1_walk-back_normal_001.bvh", 30.0, 0.005, -500.0),
    ("dataset-1_walk-back_old_001.bvh", 15.0, 0.02, 0.0),
    ("dataset-1_walk-back_active_001.bvh", 30.0, 0.005, 300.0),
]


def _live_directions(settings, name, fps, jitter_s, shift_px):
    noisy, _, jump_s = _looped_walk(name, fps, jitter_s, shift_px, seed=3)
    coach = LiveCoach(settings)
    directions = []
    for i in range(len(noisy)):
        result = coach.process_people([noisy.points[i]], float(noisy.time_s[i]),
                                      noisy.width, noisy.height)
        directions.append(result.metrics.direction)
    coach.close()
    return np.array(directions, dtype=object), noisy.time_s, jump_s, coach.smoother.body_jumps


@needs_shared_data
@pytest.mark.parametrize(("name", "fps", "jitter_s", "shift_px"), JUMPS)
def test_a_jump_restarts_the_direction_window(settings, name, fps, jitter_s, shift_px):
    direction, t, jump_s, jumps = _live_directions(settings, name, fps, jitter_s, shift_px)
    window_s = settings.metrics.direction_window_s
    assert jumps == 1
    # the first take is read as the backward walk it is
    assert (direction[t < jump_s] == "backward").sum() >= 10
    # after the jump nothing is said about direction until a new window has filled...
    restarting = (t >= jump_s) & (t < jump_s + window_s)
    assert restarting.sum() >= 10
    assert set(direction[restarting]) == {"unknown"}
    # ...and never "forward": the walker stands, then walks backwards again
    assert "forward" not in set(direction[t >= jump_s])
    # the new window decides: standing still at the start of the second take
    decided = (t >= jump_s + window_s + 0.05) & (t <= jump_s + 1.4)
    assert decided.sum() >= 3 and set(direction[decided]) == {"standing"}
