"""The OpenVINO backend (f32) against the LiteRT backend, on the real clips and a real photo.

Both run the same two .tflite files through the same BlazePose code; only the engine differs.
On one crop the two engines' outputs are the same to within 0.001 px of the 256 px crop. Over a
clip, those last-digit differences now and then tip a threshold the other way (a detection's
overlap, which of two candidate regions has the higher presence, a heatmap cell's confidence),
and the person is followed from a slightly different region for a few frames: a foot can then
move by a few per cent of the body's height until the tracks meet again. So the clips are held to
the same bounds as the LiteRT backend against MediaPipe, and their analyses must agree: the same
direction, view and step count, trunk and head medians within 1 degree (the largest difference,
0.9 degree of trunk lean, is on side_walk_two_people_vp9: backlit, a second person jumping).

bf16 (OpenVINO's own default on CPUs with AMX) is not offered: measured against LiteRT on the
shared clips (Intel Xeon with AMX, 2 cores) it broke the agreement bounds (direction, view and
steps the same; trunk and head medians within 1 degree; landmarks within 1.5% of body height at
the median and 4% at p95); the figures are in the table at the end of this module.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from posecoach.pose.blazepose.landmarker import INPUT_SIZE, Landmarker
from posecoach.pose.blazepose.roi import Roi, crop
from posecoach.pose.blazepose.runtime_io import Runtime, load_runner
from posecoach.pose.model import litert_model_paths
from posecoach.settings import load_settings
from tests.conftest import IMAGES, needs_shared_data
from tests.pose.reference import (
    CLIPS,
    ClipLandmarks,
    analyse,
    assert_summaries_agree,
    compare,
    run_backend,
)

pytestmark = [pytest.mark.video, needs_shared_data]

# landmarks within these shares of the person's height in the image, over a clip
MEDIAN_SHARE = 0.015
P95_SHARE = 0.04

_runs: dict[tuple[str, str], ClipLandmarks] = {}


def landmarks(name: str, backend: str) -> ClipLandmarks:
    if (name, backend) not in _runs:
        _runs[(name, backend)] = run_backend(CLIPS[name], backend)
    return _runs[(name, backend)]


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_landmarks_agree_with_litert(name):
    litert, openvino = landmarks(name, "litert"), landmarks(name, "openvino")
    assert openvino.frames == litert.frames
    assert (openvino.width, openvino.height) == (litert.width, litert.height)
    agreement = compare(litert, openvino)
    assert agreement.matched_people >= 0.95 * len(litert.frame_of)
    assert agreement.found_mismatch_share <= 0.02, agreement
    assert agreement.median_share <= MEDIAN_SHARE, agreement
    assert agreement.p95_share <= P95_SHARE, agreement


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_analysis_agrees_with_litert(name):
    settings = load_settings()
    theirs = analyse(landmarks(name, "litert"), settings, name).summary
    ours = analyse(landmarks(name, "openvino"), settings, name).summary
    assert_summaries_agree(ours, theirs)


def _photo_crop() -> np.ndarray:
    """A 256 px crop around the man standing in COCO photo 241, as the landmark model sees it."""
    image = cv2.cvtColor(cv2.imread(str(IMAGES / "COCO_val2014_000000000241.jpg")),
                         cv2.COLOR_BGR2RGB)
    height, width = image.shape[:2]
    side = float(max(height, width))
    square, _ = crop(image, Roi(width / 2, height / 2, side, side, 0.0), INPUT_SIZE,
                     cv2.BORDER_REPLICATE)
    return (square.astype(np.float32) / 255.0)[None]


def test_landmark_model_outputs_match_by_name_on_a_real_crop():
    """The raw outputs of the landmark model, engine against engine, on a real photo: the
    points within 0.01 px of the 256 px crop, the presence within 1e-4."""
    _, landmark_path = litert_model_paths("auto")
    tensor = _photo_crop()
    litert = load_runner(landmark_path, 1, Runtime("litert")).run(tensor)
    openvino = load_runner(landmark_path, 1, Runtime("openvino", "f32")).run(tensor)
    points_l = np.asarray(litert["Identity"]).reshape(39, 5)
    points_o = np.asarray(openvino["Identity"]).reshape(39, 5)
    assert float(np.asarray(litert["Identity_1"]).reshape(-1)[0]) > 0.5  # a person is there
    assert np.abs(points_o[:, :2] - points_l[:, :2]).max() <= 0.01
    presence_l = float(np.asarray(litert["Identity_1"]).reshape(-1)[0])
    presence_o = float(np.asarray(openvino["Identity_1"]).reshape(-1)[0])
    assert abs(presence_o - presence_l) <= 1e-4


def test_landmarker_reads_outputs_by_name_on_both_engines():
    _, landmark_path = litert_model_paths("auto")
    for runtime in (Runtime("litert"), Runtime("openvino", "f32")):
        model = Landmarker(landmark_path, 1, runtime)
        image = cv2.cvtColor(cv2.imread(str(IMAGES / "COCO_val2014_000000000241.jpg")),
                             cv2.COLOR_BGR2RGB)
        height, width = image.shape[:2]
        side = float(max(height, width))
        result = model.run(image, Roi(width / 2, height / 2, side, side, 0.0))
        assert result.presence > 0.5, runtime
        assert result.points.shape == (33, 4)
        inside = ((result.points[:, 0] >= 0) & (result.points[:, 0] < width)
                  & (result.points[:, 1] >= 0) & (result.points[:, 1] < height))
        assert inside.mean() > 0.8, runtime


# Measured, not asserted (bf16 is not offered, and on a CPU without bf16 support OpenVINO runs it
# at f32). Against LiteRT, 1 thread each, Intel Xeon with AMX, OpenVINO 2026.4.1; landmark
# distance as % of body height, median / p95; "found" = frames where only one found somebody.
#
# | clip                       | f32 med/p95 | bf16 med/p95 | bf16 found | bf16 analysis         |
# |----------------------------|-------------|--------------|------------|-----------------------|
# | back_view_people_139s      | 0.21/1.78   | 0.75/4.30 !  | 1.4%       | back view, same       |
# | backward_walk_side_1080p60 | 0.09/1.53   | 0.17/2.63    | 0          | 3 steps; +0.05/+0.43  |
# | front_two_walkers          | 0.13/1.20   | 0.30/2.28    | 2.9% !     | front view, same      |
# | side_walk_1080p60          | 0.05/0.66   | 0.16/1.52    | 0          | 3 steps; +0.14/+0.08  |
# | side_walk_two_people_vp9   | 0.16/2.50   | 0.38/7.82 !  | 2.2% !     | 3 steps; -0.49/+0.64  |
#
# Trunk / head median differences in degrees; "!" beyond the bounds (p95 4%, found 2%). The
# motion-capture trials are landmarks projected from 3D joints, with no pixels for a model to
# see, so they cannot tell the engines apart.
