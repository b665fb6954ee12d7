"""The LiteRT backend against MediaPipe's landmarks, recorded on the real clips.

The references in fixtures/mediapipe_landmarks/ were made with MediaPipe's landmarker
(`python -m tests.pose.reference`); these tests need only the LiteRT backend.
"""

from __future__ import annotations

import numpy as np
import pytest

from posecoach.settings import load_settings
from tests.conftest import needs_shared_data
from tests.pose.reference import (
    CLIPS,
    REFERENCE_DIR,
    ClipLandmarks,
    analyse,
    assert_summaries_agree,
    compare,
    run_backend,
)

pytestmark = [pytest.mark.video, needs_shared_data]

_runs: dict[str, ClipLandmarks] = {}


def litert_on(name: str) -> ClipLandmarks:
    if name not in _runs:
        _runs[name] = run_backend(CLIPS[name], "litert")
    return _runs[name]


def reference(name: str) -> ClipLandmarks:
    return ClipLandmarks.load(REFERENCE_DIR / f"{name}.npz")


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_landmarks_agree_with_mediapipe(name):
    ref, ours = reference(name), litert_on(name)
    assert ours.frames == ref.frames
    assert (ours.width, ours.height) == (ref.width, ref.height)
    agreement = compare(ref, ours)
    assert agreement.matched_people >= 0.9 * len(ref.frame_of)
    assert agreement.median_share <= 0.015, agreement
    assert agreement.p95_share <= 0.04, agreement
    assert agreement.found_mismatch_share <= 0.02, agreement


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_analysis_agrees_with_mediapipe(name):
    settings = load_settings()
    theirs = analyse(reference(name), settings, name).summary
    ours = analyse(litert_on(name), settings, name).summary
    assert_summaries_agree(ours, theirs)


def test_references_hold_real_landmarks():
    """Each reference is MediaPipe's output on its clip: people in most frames, in the frame."""
    for name in CLIPS:
        ref = reference(name)
        assert ref.frames > 30
        assert ref.found().mean() > 0.7
        inside = (ref.points[:, :, 0] > -0.2 * ref.width) & (ref.points[:, :, 0] < 1.2 * ref.width)
        assert inside.mean() > 0.95
        assert np.all((ref.points[:, :, 3] >= 0) & (ref.points[:, :, 3] <= 1))


def test_reference_is_what_mediapipe_finds_today():
    """Where mediapipe is installed (posecoach[mediapipe]): the recording is still its output."""
    pytest.importorskip("mediapipe")
    name = "side_walk_1080p60"
    live = run_backend(CLIPS[name], "mediapipe")
    agreement = compare(reference(name), live)
    assert agreement.found_mismatch_share == 0
    assert agreement.p95_share < 1e-3, agreement
