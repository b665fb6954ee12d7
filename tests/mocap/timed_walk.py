"""Motion-capture 3-metre backward walk trials with their true times.

A trial's first pose is held still for `hold_s` before the recorded walk (a walker standing on
the start line, then "go"); `timing_truth` gives the time from movement onset (the end of the
hold) until the pelvis has covered the distance along the walk, from the 3D joints. Variants
make the walker turn and walk forwards, or leave the camera's view, and `floor_marks` projects
two floor lines a known distance apart into the side camera.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from posecoach.pose.landmarks import Landmark, PoseSeries
from tests.mocap.projection import (
    UP,
    Camera,
    Trial,
    body_points,
    load_trial,
    project_trial,
    side_camera,
    walk_axis,
)

L = Landmark


def pelvis(trial: Trial) -> np.ndarray:
    """(T, 3) mid-hip in metres."""
    return (trial.joint("UpperLeg_L") + trial.joint("UpperLeg_R")) / 2


def hold_first_pose(trial: Trial, hold_s: float = 1.5) -> Trial:
    """The trial with its first pose held still for `hold_s` seconds before it."""
    n = int(round(hold_s * trial.fps))
    joints = np.concatenate([np.repeat(trial.joints[:1], n, axis=0), trial.joints])
    rotations = np.concatenate([np.repeat(trial.rotations[:1], n, axis=0), trial.rotations])
    return dataclasses.replace(trial, joints=joints, rotations=rotations)


@dataclass(frozen=True)
class Truth:
    onset_s: float
    end_s: float | None          # None when the pelvis never covers the distance

    @property
    def time_s(self) -> float | None:
        return None if self.end_s is None else self.end_s - self.onset_s


def timing_truth(held: Trial, hold_s: float = 1.5, distance_m: float = 3.0) -> Truth:
    """Movement onset (the end of the hold) and when the pelvis covered `distance_m` along the
    walk's axis away from where it stood, linearly interpolated between frames."""
    onset_i = int(round(hold_s * held.fps))
    p = pelvis(held)
    axis = walk_axis(held)
    along = np.abs((p - p[onset_i]) @ axis)
    t = np.arange(len(held)) / held.fps
    beyond = np.flatnonzero(along >= distance_m)
    if beyond.size == 0:
        return Truth(float(t[onset_i]), None)
    k = int(beyond[0])
    f = (distance_m - along[k - 1]) / (along[k] - along[k - 1])
    return Truth(float(t[onset_i]), float(t[k - 1] + f * (t[k] - t[k - 1])))


def held_trial(path: str, hold_s: float = 1.5) -> Trial:
    return hold_first_pose(load_trial(path), hold_s)


def floor_marks(trial: Trial, camera: Camera, apart_m: float = 3.0,
                start_frame: int = 0, half_length_m: float = 0.6) -> list[float]:
    """Two floor lines `apart_m` apart along the walk, across it, in the camera's pixels:
    x1,y1,x2,y2 (the start line, through the heels at `start_frame`), then x3,y3,x4,y4."""
    axis = walk_axis(trial)
    travel = -axis if (pelvis(trial)[-1] - pelvis(trial)[0]) @ axis < 0 else axis
    heels = body_points(trial)[start_frame, [L.LEFT_HEEL, L.RIGHT_HEEL]]
    return floor_lines_px(camera, heels, travel, np.cross(UP, axis), apart_m, half_length_m)


def floor_lines_px(camera: Camera, heels: np.ndarray, travel: np.ndarray, across: np.ndarray,
                   apart_m: float, half_length_m: float) -> list[float]:
    """Two floor lines `apart_m` apart along `travel`, each `across` the walk, the first
    through the two heels (2, 3), in the camera's pixels: x1,y1,x2,y2, then x3,y3,x4,y4."""
    start = heels.mean(axis=0)
    start[1] = float(heels[:, 1].min())
    out: list[float] = []
    for centre in (start, start + apart_m * travel):
        ends = np.stack([centre - half_length_m * across, centre + half_length_m * across])
        x, y, _ = camera.project(ends)
        out += [float(x[0]), float(y[0]), float(x[1]), float(y[1])]
    return out


def project_held(held: Trial, noise_px: float = 0.0, seed: int = 0,
                 side: str = "left") -> tuple[PoseSeries, Camera]:
    return project_trial(held, side=side, noise_px=noise_px, seed=seed)  # type: ignore[arg-type]


def turn_and_walk_forwards(back: Trial, forward: Trial, after_m: float = 1.5) -> Trial:
    """The backward trial until its pelvis covered `after_m`, then the walker turns round and
    walks forwards the same way (the forward trial, rotated and moved to continue the path)."""
    p = pelvis(back)
    axis_b = walk_axis(back)
    along = np.abs((p - p[0]) @ axis_b)
    cut = int(np.flatnonzero(along >= after_m)[0])
    travel = p[-1] - p[0]
    travel[1] = 0.0
    travel /= np.linalg.norm(travel)
    pf = pelvis(forward)
    f_travel = pf[-1] - pf[0]
    f_travel[1] = 0.0
    f_travel /= np.linalg.norm(f_travel)
    angle = np.arctan2(np.cross(f_travel, travel) @ UP, f_travel @ travel)
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    if not np.allclose(rot @ f_travel, travel, atol=1e-6):
        rot = rot.T
    joints_f = (forward.joints - pf[0]) @ rot.T
    joints_f[..., [0, 2]] += p[cut, [0, 2]]
    rotations_f = np.einsum("ij,tkjl->tkil", rot, forward.rotations)
    return dataclasses.replace(
        back,
        name=f"{back.name}+turn",
        joints=np.concatenate([back.joints[:cut], joints_f]),
        rotations=np.concatenate([back.rotations[:cut], rotations_f]),
    )


def leave_view(series: PoseSeries, visible_px: float) -> PoseSeries:
    """The series as a narrower camera sees it: only `visible_px` columns of the picture, from
    the walker's start towards where they walk. From the first frame any landmark is outside,
    the walker is lost and later frames hold nobody."""
    pts = series.points.copy()
    hip_x = (pts[:, L.LEFT_HIP, 0] + pts[:, L.RIGHT_HIP, 0]) / 2
    towards_right = hip_x[-1] > hip_x[0]
    margin = float(np.abs(pts[0, :, 0] - hip_x[0]).max()) + 5.0
    lo = hip_x[0] - margin if towards_right else hip_x[0] + margin - visible_px
    x = pts[:, :, 0]
    outside = (x < lo) | (x > lo + visible_px)
    gone = np.flatnonzero(outside.any(axis=1))
    if gone.size:
        pts[gone[0]:] = np.nan
    pts[:, :, 0] -= lo
    return dataclasses.replace(series, points=pts, width=int(visible_px))


def side_camera_for(held: Trial) -> Camera:
    return side_camera(held, body_points(held))
