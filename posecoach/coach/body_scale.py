"""One body scale per session: how many metres a pixel is at the walker, from their own build.

The height given is the walker's stature. The picture gives the walker's proportions, which
differ from person to person by several percent: the standing height (ear to the lower heel,
plus the crown above the ear, as the timed test measures the still stance) and the leg's two
segments, each taken from the frames where it is longest, since foreshortening and bending
only shorten them. Every frame's lengths are read against the torso (mid-hip to mid-shoulder)
of the same frame, so a walker nearer or further from the camera does not change them.

So the leg in metres is the stature, less the crown, times the walker's own leg-to-standing
ratio; where the picture cannot give that ratio (head or feet never seen upright), the typical
adult proportion (`[metrics] leg_length_ratio`, Winter) stands in with a wider uncertainty.
Step metres, speed and the timed test's height scale all rest on the same stature and the
same ear-to-heel model. Floor marks 3 m apart remain the recommended scale for the timed test.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic.dataclasses import dataclass as record

from posecoach.coach.rolling import quiet_nan_warnings, rolling_median, window_len
from posecoach.pose.landmarks import Landmark as L
from posecoach.pose.landmarks import PoseSeries, V, Y
from posecoach.records import RECORD_CONFIG, Real, Record
from posecoach.settings import Settings

STANDING_PERCENTILE = 90.0     # the tallest frames, robust to a few frames of landmark noise
MIN_FRAMES = 15                # frames needed for a measured proportion
UPRIGHT_MAX_DEG = 15.0         # the trunk within this of vertical counts as upright
CROWN_SD_M = 0.02              # people's crown-above-ear differs by about this much
TYPICAL_LEG_SD = 0.04          # people's leg-to-stature ratio differs by about this much
MEASURED_SD_FLOOR = 0.01       # a measured proportion is never trusted closer than this
NEAR_VERTICAL_DEG = 25.0       # a leg segment this near vertical shows its whole length
TORSO_WINDOW_S = 1.0           # the torso's length is smoothed over this window

SOURCE_HEIGHT = "height given"
SOURCE_STANDING = "standing height in the picture"
SOURCE_LEG = "leg segments in the picture"
SOURCE_TYPICAL = "typical leg-to-height proportion"


@record(frozen=True, config=RECORD_CONFIG)
class BodyScale(Record):
    """The session's body scale: what one leg length is in metres, and how sure that is.

    `leg_m` is hip to ankle in metres (None without a height); `leg_per_height` the leg over
    the stature it came from (measured, or the typical 0.491); `rel_uncertainty` one standard
    deviation, as a share, of every length and speed in metres; `sources` what was used.
    `leg_per_torso` and `standing_per_torso` are the picture's proportions (None when not
    measured): the scale per frame is `leg_m / (leg_per_torso x torso length)`.
    """

    height_m: Real | None = None
    leg_m: Real | None = None
    leg_per_height: Real | None = None
    rel_uncertainty: Real | None = None
    sources: tuple[str, ...] = ()
    leg_per_torso: Real | None = None
    standing_per_torso: Real | None = None


def _mid(p: np.ndarray, a: int, b: int) -> np.ndarray:
    with quiet_nan_warnings():
        return np.nanmean(np.stack([p[:, a, :2], p[:, b, :2]]), axis=0)


def torso_px(p: np.ndarray) -> np.ndarray:
    """(T,) mid-hip to mid-shoulder length in pixels (NaN where not seen)."""
    d = _mid(p, L.LEFT_SHOULDER, L.RIGHT_SHOULDER) - _mid(p, L.LEFT_HIP, L.RIGHT_HIP)
    return np.hypot(d[:, 0], d[:, 1])


def _segments(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T,) thigh and shank of the better-seen leg (higher visibility of hip, knee, ankle),
    each NaN where it leans more than `NEAR_VERTICAL_DEG` in the picture.

    A segment near vertical is not shortened by a walk at an angle to the camera (that only
    shortens its horizontal part), and the median of those frames is not pulled up by landmark
    noise as the longest frames are.
    """
    chains = ((L.LEFT_HIP, L.LEFT_KNEE, L.LEFT_ANKLE), (L.RIGHT_HIP, L.RIGHT_KNEE, L.RIGHT_ANKLE))
    thighs, shanks, vis = [], [], []
    for hip, knee, ankle in chains:
        lengths = []
        for top, bottom in ((hip, knee), (knee, ankle)):
            d = p[:, bottom, :2] - p[:, top, :2]
            lean = np.degrees(np.arctan2(np.abs(d[:, 0]), d[:, 1]))
            lengths.append(np.where(lean <= NEAR_VERTICAL_DEG, np.hypot(d[:, 0], d[:, 1]),
                                    np.nan))
        thighs.append(lengths[0])
        shanks.append(lengths[1])
        v = np.nan_to_num(p[:, [hip, knee, ankle], V], nan=0.0).mean(axis=1)
        vis.append(v)
    left = vis[0] >= vis[1]
    return np.where(left, thighs[0], thighs[1]), np.where(left, shanks[0], shanks[1])


