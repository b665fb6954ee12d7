"""Motion capture to MediaPipe-style landmarks through a virtual side-view pinhole camera.

`load_trial` reads a BVH trial, `reference_values` computes the README's reference numbers from
the 3D joints (the truth), and `project_trial` renders the 33 landmarks a pose model would give
for a static camera beside the walk, with optional pixel noise, a less visible far side and short
left/right leg label swaps.

World frame: metres, Y up (the BVH's). Body frame per frame: `facing` is the horizontal normal of
the left-right shoulder line ((left - right) x up), `left` = up x facing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import find_peaks

from posecoach.pose.landmarks import LEG_PAIRS, NUM_LANDMARKS, Landmark, PoseSeries
from tests.mocap.bvh import forward_kinematics_full, load_bvh

L = Landmark
UP = np.array([0.0, 1.0, 0.0])
CameraSide = Literal["left", "right"]

EAR_ABOVE_HEAD_M = 0.08      # README: the ear midpoint is 8 cm above the Head joint
HEIGHT_ABOVE_EAR_M = 0.12    # README: height = ear midpoint + 12 cm above the lower heel
HEEL_BELOW_FOOT_M = 0.06     # the reference's heel is 6 cm below the Foot joint (fits all trials)
HALF_HEAD_WIDTH_M = 0.075

# Landmarks that sit on a body joint.
JOINT_MAP: dict[int, str] = {
    L.LEFT_SHOULDER: "UpperArm_L",
    L.RIGHT_SHOULDER: "UpperArm_R",
    L.LEFT_ELBOW: "LowerArm_L",
    L.RIGHT_ELBOW: "LowerArm_R",
    L.LEFT_WRIST: "Hand_L",
    L.RIGHT_WRIST: "Hand_R",
    L.LEFT_HIP: "UpperLeg_L",
    L.RIGHT_HIP: "UpperLeg_R",
    L.LEFT_KNEE: "LowerLeg_L",
    L.RIGHT_KNEE: "LowerLeg_R",
    L.LEFT_ANKLE: "Foot_L",
    L.RIGHT_ANKLE: "Foot_R",
}

LEFT_LANDMARKS = frozenset(int(m) for m in L if m.name.startswith("LEFT") or m.name == "MOUTH_LEFT")
RIGHT_LANDMARKS = frozenset(
    int(m) for m in L if m.name.startswith("RIGHT") or m.name == "MOUTH_RIGHT"
)


@dataclass
class Trial:
    """One motion-capture trial: world joints (T, J, 3) m, joint rotations, names, frame rate."""

    name: str
    joints: np.ndarray
    rotations: np.ndarray
    names: list[str]
    fps: float

    def __len__(self) -> int:
        return int(self.joints.shape[0])

    def joint(self, name: str) -> np.ndarray:
        """(T, 3) world positions of one joint."""
        return self.joints[:, self.names.index(name)]

    def rotation(self, name: str) -> np.ndarray:
        """(T, 3, 3) world rotation of one joint."""
        return self.rotations[:, self.names.index(name)]


def load_trial(path: str | Path) -> Trial:
    """Read a BVH file and run forward kinematics (frame rate rounded to 0.001 fps)."""
    bvh = load_bvh(path)
    pos, rot = forward_kinematics_full(bvh)
    # "Frame Time: 0.0333333" is 1/30 printed to 6 digits: use the nominal rate (README: 30 fps).
    return Trial(Path(path).name, pos, rot, bvh.names, round(bvh.fps, 3))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _horizontal(v: np.ndarray) -> np.ndarray:
    out = np.array(v, dtype=np.float64, copy=True)
    out[..., 1] = 0.0
    return out


def facing_direction(joints: np.ndarray, names: list[str]) -> np.ndarray:
    """(T, 3) horizontal unit normal of the shoulder line, pointing where the body faces."""
    lr = joints[:, names.index("UpperArm_L")] - joints[:, names.index("UpperArm_R")]
    return _unit(_horizontal(np.cross(lr, UP)))


def _sagittal_angle(v: np.ndarray, facing: np.ndarray) -> np.ndarray:
    """Angle (deg) of v from vertical in the plane of `facing`; + = towards facing."""
    return np.degrees(np.arctan2((v * facing).sum(-1), v[:, 1]))


def reference_values(trial: Trial) -> dict[str, float | int | str | None]:
    """The README's reference numbers computed from the 3D joints (see data/README.md).

    Beyond the CSV's columns: `step_length_along_m` / `step_length_along_leg`, the step length
    along the walk's main axis only, which is all a side view can see (the README's horizontal
    ankle distance also holds the step width).
    """
    j = trial.joint
    fps = trial.fps
    n = len(trial)
    facing = facing_direction(trial.joints, trial.names)
    pelvis = (j("UpperLeg_L") + j("UpperLeg_R")) / 2
    shoulders = (j("UpperArm_L") + j("UpperArm_R")) / 2
    ears = j("Head") + EAR_ABOVE_HEAD_M * UP
    velocity = np.gradient(pelvis, axis=0) * fps
    travel = float(np.median((velocity * facing).sum(-1)))
    displacement = _horizontal(pelvis[-1] - pelvis[0])

    separation = np.linalg.norm(_horizontal(j("Foot_L") - j("Foot_R")), axis=-1)
    peaks, _ = find_peaks(separation)
    leg = float(
        np.linalg.norm(j("UpperLeg_L") - j("LowerLeg_L"), axis=-1).mean()
        + np.linalg.norm(j("LowerLeg_L") - j("Foot_L"), axis=-1).mean()
    )
    step_m = float(np.median(separation[peaks])) if peaks.size else None
    cadence = None
    if peaks.size > 2:
        cadence = (peaks.size - 1) / ((peaks[-1] - peaks[0]) / fps) * 60.0
    # What a side view can see: the ankles' separation along the walk's main axis (no step width).
    along = np.abs((j("Foot_L") - j("Foot_R")) @ walk_axis(trial))
    along_peaks, _ = find_peaks(along)
    along_m = float(np.median(along[along_peaks])) if along_peaks.size else None
    heel = np.minimum(j("Foot_L")[:, 1], j("Foot_R")[:, 1]) - HEEL_BELOW_FOOT_M
    height = float(np.median(ears[:, 1] + HEIGHT_ABOVE_EAR_M - heel))
    return {
        "file": trial.name,
        "frames": n,
        "fps": fps,
        "direction": "backward" if travel < 0 else "forward",
        "speed_mps": float(np.linalg.norm(displacement) / (n / fps)),
        "trunk_lean_deg_median": float(np.median(_sagittal_angle(shoulders - pelvis, facing))),
        "head_angle_deg_median": float(np.median(_sagittal_angle(ears - shoulders, facing))),
        "steps": int(peaks.size),
        "step_length_m": step_m,
        "leg_length_m": leg,
        "step_length_leg": step_m / leg if step_m is not None else None,
        "cadence_spm": cadence,
        "height_cm": height * 100.0,
        "step_length_along_m": along_m,
        "step_length_along_leg": along_m / leg if along_m is not None else None,
    }


def body_points(trial: Trial) -> np.ndarray:
    """(T, 33, 3) world positions (m) of MediaPipe's landmarks built from the mocap joints."""
    j = trial.joint
    out = np.zeros((len(trial), NUM_LANDMARKS, 3))
    for lm, name in JOINT_MAP.items():
        out[:, lm] = j(name)

    # Head: the Head joint's local X points up the head, Y forward, Z to the left.
    head_rot = trial.rotation("Head")
    h_up, h_fwd, h_left = (head_rot[:, :, k] for k in range(3))
    ear_mid = j("Head") + EAR_ABOVE_HEAD_M * UP
    out[:, L.LEFT_EAR] = ear_mid + HALF_HEAD_WIDTH_M * h_left
    out[:, L.RIGHT_EAR] = ear_mid - HALF_HEAD_WIDTH_M * h_left
    out[:, L.NOSE] = ear_mid + 0.10 * h_fwd - 0.02 * h_up
    eye = ear_mid + 0.08 * h_fwd + 0.015 * h_up
    for side, sign in (("LEFT", 1.0), ("RIGHT", -1.0)):
        out[:, L[f"{side}_EYE_INNER"]] = eye + sign * 0.015 * h_left
        out[:, L[f"{side}_EYE"]] = eye + sign * 0.032 * h_left
        out[:, L[f"{side}_EYE_OUTER"]] = eye + sign * 0.045 * h_left - 0.01 * h_fwd
    mouth = ear_mid + 0.085 * h_fwd - 0.06 * h_up
    out[:, L.MOUTH_LEFT] = mouth + 0.025 * h_left
    out[:, L.MOUTH_RIGHT] = mouth - 0.025 * h_left

    facing = facing_direction(trial.joints, trial.names)
    lateral = _unit(j("UpperLeg_L") - j("UpperLeg_R"))
    for side, s in (("LEFT", "L"), ("RIGHT", "R")):
        # Fingers: along the forearm past the wrist, thumb towards the front.
        hand = j(f"Hand_{s}")
        u = _unit(hand - j(f"LowerArm_{s}"))
        out[:, L[f"{side}_INDEX"]] = hand + 0.08 * u + 0.01 * facing
        out[:, L[f"{side}_PINKY"]] = hand + 0.07 * u - 0.015 * facing
        out[:, L[f"{side}_THUMB"]] = hand + 0.04 * u + 0.025 * facing
        # Foot: u from ankle to toes, n the foot's own "up" (perpendicular to u and the pelvis's
        # left-right axis). The heel sits behind and below the ankle, the toe tip past Toes.
        foot, toes = j(f"Foot_{s}"), j(f"Toes_{s}")
        u = _unit(toes - foot)
        n = _unit(np.cross(u, lateral))
        out[:, L[f"{side}_HEEL"]] = foot - 0.07 * n - 0.01 * u
        out[:, L[f"{side}_FOOT_INDEX"]] = toes + 0.04 * u
    return out


