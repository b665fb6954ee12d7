"""Per-frame form metrics from smoothed landmarks: trunk, head, view, direction, frame edge.

Angles are degrees. Sagittal angles (trunk lean, head angle) are positive towards where the
walker faces. Lengths are in leg lengths (hip to ankle) so they need no camera calibration.
Image y points down. The travel direction always comes from the pelvis, never from the feet:
in backward walking the feet point away from the motion.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, fields
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .landmarks import Landmark, PoseSeries, V, X, Y
from .settings import Settings
from .smoothing import quiet_nan_warnings

Direction = Literal["backward", "forward", "standing", "turning", "unknown"]
ViewName = Literal["side", "front", "back", "unknown"]


@dataclass
class FrameMetrics:
    """Everything measured in one frame. NaN (or "unknown") where it cannot be measured."""

    frame: int
    time_s: float
    has_person: bool
    view: ViewName
    facing: int                      # +1 faces image right, -1 image left, 0 unknown (side view)
    direction: Direction
    pelvis_speed_leg_s: float        # signed travel along facing: negative = moving backwards
    trunk_lean_deg: float            # side view: mid-hip->mid-shoulder vs vertical, + = to facing
    trunk_lateral_lean_deg: float    # front/back view: + = towards image right
    head_angle_deg: float            # ear->shoulder line vs vertical, + = forward
    looking_down: bool
    head_turn: float                 # 0 = head faces the body's way, 1 = turned to look behind
    head_turned: bool
    edge_distance_frac: float        # nearest landmark to a frame edge, share of frame size
    fully_in_frame: bool
    leg_length_px: float
    hip_height_frac: float           # mid-hip height above frame bottom, share of frame height
    fallen: bool


METRIC_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(FrameMetrics))

L = Landmark

VIEW_WINDOW_S = 0.5            # median window of the shoulder-width ratio
FACING_WINDOW_S = 0.5          # majority window of the facing votes
FRONT_BACK_WINDOW_S = 1.0      # median window of the front/back vote
FOOT_VOTE_WEIGHT = 0.75        # each foot's facing vote; two feet outvote the face
FACE_VOTE_WEIGHT = 0.5         # front/back: the pose model often keeps the face visible from behind
LEG_PER_TORSO = 1.7            # adult hip-to-ankle length / hip-to-shoulder length
NOSE_EAR_PRIOR_TORSO = 0.18    # typical nose-to-ear offset in profile, torso lengths
NOSE_DEPTH_PER_EYE_EAR = 2.3   # ear-to-nose depth / eye-to-ear width of a face seen from the front
TURN_AT_PROFILE = 0.67         # head_turn of a head turned 90 degrees from the body
EAR_WIDTH_TORSO = 0.3          # ear-to-ear width of a head seen from the front, torso lengths
FALL_WINDOW_S = 1.0
FALL_SPEED_WINDOW_S = 0.2
FALL_HIPS_NEAR_SHOULDERS_LEG = 0.35
FALL_HIPS_NEAR_GROUND_LEG = 0.45
FALL_MIN_TORSO_LEG = 0.3
MIN_FACE_OFFSET_TORSO = 0.04
MIN_FOOT_OFFSET_TORSO = 0.04

_MAIN_PAIRS = (
    (L.LEFT_SHOULDER, L.RIGHT_SHOULDER),
    (L.LEFT_HIP, L.RIGHT_HIP),
    (L.LEFT_KNEE, L.RIGHT_KNEE),
    (L.LEFT_ANKLE, L.RIGHT_ANKLE),
)


# ---------------------------------------------------------------------------------------------
# Array helpers (every array is indexed by frame first)


def _window_len(window_s: float, fps: float) -> int:
    return max(1, int(round(window_s * fps)))


def _windows(values: np.ndarray, n: int, causal: bool) -> np.ndarray:
    """(T, n) sliding windows, NaN-padded: trailing when causal, else centred (n made odd)."""
    values = np.asarray(values, dtype=np.float64)
    if causal:
        padded = np.concatenate([np.full(n - 1, np.nan), values])
    else:
        half = n // 2
        n = 2 * half + 1
        padded = np.concatenate([np.full(half, np.nan), values, np.full(half, np.nan)])
    return sliding_window_view(padded, n)


def _rolling(values: np.ndarray, n: int, causal: bool, func: str) -> np.ndarray:
    """Rolling nan-aware statistic ("median", "sum", "max", "min", "mean")."""
    if len(values) == 0:
        return np.asarray(values, dtype=np.float64)
    w = _windows(values, n, causal)
    with quiet_nan_warnings():
        return {
            "median": np.nanmedian,
            "sum": np.nansum,
            "max": np.nanmax,
            "min": np.nanmin,
            "mean": np.nanmean,
        }[func](w, axis=1)


def _rolling_slope(t: np.ndarray, x: np.ndarray, n: int, causal: bool) -> np.ndarray:
    """Least-squares slope dx/dt over each window, NaN where the window holds too little."""
    if len(x) == 0:
        return np.asarray(x, dtype=np.float64)
    tw = _windows(t, n, causal)
    xw = _windows(x, n, causal)
    ok = np.isfinite(tw) & np.isfinite(xw)
    cnt = ok.sum(axis=1)
    tz = np.where(ok, tw, 0.0)
    xz = np.where(ok, xw, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        tm = tz.sum(axis=1) / cnt
        xm = xz.sum(axis=1) / cnt
        dtw = np.where(ok, tw - tm[:, None], 0.0)
        dxw = np.where(ok, xw - xm[:, None], 0.0)
        slope = (dtw * dxw).sum(axis=1) / (dtw**2).sum(axis=1)
    span = np.where(ok, tw, -np.inf).max(axis=1) - np.where(ok, tw, np.inf).min(axis=1)
    full_span = float(np.median(np.diff(t))) * (n - 1) if len(t) > 1 else 0.0
    enough = (cnt >= 3) & (span >= 0.3 * full_span)
    return np.where(enough, slope, np.nan)


def _ffill(values: np.ndarray) -> np.ndarray:
    """Carry the last finite value forward over NaNs."""
    idx = np.where(np.isfinite(values), np.arange(len(values)), -1)
    idx = np.maximum.accumulate(idx) if len(idx) else idx
    out = np.where(idx >= 0, values[np.clip(idx, 0, None)], np.nan)
    return out


def _expanding_median(values: np.ndarray) -> np.ndarray:
    """Median of the finite values seen so far, for each frame."""
    out = np.full(len(values), np.nan)
    seen: list[float] = []
    for i, v in enumerate(values):
        if np.isfinite(v):
            bisect.insort(seen, float(v))
        if seen:
            k = len(seen)
            out[i] = seen[k // 2] if k % 2 else 0.5 * (seen[k // 2 - 1] + seen[k // 2])
    return out


def _mid(p: np.ndarray, a: int, b: int) -> np.ndarray:
    """(T, 2) midpoint of two landmarks, or the one that is present."""
    with quiet_nan_warnings():
        return np.nanmean(p[:, [a, b], :2], axis=1)


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.hypot(a[..., 0] - b[..., 0], a[..., 1] - b[..., 1])


def _angle_from_vertical_deg(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Angle of an image vector from straight up, positive towards +dx (image y points down)."""
    return np.degrees(np.arctan2(dx, -dy))


