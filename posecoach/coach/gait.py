"""Gait from side-view landmarks: events, steps, step length, cadence, speed, symmetry.

Backward gait reverses the contact pattern: the toes reach the ground first and the heel leaves
it last, and the feet point away from the direction of travel. Events therefore come from the
foot's position along the direction of travel relative to the pelvis (after Zeni 2008), with the
travel direction taken from the metrics' direction (pelvis travel, or the stance foot's motion
relative to the pelvis on a belt), never from where the feet point. The same measures hold on a
treadmill, where the belt speed is the step length times the cadence.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, cast

import numpy as np
from scipy.signal import find_peaks

from posecoach.coach.body_scale import (
    BodyScale,
    along_walk_factor,
    measure_body_scale,
    metres_per_px,
    walk_direction,
)
from posecoach.coach.metrics import MetricsSeries
from posecoach.coach.metrics import feet_seen as feet_seen_in
from posecoach.coach.rolling import quiet_nan_warnings, runs
from posecoach.coach.setting import WalkSetting, detect_setting, handrail_share
from posecoach.frame_rate import fps_or_default
from posecoach.pose.landmarks import Landmark as L
from posecoach.pose.landmarks import PoseSeries, V, X, Z
from posecoach.settings import Settings

Side = Literal["left", "right"]
EventKind = Literal["toe_contact", "heel_contact", "heel_off", "toe_off"]


@dataclass
class GaitEvent:
    time_s: float
    frame: int
    side: Side
    kind: EventKind


@dataclass
class Step:
    """One step: the moment the two feet are furthest apart along the walk."""

    time_s: float
    frame: int
    side: Side                      # the foot that lands (leads in the direction of travel)
    step_length_leg: float          # ankle separation / leg length
    step_length_m: float | None     # needs the walker's height
    step_time_s: float | None       # time since the previous step


@dataclass
class GaitSummary:
    steps: list[Step]
    events: list[GaitEvent]
    cadence_spm: float | None
    step_length_leg: float | None           # median
    step_length_m: float | None
    step_time_s: float | None               # median
    speed_leg_s: float | None               # median walking speed while walking
    speed_m_s: float | None
    step_length_symmetry: float | None      # min(left, right) / max(left, right), 1 = symmetric
    step_time_symmetry: float | None
    leg_length_px: float | None
    setting: WalkSetting = "overground"
    handrail_share: float | None = None     # treadmill: share of the walk holding the rails
    feet_out_of_view_share: float | None = None  # share of the side view without both feet
    body_scale: BodyScale | None = None     # what a leg length is in metres, and how sure


PEAK_TOP_SHARE = 0.7   # a step's time is the centroid of its peak above this share of the top

# Which foot landed: the landing ankle's depth and visibility against the other ankle's tell
# whether it is the near or the far foot, and the walker's facing tells which foot is near.
SIDE_DEPTH_GAP_LEG = 0.3      # a depth gap this large (leg lengths) makes one ankle clearly nearer
SIDE_VISIBILITY_GAP = 0.2     # so does a visibility gap this large
SIDE_LABEL_WEIGHT = 0.2       # the pose model's own leg label: little more than a tie-break


def _interp_nans(values: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaNs (ends held), so peak finding sees one continuous signal."""
    ok = np.isfinite(values)
    if ok.all() or not ok.any():
        return values.copy()
    idx = np.arange(len(values))
    return np.interp(idx, idx[ok], values[ok])


def _peak_centroid_s(values: np.ndarray, t: np.ndarray, i: int) -> float:
    """The time of the peak at `i`: the centroid of its top, above `PEAK_TOP_SHARE` of it.

    Double support keeps the feet apart for a while, so the top is broad and uneven; its
    centroid is the same whichever way time runs, where its highest sample is not.
    """
    lo, hi = _peak_top(values, i)
    weight = values[lo:hi + 1] - PEAK_TOP_SHARE * values[i]
    total = float(weight.sum())
    return float(np.dot(weight, t[lo:hi + 1]) / total) if total > 0 else float(t[i])


MIN_FEET_SEEN_SHARE = 0.9      # a step interval counts when both feet were seen this much of it


def _peak_top(values: np.ndarray, i: int) -> tuple[int, int]:
    """The first and last frame of the peak at `i` above `PEAK_TOP_SHARE` of its height."""
    level = PEAK_TOP_SHARE * values[i]
    lo = hi = i
    while lo > 0 and values[lo - 1] >= level:
        lo -= 1
    while hi < len(values) - 1 and values[hi + 1] >= level:
        hi += 1
    return lo, hi