def _standing_px(p: np.ndarray) -> np.ndarray:
    """(T,) vertical pixels from the ear midpoint down to the lower heel (ankle if no heel)."""
    with quiet_nan_warnings():
        heel = np.nanmax(p[:, [L.LEFT_HEEL, L.RIGHT_HEEL], Y], axis=1)
        ankle = np.nanmax(p[:, [L.LEFT_ANKLE, L.RIGHT_ANKLE], Y], axis=1)
        ear = np.nanmean(p[:, [L.LEFT_EAR, L.RIGHT_EAR], Y], axis=1)
    return np.where(np.isfinite(heel), heel, ankle) - ear


def _typical(ratio: np.ndarray, percentile: float) -> tuple[float, float] | None:
    """A percentile of a per-frame ratio and its relative standard error, or None if too few."""
    ok = ratio[np.isfinite(ratio) & (ratio > 0)]
    if ok.size < MIN_FRAMES:
        return None
    top = float(np.percentile(ok, percentile))
    q1, q3 = np.percentile(ok, [25.0, 75.0])
    error = 1.253 * float(q3 - q1) / 1.349 / math.sqrt(ok.size / 3.0) / top
    return top, error


def measure_body_scale(series: PoseSeries, side_view: np.ndarray,
                       settings: Settings) -> BodyScale:
    """The session's scale from the side-view frames (`side_view`, (T,) bool) and the height.

    The standing height counts only frames with the trunk upright; every ratio is against the
    same frame's torso. Without a height there are no metres, but the proportions are still
    reported.
    """
    p = series.points
    height_m = settings.height_cm / 100.0 if settings.height_cm else None
    crown_m = settings.timed_test.crown_above_ear_m
    with np.errstate(invalid="ignore", divide="ignore"):
        torso = _smoothed_torso_px(series)
        d = _mid(p, L.LEFT_SHOULDER, L.RIGHT_SHOULDER) - _mid(p, L.LEFT_HIP, L.RIGHT_HIP)
        upright = np.abs(np.degrees(np.arctan2(d[:, 0], -d[:, 1]))) <= UPRIGHT_MAX_DEG
        seen = side_view & np.isfinite(torso) & (torso > 0)
        thigh, shank = _segments(p)
        thigh_r = _typical(np.where(seen, thigh / torso, np.nan), 50.0)
        shank_r = _typical(np.where(seen, shank / torso, np.nan), 50.0)
        # bending the knees or the neck only lowers the head: the upright stance is the top
        stand_r = _typical(np.where(seen & upright, _standing_px(p) / torso, np.nan),
                           STANDING_PERCENTILE)

    leg_per_torso = thigh_r[0] + shank_r[0] if thigh_r and shank_r else None
    standing_per_torso = stand_r[0] if stand_r else None
    typical = settings.metrics.leg_length_ratio
    if leg_per_torso is not None and standing_per_torso is not None and thigh_r and shank_r \
            and stand_r:
        leg_per_standing = leg_per_torso / standing_per_torso
        measured_sd = math.sqrt(thigh_r[1] ** 2 + shank_r[1] ** 2 + stand_r[1] ** 2)
        measured_sd = max(measured_sd, MEASURED_SD_FLOOR)
        sources = (SOURCE_STANDING, SOURCE_LEG)
        if height_m is None:
            return BodyScale(None, None, None, None, sources, leg_per_torso, standing_per_torso)
        standing_m = height_m - crown_m
        leg_m = leg_per_standing * standing_m
        rel = math.sqrt(measured_sd ** 2 + (CROWN_SD_M / standing_m) ** 2)
        return BodyScale(height_m, leg_m, leg_m / height_m, rel,
                         (SOURCE_HEIGHT, *sources), leg_per_torso, standing_per_torso)
    if height_m is None:
        return BodyScale(None, None, None, None, (), leg_per_torso, standing_per_torso)
    return BodyScale(height_m, typical * height_m, typical, TYPICAL_LEG_SD / typical,
                     (SOURCE_HEIGHT, SOURCE_TYPICAL), leg_per_torso, standing_per_torso)