def _sign(values: np.ndarray) -> np.ndarray:
    return np.sign(np.nan_to_num(values, nan=0.0))


# ---------------------------------------------------------------------------------------------
# Pieces of the metrics


def leg_length_per_frame(p: np.ndarray) -> np.ndarray:
    """Hip->knee + knee->ankle of the better-visible leg, per frame (px)."""
    lengths, vis = [], []
    for hip, knee, ankle in (
        (L.LEFT_HIP, L.LEFT_KNEE, L.LEFT_ANKLE),
        (L.RIGHT_HIP, L.RIGHT_KNEE, L.RIGHT_ANKLE),
    ):
        thigh = _dist(p[:, hip, :2], p[:, knee, :2])
        lengths.append(thigh + _dist(p[:, knee, :2], p[:, ankle, :2]))
        v = np.nan_to_num(p[:, [hip, knee, ankle], V], nan=0.0).mean(axis=1)
        vis.append(np.where(np.isfinite(lengths[-1]), v, -1.0))
    left_better = vis[0] >= vis[1]
    return np.where(left_better, lengths[0], lengths[1])


def _classify_view(
    p: np.ndarray, torso_px: np.ndarray, present: np.ndarray, n_view: int, n_fb: int,
    causal: bool, settings: Settings,
) -> np.ndarray:
    """Per-frame view: "side", "front", "back" or "unknown".

    Side vs front/back: horizontal shoulder width over torso length (a median over a short
    window), with hysteresis between the two thresholds. A frame with one shoulder missing
    counts as a side view (the far shoulder hides behind the body). Front vs back votes on three
    signals: which side of the image the left shoulder is on (image right in a front view,
    weight 1), the face's visibility (low from behind, weight 0.5: MediaPipe often reports the
    face as visible from behind), and whether the nose is nearer the camera than the shoulders
    (the model's depth, weight 0.5). The vote is a median over about a second.
    """
    ms = settings.metrics
    ls, rs = p[:, L.LEFT_SHOULDER], p[:, L.RIGHT_SHOULDER]
    both = np.isfinite(ls[:, X]) & np.isfinite(rs[:, X])
    one = np.isfinite(ls[:, X]) ^ np.isfinite(rs[:, X])
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(both, np.abs(ls[:, X] - rs[:, X]) / torso_px, np.nan)
    ratio = np.where(one & np.isfinite(torso_px), 0.0, ratio)
    ratio = np.where(present, ratio, np.nan)
    ratio_med = _rolling(ratio, n_view, causal, "median")
    mid_ratio = 0.5 * (ms.side_view_max_shoulder_ratio + ms.front_view_min_shoulder_ratio)
    with np.errstate(invalid="ignore"):
        state = np.where(
            ratio_med < ms.side_view_max_shoulder_ratio, 1.0,
            np.where(ratio_med > ms.front_view_min_shoulder_ratio, 0.0, np.nan),
        )
        first = np.where(np.isfinite(ratio_med), (ratio_med < mid_ratio).astype(float), np.nan)
    held = _ffill(state)
    is_side = np.where(np.isfinite(held), held, first)

    with np.errstate(invalid="ignore", divide="ignore"):
        shoulder_vote = np.clip((ls[:, X] - rs[:, X]) / (0.2 * torso_px), -1.0, 1.0)
        face_vis = np.nanmean(p[:, [L.NOSE, L.LEFT_EYE, L.RIGHT_EYE], V], axis=1) if len(p) else []
        face_vote = FACE_VOTE_WEIGHT * np.clip((np.asarray(face_vis) - 0.5) / 0.3, -1.0, 1.0)
        z_sh = np.nanmean(p[:, [L.LEFT_SHOULDER, L.RIGHT_SHOULDER], 2], axis=1)
        depth_vote = 0.5 * np.sign(z_sh - p[:, L.NOSE, 2])
    vote = (np.nan_to_num(shoulder_vote) + np.nan_to_num(face_vote)
            + np.nan_to_num(depth_vote))
    vote = np.where(present, vote, np.nan)
    vote_med = _rolling(vote, n_fb, causal, "median")
    front = np.nan_to_num(vote_med, nan=0.0) > 0

    view = np.full(len(p), "unknown", dtype=object)
    side = present & (is_side == 1.0)
    fb = present & (is_side == 0.0)
    view[side] = "side"
    view[fb & front] = "front"
    view[fb & ~front] = "back"
    return view


