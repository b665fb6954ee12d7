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
_TORSO_LEFT = [Landmark.LEFT_SHOULDER, Landmark.LEFT_HIP]
_TORSO_RIGHT = [Landmark.RIGHT_SHOULDER, Landmark.RIGHT_HIP]

_TRACK_MAX_AGE_S = 0.5         # a previous frame older than this is no reference


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


_JUMP_SLACK_LEG = 0.15          # pelvis movement between two frames that is never a jump
_JUMP_MAX_SPEED_LEG_S = 2.5     # pelvis speed no walker reaches, leg lengths per second
_MIN_LEG_PER_HEIGHT = 0.3       # jumps are judged against legs at least this share of the frame
                                # height: legs measured on a half-seen body come out too short


def _pelvis_px(points: np.ndarray) -> np.ndarray:
    """(..., 2) hip midpoint of (..., 33, 4) points (one hip when only one is seen)."""
    return nanmean_pair(points[..., Landmark.LEFT_HIP, :2], points[..., Landmark.RIGHT_HIP, :2])


def _body_jumped(moved_px: np.ndarray | float, apart_s: np.ndarray | float, leg_px: float,
                height: int) -> np.ndarray:
    """Whether the pelvis moving `moved_px` in `apart_s` seconds is a jump of the body.

    A jump is faster than any walker moves: further than `_JUMP_SLACK_LEG` leg lengths plus
    `_JUMP_MAX_SPEED_LEG_S` leg lengths per second between the two frames (a looped video, the
    walker re-entering elsewhere, the tracker taking another person). The leg length counts as
    at least `_MIN_LEG_PER_HEIGHT` of the frame `height`.
    """
    judge_px = _MIN_LEG_PER_HEIGHT * height
    if math.isfinite(leg_px):
        judge_px = max(leg_px, judge_px)
    limit_px = judge_px * (_JUMP_SLACK_LEG + _JUMP_MAX_SPEED_LEG_S * np.maximum(apart_s, 0.0))
    return np.asarray(moved_px) > limit_px


def _scale_px(points: np.ndarray, height: int) -> float:
    """Typical leg length of the clip in pixels (from the torso, else the frame, when unseen)."""
    with np.errstate(invalid="ignore"):
        legs = leg_length_px(points)
    legs = legs[np.isfinite(legs) & (legs > 0)]
    if legs.size:
        return float(np.median(legs))
    torsos = np.array([_torso_px(p) for p in points])
    torsos = torsos[np.isfinite(torsos) & (torsos > 0)]
    if torsos.size:
        return LEG_PER_TORSO * float(np.median(torsos))
    return 0.3 * height


def _jump_starts(points: np.ndarray, time_s: np.ndarray, height: int) -> list[int]:
    """Frames where the body has jumped since the previous frame with a seen pelvis."""
    with np.errstate(invalid="ignore"):
        pelvis = _pelvis_px(points)
    seen = np.flatnonzero(np.isfinite(pelvis).all(axis=1))
    if seen.size < 2:
        return []
    moved_px = np.hypot(*(pelvis[seen[1:]] - pelvis[seen[:-1]]).T)
    apart_s = time_s[seen[1:]] - time_s[seen[:-1]]
    jumped = _body_jumped(moved_px, apart_s, _scale_px(points, height), height)
    return seen[1:][jumped].tolist()


_SWAP_SIGMA_TORSO = 0.05       # expected prediction error of a leg landmark, share of a torso
_SWAP_MIN_SIGMA_PX = 1.0
_SWAP_MAX_COST = 25.0          # one landmark's cost is capped (squared errors in sigmas)
_SWAP_FRAME_COST = 2.0         # cost of each frame whose labels are swapped against the model's
_SWAP_START_COST = 100.0       # cost of swapping the labels of the first frame seen
_SWAP_MAX_VELOCITY_DT_S = 0.2  # longer frame intervals predict without velocity
# decoder states: (labels of the previous frame swapped, labels of this frame swapped)
_STATES = ((0, 0), (0, 1), (1, 0), (1, 1))


def _leg_xy(points: np.ndarray) -> np.ndarray:
    """(2, 8, 2): the leg landmarks' x, y as labelled, then with left and right exchanged."""
    kept = points[np.concatenate([_LEG_LEFT, _LEG_RIGHT]), :2]
    half = len(_LEG_LEFT)
    return np.stack([kept, np.concatenate([kept[half:], kept[:half]])])


