"""The pose model bundle, the estimator, and following the walker among several people."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from posecoach.errors import ModelError
from posecoach.media.reader import VideoReader
from posecoach.pose.estimator import PoseEstimator, distinct_people
from posecoach.pose.landmarks import NUM_LANDMARKS
from posecoach.pose.model import default_model_path, resolve_model
from posecoach.pose.tracker import WalkerTracker
from posecoach.settings import load_settings
from tests.conftest import VIDEO


def person(cx: float, cy: float, height: float) -> np.ndarray:
    """A crude standing figure: 33 points spread over a box centred at (cx, cy)."""
    rng = np.random.default_rng(0)
    pts = np.zeros((NUM_LANDMARKS, 4))
    pts[:, 0] = cx + rng.uniform(-0.15, 0.15, NUM_LANDMARKS) * height
    pts[:, 1] = cy + np.linspace(-0.5, 0.5, NUM_LANDMARKS) * height
    pts[:, 3] = 0.9
    pts[23, 1] = pts[24, 1] = cy
    pts[23, 0] = pts[24, 0] = cx
    return pts


def test_bundle_is_an_uncompressed_zip_with_both_models():
    pytest.importorskip("mediapipe")  # the mediapipe backend's bundle, built with mediapipe
    path = resolve_model("auto")
    assert path == default_model_path()
    with zipfile.ZipFile(path) as bundle:
        names = {info.filename: info for info in bundle.infolist()}
    assert set(names) == {"pose_detector.tflite", "pose_landmarks_detector.tflite"}
    assert all(info.compress_type == zipfile.ZIP_STORED for info in names.values())


def test_unknown_model_name_says_what_is_available():
    with pytest.raises(ModelError, match="not found.*pose_landmarker_full.task"):
        resolve_model("ultra")


def test_tracker_prefers_the_person_who_travels_over_a_larger_bystander():
    tracker = WalkerTracker(lost_after_s=1.0)
    chosen_x = []
    for i in range(150):  # 5 s at 30 fps
        t = i / 30
        bystander = person(1400, 500, 500)          # large, standing still
        walker = person(200 + 120 * t, 600, 350)   # smaller, walking 120 px/s
        out = tracker.update([bystander, walker], t, 1920, 1080)
        chosen_x.append(out[23, 0])
    late = np.array(chosen_x[90:])
    assert np.all(np.abs(late - 1400) > 100), "the walker, not the bystander, is followed"


def test_tracker_keeps_the_walker_through_a_short_dropout_and_reports_nan():
    tracker = WalkerTracker(lost_after_s=1.0)
    for i in range(30):
        tracker.update([person(300 + 5 * i, 500, 400)], i / 30, 1280, 720)
    walker_id = tracker.walker_id
    missing = tracker.update([], 1.0, 1280, 720)
    assert np.isnan(missing).all()
    back = tracker.update([person(455, 500, 400)], 1.1, 1280, 720)
    assert tracker.walker_id == walker_id
    assert np.isfinite(back[23, 0])


def test_tracker_follows_a_lone_person_who_reappears_elsewhere_at_once():
    """A looping clip or a walker stepping back in at the other edge: no second of nobody."""
    tracker = WalkerTracker(lost_after_s=1.0)
    for i in range(30):
        tracker.update([person(1000 - 10 * i, 500, 400)], i / 30, 1280, 720)
    first = tracker.walker_id
    out = tracker.update([person(250, 500, 400)], 31 / 30, 1280, 720)
    assert tracker.walker_id != first
    assert abs(out[23, 0] - 250) < 1


def test_tracker_waits_before_choosing_between_several_people():
    tracker = WalkerTracker(lost_after_s=1.0)
    for i in range(30):
        tracker.update([person(1000 - 10 * i, 500, 400)], i / 30, 1280, 720)
    first = tracker.walker_id
    others = [person(250, 500, 400), person(1150, 250, 300)]
    for i in range(31, 55):  # 0.8 s with the walker unseen and two others in view
        out = tracker.update(others, i / 30, 1280, 720)
        assert np.isnan(out).all()
    assert tracker.walker_id == first
    for i in range(55, 70):
        out = tracker.update(others, i / 30, 1280, 720)
    assert np.isfinite(out[23, 0]) and tracker.walker_id != first


def test_tracker_goes_back_to_the_walker_after_a_lone_stand_in():
    """The walker missed for a few frames while one other person is seen: followed again after."""
    tracker = WalkerTracker(lost_after_s=1.0)
    for i in range(30):
        tracker.update([person(300 + 5 * i, 500, 400), person(1000, 300, 300)], i / 30, 1280, 720)
    walker_id = tracker.walker_id
    stand_in = tracker.update([person(1000, 300, 300)], 30 / 30, 1280, 720)
    assert abs(stand_in[23, 0] - 1000) < 1
    back = tracker.update([person(455, 500, 400), person(1000, 300, 300)], 31 / 30, 1280, 720)
    assert tracker.walker_id == walker_id
    assert abs(back[23, 0] - 455) < 1


def test_tracker_does_not_take_a_tiny_figure_for_the_walker_at_once():
    tracker = WalkerTracker(lost_after_s=1.0)
    for i in range(30):
        tracker.update([person(600, 400, 500)], i / 30, 1280, 720)
    out = tracker.update([person(100, 100, 20)], 1.0, 1280, 720)
    assert np.isnan(out).all()


@pytest.mark.video
def test_estimator_finds_a_walker_who_jumps_across_the_frame_at_once():
    """The side-walk clip looped, 640 px at 10 frames/s: when it restarts the walker jumps from
    one edge to the other, and the model, following him from frame to frame, must find him on
    the first frame after the jump, not one frame later."""
    from posecoach.media.jpeg import decode_jpeg
    from tools.loadtest import jpeg_frames

    frames = [decode_jpeg(f) for f in jpeg_frames(VIDEO / "side_walk_1080p60.mp4", every=6,
                                                  width=640)]
    loop = frames[-6:] + frames[:6]
    with PoseEstimator(load_settings(), num_poses=1) as est:
        found = [len(est.detect(image, k / 10)) for k, image in enumerate(loop)]
    assert found == [1] * len(loop)


@pytest.mark.video
def test_two_person_clip_follows_the_walker(analysed):
    """side_walk_two_people_vp9.mp4: a woman walks across the lower half while a second person
    jumps off a box in the upper half. Once she is in view the tracker must stay on her."""
    result = analysed(VIDEO / "side_walk_two_people_vp9.mp4")
    series = result.series
    hips_y = (series.points[:, 23, 1] + series.points[:, 24, 1]) / 2
    hips_x = (series.points[:, 23, 0] + series.points[:, 24, 0]) / 2
    # From 4 s until she leaves on the left (about 6.2 s) she is the one followed.
    crossing = (series.time_s > 4.0) & (series.time_s < 6.2) & np.isfinite(hips_y)
    assert crossing.sum() > 45
    assert np.mean(hips_y[crossing] > series.height / 2) > 0.9
    xs = hips_x[crossing]
    assert xs[0] - xs[-1] > series.width * 0.3, "she walks right to left across the frame"
    assert np.mean(np.diff(xs) < 5) > 0.9, "no jumps to the other person"


@pytest.mark.parametrize(
    ("boxes", "expected"),
    [
        ([], 0),
        ([(500, 500, 400)], 1),
        ([(500, 500, 400), (505, 502, 400)], 1),        # the same person found twice
        ([(300, 500, 400), (1400, 500, 400)], 2),       # side by side
        ([(300, 500, 400), (1400, 500, 400), (310, 500, 400)], 2),
        ([(300, 300, 300), (900, 700, 300), (1500, 500, 300)], 3),
    ],
)
def test_distinct_people_counts_separate_boxes_once(boxes, expected):
    people = [person(cx, cy, h) for cx, cy, h in boxes]
    assert distinct_people(people) == expected


def _crowded_at(clip: str, seconds: float, people_check_s: float | None = None) -> float | None:
    """When the estimator started following several people (None: it never did)."""
    with PoseEstimator(load_settings(), people_check_s=people_check_s) as est:
        for frame in VideoReader(VIDEO / clip, max_side_px=960):
            if frame.time_s > seconds:
                return None
            est.detect(frame.image, frame.time_s)
            if est.crowded:
                return frame.time_s
    return None


@pytest.mark.video
def test_estimator_follows_one_person_until_a_second_one_is_seen():
    """Alone in frame, the model follows one person; the two-person clip switches to following
    both once the walker has come in beside the jumper (she is in view from about 2 s)."""
    assert _crowded_at("side_walk_1080p60.mp4", 2.3) is None
    switched = _crowded_at("side_walk_two_people_vp9.mp4", 5.0)
    assert switched is not None and 1.5 <= switched <= 4.0
    assert _crowded_at("side_walk_1080p60.mp4", 0.5, people_check_s=0.0) == 0.0
