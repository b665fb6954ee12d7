"""Landmark cleaning and smoothing: visibility gating, leg-swap repair, gap bridging, filtering.

Offline analysis uses a zero-phase Butterworth filter (no lag, so gait events keep their
timing); live use needs a causal filter, the One Euro filter (Casiez et al. 2012), which smooths
hard when the body is still and little when it moves fast.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import butter, filtfilt

from posecoach.coach.body import LEG_PER_TORSO, leg_length_px
from posecoach.coach.rolling import nanmean_pair, runs
from posecoach.pose.landmarks import (
    LEG_PAIRS,
    NUM_LANDMARKS,
    Landmark,
    PoseFrame,
    PoseSeries,
    V,
    X,
    median_frame_interval_s,
)
from posecoach.settings import Settings

_LEG_LEFT = np.array([a for a, _ in LEG_PAIRS], dtype=int)
_LEG_RIGHT = np.array([b for _, b in LEG_PAIRS], dtype=int)
_SWAP_INDEX = np.arange(NUM_LANDMARKS)
_SWAP_INDEX[_LEG_LEFT] = _LEG_RIGHT
_SWAP_INDEX[_LEG_RIGHT] = _LEG_LEFT
# current and predicted leg landmarks compared by `_should_swap`: kept labels, then swapped
_SWAP_CURRENT = np.concatenate([_LEG_LEFT, _LEG_RIGHT, _LEG_LEFT, _LEG_RIGHT])
_SWAP_PREDICTED = np.concatenate([_LEG_LEFT, _LEG_RIGHT, _LEG_RIGHT, _LEG_LEFT])
_TORSO_LEFT = [Landmark.LEFT_SHOULDER, Landmark.LEFT_HIP]
_TORSO_RIGHT = [Landmark.RIGHT_SHOULDER, Landmark.RIGHT_HIP]

_SWAP_MAX_RATIO = 0.5          # swapped labels must fit at least twice as well
_SWAP_MIN_GAIN_TORSO = 0.03    # and gain this share of a torso length per landmark
_TRACK_MAX_AGE_S = 0.5         # a leg landmark unseen for longer is no reference
_TRACK_MAX_EXTRAPOLATION_S = 0.1


# The helpers below compare against NaN and compute 0 / 0 where landmarks are missing; their
# callers (`clean`, `LiveSmoother.update`) run them under one `np.errstate(invalid="ignore")`.


def _gate(points: np.ndarray, min_visibility: float) -> np.ndarray:
    """Copy of `points` with x, y, z set to NaN where visibility is below `min_visibility`."""
    out = np.array(points, dtype=np.float64, copy=True)
    low = out[..., V] < min_visibility
    out[..., :V][low] = np.nan
    return out


def _torso_px(points: np.ndarray) -> float:
    """Hip-to-shoulder distance of one (33, 4) frame in pixels (NaN when unseen)."""
    sh, hip = nanmean_pair(points[_TORSO_LEFT, :2], points[_TORSO_RIGHT, :2])
    return float(np.hypot(*(sh - hip)))


class _LegTracker:
    """Predicts where each leg landmark should be now, from the last accepted frames.

    A constant-velocity prediction tells the two legs apart even where they cross in side
    view: there the positions coincide but the swinging foot moves and the standing one does not.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.pos = np.full((NUM_LANDMARKS, 2), np.nan)
        self.vel = np.zeros((NUM_LANDMARKS, 2))
        self.time_s = np.full(NUM_LANDMARKS, np.nan)

    def predict(self, time_s: float) -> np.ndarray:
        age_s = time_s - self.time_s
        fresh = age_s <= _TRACK_MAX_AGE_S
        # a landmark never seen (NaN age) is not moved; the clip bounds any infinite age
        step_s = np.clip(np.where(np.isnan(age_s), 0.0, age_s), 0.0,
                         _TRACK_MAX_EXTRAPOLATION_S)
        pred = self.pos + self.vel * step_s[:, None]
        pred[~fresh] = np.nan
        return pred

    def update(self, xy: np.ndarray, time_s: float) -> None:
        seen = np.isfinite(xy).all(axis=1)
        dt = time_s - self.time_s
        recent = seen & np.isfinite(self.pos).all(axis=1) & (dt > 0) & (dt <= 0.2)
        self.vel[seen] = 0.0
        self.vel[recent] = (xy[recent] - self.pos[recent]) / dt[recent, None]
        self.pos[seen] = xy[seen]
        self.time_s[seen] = time_s