def _median_or_none(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.median(vals)) if vals else None


def _paired_median(steps: list[Step], values: list[float | None]) -> float | None:
    """The median over each three consecutive steps on alternating feet of their mean
    weighted 1-2-1 (two overlapping strides, one of each foot), else of the means of two
    consecutive steps on opposite feet (a stride's half), else of the steps.

    Seen from the side, the foot nearer the camera looks further apart when it leads and the
    far one nearer, by an amount that grows with the walker's distance from the picture's
    centre, and a walk at an angle shows the step width across the picture, one way for each
    foot. The error thus alternates from step to step and grows steadily along the walk; one
    stride's mean cancels its constant part, and the 1-2-1 mean of three steps its steady
    growth too. Steps of the same foot (one missed between them) would not cancel, so they
    are not combined.
    """
    def joined(k: int) -> bool:
        """Steps k and k + 1 follow each other on opposite feet, both measured."""
        return (values[k] is not None and values[k + 1] is not None
                and steps[k + 1].step_time_s is not None and steps[k].side != steps[k + 1].side)

    n = len(values)
    triples = [(values[k] + 2.0 * values[k + 1] + values[k + 2]) / 4.0  # type: ignore[operator]
               for k in range(n - 2) if joined(k) and joined(k + 1)]
    if triples:
        return _median_or_none(triples)
    pairs = [(values[k] + values[k + 1]) / 2.0  # type: ignore[operator]
             for k in range(n - 1) if joined(k)]
    return _median_or_none(pairs) if pairs else _median_or_none(
        [v for v in values if v is not None])


def _symmetry(left: float | None, right: float | None) -> float | None:
    if left is None or right is None or max(left, right) <= 0:
        return None
    return float(min(left, right) / max(left, right))


def _walking(metrics: MetricsSeries, t: np.ndarray, fps: float, min_walk_s: float) -> np.ndarray:
    """Frames in side view going forward or backward, in stretches of at least `min_walk_s`."""
    direction = metrics.direction
    walking = (metrics.has_person & (metrics.view == "side")
               & ((direction == "forward") | (direction == "backward")))
    for start, stop, walked in runs(walking):
        if walked and t[stop - 1] - t[start] + 1.0 / fps < min_walk_s:
            walking[start:stop] = False
    return walking


def _complete_edge_steps(
    found: list[int], sep: np.ndarray, walking: np.ndarray, typical: float, share: float,
) -> list[int]:
    """The step peaks without the low first and last ones of each walking stretch.

    Where a clip starts or ends, or a stand begins or ends, mid-stride, the ankle separation
    shows part of a step, often a low bump. The first and the last peak of each stretch count
    only when at least `share` of the typical peak; the rule is the same at both ends, so a
    clip and its time-reversed twin keep the same steps.
    """
    if not found:
        return found
    keep = set(found)
    for start, stop, walked in runs(walking):
        if not walked:
            continue
        inside = [i for i in found if start <= i < stop]
        for edge in {inside[0], inside[-1]} if inside else set():
            if sep[edge] < share * typical:
                keep.discard(edge)
    return [i for i in found if i in keep]