def _transition_costs(prev2: np.ndarray, prev: np.ndarray, cur: np.ndarray,
                      velocity_ratio: float, sigma_px: float) -> np.ndarray:
    """(2, 2, 2) cost of labelling choices (a, b, c) for the frames before last, last and this.

    The cost measures how far this frame's leg landmarks (choice c) lie from a constant-velocity
    prediction from the two frames before (choices a, b), in units of `sigma_px`, squared and
    capped per landmark so that one wild landmark cannot decide alone. A landmark missing from
    the last frame costs nothing; one missing from the frame before last is predicted without
    velocity. `velocity_ratio` is this frame interval over the previous one (NaN: no velocity).
    """
    p2 = prev2[:, None, None]                      # a
    p1 = prev[None, :, None]                       # b
    c = cur[None, None, :]                         # c
    with np.errstate(over="ignore", invalid="ignore"):  # absurd coordinates give inf: capped
        step = (p1 - p2) * velocity_ratio
        pred = p1 + np.where(np.isfinite(step), step, 0.0)
        err = ((c - pred) / sigma_px) ** 2
    per_landmark = np.minimum(err.sum(axis=-1), _SWAP_MAX_COST)
    return np.where(np.isfinite(per_landmark), per_landmark, 0.0).sum(axis=-1)


class _SwapDecoder:
    """Chooses, frame by frame, whether the leg labels are swapped, by least total cost.

    Every labelling of the clip so far has a cost: the misfit of each frame's legs against a
    constant-velocity prediction from the two frames before (`_transition_costs`), plus
    `_SWAP_FRAME_COST` for each frame it labels against the pose model. The decoder keeps the
    cheapest labelling ending in each of the four choices for the last two frames (Viterbi).

    The misfit tells the legs apart wherever they are apart or move differently; the per-frame
    cost makes the model's own labels win in the long run. So a swap the misfit cannot see (it
    begins while the legs pass each other) is not carried on for the rest of the clip: keeping
    the wrong labels costs more with every frame, and the labelling that follows the model
    again soon becomes the cheaper one.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.cost = np.array([0.0, _SWAP_START_COST, np.inf, np.inf])
        self.history: list[np.ndarray] = []   # best previous state for each state, per frame
        self.prev2 = np.full((2, 2 * len(_LEG_LEFT), 2), np.nan)
        self.prev = np.full((2, 2 * len(_LEG_LEFT), 2), np.nan)
        self.prev_time_s = np.nan
        self.prev_dt_s = np.nan
        self.sigma_px = np.nan
        self.started = False

    def step(self, points: np.ndarray, time_s: float, keep_history: bool) -> bool:
        """Take one gated (33, 4) frame; returns whether its labels are best swapped now."""
        cur = _leg_xy(points)
        torso = _torso_px(points)
        if math.isfinite(torso):
            self.sigma_px = max(_SWAP_SIGMA_TORSO * torso, _SWAP_MIN_SIGMA_PX)
        sigma = self.sigma_px if math.isfinite(self.sigma_px) else 10.0 * _SWAP_MIN_SIGMA_PX
        dt = time_s - self.prev_time_s
        ratio = (dt / self.prev_dt_s
                 if 0 < dt <= _SWAP_MAX_VELOCITY_DT_S and 0 < self.prev_dt_s
                 <= _SWAP_MAX_VELOCITY_DT_S else np.nan)
        if not self.started:
            # the first frame showing a leg sets which leg is which
            self.started = bool(np.isfinite(cur).any())
            new_cost = np.array([0.0, _SWAP_START_COST, np.inf, np.inf])
            back = np.zeros(4, dtype=int)
        else:
            prev1 = self.prev if dt <= _TRACK_MAX_AGE_S else np.full_like(self.prev, np.nan)
            trans = _transition_costs(self.prev2, prev1, cur, ratio, sigma)
            new_cost = np.empty(4)
            back = np.empty(4, dtype=int)
            for s, (b, c) in enumerate(_STATES):
                # predecessors (a, b): states 0 + b and 2 + b
                options = [self.cost[a * 2 + b] + trans[a, b, c] for a in (0, 1)]
                best = int(np.argmin(options))
                back[s] = best * 2 + b
                new_cost[s] = options[best] + c * _SWAP_FRAME_COST
            new_cost -= new_cost[np.isfinite(new_cost)].min()
        self.cost = new_cost
        if keep_history:
            self.history.append(back)
        self.prev2, self.prev = self.prev, cur
        self.prev_dt_s = dt if math.isfinite(dt) else np.nan
        self.prev_time_s = time_s
        return bool(_STATES[int(np.argmin(self.cost))][1])

    def best_path(self) -> np.ndarray:
        """Whether each frame's labels are swapped, on the cheapest labelling of the whole clip."""
        n = len(self.history)
        swapped = np.zeros(n, dtype=bool)
        if n == 0:
            return swapped
        state = int(np.argmin(self.cost))
        for i in range(n - 1, -1, -1):
            swapped[i] = bool(_STATES[state][1])
            state = int(self.history[i][state])
        return swapped


