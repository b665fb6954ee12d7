"""A validation harness that cannot flatter: motion capture seen by many perspective cameras.

Each motion-capture trial is seen by a level pinhole camera at hip height, `distance_m` from
the walk's line, turned `angle_deg` off the perpendicular to the walk, from either side, with
its own focal length (a 70 degree wide picture, 1920x1080), 2 px of pixel noise and the far
side less visible. Whatever leaves the picture is not seen: a walk longer than the view is cut
at the picture's edges, and the walker enters and leaves it.

The body's proportions can be changed for the same stature: `leg_scale` lengthens (> 1) or
shortens the legs (every leg point's offset from the hips, and the pelvis's travel with it, so
the feet stay planted) and shrinks or grows the body above the hips so the ear-to-heel height
stays. The truth is always recomputed from the changed 3D points: step length along the walk
(peaks of the ankles' separation along the walk's axis), leg length, stature (`stature_cm`)
and the timed walk.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from scipy.signal import find_peaks

from posecoach.pose.landmarks import Landmark, PoseSeries
from tests.mocap.projection import (
    HEIGHT_ABOVE_EAR_M,
    LEFT_LANDMARKS,
    RIGHT_LANDMARKS,
    UP,
    Camera,
    body_points,
    load_trial,
    walk_axis,
)
from tests.mocap.timed_walk import floor_lines_px, hold_first_pose

L = Landmark

DISTANCES_M = (3.0, 4.0, 6.0)
ANGLES_DEG = (0.0, 10.0, 20.0)
LEG_SCALES = (0.93, 1.0, 1.07)
SIDES = ("left", "right")
HFOV_DEG = 70.0
WIDTH, HEIGHT = 1920, 1080
NOISE_PX = 2.0
FAR_VISIBILITY = 0.6
HOLD_S = 1.5

_LEG_POINTS = [L.LEFT_KNEE, L.RIGHT_KNEE, L.LEFT_ANKLE, L.RIGHT_ANKLE, L.LEFT_HEEL,
               L.RIGHT_HEEL, L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX]
_HIPS = [L.LEFT_HIP, L.RIGHT_HIP]


@dataclass(frozen=True)
class Body:
    """A trial's 33 landmark points (T, 33, 3) in metres, its axis and frame rate."""

    name: str
    points: np.ndarray
    axis: np.ndarray
    fps: float

    @property
    def pelvis(self) -> np.ndarray:
        return self.points[:, _HIPS].mean(axis=1)


@dataclass(frozen=True)
class BodyTruth:
    step_length_m: float | None
    leg_length_m: float
    stature_cm: float
    steps: int


def _ground_y(points: np.ndarray) -> float:
    return float(np.median(points[:, [L.LEFT_HEEL, L.RIGHT_HEEL], 1].min(axis=1)))


STANDING_PERCENTILE = 95.0


def stature_cm(points: np.ndarray) -> float:
    """The standing height: ear midpoint + 12 cm above the lower heel (the README's), at the
    walk's tallest moments (95th percentile).

    The height a person gives is their standing height, and walking never makes them taller;
    the README's median over the walk is 1-2% lower than the standing first pose of most
    trials, where the 95th percentile is within 1%.
    """
    ear = points[:, [L.LEFT_EAR, L.RIGHT_EAR], 1].mean(axis=1)
    heel = points[:, [L.LEFT_HEEL, L.RIGHT_HEEL], 1].min(axis=1)
    return float(np.percentile(ear + HEIGHT_ABOVE_EAR_M - heel, STANDING_PERCENTILE)) * 100.0


def with_legs(body: Body, leg_scale: float) -> Body:
    """The same walk by a body whose legs are `leg_scale` times as long, same stature."""
    if leg_scale == 1.0:
        return body
    p = body.points.copy()
    ground = _ground_y(p)
    hip = p[:, _HIPS].mean(axis=1)                       # (T, 3)
    hip_h = float(np.median(hip[:, 1])) - ground
    tall = stature_cm(p) / 100.0
    upper = (tall - leg_scale * hip_h) / (tall - hip_h)  # the body above the hips, scaled
    start = hip[0].copy()
    new_hip = hip.copy()
    new_hip[:, [0, 2]] = start[[0, 2]] + leg_scale * (hip[:, [0, 2]] - start[[0, 2]])
    new_hip[:, 1] = ground + leg_scale * (hip[:, 1] - ground)
    legs = np.zeros(p.shape[1], dtype=bool)
    legs[_LEG_POINTS] = True
    out = np.where(legs[None, :, None], new_hip[:, None] + leg_scale * (p - hip[:, None]),
                   new_hip[:, None] + upper * (p - hip[:, None]))
    out[:, _HIPS] = new_hip[:, None] + (p[:, _HIPS] - hip[:, None])
    return Body(f"{body.name} legs x{leg_scale:g}", out, body.axis, body.fps)