def _steps(
    p: np.ndarray, t: np.ndarray, frames: np.ndarray, direction: np.ndarray,
    walking: np.ndarray, travel_x: np.ndarray, facing: np.ndarray, leg_px: float,
    m_per_px: np.ndarray | None, fps: float, settings: Settings, feet_seen: np.ndarray,
) -> list[Step]:
    """The steps: peaks of the ankles' horizontal separation while walking (see `analyze_gait`).

    `travel_x` is the image direction of travel per frame (+1 right, -1 left, 0 unknown),
    `facing` the way the walker faces in the image (+1 right, -1 left, 0 unknown),
    `feet_seen` whether both feet are in view. Every rule looks at both sides of a peak alike,
    so a clip and its time-reversed twin give the same steps.
    """
    gs = settings.gait
    left_x, right_x = p[:, L.LEFT_ANKLE, X], p[:, L.RIGHT_ANKLE, X]
    sep = np.abs(left_x - right_x) / leg_px
    distance = max(1, int(round(gs.min_step_time_s * fps)))
    peaks, _ = find_peaks(_interp_nans(sep), distance=distance,
                          prominence=gs.min_step_prominence_leg)
    filled = _interp_nans(sep)
    found = []
    for i in peaks:
        lo, hi = _peak_top(filled, int(i))
        # the whole top seen: a peak cut off by the frame's edge or a hidden foot is not a step
        if (walking[i] and np.isfinite(sep[i]) and travel_x[i] != 0
                and feet_seen[lo:hi + 1].all()):
            found.append(int(i))
    if found:
        # a partial step where the clip starts or the walker stops is a low bump, not a step
        typical = float(np.median(sep[found]))
        found = [i for i in found if sep[i] >= gs.min_step_share_of_median * typical]
        found = _complete_edge_steps(found, sep, walking & feet_seen, typical,
                                     gs.min_edge_step_share)
    peak_at: dict[int, tuple[float, float, float]] = {}
    for i in found:
        time_s = _peak_centroid_s(filled, t, i)
        centre = int(np.clip(np.searchsorted(t, time_s), 0, len(t) - 1))
        if centre > 0 and time_s - t[centre - 1] < t[centre] - time_s:
            centre -= 1
        peak_at[centre] = (time_s, float(sep[i]), float(travel_x[i]))
    step_frames = sorted(peak_at)

    steps: list[Step] = []
    left_evidence: list[float] = []
    for k, i in enumerate(step_frames):
        time_s, length, travel = peak_at[i]
        ahead_left = bool(left_x[i] * travel > right_x[i] * travel)
        evidence = _left_evidence(p[i], ahead_left, int(facing[i]), leg_px)
        left_evidence.append(evidence)
        step_time = None
        if k > 0:
            prev = step_frames[k - 1]
            prev_s = peak_at[prev][0]
            seen_between = float(np.mean(feet_seen[prev:i + 1]))
            if (time_s - prev_s < gs.max_step_time_s and direction[i] == direction[prev]
                    and seen_between >= MIN_FEET_SEEN_SHARE):
                step_time = float(time_s - prev_s)
        steps.append(Step(
            time_s=float(time_s),
            frame=int(frames[i]),
            side="left" if evidence >= 0 else "right",
            step_length_leg=length,
            step_length_m=(length * leg_px * float(m_per_px[i])
                           if m_per_px is not None else None),
            step_time_s=step_time,
        ))
    return _alternate_sides(steps, left_evidence)


STEP_SIDE_MARGIN_FRAC = 0.03  # a foot this near the picture's left or right edge may be cut off


def _feet_clear_of_sides(p: np.ndarray, width: int) -> np.ndarray:
    """(T,) both ankles at least `STEP_SIDE_MARGIN_FRAC` of the width from the picture's sides.

    A walker leaving the picture loses the leading foot first; the smoother carries it on for a
    few frames by a guess, which can make the last step's peak out of nothing. A step is
    measured only with both feet clear of the sides over its whole peak."""
    margin = STEP_SIDE_MARGIN_FRAC * width
    x = p[:, [L.LEFT_ANKLE, L.RIGHT_ANKLE], X]
    with np.errstate(invalid="ignore"):
        return np.all((x > margin) & (x < width - margin), axis=1)


def _left_evidence(points: np.ndarray, ahead_left: bool, facing: int, leg_px: float) -> float:
    """How strongly the landing foot of one step is the left one (> 0) or the right one (< 0).

    In a side view the pose model often swaps the leg labels, most of all on the hidden far
    leg, so its label counts for little. The landing ankle's depth (z, negative = nearer) and
    visibility against the other ankle's say whether the near or the far foot landed, and the
    facing says which foot is near: a walker facing image left shows the camera the left side.
    """
    lead, trail = ((L.LEFT_ANKLE, L.RIGHT_ANKLE) if ahead_left
                   else (L.RIGHT_ANKLE, L.LEFT_ANKLE))
    evidence = SIDE_LABEL_WEIGHT if ahead_left else -SIDE_LABEL_WEIGHT
    if facing == 0:
        return evidence
    nearer = 0.0
    depth_gap = (points[trail, Z] - points[lead, Z]) / leg_px
    if np.isfinite(depth_gap):
        nearer += float(np.clip(depth_gap / SIDE_DEPTH_GAP_LEG, -1.0, 1.0))
    visibility_gap = points[lead, V] - points[trail, V]
    if np.isfinite(visibility_gap):
        nearer += float(np.clip(visibility_gap / SIDE_VISIBILITY_GAP, -1.0, 1.0))
    nearer = float(np.clip(nearer, -1.0, 1.0))
    return evidence + (nearer if facing < 0 else -nearer)