def _smoothed_torso_px(series: PoseSeries) -> np.ndarray:
    """(T,) the torso's length smoothed over about a second (NaN where never seen near)."""
    fps = series.fps if series.fps > 0 else 30.0
    with np.errstate(invalid="ignore"):
        return rolling_median(torso_px(series.points), window_len(TORSO_WINDOW_S, fps), False)


def metres_per_px(series: PoseSeries, scale: BodyScale, leg_px: float) -> np.ndarray | None:
    """(T,) metres per pixel at the walker in each frame, or None without a height.

    With the picture's proportions, from each frame's torso (smoothed over about a second,
    gaps filled from the nearest frames), so a walker coming nearer the camera keeps the right
    scale; otherwise one value for the clip from its typical leg length `leg_px`.
    """
    if scale.leg_m is None:
        return None
    constant = np.full(len(series), scale.leg_m / leg_px)
    if scale.leg_per_torso is None:
        return constant
    torso = _smoothed_torso_px(series)
    ok = np.isfinite(torso) & (torso > 0)
    if not ok.any():
        return constant
    idx = np.arange(len(torso))
    torso = np.interp(idx, idx[ok], torso[ok])
    return scale.leg_m / (scale.leg_per_torso * torso)



ASSUMED_HFOV_DEG = 65.0        # a phone's or webcam's picture width when nothing says otherwise
MIN_WALK_ANGLE_DEG = 3.0       # a walk this square to the camera needs no correction
MAX_WALK_ANGLE_DEG = 35.0      # beyond this it is no side view: not corrected further


def walk_direction(series: PoseSeries, m_per_px: np.ndarray,
                   walking: np.ndarray) -> tuple[float, float] | None:
    """(cos, sin) of the walk's angle to the picture's plane, or None when square to it.

    The walker's distance from the camera is the focal length times the metres per pixel,
    and their sideways position the pixels from the picture's centre times it; a line through
    those positions over the walk is the walk's direction on the floor. The focal length is
    not known from a picture: a typical `ASSUMED_HFOV_DEG` wide picture is assumed, which for
    a real 55-80 degree camera puts a 20 degree walk at 17-24 degrees.
    """
    ok = walking & np.isfinite(m_per_px)
    p = series.points
    with quiet_nan_warnings():
        hip_x = np.nanmean(p[:, [L.LEFT_HIP, L.RIGHT_HIP], 0], axis=1)
    ok &= np.isfinite(hip_x)
    if ok.sum() < MIN_FRAMES:
        return None
    focal = (series.width / 2.0) / math.tan(math.radians(ASSUMED_HFOV_DEG) / 2.0)
    lateral = (hip_x[ok] - series.width / 2.0) * m_per_px[ok]
    depth = focal * m_per_px[ok]
    pts = np.stack([lateral - lateral.mean(), depth - depth.mean()], axis=1)
    _, _, vt = np.linalg.svd(pts, full_matrices=False)
    cos, sin = float(vt[0, 0]), float(vt[0, 1])
    if cos < 0:
        cos, sin = -cos, -sin
    angle = math.degrees(math.atan2(abs(sin), cos))
    if angle < MIN_WALK_ANGLE_DEG:
        return None
    angle = min(angle, MAX_WALK_ANGLE_DEG)
    return math.cos(math.radians(angle)), math.copysign(math.sin(math.radians(angle)), sin)


def along_walk_factor(series: PoseSeries, direction: tuple[float, float] | None,
                      frame: int) -> float:
    """How much of a step along the walk the picture shows at `frame` (1 when square on).

    A step of length s along a walk at angle a to the picture's plane, seen at x pixels from
    the centre (focal length f), spans s x (cos a - x / f x sin a) in metres at the walker.
    """
    if direction is None:
        return 1.0
    cos, sin = direction
    p = series.points[frame]
    with quiet_nan_warnings():
        hip_x = float(np.nanmean(p[[L.LEFT_HIP, L.RIGHT_HIP], 0]))
    if not math.isfinite(hip_x):
        return cos
    focal = (series.width / 2.0) / math.tan(math.radians(ASSUMED_HFOV_DEG) / 2.0)
    factor = cos - (hip_x - series.width / 2.0) / focal * sin
    return factor if factor > 0.5 else cos