def truth(body: Body) -> BodyTruth:
    p = body.points
    along = np.abs((p[:, L.LEFT_ANKLE] - p[:, L.RIGHT_ANKLE]) @ body.axis)
    peaks, _ = find_peaks(along, prominence=0.05)
    thigh = np.linalg.norm(p[:, L.LEFT_KNEE] - p[:, L.LEFT_HIP], axis=1).mean()
    shank = np.linalg.norm(p[:, L.LEFT_ANKLE] - p[:, L.LEFT_KNEE], axis=1).mean()
    return BodyTruth(float(np.median(along[peaks])) if peaks.size else None,
                     float(thigh + shank), stature_cm(p), int(peaks.size))


@cache
def load_body(path: str, hold_s: float = 0.0) -> Body:
    """A trial's landmark points; with `hold_s`, its first pose held still that long first."""
    trial = load_trial(path)
    if hold_s > 0:
        trial = hold_first_pose(trial, hold_s)
    return Body(Path(path).name, body_points(trial), walk_axis(trial), trial.fps)


def camera(body: Body, side: str, distance_m: float, angle_deg: float,
           centre_frames: slice | None = None) -> Camera:
    """A level camera at hip height, `distance_m` from the walk's line at the middle of the
    walk (or of `centre_frames`), its axis `angle_deg` off the perpendicular to the walk."""
    pelvis = body.pelvis if centre_frames is None else body.pelvis[centre_frames]
    middle = (pelvis.min(axis=0) + pelvis.max(axis=0)) / 2
    middle[1] = float(np.median(pelvis[:, 1]))
    left = np.cross(UP, body.axis)
    look = -left if side == "left" else left
    a = np.radians(angle_deg)
    c, s = np.cos(a), np.sin(a)
    # turn the optical axis about the vertical
    axis = c * look + s * body.axis
    axis /= np.linalg.norm(axis)
    right = np.cross(axis, UP)
    focal = (WIDTH / 2) / np.tan(np.radians(HFOV_DEG) / 2)
    return Camera(middle - distance_m * axis, axis, right, float(focal), WIDTH, HEIGHT)


def project(body: Body, cam: Camera, side: str, seed: int = 7) -> PoseSeries:
    """The landmarks the camera sees: noise, a less visible far side, nothing outside."""
    x, y, depth = cam.project(body.points)
    hip_depth = depth[:, _HIPS].mean(axis=1)
    z = (depth - hip_depth[:, None]) * cam.focal_px / hip_depth[:, None]
    out = np.stack([x, y, z, np.full_like(x, 0.95)], axis=-1)
    far = RIGHT_LANDMARKS if side == "left" else LEFT_LANDMARKS
    out[:, sorted(far), 3] = FAR_VISIBILITY
    rng = np.random.default_rng(seed)
    out[:, :, :2] += rng.normal(0.0, NOISE_PX, size=out[:, :, :2].shape)
    outside = ((out[:, :, 0] < 0) | (out[:, :, 0] >= cam.width) | (out[:, :, 1] < 0)
               | (out[:, :, 1] >= cam.height))
    out[outside] = np.nan
    # a pose model loses the walker whose hips have left the picture
    gone = outside[:, _HIPS].any(axis=1)
    out[gone] = np.nan
    n = len(out)
    return PoseSeries(time_s=np.arange(n) / body.fps, points=out, width=cam.width,
                      height=cam.height)


def floor_marks(body: Body, cam: Camera, onset: int, travel: np.ndarray,
                apart_m: float = 3.0, half_length_m: float = 0.6) -> list[float]:
    """Two floor lines `apart_m` apart along `travel`, across the walk, in the camera's pixels
    (the start line through the heels at frame `onset`)."""
    heels = body.points[onset, [L.LEFT_HEEL, L.RIGHT_HEEL]]
    return floor_lines_px(cam, heels, travel, np.cross(UP, body.axis), apart_m, half_length_m)


def timed_truth_s(body: Body, onset: int, distance_m: float = 3.0) -> float | None:
    """Seconds from `onset` until the pelvis covered `distance_m` along the walk's axis."""
    along = np.abs((body.pelvis - body.pelvis[onset]) @ body.axis)
    beyond = np.flatnonzero(along >= distance_m)
    if beyond.size == 0:
        return None
    k = int(beyond[0])
    f = (distance_m - along[k - 1]) / (along[k] - along[k - 1])
    return float((k - 1 + f - onset) / body.fps)