def _should_swap(points: np.ndarray, predicted: np.ndarray) -> bool:
    """Whether swapping the leg labels of `points` fits the predicted positions clearly better.

    A left/right pair counts where both its current and both its predicted landmarks are known;
    the fit is the summed distance of the current landmarks from the predicted ones.
    """
    cur = points[:, :2]
    cur_ok = np.isfinite(cur).all(axis=1)
    pred_ok = np.isfinite(predicted).all(axis=1)
    refs_ok = pred_ok[_LEG_LEFT] & pred_ok[_LEG_RIGHT]
    ok_l = cur_ok[_LEG_LEFT] & refs_ok
    ok_r = cur_ok[_LEG_RIGHT] & refs_ok
    n = int(ok_l.sum() + ok_r.sum())
    if n == 0:
        return False
    # rows: left to predicted left, right to right, left to right, right to left
    d = (cur[_SWAP_CURRENT] - predicted[_SWAP_PREDICTED]).reshape(4, len(_LEG_LEFT), 2)
    with np.errstate(over="ignore", invalid="ignore"):  # absurd coordinates give inf: no swap
        dist = np.sqrt(np.add.reduce(d * d, axis=2))
    kept_l, kept_r, swapped_l, swapped_r = np.where(
        [ok_l, ok_r, ok_l, ok_r], dist, 0.0).sum(axis=1).tolist()
    keep = kept_l + kept_r
    swap = swapped_l + swapped_r
    torso = _torso_px(points)
    min_gain = _SWAP_MIN_GAIN_TORSO * torso * n if math.isfinite(torso) else 0.0
    return bool(swap < _SWAP_MAX_RATIO * keep and keep - swap > min_gain)


def _fix_swaps(points: np.ndarray, time_s: np.ndarray) -> np.ndarray:
    """Repair left/right leg label swaps frame by frame (in place on `points`, returned)."""
    tracker = _LegTracker()
    with np.errstate(invalid="ignore"):
        for i in range(points.shape[0]):
            if _should_swap(points[i], tracker.predict(float(time_s[i]))):
                points[i] = points[i, _SWAP_INDEX]
            tracker.update(points[i, :, :2], float(time_s[i]))
    return points


def _bridge_gaps(points: np.ndarray, time_s: np.ndarray, max_gap_s: float) -> np.ndarray:
    """Fill NaN runs no longer than `max_gap_s` by linear interpolation in time (in place).

    A gap's length is the time its missing frames cover. Visibility is interpolated only where
    it is missing too (frames where nobody was found); measured visibility is kept.
    """
    n = points.shape[0]
    if n < 3:
        return points
    dt = median_frame_interval_s(time_s)
    idx = np.arange(n)
    for lm in range(NUM_LANDMARKS):
        valid = np.isfinite(points[:, lm, X])
        if valid.all() or valid.sum() < 2:
            continue
        prev_i = np.maximum.accumulate(np.where(valid, idx, -1))
        next_i = np.minimum.accumulate(np.where(valid, idx, n)[::-1])[::-1]
        inside = (~valid) & (prev_i >= 0) & (next_i < n)
        if not inside.any():
            continue
        span_s = time_s[np.clip(next_i, 0, n - 1)] - time_s[np.clip(prev_i, 0, n - 1)] - dt
        fill = inside & (span_s <= max_gap_s + 1e-9)
        if not fill.any():
            continue
        t_valid = time_s[valid]
        for ch in range(3):
            points[fill, lm, ch] = np.interp(time_s[fill], t_valid, points[valid, lm, ch])
        v_missing = fill & ~np.isfinite(points[:, lm, V])
        v_known = np.isfinite(points[:, lm, V])
        if v_missing.any() and v_known.any():
            points[v_missing, lm, V] = np.interp(
                time_s[v_missing], time_s[v_known], points[v_known, lm, V]
            )
    return points


def clean(series: PoseSeries, settings: Settings) -> PoseSeries:
    """Gate by visibility, repair leg label swaps and bridge short gaps; returns a new series."""
    sm = settings.smoothing
    with np.errstate(invalid="ignore"):
        points = _gate(series.points, sm.min_visibility)
    points = _fix_swaps(points, series.time_s)
    points = _bridge_gaps(points, series.time_s, sm.max_gap_s)
    return PoseSeries(
        time_s=series.time_s.copy(),
        points=points,
        width=series.width,
        height=series.height,
        frame_index=None if series.frame_index is None else np.array(series.frame_index),
    )