@dataclass
class Camera:
    """A level pinhole camera: centre (3,), optical axis, image right, focal length in px."""

    centre: np.ndarray
    axis: np.ndarray
    right: np.ndarray
    focal_px: float
    width: int
    height: int

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pixel x, pixel y (down) and depth (m along the axis) of world points (..., 3)."""
        rel = points - self.centre
        depth = rel @ self.axis
        x = self.width / 2 + self.focal_px * (rel @ self.right) / depth
        y = self.height / 2 - self.focal_px * (rel @ UP) / depth
        return x, y, depth


def walk_axis(trial: Trial) -> np.ndarray:
    """Main horizontal direction of the pelvis track (PCA), signed to agree with the facing."""
    pelvis = (trial.joint("UpperLeg_L") + trial.joint("UpperLeg_R")) / 2
    ground = pelvis[:, [0, 2]] - pelvis[:, [0, 2]].mean(axis=0)
    _, _, vt = np.linalg.svd(ground, full_matrices=False)
    axis = np.array([vt[0, 0], 0.0, vt[0, 1]])
    facing = facing_direction(trial.joints, trial.names).mean(axis=0)
    return axis if axis @ facing >= 0 else -axis


BELT_HOLD_S = 1.0   # a belt holds the pelvis's average position, not its sway within a stride


def held_in_place(trial: Trial, points: np.ndarray) -> np.ndarray:
    """The landmarks with the pelvis held in place along the walk, as a treadmill belt holds it.

    Every point moves back by the pelvis's travel along the walk axis, smoothed over
    `BELT_HOLD_S` (the belt's steady speed), so the walker keeps the small forward and backward
    sway of each stride while the feet are carried along as on a belt.
    """
    w = walk_axis(trial)
    pelvis = (trial.joint("UpperLeg_L") + trial.joint("UpperLeg_R")) / 2
    along = pelvis @ w
    n = max(1, int(round(BELT_HOLD_S * trial.fps)))
    held = uniform_filter1d(along, n, mode="nearest")
    return points - (held - held.mean())[:, None, None] * w


def side_camera(
    trial: Trial,
    points: np.ndarray,
    side: CameraSide = "left",
    width: int = 1920,
    height: int = 1080,
    hfov_deg: float = 60.0,
    margin_frac: float = 0.08,
) -> Camera:
    """A camera on the walker's `side`, at hip height, looking perpendicular to the walk.

    It stands just far enough back that every landmark of every frame stays `margin_frac` inside
    the frame. On the walker's left side the walker faces image left, on the right side image
    right.
    """
    w = walk_axis(trial)
    left = np.cross(UP, w)
    axis = -left if side == "left" else left
    right = np.cross(axis, UP)
    pelvis = (trial.joint("UpperLeg_L") + trial.joint("UpperLeg_R")) / 2
    centre = _horizontal(pelvis.mean(axis=0))
    centre[1] = float(np.median(pelvis[:, 1]))
    focal = (width / 2) / np.tan(np.radians(hfov_deg) / 2)
    rel = points.reshape(-1, 3) - centre
    across, vertical, depth = rel @ right, rel @ UP, rel @ axis
    half_w = (width / 2) * (1 - 2 * margin_frac)
    half_h = (height / 2) * (1 - 2 * margin_frac)
    distance = max(
        float(np.max(focal * np.abs(across) / half_w - depth)),
        float(np.max(focal * np.abs(vertical) / half_h - depth)),
        2.0,
    )
    return Camera(centre - distance * axis, axis, right, float(focal), width, height)


def project_trial(
    trial: Trial,
    side: CameraSide = "left",
    noise_px: float = 0.0,
    near_visibility: float = 0.95,
    far_visibility: float = 0.95,
    swaps: int = 0,
    swap_frames: int = 3,
    seed: int = 0,
    width: int = 1920,
    height: int = 1080,
    in_place: bool = False,
) -> tuple[PoseSeries, Camera]:
    """Render the trial as the 33 landmarks (T, 33, 4) of a side-view camera.

    x, y are pixels (y down); z is the depth relative to the mid-hip in pixels at the hip's
    distance (negative = nearer the camera, as MediaPipe's z). The walker's side facing the camera
    gets `near_visibility`, the other side `far_visibility`. `noise_px` adds seeded Gaussian
    noise to x and y; `swaps` swaps the leg labels (`LEG_PAIRS`) for `swap_frames` frames at that
    many random moments. `in_place` holds the pelvis in place as on a treadmill
    (`held_in_place`).
    """
    rng = np.random.default_rng(seed)
    points = body_points(trial)
    if in_place:
        points = held_in_place(trial, points)
    cam = side_camera(trial, points, side, width, height)
    x, y, depth = cam.project(points)
    hip_depth = (depth[:, L.LEFT_HIP] + depth[:, L.RIGHT_HIP]) / 2
    z = (depth - hip_depth[:, None]) * cam.focal_px / hip_depth[:, None]
    out = np.stack([x, y, z, np.full_like(x, near_visibility)], axis=-1)
    far = RIGHT_LANDMARKS if side == "left" else LEFT_LANDMARKS
    out[:, sorted(far), 3] = far_visibility
    if noise_px > 0:
        out[:, :, :2] += rng.normal(0.0, noise_px, size=out[:, :, :2].shape)
    n = len(trial)
    if swaps > 0 and n > swap_frames:
        # Windows at least one frame apart, so no two swaps cancel.
        candidates = np.arange(0, n - swap_frames, swap_frames + 1)
        starts = rng.choice(candidates, size=min(swaps, candidates.size), replace=False)
        for start in starts:
            frames = slice(int(start), int(start) + swap_frames)
            for a, b in LEG_PAIRS:
                out[frames, [a, b]] = out[frames, [b, a]]
    series = PoseSeries(time_s=np.arange(n) / trial.fps, points=out, width=width, height=height)
    return series, cam


def projected_truth(trial: Trial, side: CameraSide = "left") -> dict[str, np.ndarray]:
    """Noise-free per-frame image quantities, for checking the projection itself.

    trunk and head angles (deg, + = towards the facing in the image) and the image facing sign.
    """
    series, _ = project_trial(trial, side)
    p = series.points
    hip = (p[:, L.LEFT_HIP, :2] + p[:, L.RIGHT_HIP, :2]) / 2
    sh = (p[:, L.LEFT_SHOULDER, :2] + p[:, L.RIGHT_SHOULDER, :2]) / 2
    ear = (p[:, L.LEFT_EAR, :2] + p[:, L.RIGHT_EAR, :2]) / 2
    facing = np.sign(p[:, L.NOSE, 0] - ear[:, 0])

    def angle(v: np.ndarray) -> np.ndarray:
        return np.degrees(np.arctan2(v[:, 0] * facing, -v[:, 1]))

    return {"facing": facing, "trunk_lean_deg": angle(sh - hip), "head_angle_deg": angle(ear - sh)}