def _alternate_sides(steps: list[Step], left_evidence: list[float]) -> list[Step]:
    """The steps with their sides alternating along each chain of consecutive steps.

    Walking alternates the feet, so within a chain (steps with a step time: close enough in
    time, same direction) only one choice is open, which foot took the first step; the chain's
    summed evidence makes it. A gap of about two step times between two steps is a missed step,
    which keeps the same foot. A single-step chain keeps its own evidence.
    """
    intervals = [s.step_time_s for s in steps if s.step_time_s is not None]
    typical_s = float(np.median(intervals)) if intervals else None
    chains: list[list[int]] = []
    parity: list[int] = []
    for k, step in enumerate(steps):
        if step.step_time_s is None or not chains or typical_s is None:
            chains.append([k])
            parity.append(0)
            continue
        chains[-1].append(k)
        parity.append(parity[k - 1] + max(1, int(round(step.step_time_s / typical_s))))
    out = list(steps)
    for chain in chains:
        if len(chain) < 2:
            continue
        signs = [1.0 if parity[k] % 2 == 0 else -1.0 for k in chain]
        total = sum(sign * left_evidence[k] for sign, k in zip(signs, chain, strict=True))
        if total == 0:
            continue
        for sign, k in zip(signs, chain, strict=True):
            side: Side = "left" if sign * total > 0 else "right"
            out[k] = replace(steps[k], side=side)
    return out


def analyze_gait(
    series: PoseSeries, metrics: MetricsSeries, settings: Settings
) -> GaitSummary:
    """Steps, gait events, cadence, step length, speed and symmetry of a smoothed series.

    Only side-view frames with the walker going forward or backward count, in stretches of at
    least `min_walk_s` (a few stray side-view frames in a back-view clip claim no steps).
    A step is a peak of the horizontal ankle separation (in leg lengths), which does not depend
    on the leg labels, at least `min_step_share_of_median` of the median peak's height; the
    stepping foot is the one further along the direction of travel (the one that lands), told
    left or right by whether it is the near or the far foot (depth, visibility, facing) more
    than by the pose model's label, with the sides alternating along each chain of steps. The
    step's time is the middle of the peak's near-flat top (double support), its length the peak
    value. A peak counts only with both feet in view over its whole top. Cadence is 60 over
    the median time between consecutive steps (no more than `max_step_time_s` apart, the
    feet seen in between), which reads the same whichever way the clip plays.
    """
    gs = settings.gait
    n = len(series)
    leg_px_values = metrics.leg_length_px
    leg_px = (float(np.nanmedian(leg_px_values)) if np.isfinite(leg_px_values).any() else None)
    setting = detect_setting(metrics, settings) if len(metrics) == n else "overground"
    empty = GaitSummary([], [], None, None, None, None, None, None, None, None, leg_px,
                        setting, handrail_share(metrics, setting) if len(metrics) == n else None)
    if n < 3 or len(metrics) != n or not leg_px or leg_px <= 0:
        return empty
    side_view = metrics.has_person & (metrics.view == "side")
    # metres need the height given; without it no scale is measured
    scale = measure_body_scale(series, side_view, settings) if settings.height_cm else None
    m_per_px = metres_per_px(series, scale, leg_px) if scale is not None else None

    p = series.points
    t = series.time_s
    fps = fps_or_default(series.fps)
    frames = series.frame_index if series.frame_index is not None else np.arange(n)
    direction = metrics.direction
    walking = _walking(metrics, t, fps, gs.min_walk_s)
    speed = metrics.pelvis_speed_leg_s
    facing = metrics.facing
    travel_x = facing * np.where(direction == "forward", 1,
                                 np.where(direction == "backward", -1, 0))
    with quiet_nan_warnings():
        pelvis_x = np.nanmean(p[:, [L.LEFT_HIP, L.RIGHT_HIP], X], axis=1)

    feet_seen = feet_seen_in(series.points, series.width, series.height,
                             settings.smoothing.min_visibility)
    steps = _steps(p, t, frames, direction, walking, travel_x, facing, leg_px, m_per_px, fps,
                   settings, feet_seen & _feet_clear_of_sides(p, series.width))
    if m_per_px is not None:
        # a walk at an angle to the picture shows its steps shortened
        heading = walk_direction(series, m_per_px, walking)
        index = {int(f): i for i, f in enumerate(frames)}
        steps = [replace(s, step_length_m=s.step_length_m
                         / along_walk_factor(series, heading, index[s.frame]))
                 if s.step_length_m is not None else s for s in steps]
    intervals = [s.step_time_s for s in steps if s.step_time_s is not None]
    # the median interval between consecutive steps: the same whichever way the clip plays,
    # and a missed step or a pause does not pull it
    median_interval = _median_or_none(intervals)
    cadence = (60.0 / median_interval
               if len(steps) >= 3 and len(intervals) >= 2 and median_interval else None)
    feet_out = float(np.mean(~feet_seen[side_view])) if side_view.any() else None

    events = _events(p, t, frames, pelvis_x, travel_x, direction, walking, leg_px, fps, settings)

    by_side = {
        side: ([s.step_length_leg for s in steps if s.side == side],
               [s.step_time_s for s in steps if s.side == side and s.step_time_s is not None])
        for side in ("left", "right")
    }
    step_length = _paired_median(steps, [s.step_length_leg for s in steps])
    step_length_m = _paired_median(steps, [s.step_length_m for s in steps])
    setting = detect_setting(metrics, settings)
    speed_m: float | None = None
    if setting == "treadmill":
        # the belt's speed: each step moves the belt one step length
        speed_leg = (step_length * cadence / 60.0
                     if step_length is not None and cadence is not None else None)
        if step_length_m is not None and cadence is not None:
            speed_m = step_length_m * cadence / 60.0
    else:
        walk_speed = np.abs(speed[walking])
        speed_leg = (float(np.nanmedian(walk_speed)) if np.isfinite(walk_speed).any() else None)
        if m_per_px is not None and np.isfinite(walk_speed).any():
            speed_m = float(np.nanmedian(walk_speed * leg_px * m_per_px[walking]))
    return GaitSummary(
        steps=steps,
        events=events,
        cadence_spm=cadence,
        step_length_leg=step_length,
        step_length_m=step_length_m,
        step_time_s=_median_or_none(intervals),
        speed_leg_s=speed_leg,
        speed_m_s=speed_m,
        step_length_symmetry=_symmetry(_median_or_none(by_side["left"][0]),
                                       _median_or_none(by_side["right"][0])),
        step_time_symmetry=_symmetry(_median_or_none(by_side["left"][1]),
                                     _median_or_none(by_side["right"][1])),
        leg_length_px=leg_px,
        setting=setting,
        handrail_share=handrail_share(metrics, setting),
        feet_out_of_view_share=feet_out,
        body_scale=scale,
    )


