"""The LiteRT pose backend's parts, its model files and its handling of odd frames."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from posecoach.errors import ModelError, user_message
from posecoach.pipeline.batch import threads_per_job
from posecoach.pose import model as model_files
from posecoach.pose.backend import as_rgb, cpu_count
from posecoach.pose.blazepose.detector import iou, ssd_anchor_centres, weighted_nms
from posecoach.pose.blazepose.landmarker import refine_with_heatmap
from posecoach.pose.blazepose.roi import Roi, alignment_roi, crop
from posecoach.pose.blazepose.runtime_io import load_interpreter
from posecoach.pose.estimator import PoseEstimator
from posecoach.settings import load_settings
from tests.conftest import VIDEO, needs_shared_data


def test_anchors_match_the_detector_output():
    anchors = ssd_anchor_centres()
    assert anchors.shape == (2254, 2)
    assert np.allclose(anchors[0], [0.5 / 28, 0.5 / 28])
    assert np.allclose(anchors[1], anchors[0])            # two anchors per cell
    assert np.allclose(anchors[-1], [6.5 / 7, 6.5 / 7])
    assert anchors.min() > 0 and anchors.max() < 1


def test_weighted_nms_merges_one_person_and_keeps_another():
    boxes = np.array([[0.1, 0.1, 0.3, 0.5], [0.11, 0.1, 0.31, 0.5], [0.6, 0.2, 0.8, 0.6]])
    scores = np.array([0.9, 0.6, 0.7])
    keypoints = np.zeros((3, 4, 2))
    keypoints[:, 0, 0] = [0.2, 0.3, 0.7]
    merged = weighted_nms(scores, boxes, keypoints)
    assert len(merged) == 2
    score, box, kps = merged[0]
    assert score == pytest.approx(0.9)
    assert kps[0, 0] == pytest.approx((0.9 * 0.2 + 0.6 * 0.3) / 1.5)
    assert box[0] == pytest.approx((0.9 * 0.1 + 0.6 * 0.11) / 1.5)
    assert merged[1][0] == pytest.approx(0.7)


def test_alignment_roi_is_square_scaled_and_turned_upright():
    hips, above = np.array([500.0, 600.0]), np.array([500.0, 400.0])  # body upright
    roi = alignment_roi(hips, above)
    assert roi is not None
    assert roi.rotation_rad == pytest.approx(0.0, abs=1e-9)
    assert roi.width_px == roi.height_px == pytest.approx(2 * 200 * 1.25)
    lying = alignment_roi(hips, np.array([700.0, 600.0]))  # head to the right
    assert lying is not None and abs(lying.rotation_rad) == pytest.approx(math.pi / 2)
    assert alignment_roi(hips, hips) is None


def test_crop_maps_a_point_to_where_the_region_puts_it():
    image = np.zeros((400, 600, 3), np.uint8)
    cv2.circle(image, (400, 150), 6, (255, 255, 255), -1)
    roi = Roi(300.0, 200.0, 200.0, 200.0, math.pi / 2)
    square, to_image = crop(image, roi, 100, cv2.BORDER_CONSTANT)
    vs, us = np.nonzero(square[:, :, 0] > 127)
    assert len(us) > 0
    back = to_image[:, :2] @ np.array([us.mean(), vs.mean()]) + to_image[:, 2]
    assert np.linalg.norm(back - [400, 150]) < 3


def test_heatmap_moves_a_point_onto_its_peak_only_when_confident():
    heatmap = np.full((64, 64, 2), -10.0)
    heatmap[20, 30, 0] = 10.0
    xy = np.array([[31 / 64, 21 / 64], [10 / 64, 10 / 64]])
    out = refine_with_heatmap(xy, heatmap)
    assert out[0] == pytest.approx([30 / 64, 20 / 64], abs=0.002)
    assert np.array_equal(out[1], xy[1])


def test_iou_of_boxes():
    assert iou((0, 0, 2, 2), (1, 0, 3, 2)) == pytest.approx(1 / 3)
    assert iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [((1, 1), np.uint8), ((1, 1, 3), np.uint8), ((3, 2, 4), np.uint8), ((480, 640), np.uint8),
     ((480, 640, 1), np.float32), ((240, 320, 2), np.uint16), ((4320, 7680, 3), np.uint8),
     ((7680, 4320, 4), np.uint8), ((0, 5, 3), np.uint8), ((5, 0), np.uint8),
     ((64, 3000, 3), np.float64)],
)
def test_any_frame_shape_never_crashes(shape, dtype):
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 255, shape).astype(dtype)
    with PoseEstimator(load_settings()) as est:
        people = est.detect(frame, 0.0)
        people += est.detect(frame, 0.04)
    assert isinstance(people, list)
    assert all(p.shape == (33, 4) for p in people)


def test_frames_change_size_between_calls(shared_data):
    from posecoach.media.reader import VideoReader

    with VideoReader(VIDEO / "side_walk_1080p60.mp4", max_side_px=960) as reader:
        image = next(iter(reader)).image
    with PoseEstimator(load_settings()) as est:
        big = est.detect(image, 0.0)
        small = est.detect(cv2.resize(image, (480, 270)), 0.1)
        gray = est.detect(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), 0.2)
    assert len(big) == len(small) == len(gray) == 1
    hips_big = big[0][23, :2] / 960
    hips_small = small[0][23, :2] / 480
    assert np.linalg.norm(hips_big - hips_small) < 0.02


def test_as_rgb_makes_three_uint8_channels():
    assert as_rgb(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 1] = 200
    assert as_rgb(rgba)[0, 0].tolist() == [0, 200, 0]
    assert as_rgb(np.ones((2, 2, 3), np.float32))[0, 0].tolist() == [255, 255, 255]
    assert as_rgb(np.zeros((0, 3, 3), np.uint8)) is None


def test_missing_model_file_names_the_file_and_the_command(tmp_path):
    with pytest.raises(ModelError) as err:
        load_interpreter(tmp_path / "pose_landmark_full.tflite", 1)
    message = user_message(err.value)
    assert "pose_landmark_full.tflite" in message and "posecoach build-model" in message


def test_corrupt_model_file_names_the_file_and_the_command(tmp_path):
    bad = tmp_path / "pose_detection.tflite"
    bad.write_bytes(b"not a model" * 100)
    with pytest.raises(ModelError) as err:
        load_interpreter(bad, 1)
    assert str(bad) in str(err.value) and "posecoach build-model" in str(err.value)


def test_damaged_default_model_is_caught_before_loading(tmp_path, monkeypatch):
    monkeypatch.setenv("POSECOACH_MODELS_DIR", str(tmp_path))
    real = Path(__file__).resolve().parents[2] / "models"
    for name in (model_files.DETECTOR_FILE, model_files.LANDMARKER_FILE):
        (tmp_path / name).write_bytes((real / name).read_bytes())
    landmarks = tmp_path / model_files.LANDMARKER_FILE
    landmarks.write_bytes(landmarks.read_bytes()[: 1_000_000])  # cut short
    with pytest.raises(ModelError, match="pose_landmark_full.tflite is damaged.*build-model"):
        PoseEstimator(load_settings())


def test_weights_come_from_the_mediapipe_wheel_file(tmp_path, monkeypatch):
    """Without mediapipe installed the two files are read from the downloaded wheel."""
    real = Path(__file__).resolve().parents[2] / "models"
    wheel = tmp_path / "mediapipe-0.10.21-cp312-cp312-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, (member, _) in model_files.LITERT_FILES.items():
            archive.writestr(member, (real / name).read_bytes())
    monkeypatch.setattr(model_files, "_installed_mediapipe_dir", lambda: None)
    monkeypatch.setattr(model_files, "_download_weights_wheel", lambda folder: wheel)
    detector, landmarker = model_files.build_litert_models(tmp_path / "models")
    assert detector.read_bytes() == (real / model_files.DETECTOR_FILE).read_bytes()
    assert landmarker.stat().st_size == (real / model_files.LANDMARKER_FILE).stat().st_size


def test_unknown_model_name_points_to_the_mediapipe_backend():
    with pytest.raises(ModelError, match="--pose-backend mediapipe"):
        PoseEstimator(load_settings(overrides={"pose": {"model": "heavy"}}))


def test_threads_default_to_every_core_and_are_shared_in_a_batch():
    settings = load_settings()
    assert settings.pose.threads == 0
    with PoseEstimator(settings) as est:
        assert est.threads == cpu_count()
    shared = threads_per_job(settings, 2)
    assert shared.pose.threads == max(1, cpu_count() // 2)
    fixed = load_settings(overrides={"pose": {"threads": 3}})
    assert threads_per_job(fixed, 2).pose.threads == 3


@needs_shared_data
def test_finds_both_people_in_the_two_person_clip():
    from posecoach.media.reader import VideoReader

    counts = []
    with PoseEstimator(load_settings(), people_check_s=0.0) as est, VideoReader(
            VIDEO / "side_walk_two_people_vp9.mp4", max_side_px=960) as reader:
        for frame in reader:
            if 3.0 <= frame.time_s <= 4.5:
                counts.append(len(est.detect(frame.image, frame.time_s)))
            elif frame.time_s > 4.5:
                break
            else:
                est.detect(frame.image, frame.time_s)
    assert np.mean(np.array(counts) == 2) > 0.9
