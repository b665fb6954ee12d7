"""Synthetic landmark sequences with known geometry: a 3D stick figure seen by a camera.

The figure is built in body coordinates (forward, right, up) in leg lengths, turned to face
`yaw_deg` (90 = image right, -90 = image left, 0 = towards the camera, 180 = away from it) and
projected orthographically into a frame of `width` x `height` pixels, one leg length being
`leg_px` pixels. Its gait is a simple stance/swing cycle: a foot stands still on the ground for
`stance_frac` of the stride and swings forward along the direction of travel for the rest, so the
distance between consecutive footprints, and the ankle separation at double support, is exactly
the step length. Backward walking moves the pelvis against the facing while the feet still point
the way the body faces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from posecoach.pose.landmarks import LEG_PAIRS, NUM_LANDMARKS, Landmark, PoseSeries

L = Landmark
Param = float | Callable[[np.ndarray], np.ndarray]

TORSO_LEG = 0.6          # mid-hip to mid-shoulder, leg lengths
NECK_LEG = 0.25          # mid-shoulder to ear midpoint
HIP_HALF_WIDTH = 0.1
SHOULDER_HALF_WIDTH = 0.22
EAR_HALF_WIDTH = 0.09
NOSE_FORWARD = 0.12      # nose ahead of the ear axis
NOSE_DROP = 0.025        # nose below the ear level in a neutral head
ANKLE_HEIGHT = 0.09


@dataclass
class Truth:
    """What the synthetic walker really did."""

    step_times_s: np.ndarray
    step_sides: list[str]
    step_length_leg: float
    cadence_spm: float
    speed_leg_s: float
    leg_px: float
    landing_times_s: dict[str, np.ndarray] = field(default_factory=dict)


def _value(p: Param, t: np.ndarray) -> np.ndarray:
    return np.broadcast_to(np.asarray(p(t) if callable(p) else p, dtype=float), t.shape).copy()


def _smoothstep(w: np.ndarray) -> np.ndarray:
    return w * w * (3.0 - 2.0 * w)


def _foot_rel(phase: np.ndarray, step_leg: float, stance_frac: float) -> tuple[np.ndarray, ...]:
    """Foot position along the travel direction relative to the pelvis, and its lift."""
    a = step_leg * stance_frac
    stance = phase < stance_frac
    w = np.clip((phase - stance_frac) / (1.0 - stance_frac), 0.0, 1.0)
    rel = np.where(stance, a - 2.0 * step_leg * phase, -a + 2.0 * a * _smoothstep(w))
    lift = np.where(stance, 0.0, 0.08 * np.sin(np.pi * w))
    return rel, lift


def _knee(hip: np.ndarray, ankle: np.ndarray, fwd: np.ndarray) -> np.ndarray:
    """Knee of a two-segment leg (half a leg length each) bending towards `fwd`."""
    d_vec = ankle - hip
    d = np.linalg.norm(d_vec, axis=1, keepdims=True)
    d = np.clip(d, 1e-9, 1.0)
    e = d_vec / d
    side = np.cross(e, fwd)
    n = np.cross(side, e)
    n_norm = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(n_norm > 1e-9, n / np.maximum(n_norm, 1e-9), fwd)
    h = np.sqrt(np.clip(0.25 - (d / 2.0) ** 2, 0.0, None))
    return hip + e * d / 2.0 + n * h


def make_walk(
    *,
    fps: float = 30.0,
    duration_s: float = 6.0,
    yaw_deg: Param = 90.0,
    direction: str = "backward",
    speed_leg_s: float = 1.0,
    cadence_spm: float = 100.0,
    stance_frac: float = 0.6,
    trunk_lean_deg: Param = 0.0,
    lateral_lean_deg: Param = 0.0,
    head_angle_deg: Param = 15.0,
    head_yaw_deg: Param = 0.0,
    head_pitch_deg: Param = 0.0,
    hip_drop_leg: Param = 0.0,
    leg_px: float = 300.0,
    width: int = 1920,
    height: int = 1080,
    center_x_px: float | None = None,
    ground_y_px: float | None = None,
    noise_px: float = 0.0,
    far_visibility: float = 0.6,
    seed: int = 0,
) -> tuple[PoseSeries, Truth]:
    """A walker (or stander) with known gait, trunk lean, head angle and facing.

    `direction` is "forward", "backward" or "standing"; `head_yaw_deg` turns the head towards
    the walker's left (180 = looking straight behind); `head_pitch_deg` > 0 tips the nose down;
    `hip_drop_leg` lowers the pelvis (a fall); `lateral_lean_deg` tilts the trunk towards the
    walker's right. Angle parameters may be functions of time.
    """
    n = max(1, int(round(duration_s * fps)))
    t = np.arange(n) / fps
    yaw = np.radians(_value(yaw_deg, t))
    fwd = np.stack([np.sin(yaw), np.zeros(n), -np.cos(yaw)], axis=1)
    up = np.tile([0.0, -1.0, 0.0], (n, 1))
    right = np.cross(fwd, up)

    sign = {"forward": 1.0, "backward": -1.0, "standing": 0.0}[direction]
    travel = fwd * sign
    dt = 1.0 / fps
    pelvis_ground = np.cumsum(travel * speed_leg_s * dt, axis=0) - travel[:1] * speed_leg_s * dt

    step_leg = speed_leg_s * 60.0 / cadence_spm if sign else 0.0
    stride_s = 120.0 / cadence_spm
    phase_r = (t / stride_s) % 1.0
    phase_l = (phase_r + 0.5) % 1.0
    rel_r, lift_r = _foot_rel(phase_r, step_leg, stance_frac)
    rel_l, lift_l = _foot_rel(phase_l, step_leg, stance_frac)
    if not sign:
        rel_r = rel_l = lift_r = lift_l = np.zeros(n)

    reach = min(step_leg * stance_frac, 0.9)
    hip_h = ANKLE_HEIGHT + 0.98 * np.sqrt(1.0 - reach**2) - _value(hip_drop_leg, t)
    pelvis = pelvis_ground + up * hip_h[:, None]

    pts = np.zeros((n, NUM_LANDMARKS, 3))
    vis = np.full((n, NUM_LANDMARKS), 0.95)

    def put(lm: int, pos: np.ndarray, lateral: float, lat_vec: np.ndarray) -> None:
        pts[:, lm] = pos
        toward_cam = -lateral * lat_vec[:, 2]
        hidden = np.clip((-toward_cam - 0.5) / 0.4, 0.0, 1.0)
        vis[:, lm] = 0.95 + (far_visibility - 0.95) * hidden

    for side, rel, lift, sgn in (("r", rel_r, lift_r, 1.0), ("l", rel_l, lift_l, -1.0)):
        hip = pelvis + right * (sgn * HIP_HALF_WIDTH)
        ankle = (pelvis_ground + travel_or(fwd, travel) * rel[:, None] + right * (sgn * 0.08)
                 + up * (ANKLE_HEIGHT + lift)[:, None])
        knee = _knee(hip, ankle, fwd)
        heel = ankle - fwd * 0.07 - up * 0.08
        toe = ankle + fwd * 0.17 - up * 0.08
        names = {
            "r": (L.RIGHT_HIP, L.RIGHT_KNEE, L.RIGHT_ANKLE, L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX),
            "l": (L.LEFT_HIP, L.LEFT_KNEE, L.LEFT_ANKLE, L.LEFT_HEEL, L.LEFT_FOOT_INDEX),
        }[side]
        for lm, pos in zip(names, (hip, knee, ankle, heel, toe), strict=True):
            put(lm, pos, sgn, right)

    lean = np.radians(_value(trunk_lean_deg, t))[:, None]
    lat = np.radians(_value(lateral_lean_deg, t))[:, None]
    mid_sh = pelvis + TORSO_LEG * (np.sin(lean) * np.cos(lat) * fwd + np.sin(lat) * right
                                   + np.cos(lean) * np.cos(lat) * up)
    swing = np.sin(2 * np.pi * phase_r)[:, None] * (1.0 if sign else 0.0)
    for lm_s, lm_e, lm_w, sgn, arm in (
        (L.RIGHT_SHOULDER, L.RIGHT_ELBOW, L.RIGHT_WRIST, 1.0, -swing),
        (L.LEFT_SHOULDER, L.LEFT_ELBOW, L.LEFT_WRIST, -1.0, swing),
    ):
        sh = mid_sh + right * (sgn * SHOULDER_HALF_WIDTH)
        elbow = sh - up * 0.3 + fwd * (0.1 * arm)
        wrist = elbow - up * 0.28 + fwd * (0.15 * arm)
        put(lm_s, sh, sgn, right)
        put(lm_e, elbow, sgn, right)
        put(lm_w, wrist, sgn, right)
    for lm, base in ((L.RIGHT_PINKY, L.RIGHT_WRIST), (L.RIGHT_INDEX, L.RIGHT_WRIST),
                     (L.RIGHT_THUMB, L.RIGHT_WRIST), (L.LEFT_PINKY, L.LEFT_WRIST),
                     (L.LEFT_INDEX, L.LEFT_WRIST), (L.LEFT_THUMB, L.LEFT_WRIST)):
        pts[:, lm] = pts[:, base] - up * 0.06
        vis[:, lm] = vis[:, base]

    head = np.radians(_value(head_angle_deg, t))[:, None]
    ear_mid = mid_sh + NECK_LEG * (np.sin(head) * fwd + np.cos(head) * up)
    hy = np.radians(_value(head_yaw_deg, t))[:, None]
    hp = np.radians(_value(head_pitch_deg, t))[:, None]
    h_fwd0 = np.cos(hy) * fwd - np.sin(hy) * right
    h_right = np.cross(h_fwd0, up)
    h_fwd = np.cos(hp) * h_fwd0 - np.sin(hp) * up
    h_up = np.sin(hp) * h_fwd0 + np.cos(hp) * up

    face_vis = np.where(h_fwd0[:, 2] > 0.5, 0.15, 0.95)

    def face(lm: int, f: float, u: float, r: float) -> None:
        pts[:, lm] = ear_mid + h_fwd * f + h_up * u + h_right * r
        vis[:, lm] = face_vis

    face(L.NOSE, NOSE_FORWARD, -NOSE_DROP, 0.0)
    for lm, r in ((L.RIGHT_EYE_INNER, 0.02), (L.RIGHT_EYE, 0.035), (L.RIGHT_EYE_OUTER, 0.05),
                  (L.LEFT_EYE_INNER, -0.02), (L.LEFT_EYE, -0.035), (L.LEFT_EYE_OUTER, -0.05)):
        face(lm, 0.1, 0.03, r)
    face(L.MOUTH_RIGHT, 0.11, -0.08, 0.025)
    face(L.MOUTH_LEFT, 0.11, -0.08, -0.025)
    put(L.RIGHT_EAR, ear_mid + h_right * EAR_HALF_WIDTH, 1.0, h_right)
    put(L.LEFT_EAR, ear_mid - h_right * EAR_HALF_WIDTH, -1.0, h_right)

    cx = width / 2.0 if center_x_px is None else center_x_px
    gy = 0.92 * height if ground_y_px is None else ground_y_px
    x_px = pts[..., 0] * leg_px
    x_px += cx - (x_px[:, L.LEFT_HIP].max() + x_px[:, L.LEFT_HIP].min()) / 2.0
    y_px = gy + pts[..., 1] * leg_px
    z_px = pts[..., 2] * leg_px
    if noise_px > 0:
        rng = np.random.default_rng(seed)
        x_px = x_px + rng.normal(0.0, noise_px, x_px.shape)
        y_px = y_px + rng.normal(0.0, noise_px, y_px.shape)
    points = np.stack([x_px, y_px, z_px, vis], axis=-1)
    series = PoseSeries(time_s=t, points=points, width=width, height=height)

    landings = {
        "right": t[np.flatnonzero(np.diff(phase_r) < 0) + 1],
        "left": t[np.flatnonzero(np.diff(phase_l) < 0) + 1],
    }
    plateau_mid_s = (stance_frac - 0.5) / 2.0 * stride_s
    if sign:
        events = sorted(
            [(ts + plateau_mid_s, s) for s, times in landings.items() for ts in times]
        )
        step_times = np.array([e[0] for e in events if e[0] < t[-1]])
        step_sides = [e[1] for e in events if e[0] < t[-1]]
    else:
        step_times, step_sides = np.array([]), []
    truth = Truth(
        step_times_s=step_times,
        step_sides=step_sides,
        step_length_leg=step_leg,
        cadence_spm=cadence_spm if sign else 0.0,
        speed_leg_s=speed_leg_s if sign else 0.0,
        leg_px=leg_px,
        landing_times_s=landings,
    )
    return series, truth


def travel_or(fwd: np.ndarray, travel: np.ndarray) -> np.ndarray:
    """Axis along which the feet move relative to the pelvis (the facing axis when standing)."""
    moving = np.linalg.norm(travel, axis=1, keepdims=True) > 0
    return np.where(moving, travel, fwd)


def swap_legs(series: PoseSeries, start: int, stop: int) -> PoseSeries:
    """Copy of `series` with the left/right leg labels swapped in frames start..stop-1."""
    points = series.points.copy()
    for a, b in LEG_PAIRS:
        points[start:stop, [a, b]] = points[start:stop, [b, a]]
    return PoseSeries(series.time_s.copy(), points, series.width, series.height)


def with_points(series: PoseSeries, points: np.ndarray) -> PoseSeries:
    """A series like `series` with other landmark values."""
    return PoseSeries(series.time_s.copy(), points, series.width, series.height)


def reverse_time(series: PoseSeries) -> PoseSeries:
    """The clip played backwards (forward walking becomes a backward-walking stand-in)."""
    return PoseSeries(series.time_s.copy(), series.points[::-1].copy(), series.width, series.height)
