"""The clip's direction in the summary, on real footage: a clip that walks mostly forwards reads
"forward" (and its reversed twin "backward") even where much of it has no measured direction;
"unknown" is only for clips where the direction cannot be measured."""

from __future__ import annotations

from pathlib import Path

import pytest

from posecoach.outputs.summary import _overall_direction
from tests.conftest import VIDEO
from tools.reverse_clip import reverse_video

pytestmark = pytest.mark.video
TWO_PEOPLE = VIDEO / "side_walk_two_people_vp9.mp4"


@pytest.fixture(scope="module")
def reversed_two_people(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("reversed") / "two_people_reversed.mp4"
    reverse_video(TWO_PEOPLE, dest)
    return dest


def test_a_clip_walking_forwards_with_unclear_stretches_reads_forward(analysed):
    summary = analysed(TWO_PEOPLE).summary
    # much of the clip (over 40%) has no measured direction (the walker turns, stands, leaves
    # the picture)...
    assert summary.forward_time_s >= 1.0
    assert summary.forward_time_s + summary.backward_time_s < 0.6 * summary.duration_s
    # ...yet the walking that was measured went forwards
    assert summary.direction == "forward"
    assert summary.backward_time_s < 0.25 * summary.forward_time_s


def test_its_reversed_twin_reads_backward(analysed, reversed_two_people: Path):
    summary = analysed(reversed_two_people).summary
    assert summary.backward_time_s >= 1.0
    assert summary.direction == "backward"


# (backward s, forward s, overall view, direction)
CASES = [
    (0.0, 0.3, "side", "unknown"),      # too little walking with a known direction
    (0.0, 2.2, "mixed", "forward"),
    (2.2, 0.1, "side", "backward"),
    (1.0, 1.0, "side", "mixed"),
    (3.0, 0.0, "back", "unknown"),      # a back view: the side-view seconds are not trusted
    (3.0, 0.0, "front", "unknown"),
]


@pytest.mark.parametrize(("backward_s", "forward_s", "view", "expected"), CASES)
def test_overall_direction(backward_s: float, forward_s: float, view: str, expected: str):
    assert _overall_direction(backward_s, forward_s, view) == expected