def _fix_swaps(points: np.ndarray, time_s: np.ndarray, height: int) -> np.ndarray:
    """Repair left/right leg label swaps (in place on `points`, returned).

    Each stretch between jumps of the body (`_jump_starts`) is repaired on its own: the legs
    after a jump are not predicted from a body somewhere else.
    """
    edges = [0, *_jump_starts(points, time_s, height), points.shape[0]]
    for start, stop in zip(edges[:-1], edges[1:], strict=True):
        decoder = _SwapDecoder()
        with np.errstate(invalid="ignore"):
            for i in range(start, stop):
                decoder.step(points[i], float(time_s[i]), keep_history=True)
        swapped = np.zeros(points.shape[0], dtype=bool)
        swapped[start:stop] = decoder.best_path()
        points[swapped] = points[swapped][:, _SWAP_INDEX]
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
    points = _fix_swaps(points, series.time_s, series.height)
    points = _bridge_gaps(points, series.time_s, sm.max_gap_s)
    return PoseSeries(
        time_s=series.time_s.copy(),
        points=points,
        width=series.width,
        height=series.height,
        frame_index=None if series.frame_index is None else np.array(series.frame_index),
    )


_MAX_CUTOFF_PER_FPS = 0.3       # the cutoff stays at most this share of the frame rate
_GAP_FRAME_INTERVALS = 4.0      # a frame interval this many times the usual one is a gap
_UNEVEN_INTERVAL_SHARE = 0.1    # intervals off the usual one by more than this share are uneven