_EVENT_KINDS: dict[str, tuple[tuple[str, str, int], ...]] = {
    # direction: (kind, foot point, +1 = furthest along travel / -1 = furthest against it)
    "forward": (("heel_contact", "heel", 1), ("toe_off", "toe", -1)),
    "backward": (("toe_contact", "toe", 1), ("heel_off", "heel", -1)),
}
_FOOT_POINTS = {
    ("left", "heel"): L.LEFT_HEEL, ("left", "toe"): L.LEFT_FOOT_INDEX,
    ("right", "heel"): L.RIGHT_HEEL, ("right", "toe"): L.RIGHT_FOOT_INDEX,
}


def _events(
    p: np.ndarray, t: np.ndarray, frames: np.ndarray, pelvis_x: np.ndarray,
    travel_x: np.ndarray, direction: np.ndarray, walking: np.ndarray, leg_px: float, fps: float,
    settings: Settings,
) -> list[GaitEvent]:
    """Contact and lift-off events per side from the foot's position relative to the pelvis.

    Along the direction of travel (from the pelvis), a foot is furthest ahead when it lands
    and furthest behind when it lifts (Zeni 2008). Forward walking lands on the heel and lifts
    the toe; backward walking lands on the toe and lifts the heel.
    """
    gs = settings.gait
    labels = np.where(walking, direction, "")
    distance = max(1, int(round(1.5 * gs.min_step_time_s * fps)))
    out: list[GaitEvent] = []
    for start, stop, label in runs(labels):
        if stop - start < 3 or label not in _EVENT_KINDS:
            continue
        travel = float(np.sign(np.sum(travel_x[start:stop])))
        if travel == 0:
            continue
        for side in ("left", "right"):
            for kind, point, sign in _EVENT_KINDS[label]:
                rel = (p[start:stop, _FOOT_POINTS[(side, point)], X] - pelvis_x[start:stop])
                rel = rel * travel * sign / leg_px
                if not np.isfinite(rel).any():
                    continue
                idx, _ = find_peaks(_interp_nans(rel), distance=distance,
                                    prominence=gs.min_step_prominence_leg)
                for i in idx:
                    j = start + int(i)
                    if np.isfinite(rel[i]):
                        out.append(GaitEvent(float(t[j]), int(frames[j]), cast(Side, side),
                                             cast(EventKind, kind)))
    out.sort(key=lambda e: (e.time_s, e.side))
    return out
