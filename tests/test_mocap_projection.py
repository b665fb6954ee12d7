"""The motion-capture harness itself: BVH forward kinematics and the virtual side-view camera.

1. Forward kinematics reproduces `reference_values.csv` (computed by the data's provider from the
   same BVH files with the README's definitions): direction and step count exactly, angles within
   0.5 deg, lengths, cadence and height within 2 %.
2. The projection keeps the walker in frame, faces image left from the walker's left side and
   image right from the right side, preserves the sagittal angles (image medians within 1 deg of
   the 3D ones), and its noise, visibility and leg swap options do what they say.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from posecoach.pose.landmarks import LEG_PAIRS, Landmark, PoseSeries
from tests.conftest import MOCAP as MOCAP_DIR
from tests.conftest import needs_shared_data, shared_names
from tests.mocap.bvh import forward_kinematics, parse_bvh
from tests.mocap.projection import load_trial, project_trial, projected_truth, reference_values

REFERENCE_CSV = MOCAP_DIR / "reference_values.csv"
TRIALS = shared_names(MOCAP_DIR, "*.bvh")

pytestmark = needs_shared_data

ANGLE_TOL_DEG = 0.5
LENGTH_REL_TOL = 0.02


def _reference_rows() -> dict[str, dict[str, str]]:
    with REFERENCE_CSV.open(newline="") as fh:
        return {row["file"]: row for row in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def reference_rows() -> dict[str, dict[str, str]]:
    return _reference_rows()


def test_parse_minimal_bvh_with_general_channel_order() -> None:
    text = """HIERARCHY
ROOT Root
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Yrotation Xrotation Zrotation
  JOINT Child
  {
    OFFSET 10 0 0
    CHANNELS 3 Zrotation Yrotation Xrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.5
1 2 3 0 0 0 0 0 0
0 0 0 90 0 0 0 0 0
"""
    from_text = parse_bvh(text)
    assert from_text.names == ["Root", "Child"]
    assert from_text.fps == pytest.approx(2.0)
    assert from_text.joints[1].end_site is not None

    pos = forward_kinematics(from_text)
    assert pos.shape == (2, 2, 3)
    # Frame 0: root at (1, 2, 3) cm, child 10 cm along X.
    np.testing.assert_allclose(pos[0, 1], [0.11, 0.02, 0.03], atol=1e-9)
    # Frame 1: root yawed 90 deg about Y: local X maps to world -Z.
    np.testing.assert_allclose(pos[1, 1], [0.0, 0.0, -0.10], atol=1e-9)


@pytest.mark.parametrize("name", TRIALS)
def test_forward_kinematics_reproduces_reference(
    name: str, reference_rows: dict[str, dict[str, str]]
) -> None:
    ref = reference_rows[name]
    got = reference_values(load_trial(MOCAP_DIR / name))
    assert got["frames"] == int(ref["frames"])
    assert got["fps"] == pytest.approx(float(ref["fps"]), rel=1e-3)
    assert got["direction"] == ref["direction"]
    assert got["steps"] == int(ref["steps"])
    for key in ("trunk_lean_deg_median", "head_angle_deg_median"):
        assert got[key] == pytest.approx(float(ref[key]), abs=ANGLE_TOL_DEG), key
    for key in (
        "speed_mps",
        "step_length_m",
        "leg_length_m",
        "step_length_leg",
        "cadence_spm",
        "height_cm",
    ):
        if ref[key] == "":
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(float(ref[key]), rel=LENGTH_REL_TOL), key


@pytest.mark.parametrize("name", TRIALS)
def test_projection_keeps_walker_in_frame_and_angles(name: str) -> None:
    trial = load_trial(MOCAP_DIR / name)
    ref = reference_values(trial)
    for side, facing in (("left", -1.0), ("right", 1.0)):
        series, _ = project_trial(trial, side)
        assert isinstance(series, PoseSeries)
        assert series.points.shape == (len(trial), 33, 4)
        assert series.fps == pytest.approx(trial.fps, rel=1e-3)
        x, y = series.points[..., 0], series.points[..., 1]
        assert np.all((x > 0) & (x < series.width) & (y > 0) & (y < series.height))
        truth = projected_truth(trial, side)
        assert np.all(truth["facing"] == facing)
        for key in ("trunk_lean_deg", "head_angle_deg"):
            img = float(np.median(truth[key]))
            assert img == pytest.approx(ref[f"{key}_median"], abs=1.0), (side, key)
        # Travel in the image: backward walkers move against their image facing.
        hips = series.points[:, [Landmark.LEFT_HIP, Landmark.RIGHT_HIP], 0]
        hip_x = hips.mean(axis=1)
        travel = np.sign(hip_x[-1] - hip_x[0]) * facing
        assert travel == (-1.0 if ref["direction"] == "backward" else 1.0)


def test_projection_options() -> None:
    trial = load_trial(MOCAP_DIR / TRIALS[0])
    clean, _ = project_trial(trial, "left")
    noisy, _ = project_trial(trial, "left", noise_px=2.0, seed=3)
    again, _ = project_trial(trial, "left", noise_px=2.0, seed=3)
    np.testing.assert_array_equal(noisy.points, again.points)
    err = (noisy.points[..., :2] - clean.points[..., :2]).ravel()
    assert np.std(err) == pytest.approx(2.0, rel=0.05)

    vis, _ = project_trial(trial, "left", near_visibility=0.95, far_visibility=0.6)
    assert np.all(vis.points[:, Landmark.LEFT_ANKLE, 3] == 0.95)   # left side faces the camera
    assert np.all(vis.points[:, Landmark.RIGHT_ANKLE, 3] == 0.6)
    vis_r, _ = project_trial(trial, "right", near_visibility=0.95, far_visibility=0.6)
    assert np.all(vis_r.points[:, Landmark.LEFT_ANKLE, 3] == 0.6)

    swapped, _ = project_trial(trial, "left", swaps=2, swap_frames=3, seed=1)
    a, b = LEG_PAIRS[1]
    moved = np.any(swapped.points[:, a, :2] != clean.points[:, a, :2], axis=-1)
    assert moved.sum() == 6
    np.testing.assert_array_equal(swapped.points[moved, a], clean.points[moved, b])