def butter_lowpass(cutoff_hz: float, fps: float, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Butterworth low-pass coefficients.

    The cutoff is kept well below Nyquist: at low frame rates a cutoff near it makes a filter
    that rings at every step in the signal.
    """
    cutoff_hz = min(cutoff_hz, _MAX_CUTOFF_PER_FPS * fps)
    b, a = butter(order, cutoff_hz / (fps / 2.0), btype="low")
    return b, a


def filter_segments(series: PoseSeries, max_gap_s: float) -> list[tuple[int, int]]:
    """[start, stop) frame ranges that are filtered separately.

    A range ends where the frames are further apart than `max_gap_s` or a few usual frame
    intervals, and where the pelvis moves further than any walker can in the time between the
    frames (relative to the leg length): a looped video, or the tracker taking another person.
    Filtering across such a break would smear it over the frames around it.
    """
    time_s = series.time_s
    n = len(time_s)
    if n < 2:
        return [(0, n)]
    dt_s = median_frame_interval_s(time_s)
    gap_s = min(max_gap_s, _GAP_FRAME_INTERVALS * dt_s) if dt_s > 0 else max_gap_s
    breaks = set((np.flatnonzero(np.diff(time_s) > gap_s) + 1).tolist())
    breaks.update(_jump_starts(series.points, time_s, series.height))
    edges = [0, *sorted(breaks), n]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def _lowpass_run(values: np.ndarray, time_s: np.ndarray, cutoff_hz: float,
                 order: int) -> np.ndarray:
    """Zero-phase low-pass of one gap-free run (k, c) of samples at times `time_s`.

    Unevenly spaced samples are resampled to their median interval, filtered and read back at
    their own times, so the filter's cutoff means the same in seconds throughout. A run too
    short for the filter's padding is returned as it is.
    """
    dt_s = median_frame_interval_s(time_s)
    if dt_s <= 0:
        return values
    b, a = butter_lowpass(cutoff_hz, 1.0 / dt_s, order)
    padlen = 3 * max(len(a), len(b))
    intervals = np.diff(time_s)
    if np.all(np.abs(intervals - dt_s) <= _UNEVEN_INTERVAL_SHARE * dt_s):
        if len(values) <= padlen:
            return values
        return filtfilt(b, a, values, axis=0)
    k = int(round((time_s[-1] - time_s[0]) / dt_s)) + 1
    if k <= padlen or np.any(intervals <= 0):
        return values
    grid_s = np.linspace(time_s[0], time_s[-1], k)
    even = np.stack([np.interp(grid_s, time_s, values[:, c]) for c in range(values.shape[1])],
                    axis=1)
    smooth = filtfilt(b, a, even, axis=0)
    return np.stack([np.interp(time_s, grid_s, smooth[:, c]) for c in range(values.shape[1])],
                    axis=1)


def smooth_offline(series: PoseSeries, settings: Settings) -> PoseSeries:
    """Clean, then low-pass every landmark's x, y, z with a zero-phase Butterworth filter.

    The clip is filtered in segments split at long gaps and at jumps of the body
    (`filter_segments`), and within them each run of finite samples on its own, at the run's
    own frame rate; runs shorter than the filter's padding are left as cleaned. The input
    series is not modified.
    """
    out = clean(series, settings)
    if series.fps <= 0 or len(out) < 2:
        return out
    sm = settings.smoothing
    time_s = out.time_s
    for seg_start, seg_stop in filter_segments(out, settings.timing.max_gap_s):
        seg = out.points[seg_start:seg_stop]
        for lm in range(NUM_LANDMARKS):
            finite_lm = np.isfinite(seg[:, lm, :3]).all(axis=1)
            for start, stop, finite in runs(finite_lm):
                if finite and stop - start > 1:
                    a, b = seg_start + start, seg_start + stop
                    out.points[a:b, lm, :3] = _lowpass_run(
                        out.points[a:b, lm, :3], time_s[a:b], sm.offline_cutoff_hz,
                        sm.offline_order)
    return out


def _smoothing_factor(cutoff_hz: np.ndarray | float, dt_s: np.ndarray) -> np.ndarray:
    tau = 1.0 / (2.0 * np.pi * np.asarray(cutoff_hz))
    return 1.0 / (1.0 + tau / dt_s)


class LiveSmoother:
    """Causal per-frame smoothing for live use: gating, leg-swap repair, One Euro filter.

    The One Euro filter measures speed in leg lengths per second (the leg length is estimated
    as frames arrive), so `live_beta` means the same at any resolution and distance. A landmark
    missing for longer than `max_gap_s` restarts its filter; a frame with nobody passes as NaN.
    Leg swaps are judged on the unfiltered frames, since the filtered positions lag behind a
    fast-swinging foot; each frame gets the labels of the cheapest labelling so far
    (`_SwapDecoder`), so a wrongly kept swap is undone after a few frames.

    A jump of the body since the last frame with a seen pelvis, judged as the offline
    smoothing splits its segments (`_body_jumped`: the walker re-entering elsewhere, a looped
    video, the tracker taking another person), restarts everything but the leg-length scale:
    every landmark's filter starts again at its new raw position with zero speed and the leg
    labels are judged afresh, so the skeleton does not drag across the frame from where the
    body was. `body_jumps` counts these restarts.
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
        self._restart()
        self._scale_px = np.nan
        self._pelvis_px = np.full(2, np.nan)
        self._pelvis_s = np.nan
        self.body_jumps = 0

    def _restart(self) -> None:
        """Forget the filters' state and the leg labels, keeping the leg-length scale."""
        self._decoder = _SwapDecoder()
        self._value = np.full((NUM_LANDMARKS, 3), np.nan)
        self._deriv = np.zeros((NUM_LANDMARKS, 3))
        self._last_s = np.full(NUM_LANDMARKS, np.nan)

    def _check_jump(self, points: np.ndarray, time_s: float, height: int) -> None:
        """Restart when the pelvis of gated `points` has jumped since it was last seen."""
        pelvis = _pelvis_px(points)
        if not np.isfinite(pelvis).all():
            return
        if np.isfinite(self._pelvis_px).all():
            moved_px = float(np.hypot(*(pelvis - self._pelvis_px)))
            if _body_jumped(moved_px, time_s - self._pelvis_s, self._scale_px, height):
                self._restart()
                self.body_jumps += 1
        self._pelvis_px = pelvis
        self._pelvis_s = time_s

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
        self._check_jump(pts, t, frame.height)
        if self._decoder.step(pts, t, keep_history=False):
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
        return PoseFrame(frame.index, frame.time_s, frame.width, frame.height, out)


__all__ = ["LiveSmoother", "butter_lowpass", "clean", "filter_segments", "smooth_offline"]
