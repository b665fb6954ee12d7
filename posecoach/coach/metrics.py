"""Per-frame form metrics from smoothed landmarks: trunk, head, view, direction, frame edge.

Angles are degrees. Sagittal angles (trunk lean, head angle) are positive towards where the
walker faces. Lengths are in leg lengths (hip to ankle) so they need no camera calibration.
Image y points down. The travel direction never comes from where the feet point (in backward
walking they point away from the motion): it comes from the pelvis travelling, and where the
pelvis stays put while the feet cycle (a treadmill, walking in place), from the stance foot's
motion relative to the pelvis, which is the same in both settings: a walker going backwards
moves the planted foot, relative to the pelvis, towards where they face.

The live coach calls `compute_metrics` on a short trailing window every frame and keeps only
the last row, so the work is arranged around that case: quantities that carry state through
the whole window (the view's hysteresis, the facing, the typical leg length, a fall) are
computed for every frame, while windowed statistics and per-frame measurements that feed only
the returned rows are evaluated at those rows alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np

from posecoach.coach.body import LEG_PER_TORSO, leg_length_px
from posecoach.coach.rolling import (
    expanding_median,
    ffill,
    median_of_finite,
    nan_to_zero,
    nanmean_pair,
    nanmedian_rows,
    quiet_nan_warnings,
    rolling_median,
    rolling_slope,
    window_len,
    window_sums,
    windows,
)
from posecoach.frame_rate import fps_or_default
from posecoach.pose.landmarks import Landmark, PoseSeries, V, X, Y
from posecoach.settings import Settings

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
    in_place: bool = False           # feet cycling with the pelvis in place (treadmill)
    hands_still: bool = False        # both hands held still in the room (rails), feet cycling


METRIC_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(FrameMetrics))

_DTYPES: dict[str, Any] = {"int": np.int64, "float": np.float64, "bool": np.bool_}
# text fields (view, direction) are object arrays of str
_COLUMN_DTYPES: dict[str, Any] = {
    f.name: _DTYPES.get(str(f.type), object) for f in fields(FrameMetrics)
}


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True, eq=False)
class MetricsSeries:
    """A clip's per-frame metrics column-wise: one array per `FrameMetrics` field, same order.

    Units and meanings are those of `FrameMetrics`; the text fields (view, direction) are
    object arrays of str. Whole-clip readers (summary, gait, plots, metrics.csv) take the
    columns; per-frame readers (the live coach, the rule engine) take `row(i)`.
    """

    frame: np.ndarray
    time_s: np.ndarray
    has_person: np.ndarray
    view: np.ndarray
    facing: np.ndarray
    direction: np.ndarray
    pelvis_speed_leg_s: np.ndarray
    trunk_lean_deg: np.ndarray
    trunk_lateral_lean_deg: np.ndarray
    head_angle_deg: np.ndarray
    looking_down: np.ndarray
    head_turn: np.ndarray
    head_turned: np.ndarray
    edge_distance_frac: np.ndarray
    fully_in_frame: np.ndarray
    leg_length_px: np.ndarray
    hip_height_frac: np.ndarray
    fallen: np.ndarray
    in_place: np.ndarray
    hands_still: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.frame)
        if any(len(getattr(self, name)) != n for name in METRIC_FIELDS):
            raise ValueError("every metrics column needs one entry per frame")

    def __len__(self) -> int:
        return len(self.frame)

    def column(self, name: str) -> np.ndarray:
        """The column of one `FrameMetrics` field, by name."""
        if name not in _COLUMN_DTYPES:
            raise KeyError(name)
        return getattr(self, name)

    def row(self, i: int) -> FrameMetrics:
        """Frame `i` (negative counts from the end) as plain Python values."""
        return FrameMetrics(*(_plain(getattr(self, name)[i]) for name in METRIC_FIELDS))

    def rows(self) -> Iterator[FrameMetrics]:
        """Every frame in order, for readers that work one frame at a time."""
        for values in self.value_rows():
            yield FrameMetrics(*values)

    def value_rows(self) -> Iterator[tuple[Any, ...]]:
        """Each frame's values in `METRIC_FIELDS` order, as plain Python values."""
        return zip(*(getattr(self, name).tolist() for name in METRIC_FIELDS), strict=True)

    def subset(self, index: slice | np.ndarray) -> MetricsSeries:
        """The frames picked by a slice, a boolean mask or an index array."""
        return MetricsSeries(**{name: getattr(self, name)[index] for name in METRIC_FIELDS})

    @classmethod
    def from_rows(cls, rows: Iterable[FrameMetrics]) -> MetricsSeries:
        """Columns from per-frame rows (no rows: an empty series)."""
        frames = list(rows)
        return cls(**{
            name: np.array([getattr(m, name) for m in frames], dtype=dtype)
            for name, dtype in _COLUMN_DTYPES.items()
        })