def butter_lowpass(cutoff_hz: float, fps: float, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Butterworth low-pass coefficients; the cutoff is kept below Nyquist for low frame rates."""
    cutoff_hz = min(cutoff_hz, 0.45 * fps)
    b, a = butter(order, cutoff_hz / (fps / 2.0), btype="low")
    return b, a


def smooth_offline(series: PoseSeries, settings: Settings) -> PoseSeries:
    """Clean, then low-pass every landmark's x, y, z with a zero-phase Butterworth filter.

    Each run of finite samples is filtered on its own; runs shorter than the filter's padding
    are left as cleaned. The input series is not modified.
    """
    out = clean(series, settings)
    fps = series.fps
    if fps <= 0 or len(out) < 2:
        return out
    sm = settings.smoothing
    b, a = butter_lowpass(sm.offline_cutoff_hz, fps, sm.offline_order)
    padlen = 3 * max(len(a), len(b))
    for lm in range(NUM_LANDMARKS):
        for start, stop, finite in runs(np.isfinite(out.points[:, lm, :3]).all(axis=1)):
            if finite and stop - start > padlen:
                seg = out.points[start:stop, lm, :3]
                out.points[start:stop, lm, :3] = filtfilt(b, a, seg, axis=0)
    return out


def _smoothing_factor(cutoff_hz: np.ndarray | float, dt_s: np.ndarray) -> np.ndarray:
    tau = 1.0 / (2.0 * np.pi * np.asarray(cutoff_hz))
    return 1.0 / (1.0 + tau / dt_s)


class LiveSmoother:
    """Causal per-frame smoothing for live use: gating, leg-swap repair, One Euro filter.

    The One Euro filter measures speed in leg lengths per second (the leg length is estimated
    as frames arrive), so `live_beta` means the same at any resolution and distance. A landmark
    missing for longer than `max_gap_s` restarts its filter; a frame with nobody passes as NaN.
    Leg swaps are judged against the previous frames after repair but before filtering, since
    the filtered positions lag behind a fast-swinging foot.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        sm = settings.smoothing
        self.min_cutoff_hz = sm.live_min_cutoff_hz
        self.beta = sm.live_beta
        self.d_cutoff_hz = sm.live_d_cutoff_hz
        self.reset()

    def reset(self) -> None:
        """Forget all history (a new walker or a new clip)."""
        self._tracker = _LegTracker()
        self._value = np.full((NUM_LANDMARKS, 3), np.nan)
        self._deriv = np.zeros((NUM_LANDMARKS, 3))
        self._last_s = np.full(NUM_LANDMARKS, np.nan)
        self._scale_px = np.nan

    def _update_scale(self, points: np.ndarray, height: int) -> float:
        leg = float(leg_length_px(points))
        if not math.isfinite(leg):
            torso = _torso_px(points)
            leg = LEG_PER_TORSO * torso if math.isfinite(torso) else np.nan
        if math.isfinite(leg) and leg > 0:
            if math.isfinite(self._scale_px):
                self._scale_px += 0.05 * (leg - self._scale_px)
            else:
                self._scale_px = leg
        return self._scale_px if math.isfinite(self._scale_px) else 0.3 * height

    def update(self, frame: PoseFrame) -> PoseFrame:
        """Smooth one frame; returns a new frame (the input is not modified)."""
        with np.errstate(invalid="ignore"):
            return self._update(frame)

    def _update(self, frame: PoseFrame) -> PoseFrame:
        sm = self.settings.smoothing
        t = float(frame.time_s)
        pts = _gate(frame.points, sm.min_visibility)
        if _should_swap(pts, self._tracker.predict(t)):
            pts = pts[_SWAP_INDEX]
        out = pts.copy()
        seen = np.isfinite(pts[:, :3]).all(axis=1)
        if seen.any():
            scale_px = self._update_scale(pts, frame.height)
            dt = t - self._last_s
            restart = seen & ~(dt <= sm.max_gap_s)
            same_time = seen & (dt <= 0)
            run = seen & (dt > 0) & (dt <= sm.max_gap_s)
            self._value[restart] = pts[restart, :3]
            self._deriv[restart] = 0.0
            if run.any():
                dt_r = dt[run][:, None]
                raw = pts[run, :3]
                prev = self._value[run]
                a_d = _smoothing_factor(self.d_cutoff_hz, dt_r)
                deriv = a_d * (raw - prev) / dt_r + (1.0 - a_d) * self._deriv[run]
                cutoff = self.min_cutoff_hz + self.beta * np.abs(deriv) / scale_px
                a = _smoothing_factor(cutoff, dt_r)
                self._value[run] = a * raw + (1.0 - a) * prev
                self._deriv[run] = deriv
            self._last_s[restart | run] = t
            out[seen, :3] = self._value[seen]
            out[same_time, :3] = self._value[same_time]
        out[~seen, :3] = np.nan
        self._tracker.update(pts[:, :2], t)
        return PoseFrame(frame.index, frame.time_s, frame.width, frame.height, out)


__all__ = ["LiveSmoother", "butter_lowpass", "clean", "smooth_offline"]