def _facing(
    p: np.ndarray, torso_px: np.ndarray, side: np.ndarray, n: int, causal: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Facing (+1 image right, -1 left, 0 unknown) in side view, plus the face and feet votes.

    The face votes by the nose against the ear midpoint, each foot by heel->toe (the feet point
    the way the body faces whether it walks forwards or backwards). Two feet outvote the face,
    so a head turned to look behind does not turn the body; one foot does not, so a wrong far
    foot does not either. The votes are summed over a short window (a majority).
    """
    ear_x = _mid(p, L.LEFT_EAR, L.RIGHT_EAR)[:, 0]
    face_off = p[:, L.NOSE, X] - ear_x
    with np.errstate(invalid="ignore"):
        face_vote = np.where(np.abs(face_off) > MIN_FACE_OFFSET_TORSO * torso_px,
                             np.sign(face_off), 0.0)
        feet = np.zeros(len(p))
        for heel, toe in ((L.LEFT_HEEL, L.LEFT_FOOT_INDEX), (L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX)):
            d = p[:, toe, X] - p[:, heel, X]
            feet += np.where(np.abs(d) > MIN_FOOT_OFFSET_TORSO * torso_px, np.sign(d), 0.0)
    face_vote = np.nan_to_num(face_vote)
    vote = np.where(side, _sign(face_vote + FOOT_VOTE_WEIGHT * feet), np.nan)
    summed = _rolling(vote, n, causal, "sum")
    facing = np.where(side, _sign(summed), 0.0)
    facing = np.where(side & (facing == 0), _ffill(np.where(facing != 0, facing, np.nan)), facing)
    facing = np.where(side, np.nan_to_num(facing), 0.0).astype(int)
    body_votes = np.where(side, _sign(feet), np.nan)
    body = _sign(_rolling(body_votes, n, causal, "sum"))
    body = np.where(body == 0, facing, body)
    return facing, face_vote, body


def _head_turn(
    p: np.ndarray, view: np.ndarray, body_dir: np.ndarray, torso_px: np.ndarray, causal: bool,
) -> np.ndarray:
    """How far the head is turned towards looking behind (0..1, NaN when not measurable).

    Side view: the nose's offset from the ear midpoint along the body's facing (from the feet),
    relative to its typical value in profile, o. o = 1 is the head facing the body's way; o = 0
    the face turned to (or away from) the camera, 90 degrees; o < 0 the face pointing behind.
    head_turn = (1 - o) / 1.5, clipped to 0..1, so 90 degrees gives 0.67 and behind gives 1.
    The ears also count: in profile they overlap, and they spread apart (up to about 0.3 torso
    lengths) as the head turns to or away from the camera, which still works when the nose is
    hidden; a full spread scores 0.67.
    Front/back view: the nose's offset from the ear midpoint over half the ear-to-ear distance
    (about 1.1 in profile), or one ear losing visibility while the other keeps it; a profile
    scores 0.67, the same as in side view.
    """
    n = len(p)
    ear_mid = _mid(p, L.LEFT_EAR, L.RIGHT_EAR)
    off = p[:, L.NOSE, X] - ear_mid[:, 0]
    side = view == "side"
    fb = (view == "front") | (view == "back")
    with np.errstate(invalid="ignore", divide="ignore"):
        off_rel = off * body_dir / torso_px
        ref = np.where(side & (off_rel > 0), off_rel, np.nan)
        if causal:
            typical = _expanding_median(ref)
            count = np.cumsum(np.isfinite(ref))
        else:
            typical = np.full(n, np.nanmedian(ref) if np.isfinite(ref).any() else np.nan)
            count = np.full(n, int(np.isfinite(ref).sum()))
        typical = np.where(count >= 10, typical, NOSE_EAR_PRIOR_TORSO)
        turn_side = np.clip((1.0 - off_rel / typical) / 1.5, 0.0, 1.0)
        turn_side = np.where(body_dir != 0, turn_side, np.nan)
        ear_spread = np.abs(p[:, L.LEFT_EAR, X] - p[:, L.RIGHT_EAR, X]) / torso_px
        turn_ears = TURN_AT_PROFILE * np.clip(ear_spread / EAR_WIDTH_TORSO, 0.0, 1.0)
        turn_side = np.fmax(turn_side, turn_ears)

        half_ears = 0.5 * np.abs(p[:, L.LEFT_EAR, X] - p[:, L.RIGHT_EAR, X])
        profile_geom = np.clip(np.abs(off) / (1.1 * half_ears), 0.0, 1.0)
        v_ears = p[:, [L.LEFT_EAR, L.RIGHT_EAR], V]
        ear_asym = np.clip(np.abs(v_ears[:, 0] - v_ears[:, 1]) / 0.5, 0.0, 1.0)
        profile = np.fmax(profile_geom, ear_asym)
        turn_fb = TURN_AT_PROFILE * profile
    return np.where(side, turn_side, np.where(fb, turn_fb, np.nan))


def _looking_down(
    p: np.ndarray, view: np.ndarray, facing: np.ndarray, head_turn: np.ndarray,
    min_deg: float,
) -> np.ndarray:
    """Whether the nose points down more than `min_deg` below horizontal from the ears.

    Side view: the ear->nose line's angle below horizontal, judged only while the face is in
    profile (a face turned to the camera has no usable line). Front view: the nose's drop below
    the ear midpoint over the eye-to-ear width, read as the sine of the same angle (the ear-to-
    nose depth is about 2.3 eye-to-ear widths).
    """
    ear = _mid(p, L.LEFT_EAR, L.RIGHT_EAR)
    nose = p[:, L.NOSE, :2]
    dy = nose[:, 1] - ear[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        side_deg = np.degrees(np.arctan2(dy, (nose[:, 0] - ear[:, 0]) * facing))
        side_ok = (view == "side") & (facing != 0) & (head_turn < 0.4)
        eye_ear = np.nanmean(np.stack([
            _dist(p[:, L.LEFT_EYE, :2], p[:, L.LEFT_EAR, :2]),
            _dist(p[:, L.RIGHT_EYE, :2], p[:, L.RIGHT_EAR, :2]),
        ]), axis=0) if len(p) else np.zeros(0)
        s = np.clip(dy / (NOSE_DEPTH_PER_EYE_EAR * eye_ear), -1.0, 1.0)
        front_deg = np.degrees(np.arcsin(s))
        down = np.where(side_ok, side_deg > min_deg,
                        np.where(view == "front", front_deg > min_deg, False))
    return down.astype(bool)


def _edge_distance(p: np.ndarray, width: int, height: int, min_vis: float) -> np.ndarray:
    """Nearest confidently visible landmark's distance to a frame edge, as a share of the frame."""
    x, y, v = p[:, :, X], p[:, :, Y], p[:, :, V]
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(x) & np.isfinite(y) & ~(v < min_vis)
        d = np.minimum.reduce([x / width, 1.0 - x / width, y / height, 1.0 - y / height])
    d = np.where(ok, d, np.inf)
    out = d.min(axis=1) if d.size else np.full(len(p), np.inf)
    return np.where(np.isfinite(out), out, np.nan)


def _fallen(
    t: np.ndarray, hip: np.ndarray, sh: np.ndarray, p: np.ndarray, leg_px: np.ndarray,
    fps: float, settings: Settings,
) -> np.ndarray:
    """A fall: the hips drop fast with the trunk ending horizontal, or the walker lies down.

    Drop: the mid-hip's downward speed (a 0.2 s slope), at its largest over the last second,
    above `fall_drop_leg_s` leg lengths per second, while the trunk is more than
    `fall_horizontal_deg` from vertical. Lying: the trunk horizontal with the hips within
    0.35 leg lengths of the shoulders' height and within 0.45 leg lengths of the ankles' (so
    bending over at the hips, where the hips stay high, does not count). The torso must be at
    least 0.3 leg lengths long, which rejects tiny phantom skeletons. Once fallen, the state
    holds while the trunk stays horizontal.
    """
    ss = settings.safety
    n_speed = max(3, _window_len(FALL_SPEED_WINDOW_S, fps))
    drop_speed = _rolling_slope(t, hip[:, 1], n_speed, causal=True) / leg_px
    recent_drop = _rolling(drop_speed, _window_len(FALL_WINDOW_S, fps), True, "max")
    dx, dy = sh[:, 0] - hip[:, 0], sh[:, 1] - hip[:, 1]
    trunk_abs = np.abs(_angle_from_vertical_deg(dx, dy))
    ankle_y = np.nanmax(p[:, [L.LEFT_ANKLE, L.RIGHT_ANKLE], Y], axis=1) if len(p) else hip[:, 1]
    with np.errstate(invalid="ignore"):
        plausible = np.hypot(dx, dy) >= FALL_MIN_TORSO_LEG * leg_px
        horizontal = (trunk_abs > ss.fall_horizontal_deg) & plausible
        dropped = horizontal & (recent_drop > ss.fall_drop_leg_s)
        near_sh = np.abs(hip[:, 1] - sh[:, 1]) < FALL_HIPS_NEAR_SHOULDERS_LEG * leg_px
        near_ground = (ankle_y - hip[:, 1]) < FALL_HIPS_NEAR_GROUND_LEG * leg_px
        lying = horizontal & near_sh & near_ground
    start = dropped | lying
    out = np.zeros(len(t), dtype=bool)
    state = False
    for i in range(len(t)):
        state = bool(start[i] or (state and horizontal[i]))
        out[i] = state
    return out


# ---------------------------------------------------------------------------------------------


def compute_metrics(
    series: PoseSeries, settings: Settings, causal: bool = False
) -> list[FrameMetrics]:
    """Per-frame metrics of a smoothed series (see `FrameMetrics`).

    With `causal=True` every windowed quantity (view, facing, speed, direction, leg length)
    uses only the current and earlier frames, so the last row is valid for live use.
    """
    n = len(series)
    if n == 0:
        return []
    ms = settings.metrics
    p = series.points
    t = series.time_s
    width, height = series.width, series.height
    fps = series.fps if series.fps > 0 else 30.0
    present = series.has_person

    with quiet_nan_warnings():
        sh = _mid(p, L.LEFT_SHOULDER, L.RIGHT_SHOULDER)
        hip = _mid(p, L.LEFT_HIP, L.RIGHT_HIP)
        torso_px = _dist(sh, hip)

        leg_frame = leg_length_per_frame(p)
        if causal:
            leg_px = _expanding_median(leg_frame)
            torso_typ = _expanding_median(torso_px)
        else:
            leg_px = np.full(n, np.nanmedian(leg_frame) if np.isfinite(leg_frame).any() else np.nan)
            torso_typ = np.full(n, np.nanmedian(torso_px) if np.isfinite(torso_px).any()
                                else np.nan)
        leg_px = np.where(np.isfinite(leg_px), leg_px, LEG_PER_TORSO * torso_typ)

        view = _classify_view(
            p, torso_px, present, _window_len(VIEW_WINDOW_S, fps),
            _window_len(FRONT_BACK_WINDOW_S, fps), causal, settings,
        )
        side = view == "side"
        fb = (view == "front") | (view == "back")
        facing, _, body_dir = _facing(p, torso_px, side, _window_len(FACING_WINDOW_S, fps), causal)

        n_dir = max(3, _window_len(ms.direction_window_s, fps))
        vx_px_s = _rolling_slope(t, hip[:, 0], n_dir, causal)
        speed = np.where(facing != 0, vx_px_s / leg_px * facing, np.nan)

        facing_nan = np.where(facing != 0, facing.astype(float), np.nan)
        flips = (_rolling(facing_nan, n_dir, causal, "max") > 0) & (
            _rolling(facing_nan, n_dir, causal, "min") < 0)
        side_num = np.where(side, 1.0, np.where(fb, 0.0, np.nan))
        view_change = (_rolling(side_num, n_dir, causal, "max") == 1.0) & (
            _rolling(side_num, n_dir, causal, "min") == 0.0)

        direction = np.full(n, "unknown", dtype=object)
        known = present & (facing != 0) & np.isfinite(speed)
        with np.errstate(invalid="ignore"):
            direction[known & (speed < 0)] = "backward"
            direction[known & (speed >= 0)] = "forward"
            direction[known & (np.abs(speed) < ms.standing_max_speed_leg_s)] = "standing"
        direction[present & (flips | view_change) & (known | side)] = "turning"

        dx, dy = sh[:, 0] - hip[:, 0], sh[:, 1] - hip[:, 1]
        trunk = np.where(side & (facing != 0), _angle_from_vertical_deg(dx * facing, dy), np.nan)
        lateral = np.where(fb, _angle_from_vertical_deg(dx, dy), np.nan)

        ear = _head_ear(p)
        hx, hy = ear[:, 0] - sh[:, 0], ear[:, 1] - sh[:, 1]
        head = np.where(side & (facing != 0), _angle_from_vertical_deg(hx * facing, hy), np.nan)

        head_turn = _head_turn(p, view, body_dir, torso_px, causal)
        looking_down = _looking_down(p, view, facing, head_turn, ms.looking_down_min_deg)
        head_turned = np.nan_to_num(head_turn, nan=0.0) >= ms.head_turn_min

        edge = _edge_distance(p, width, height, settings.smoothing.min_visibility)
        parts = np.isfinite(p[:, [L.NOSE, L.LEFT_EAR, L.RIGHT_EAR], X]).any(axis=1)
        for a, b in _MAIN_PAIRS:
            parts &= np.isfinite(p[:, a, X]) | np.isfinite(p[:, b, X])
        with np.errstate(invalid="ignore"):
            in_frame = parts & (edge > ms.edge_margin_frac)

        hip_height = (height - hip[:, 1]) / height
        fallen = _fallen(t, hip, sh, p, leg_px, fps, settings) & present

    frame_index = series.frame_index if series.frame_index is not None else np.arange(n)
    out: list[FrameMetrics] = []
    for i in range(n):
        person = bool(present[i])
        out.append(FrameMetrics(
            frame=int(frame_index[i]),
            time_s=float(t[i]),
            has_person=person,
            view=view[i] if person else "unknown",
            facing=int(facing[i]) if person else 0,
            direction=direction[i] if person else "unknown",
            pelvis_speed_leg_s=float(speed[i]),
            trunk_lean_deg=float(trunk[i]),
            trunk_lateral_lean_deg=float(lateral[i]),
            head_angle_deg=float(head[i]),
            looking_down=bool(looking_down[i]),
            head_turn=float(head_turn[i]),
            head_turned=bool(head_turned[i]),
            edge_distance_frac=float(edge[i]),
            fully_in_frame=bool(in_frame[i]),
            leg_length_px=float(leg_px[i]),
            hip_height_frac=float(hip_height[i]),
            fallen=bool(fallen[i]),
        ))
    return out


def _head_ear(p: np.ndarray) -> np.ndarray:
    """(T, 2) ear point for the head angle: the clearly better-seen ear, else the midpoint."""
    vl = np.nan_to_num(p[:, L.LEFT_EAR, V], nan=0.0)
    vr = np.nan_to_num(p[:, L.RIGHT_EAR, V], nan=0.0)
    mid = _mid(p, L.LEFT_EAR, L.RIGHT_EAR)
    left_ok = np.isfinite(p[:, L.LEFT_EAR, X])
    right_ok = np.isfinite(p[:, L.RIGHT_EAR, X])
    use_left = left_ok & (vl - vr > 0.2)
    use_right = right_ok & (vr - vl > 0.2)
    out = mid.copy()
    out[use_left] = p[use_left, L.LEFT_EAR, :2]
    out[use_right] = p[use_right, L.RIGHT_EAR, :2]
    return out


def metrics_as_arrays(metrics: list[FrameMetrics]) -> dict[str, np.ndarray]:
    """Column arrays of a metrics list, one per field (for vectorised use downstream)."""
    return {name: np.array([getattr(m, name) for m in metrics]) for name in METRIC_FIELDS}