L = Landmark

VIEW_WINDOW_S = 0.5            # median window of the shoulder-width ratio
FACING_WINDOW_S = 0.5          # majority window of the facing votes
FRONT_BACK_WINDOW_S = 1.0      # median window of the front/back vote
FOOT_VOTE_WEIGHT = 0.75        # each foot's facing vote; two feet outvote the face
FACE_VOTE_WEIGHT = 0.5         # front/back: the pose model often keeps the face visible from behind
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
_MAIN_LEFT = [a for a, _ in _MAIN_PAIRS]
_MAIN_RIGHT = [b for _, b in _MAIN_PAIRS]
_HEAD = [L.NOSE, L.LEFT_EAR, L.RIGHT_EAR]

# Midpoints of the shoulders, the hips and the ears, in this order.
_MID_LEFT = [L.LEFT_SHOULDER, L.LEFT_HIP, L.LEFT_EAR]
_MID_RIGHT = [L.RIGHT_SHOULDER, L.RIGHT_HIP, L.RIGHT_EAR]



# ---------------------------------------------------------------------------------------------
# Geometry helpers


def _clip(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """`np.clip(values, lo, hi)` (NaN stays NaN) without its per-call overhead."""
    return np.minimum(np.maximum(values, lo), hi)


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.hypot(a[..., 0] - b[..., 0], a[..., 1] - b[..., 1])


def _angle_from_vertical_deg(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Angle of an image vector from straight up, positive towards +dx (image y points down)."""
    return np.degrees(np.arctan2(dx, -dy))


def _nearest_fill(values: np.ndarray) -> np.ndarray:
    """Each NaN takes the nearest finite value in time (NaN where the two nearest, one before
    and one after at the same distance, disagree).

    The offline counterpart of carrying the last value forward: it reads the same whichever
    way the clip plays, so a clip and its time-reversed twin get the same view and facing.
    """
    n = len(values)
    if n == 0:
        return values.copy()
    frame = np.arange(n)
    ok = np.isfinite(values)
    before = np.maximum.accumulate(np.where(ok, frame, -1))
    after = np.minimum.accumulate(np.where(ok, frame, n)[::-1])[::-1]
    prev = np.where(before >= 0, values[np.maximum(before, 0)], np.nan)
    nxt = np.where(after < n, values[np.minimum(after, n - 1)], np.nan)
    d_prev = np.where(before >= 0, frame - before, np.inf)
    d_next = np.where(after < n, after - frame, np.inf)
    tie = (d_prev == d_next) & (prev != nxt)
    out = np.where(d_prev < d_next, prev, nxt)
    out = np.where(tie, np.nan, np.where(d_prev == d_next, prev, out))
    return np.where(ok, values, out)


# ---------------------------------------------------------------------------------------------
# Pieces of the metrics


def _typical_leg_px(
    leg_frame: np.ndarray, torso_px: np.ndarray, causal: bool, last_only: bool
) -> np.ndarray:
    """The walker's leg length (px) per frame, or 1.7 typical torsos where no leg was seen.

    Causal: the median of the legs measured so far; else the median over the whole series.
    With `last_only` (causal) just the last frame's value, shape (1,).
    """
    if causal and last_only:
        leg = median_of_finite(leg_frame)
        if not math.isfinite(leg):
            leg = LEG_PER_TORSO * median_of_finite(torso_px)
        return np.array([leg])
    n = len(leg_frame)
    if causal:
        leg_px = expanding_median(leg_frame)
        if np.isfinite(leg_px).all():
            return leg_px
        torso_typ = expanding_median(torso_px)
    else:
        leg_px = np.full(n, np.nanmedian(leg_frame) if np.isfinite(leg_frame).any() else np.nan)
        torso_typ = np.full(n, np.nanmedian(torso_px) if np.isfinite(torso_px).any()
                            else np.nan)
    return np.where(np.isfinite(leg_px), leg_px, LEG_PER_TORSO * torso_typ)


def _side_view_state(
    p: np.ndarray, torso_px: np.ndarray, present: np.ndarray, n_view: int, causal: bool,
    settings: Settings,
) -> np.ndarray:
    """Per frame 1.0 for a side view, 0.0 for a front or back view, NaN when unknown.

    Horizontal shoulder width over torso length (a median over a short window), with
    hysteresis between the two thresholds. A frame with one shoulder missing counts as a side
    view (the far shoulder hides behind the body).
    """
    ms = settings.metrics
    lx, rx = p[:, L.LEFT_SHOULDER, X], p[:, L.RIGHT_SHOULDER, X]
    l_ok, r_ok = np.isfinite(lx), np.isfinite(rx)
    ratio = np.where(l_ok & r_ok, np.abs(lx - rx) / torso_px, np.nan)
    ratio = np.where((l_ok ^ r_ok) & np.isfinite(torso_px), 0.0, ratio)
    ratio = np.where(present, ratio, np.nan)
    ratio_med = rolling_median(ratio, n_view, causal)
    mid_ratio = 0.5 * (ms.side_view_max_shoulder_ratio + ms.front_view_min_shoulder_ratio)
    state = np.where(
        ratio_med < ms.side_view_max_shoulder_ratio, 1.0,
        np.where(ratio_med > ms.front_view_min_shoulder_ratio, 0.0, np.nan),
    )
    first = np.where(np.isfinite(ratio_med), (ratio_med < mid_ratio).astype(float), np.nan)
    held = ffill(state) if causal else _nearest_fill(state)
    return np.where(np.isfinite(held), held, first)


def _front_vote(
    p: np.ndarray, torso_px: np.ndarray, shoulder_z: np.ndarray, present: np.ndarray
) -> np.ndarray:
    """Per-frame vote for a front view (> 0) over a back view (< 0), NaN where nobody is seen.

    Three signals: which side of the image the left shoulder is on (image right in a front
    view, weight 1), the face's visibility (low from behind, weight 0.5: MediaPipe often reports
    the face as visible from behind), and whether the nose is nearer the camera than the
    shoulders (the model's depth, weight 0.5).
    """
    lx, rx = p[:, L.LEFT_SHOULDER, X], p[:, L.RIGHT_SHOULDER, X]
    shoulder_vote = _clip((lx - rx) / (0.2 * torso_px), -1.0, 1.0)
    face_v = p[:, [L.NOSE, L.LEFT_EYE, L.RIGHT_EYE], V]
    face_missing = np.isnan(face_v)
    face_vis = (np.where(face_missing, 0.0, face_v).sum(axis=1)
                / (~face_missing).sum(axis=1))
    face_vote = FACE_VOTE_WEIGHT * _clip((face_vis - 0.5) / 0.3, -1.0, 1.0)
    depth_vote = 0.5 * np.sign(shoulder_z - p[:, L.NOSE, 2])
    # each vote is bounded (clipped or a sign), so NaN is the only value to replace
    vote = (np.where(np.isnan(shoulder_vote), 0.0, shoulder_vote)
            + np.where(np.isnan(face_vote), 0.0, face_vote)
            + np.where(np.isnan(depth_vote), 0.0, depth_vote))
    return np.where(present, vote, np.nan)


def _facing(
    p: np.ndarray, face_off_px: np.ndarray, torso_px: np.ndarray, side: np.ndarray, n: int,
    causal: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Facing (+1 image right, -1 left, 0 unknown) in side view, and the body's (feet's) way.

    The face votes by the nose against the ear midpoint (`face_off_px`), each foot by
    heel->toe (the feet point the way the body faces whether it walks forwards or backwards).
    Two feet outvote the face, so a head turned to look behind does not turn the body; one foot
    does not, so a wrong far foot does not either. The votes are summed over a short window (a
    majority). The body's way is the feet's majority alone, else the facing.
    """
    face_vote = np.where(np.abs(face_off_px) > MIN_FACE_OFFSET_TORSO * torso_px,
                         np.sign(face_off_px), 0.0)
    foot_dx = (p[:, [L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX], X]
               - p[:, [L.LEFT_HEEL, L.RIGHT_HEEL], X])
    foot_votes = np.where(np.abs(foot_dx) > (MIN_FOOT_OFFSET_TORSO * torso_px)[:, None],
                          np.sign(foot_dx), 0.0)
    feet = foot_votes[:, 0] + foot_votes[:, 1]
    # frames outside side view do not vote
    votes = np.where(side, np.sign([face_vote + FOOT_VOTE_WEIGHT * feet, feet]), 0.0)
    summed, feet_summed = window_sums(votes, n, causal)
    facing = np.where(side, np.sign(summed), 0.0)
    known = np.where(facing != 0, facing, np.nan)
    filled = ffill(known) if causal else _nearest_fill(known)
    facing = np.where(side & (facing == 0), filled, facing)
    facing = np.where(side & ~np.isnan(facing), facing, 0.0).astype(int)
    body = np.sign(feet_summed)
    body = np.where(body == 0, facing, body)
    return facing, body


def _typical_profile_offset(ref: np.ndarray, causal: bool, last_only: bool) -> np.ndarray:
    """The nose's typical offset from the ear midpoint in profile, in torso lengths.

    `ref` holds the offsets measured in side view (NaN elsewhere). The median of those seen so
    far (causal) or over the whole series, or `NOSE_EAR_PRIOR_TORSO` while fewer than 10 frames
    measured it. With `last_only` (causal) just the last frame's value, shape (1,).
    """
    measured = np.isfinite(ref)
    if causal and last_only:
        typical = np.array([median_of_finite(ref)])
        count = np.array([measured.sum()])
    elif causal:
        typical = expanding_median(ref)
        count = np.cumsum(measured)
    else:
        n = len(ref)
        typical = np.full(n, np.nanmedian(ref) if measured.any() else np.nan)
        count = np.full(n, int(measured.sum()))
    return np.where(count >= 10, typical, NOSE_EAR_PRIOR_TORSO)


def _head_turn(
    p: np.ndarray, face_off_px: np.ndarray, off_rel: np.ndarray, typical: np.ndarray,
    side: np.ndarray, fb: np.ndarray, body_dir: np.ndarray, torso_px: np.ndarray,
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

    `face_off_px` is the nose's x offset from the ear midpoint, `off_rel` the same along the
    body's facing in torso lengths, `typical` its value in profile (`_typical_profile_offset`).
    """
    turn_side = _clip((1.0 - off_rel / typical) / 1.5, 0.0, 1.0)
    turn_side = np.where(body_dir != 0, turn_side, np.nan)
    ears_dx = np.abs(p[:, L.LEFT_EAR, X] - p[:, L.RIGHT_EAR, X])
    turn_ears = TURN_AT_PROFILE * _clip(ears_dx / torso_px / EAR_WIDTH_TORSO, 0.0, 1.0)
    turn_side = np.fmax(turn_side, turn_ears)

    profile_geom = _clip(np.abs(face_off_px) / (1.1 * (0.5 * ears_dx)), 0.0, 1.0)
    ear_asym = _clip(np.abs(p[:, L.LEFT_EAR, V] - p[:, L.RIGHT_EAR, V]) / 0.5, 0.0, 1.0)
    turn_fb = TURN_AT_PROFILE * np.fmax(profile_geom, ear_asym)
    return np.where(side, turn_side, np.where(fb, turn_fb, np.nan))


def _looking_down(
    p: np.ndarray, ear: np.ndarray, face_off_px: np.ndarray, side: np.ndarray,
    front: np.ndarray, facing: np.ndarray, head_turn: np.ndarray, min_deg: float,
) -> np.ndarray:
    """Whether the nose points down more than `min_deg` below horizontal from the ears.

    Side view: the ear->nose line's angle below horizontal, judged only while the face is in
    profile (a face turned to the camera has no usable line). Front view: the nose's drop below
    the ear midpoint over the eye-to-ear width, read as the sine of the same angle (the ear-to-
    nose depth is about 2.3 eye-to-ear widths). `ear` is the ear midpoint, `face_off_px` the
    nose's x offset from it.
    """
    dy = p[:, L.NOSE, Y] - ear[:, 1]
    side_deg = np.degrees(np.arctan2(dy, face_off_px * facing))
    side_ok = side & (facing != 0) & (head_turn < 0.4)
    eye_ear = _dist(p[:, [L.LEFT_EYE, L.RIGHT_EYE], :2], p[:, [L.LEFT_EAR, L.RIGHT_EAR], :2])
    eye_ear = nanmean_pair(eye_ear[:, 0], eye_ear[:, 1])
    s = _clip(dy / (NOSE_DEPTH_PER_EYE_EAR * eye_ear), -1.0, 1.0)
    front_deg = np.degrees(np.arcsin(s))
    return np.where(side_ok, side_deg > min_deg, front & (front_deg > min_deg))


def _head_ear(p: np.ndarray, ear_mid: np.ndarray) -> np.ndarray:
    """(T, 2) ear point for the head angle: the clearly better-seen ear, else the midpoint."""
    ear_vis = nan_to_zero(p[:, [L.LEFT_EAR, L.RIGHT_EAR], V])
    vl, vr = ear_vis[:, 0], ear_vis[:, 1]
    use_left = np.isfinite(p[:, L.LEFT_EAR, X]) & (vl - vr > 0.2)
    use_right = np.isfinite(p[:, L.RIGHT_EAR, X]) & (vr - vl > 0.2)
    return np.where(use_left[:, None], p[:, L.LEFT_EAR, :2],
                    np.where(use_right[:, None], p[:, L.RIGHT_EAR, :2], ear_mid))


def _sagittal_angles(
    p: np.ndarray, sh: np.ndarray, ear: np.ndarray, dx: np.ndarray, dy: np.ndarray,
    side: np.ndarray, facing: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Trunk lean and head angle from vertical in profile, + towards the facing (else NaN).

    `sh` and `ear` are the shoulder and ear midpoints, (dx, dy) the mid-hip->mid-shoulder line.
    """
    profile = side & (facing != 0)
    trunk = np.where(profile, _angle_from_vertical_deg(dx * facing, dy), np.nan)
    head_ear = _head_ear(p, ear)
    hx, hy = head_ear[:, 0] - sh[:, 0], head_ear[:, 1] - sh[:, 1]
    head = np.where(profile, _angle_from_vertical_deg(hx * facing, hy), np.nan)
    return trunk, head


def _edge_distance(p: np.ndarray, width: int, height: int, min_vis: float) -> np.ndarray:
    """Nearest confidently visible landmark's distance to a frame edge, as a share of the frame."""
    x, y, v = p[:, :, X], p[:, :, Y], p[:, :, V]
    ok = np.isfinite(x) & np.isfinite(y) & ~(v < min_vis)
    xf, yf = x / width, y / height
    d = np.minimum(np.minimum(np.minimum(xf, 1.0 - xf), yf), 1.0 - yf)
    d = np.where(ok, d, np.inf)
    out = d.min(axis=1) if d.size else np.full(len(p), np.inf)
    return np.where(np.isfinite(out), out, np.nan)


def _in_frame(p: np.ndarray, edge: np.ndarray, margin_frac: float) -> np.ndarray:
    """The head (any of nose and ears) and one of each main left/right pair seen, off the edge."""
    seen = np.isfinite(p[:, :, X])
    parts = seen[:, _HEAD].any(axis=1) & (seen[:, _MAIN_LEFT] | seen[:, _MAIN_RIGHT]).all(axis=1)
    return parts & (edge > margin_frac)


def _fallen(
    t: np.ndarray, hip: np.ndarray, sh: np.ndarray, p: np.ndarray, leg_px: np.ndarray,
    trunk_abs_deg: np.ndarray, torso_px: np.ndarray, fps: float, dt_median_s: float,
    settings: Settings,
) -> np.ndarray:
    """A fall: the hips drop fast with the trunk ending horizontal, or the walker lies down.

    Drop: the mid-hip's downward speed (a 0.2 s slope), at its largest over the last second,
    above `fall_drop_leg_s` leg lengths per second, while the trunk is more than
    `fall_horizontal_deg` from vertical. Lying: the trunk horizontal with the hips within
    0.35 leg lengths of the shoulders' height and within 0.45 leg lengths of the ankles' (so
    bending over at the hips, where the hips stay high, does not count). The torso must be at
    least 0.3 leg lengths long, which rejects tiny phantom skeletons. Once fallen, the state
    holds while the trunk stays horizontal. Always causal: a fall is judged from the past.
    """
    ss = settings.safety
    horizontal = (trunk_abs_deg > ss.fall_horizontal_deg) & (
        torso_px >= FALL_MIN_TORSO_LEG * leg_px)
    if not horizontal.any():
        return horizontal
    n_speed = max(3, window_len(FALL_SPEED_WINDOW_S, fps))
    drop_speed = rolling_slope(t, hip[:, 1], n_speed, True, dt_median_s) / leg_px
    recent_drop = np.nanmax(windows(drop_speed, window_len(FALL_WINDOW_S, fps), True), axis=1)
    ankle_y = np.fmax(p[:, L.LEFT_ANKLE, Y], p[:, L.RIGHT_ANKLE, Y])
    dropped = horizontal & (recent_drop > ss.fall_drop_leg_s)
    near_sh = np.abs(hip[:, 1] - sh[:, 1]) < FALL_HIPS_NEAR_SHOULDERS_LEG * leg_px
    near_ground = (ankle_y - hip[:, 1]) < FALL_HIPS_NEAR_GROUND_LEG * leg_px
    start = dropped | (horizontal & near_sh & near_ground)
    # fallen from a start until the trunk stops being horizontal (a start is horizontal)
    frame = np.arange(len(t))
    last_start = np.maximum.accumulate(np.where(start, frame, -1))
    last_upright = np.maximum.accumulate(np.where(horizontal, -1, frame))
    return horizontal & (last_start > last_upright)


FEET_SEEN_MIN_SHARE = 0.7      # share of the direction window with both feet in the picture
FEET_EDGE_MARGIN_FRAC = 0.01   # an ankle this close to the frame's edge may be cut off


def feet_seen(p: np.ndarray, width: int, height: int, min_visibility: float) -> np.ndarray:
    """(T,) both ankles found, confidently, and inside the picture (not at its edge)."""
    seen = np.ones(len(p), dtype=bool)
    mx, my = FEET_EDGE_MARGIN_FRAC * width, FEET_EDGE_MARGIN_FRAC * height
    for ankle in (L.LEFT_ANKLE, L.RIGHT_ANKLE):
        x, y, v = p[:, ankle, X], p[:, ankle, Y], p[:, ankle, V]
        seen &= (np.isfinite(x) & np.isfinite(y) & (x > mx) & (x < width - mx) & (y > my)
                 & (y < height - my) & ~(v < min_visibility))
    return seen


def _window_range(values: np.ndarray, n: int, causal: bool, last_only: bool) -> np.ndarray:
    """Largest minus smallest finite value in each frame's window (NaN where none)."""
    win = windows(values, n, causal, last_only)
    return np.nanmax(win, axis=1) - np.nanmin(win, axis=1)


def _feet_motion(
    p: np.ndarray, t: np.ndarray, hip_x: np.ndarray, n: int, causal: bool, last_only: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The stance foot's image speed relative to the pelvis (px/s), and the feet's cycle (px).

    Over the direction window, both ankles' speeds relative to the mid-hip are pooled and their
    median taken: a foot spends about 60 % of its cycle planted, moving steadily relative to the
    pelvis, and the rest swinging faster the other way, so the median is the planted foot's
    speed. The cycle is the range of the ankles' signed horizontal separation in the window.
    """
    ankles_x = p[:, [L.LEFT_ANKLE, L.RIGHT_ANKLE], X]
    rel = ankles_x - hip_x[:, None]
    dt = np.diff(t)
    vel = np.full_like(rel, np.nan)
    if len(t) > 1:
        vel[1:] = np.diff(rel, axis=0) / np.where(dt > 0, dt, np.nan)[:, None]
    pooled = np.concatenate([windows(vel[:, 0], n, causal, last_only),
                             windows(vel[:, 1], n, causal, last_only)], axis=1)
    stance_px_s = nanmedian_rows(pooled)
    cycle_px = _window_range(ankles_x[:, 0] - ankles_x[:, 1], n, causal, last_only)
    return stance_px_s, cycle_px


RAILS_REL_FACTOR = 1.5         # the shoulders move over a held hand this much more than it moves
RAILS_REL_MARGIN_LEG = 0.02    # ... plus this (leg lengths), above the landmarks' jitter
TRUNK_STILL_LEG = 0.03         # shoulders moving less than this cannot show a hand held
RAILS_AWAY_LEG = 0.3           # then a held hand must be this far ahead or behind the hips
RAILS_HIP_HEIGHT_LEG = 0.3     # ... and within this of hip height


def _hands_still(
    p: np.ndarray, n: int, causal: bool, last_only: bool, leg_px: np.ndarray,
    max_range_leg: float,
) -> np.ndarray:
    """Both hands held on something still in the room (the handrails) over the window.

    A held hand stays still in the image while the shoulders move over it with each stride;
    an arm that hangs or barely swings moves with the trunk. So each wrist must move less than
    `max_range_leg` leg lengths in the image (x and y) and move relative to the mid-shoulder
    clearly more than in the image. Where the shoulders barely move the two cannot be told
    apart by motion; then the hand must also be away from the body's swing path: well ahead
    of or behind the hips, near hip height.
    """
    rows = slice(len(p) - 1, len(p)) if (causal and last_only) else slice(0, len(p))
    shoulder = nanmean_pair(p[:, L.LEFT_SHOULDER, :2], p[:, L.RIGHT_SHOULDER, :2])
    hip = nanmean_pair(p[:, L.LEFT_HIP, :2], p[:, L.RIGHT_HIP, :2])
    trunk = np.fmax(_window_range(shoulder[:, 0], n, causal, last_only),
                    _window_range(shoulder[:, 1], n, causal, last_only))
    trunk_moves = np.isfinite(trunk) & (trunk >= TRUNK_STILL_LEG * leg_px)
    held = np.ones(len(leg_px), dtype=bool)
    for wrist in (L.LEFT_WRIST, L.RIGHT_WRIST):
        room = np.fmax(_window_range(p[:, wrist, X], n, causal, last_only),
                       _window_range(p[:, wrist, Y], n, causal, last_only))
        rel = np.fmax(_window_range(p[:, wrist, X] - shoulder[:, 0], n, causal, last_only),
                      _window_range(p[:, wrist, Y] - shoulder[:, 1], n, causal, last_only))
        still = np.isfinite(room) & (room < max_range_leg * leg_px)
        over = rel >= RAILS_REL_FACTOR * room + RAILS_REL_MARGIN_LEG * leg_px
        away = ((np.abs(p[rows, wrist, X] - hip[rows, 0]) >= RAILS_AWAY_LEG * leg_px)
                & (np.abs(p[rows, wrist, Y] - hip[rows, 1]) <= RAILS_HIP_HEIGHT_LEG * leg_px))
        held &= still & np.where(trunk_moves, over, away)
    return held


def _direction(
    speed: np.ndarray, present: np.ndarray, side: np.ndarray, facing: np.ndarray,
    in_window: np.ndarray, standing_max_speed_leg_s: float,
    feet_speed: np.ndarray | None = None, cycling: np.ndarray | None = None,
    feet_only: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Walking direction per frame, and whether the walker walks in place.

    From the pelvis's signed speed along the facing where it travels; where it stays put
    (below the standing speed) while the feet cycle, from `feet_speed`, the walking speed the
    stance foot gives (minus its speed relative to the pelvis). `feet_only` (a treadmill stated
    by the user) takes the feet's word wherever the feet cycle.

    `in_window` holds, per frame, whether its direction window saw the walker face right,
    face left, in side view, and in front or back view: both facings mean a turn on the spot,
    both kinds of view a turn across the camera.
    """
    flips = in_window[0] & in_window[1]
    view_change = in_window[2] & in_window[3]
    direction = np.full(len(speed), "unknown", dtype=object)
    known = present & (facing != 0) & np.isfinite(speed)
    direction[known & (speed < 0)] = "backward"
    direction[known & (speed >= 0)] = "forward"
    still = np.abs(speed) < standing_max_speed_leg_s
    direction[known & still] = "standing"
    in_place = np.zeros(len(speed), dtype=bool)
    if feet_speed is not None and cycling is not None:
        feet_known = (present & (facing != 0) & cycling & np.isfinite(feet_speed)
                      & (np.abs(feet_speed) >= standing_max_speed_leg_s))
        in_place = feet_known & (still | feet_only)
        direction[in_place & (feet_speed < 0)] = "backward"
        direction[in_place & (feet_speed >= 0)] = "forward"
    turning = present & (flips | view_change) & (known | side)
    direction[turning] = "turning"
    return direction, in_place & ~turning


# ---------------------------------------------------------------------------------------------


def compute_metrics(
    series: PoseSeries, settings: Settings, causal: bool = False, last_only: bool = False
) -> MetricsSeries:
    """Per-frame metrics of a smoothed series (see `FrameMetrics`), one column per field.

    With `causal=True` every windowed quantity (view, facing, speed, direction, leg length)
    uses only the current and earlier frames, so the last row is valid for live use.
    `last_only=True` returns just that last row (the live coach's case).
    """
    if len(series) == 0:
        return MetricsSeries.from_rows([])
    dt_median_s = series.median_frame_interval_s
    fps = fps_or_default(1.0 / dt_median_s if dt_median_s > 0 else None)
    with quiet_nan_warnings(), np.errstate(all="ignore"):
        metrics = _metric_columns(series, settings, fps, dt_median_s, causal, last_only)
    # a centred window needs every frame even when only the last one is wanted
    return metrics.subset(slice(-1, None)) if last_only and len(metrics) > 1 else metrics


def _metric_columns(
    series: PoseSeries, settings: Settings, fps: float, dt_median_s: float, causal: bool,
    last_only: bool,
) -> MetricsSeries:
    """The metrics of the frames that need them: all, or only the last one.

    For a causal series with `last_only` only the last frame is evaluated (every array has
    length 1); otherwise every frame is.
    """
    n = len(series)
    ms = settings.metrics
    p = series.points
    t = series.time_s
    present = series.has_person
    tail = causal and last_only
    rows = slice(n - 1, n) if tail else slice(0, n)

    # every frame: what carries state from frame to frame
    mids = nanmean_pair(p[:, _MID_LEFT, :3], p[:, _MID_RIGHT, :3])  # shoulders, hips, ears
    sh, hip, ear = mids[:, 0, :2], mids[:, 1, :2], mids[:, 2, :2]
    dx, dy = sh[:, 0] - hip[:, 0], sh[:, 1] - hip[:, 1]
    torso_px = np.hypot(dx, dy)
    trunk_from_vertical_deg = _angle_from_vertical_deg(dx, dy)
    face_off_px = p[:, L.NOSE, X] - ear[:, 0]
    leg_frame = leg_length_px(p)

    is_side = _side_view_state(p, torso_px, present, window_len(VIEW_WINDOW_S, fps), causal,
                               settings)
    side = present & (is_side == 1.0)
    fb = present & (is_side == 0.0)
    facing, body_dir = _facing(p, face_off_px, torso_px, side,
                               window_len(FACING_WINDOW_S, fps), causal)

    # A fall is judged over every frame, but in the live case only when the last frame's trunk
    # is horizontal: a fallen state needs a horizontal trunk.
    trunk_abs_deg = np.abs(trunk_from_vertical_deg)
    may_fall = not tail or bool(trunk_abs_deg[-1] > settings.safety.fall_horizontal_deg)
    leg_px = _typical_leg_px(leg_frame, torso_px, causal, last_only=tail and not may_fall)
    if may_fall:
        fallen = _fallen(t, hip, sh, p, leg_px, trunk_abs_deg, torso_px, fps, dt_median_s,
                         settings)[rows] & present[rows]
        leg_px = leg_px[rows]
    else:
        fallen = np.zeros(1, dtype=bool)

    vote_med = rolling_median(_front_vote(p, torso_px, mids[:, 0, 2], present),
                               window_len(FRONT_BACK_WINDOW_S, fps), causal, tail)
    n_dir = max(3, window_len(ms.direction_window_s, fps))
    vx_px_s = rolling_slope(t, hip[:, 0], n_dir, causal, dt_median_s, tail)
    stance_px_s, cycle_px = _feet_motion(p, t, hip[:, 0], n_dir, causal, tail)
    # the feet's word needs the feet: a window mostly without both ankles in the picture
    # (cut off by the frame's edge, hidden) says nothing about the walking direction
    seen = feet_seen(p, series.width, series.height, settings.smoothing.min_visibility)
    feet_seen_share = np.nanmean(windows(seen.astype(float), n_dir, causal, tail), axis=1)
    stance_px_s = np.where(feet_seen_share >= FEET_SEEN_MIN_SHARE, stance_px_s, np.nan)
    ws = settings.walk_setting
    hands_still = _hands_still(p, n_dir, causal, tail, leg_px, ws.hands_still_max_range_leg)
    in_window = window_sums(
        np.array([facing > 0, facing < 0, side, fb], dtype=float), n_dir, causal, tail) > 0
    off_rel = face_off_px * body_dir / torso_px
    typical = _typical_profile_offset(np.where(side & (off_rel > 0), off_rel, np.nan), causal,
                                      tail)

    # the frames returned
    p, present, side, fb, facing = p[rows], present[rows], side[rows], fb[rows], facing[rows]
    sh, hip, ear, face_off_px = sh[rows], hip[rows], ear[rows], face_off_px[rows]
    dx, dy, torso_px = dx[rows], dy[rows], torso_px[rows]
    off_rel, body_dir = off_rel[rows], body_dir[rows]
    front = vote_med > 0

    speed = np.where(facing != 0, vx_px_s / leg_px * facing, np.nan)
    feet_speed = np.where(facing != 0, -stance_px_s / leg_px * facing, np.nan)
    cycling = cycle_px >= ws.feet_cycle_min_range_leg * leg_px
    direction, in_place = _direction(speed, present, side, facing, in_window,
                                     ms.standing_max_speed_leg_s, feet_speed, cycling,
                                     feet_only=ws.setting == "treadmill")
    view = np.full(len(p), "unknown", dtype=object)
    view[side] = "side"
    view[fb & front] = "front"
    view[fb & ~front] = "back"
    trunk, head = _sagittal_angles(p, sh, ear, dx, dy, side, facing)
    lateral = np.where(fb, trunk_from_vertical_deg[rows], np.nan)

    head_turn = _head_turn(p, face_off_px, off_rel, typical, side, fb, body_dir, torso_px)
    # head_turn is 0..1 or NaN: NaN counts as not turned
    head_turned = np.where(np.isnan(head_turn), 0.0, head_turn) >= ms.head_turn_min
    looking_down = _looking_down(p, ear, face_off_px, side, fb & front, facing, head_turn,
                                 ms.looking_down_min_deg)
    edge = _edge_distance(p, series.width, series.height, settings.smoothing.min_visibility)
    return MetricsSeries(
        frame=np.asarray(series.frame_index[rows], dtype=np.int64),
        time_s=t[rows].copy(),
        has_person=present,
        view=view,
        facing=facing,
        direction=direction,
        pelvis_speed_leg_s=speed,
        trunk_lean_deg=trunk,
        trunk_lateral_lean_deg=lateral,
        head_angle_deg=head,
        looking_down=looking_down,
        head_turn=head_turn,
        head_turned=head_turned,
        edge_distance_frac=edge,
        fully_in_frame=_in_frame(p, edge, ms.edge_margin_frac),
        leg_length_px=leg_px,
        hip_height_frac=(series.height - hip[:, 1]) / series.height,
        fallen=fallen,
        in_place=in_place,
        hands_still=hands_still & cycling & present,
    )
