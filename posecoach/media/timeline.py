"""A safe time line from raw frame timestamps, whatever a file or a stream says.

posecoach sizes windows, plot ticks and arrays from time, so the times it works with must be
ones a camera can make. Raw timestamps (a video's presentation times, a landmarks CSV's
`time_s`, a live stream's arrival times) become seconds from the first frame that strictly
increase:

- The frame rate implied by the median interval must be one cameras make, 0.5 to 1,000 frames
  per second. Outside that the timestamps are not believed: the frames are timed from their
  count at the nominal rate (the container's, else 30 frames per second), with a warning.
- A gap longer than `max_gap_s` is a break in the recording. It is shortened to `max_gap_s`,
  so no window spans it, and a warning says where it is. A jump back in time of that size
  restarts the clock one frame after the last time.
- A frame less than a millisecond after the previous one (a repeated or slightly backward
  timestamp) is nudged to a millisecond after it.

`safe_timeline` does this for a whole series; `FrameClock` does it one frame at a time for a
decoder or a live stream, deciding the rate from the first few intervals. Both leave a clean
time line unchanged, so applying them twice changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np

from posecoach.frame_rate import (
    MAX_FPS,
    MIN_FPS,
    REL_TOL,
    fps_or_default,
    is_camera_rate,
)
from posecoach.pose.landmarks import median_frame_interval_s

MAX_GAP_S = 5.0
MIN_STEP_S = 1.0 / MAX_FPS  # the nudge past a repeated timestamp
RATE_CHECK_INTERVALS = 16  # a frame clock decides the rate from this many first intervals
_MIN_CHECK_INTERVALS = 3  # intervals a frame clock sees before it decides
_BREAKS_LISTED = 3

RawTime = float | int | Fraction | Decimal | None


def clip_length_s(duration_s: object, frame_count: object, fps: object) -> float | None:
    """How long a clip is for the work it makes: the longer of its stated duration and its
    frame count at its frame rate (30 frames per second when that rate is not a camera's).

    A container can state any duration; the frame count is what gets decoded. Values that are
    not numbers are ignored; None when neither length is known.
    """
    lengths = []
    if isinstance(duration_s, int | float) and math.isfinite(duration_s) and duration_s >= 0:
        lengths.append(float(duration_s))
    if isinstance(frame_count, int) and frame_count > 0:
        rate = float(fps) if isinstance(fps, int | float) else None
        lengths.append(frame_count / fps_or_default(rate, camera_only=True))
    return max(lengths) if lengths else None


def _seconds_words(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds >= 1e12:
        return f"{seconds:.3g} s"
    if seconds >= 10:
        return f"{seconds:,.0f} s"
    if seconds >= 0.1:
        return f"{seconds:.1f} s"
    return f"{seconds:.2g} s"


def _rate_words(interval_s: float) -> str:
    if not math.isfinite(interval_s) or interval_s <= 0:
        return "all its frames at the same time"
    rate = 1.0 / interval_s
    if rate > MAX_FPS:
        return (f"its frames {_seconds_words(interval_s)} apart ({rate:,.0f} frames per "
                f"second, more than the {MAX_FPS:,.0f} any camera makes)")
    return (f"its frames {_seconds_words(interval_s)} apart (fewer than {MIN_FPS:g} frames "
            "per second, slower than any camera)")


@dataclass
class _Break:
    at_s: float
    jump_s: float


def _usable(raw: RawTime) -> bool:
    if raw is None:
        return False
    if isinstance(raw, float | np.floating):
        return math.isfinite(raw)
    if isinstance(raw, Decimal):
        return raw.is_finite()
    return True


class FrameClock:
    """Safe times for frames that arrive one at a time (see the module's description).

    `time_of(raw)` returns the frame's time in seconds from the first frame. `raw` is the
    frame's timestamp in seconds (a Fraction or Decimal keeps large timestamps exact), or None
    when the frame has none. `rate_fps`, when the whole series is known in advance, fixes the
    rate decision (the median over all intervals); without it the clock decides from the first
    intervals it sees.
    """

    def __init__(
        self,
        nominal_fps: float | None = None,
        max_gap_s: float = MAX_GAP_S,
        label: str = "the clip",
        rate_fps: float | None = None,
    ) -> None:
        if not max_gap_s >= MIN_STEP_S:
            raise ValueError(f"max_gap_s must be at least {MIN_STEP_S} s, got {max_gap_s}")
        self.max_gap_s = float(max_gap_s)
        self.label = label
        self.frames = 0
        self.from_frame_count = False
        self.breaks = 0
        self._breaks: list[_Break] = []
        self._rate_decided = rate_fps is not None
        self._rate_problem = math.nan  # the median interval that was not believed
        self._intervals: list[float] = []
        self._origin: Any = None
        self._offset = 0.0
        self._prev_rel: float | None = None  # the latest usable timestamp, and its frame
        self._prev_index = 0
        self._last_s = 0.0
        counted_fps = fps_or_default(nominal_fps, camera_only=True)
        self._count_step_s = min(1.0 / counted_fps, self.max_gap_s)
        self._count_from = (0, 0.0)  # (frame, time) the counting starts from
        self._step_s = self._count_step_s  # the typical interval, for frames with no timestamp
        if rate_fps is not None:
            if is_camera_rate(rate_fps):
                self._step_s = min(1.0 / rate_fps, self.max_gap_s)
            else:
                self._switch_to_count(1.0 / rate_fps if rate_fps > 0 else math.nan, 0)

    @property
    def last_s(self) -> float:
        """The time given to the latest frame (0 before any)."""
        return self._last_s

    def _switch_to_count(self, interval_s: float, last_index: int) -> None:
        self._rate_decided = True
        self.from_frame_count = True
        self._rate_problem = interval_s
        self._count_from = (last_index, self._last_s)

    def _check_rate(self, interval_s: float, index: int) -> None:
        """Decide, from the first intervals, whether the timestamps can be believed."""
        if self._rate_decided:
            return
        if math.isfinite(interval_s) and interval_s > 0:
            self._intervals.append(interval_s)
        # Frames under a tenth of a millisecond apart are no camera's even once; otherwise
        # one odd first interval does not decide.
        if len(self._intervals) < _MIN_CHECK_INTERVALS and not (
            0 < interval_s < MIN_STEP_S / 10
        ):
            return
        median = float(np.median(self._intervals))
        if not is_camera_rate(1.0 / median):
            self._switch_to_count(median, index - 1)
            return
        self._step_s = min(median, self.max_gap_s)
        if len(self._intervals) >= RATE_CHECK_INTERVALS:
            self._rate_decided = True

    def time_of(self, raw: RawTime) -> float:
        """The safe time of the next frame, whose raw timestamp is `raw`."""
        index = self.frames
        self.frames += 1
        rel = self._relative(raw, index)
        if rel is not None:
            if self._prev_rel is not None:
                self._check_rate((rel - self._prev_rel) / (index - self._prev_index), index)
            self._prev_rel, self._prev_index = rel, index
        if index == 0:
            return 0.0
        if self.from_frame_count:
            start, start_s = self._count_from
            t = start_s + (index - start) * self._count_step_s
        elif rel is None:
            t = self._last_s + self._step_s
        else:
            t = rel + self._offset
            jump = t - self._last_s
            if jump > self.max_gap_s * (1 + REL_TOL):
                t = self._last_s + self.max_gap_s
                self._offset = t - rel
                self._record_break(jump)
            elif jump < -self.max_gap_s:
                t = self._last_s + self._step_s
                self._offset = t - rel
                self._record_break(jump)
            elif jump < MIN_STEP_S * (1 - REL_TOL):
                # nudged past the previous frame; the next frame keeps its own time
                t = self._last_s + MIN_STEP_S
        self._last_s = t
        return t

    def _relative(self, raw: RawTime, index: int) -> float | None:
        """`raw` in seconds from the first usable timestamp; None when it is not usable."""
        if not _usable(raw):
            return None
        if self._origin is None:
            # The first usable timestamp: the frames before it had none, and were counted.
            self._origin = raw
            self._offset = self._last_s + self._step_s if index else 0.0
            return 0.0
        return _difference_s(raw, self._origin)

    def _record_break(self, jump_s: float) -> None:
        self.breaks += 1
        if len(self._breaks) < _BREAKS_LISTED:
            self._breaks.append(_Break(self._last_s, jump_s))

    @property
    def warnings(self) -> list[str]:
        """What was not believed, in words (empty for a clean time line)."""
        out: list[str] = []
        if self.from_frame_count:
            out.append(
                f"The timestamps of {self.label} put {_rate_words(self._rate_problem)}; its "
                f"frames are timed from their count at {1.0 / self._count_step_s:g} frames per "
                "second instead."
            )
        if self.breaks:
            where = ", ".join(
                f"{'back ' if b.jump_s < 0 else ''}by {_seconds_words(b.jump_s)} at "
                f"{b.at_s:.1f} s" for b in self._breaks
            )
            if self.breaks > len(self._breaks):
                where += f", and {self.breaks - len(self._breaks)} more times"
            what = "a break" if self.breaks == 1 else f"{self.breaks} breaks"
            out.append(
                f"The timestamps of {self.label} have {what}: they jump {where}. The analysis "
                f"counts each break as {self.max_gap_s:g} s at most, so no measurement spans it."
            )
        return out


@dataclass(frozen=True)
class Timeline:
    """A safe time line: `time_s` (seconds from the first frame, strictly increasing)."""

    time_s: np.ndarray
    from_frame_count: bool
    breaks: int
    warnings: tuple[str, ...]

    @property
    def fps(self) -> float:
        """The median frame rate (0 for fewer than two frames)."""
        interval_s = median_frame_interval_s(self.time_s)
        return 1.0 / interval_s if interval_s > 0 else 0.0


def _difference_s(value: RawTime, origin: RawTime) -> float | None:
    """`value - origin` in float seconds (exact first for Fractions and Decimals); None when
    it is not finite."""
    try:
        if isinstance(value, float | np.floating) or isinstance(origin, float | np.floating):
            diff = float(value) - float(origin)  # type: ignore[arg-type]
        else:
            diff = float(value - origin)  # type: ignore[operator]
    except (OverflowError, ArithmeticError, TypeError, ValueError):
        return None
    return diff if math.isfinite(diff) else None


def _relative_floats(raw: Sequence[RawTime] | np.ndarray) -> np.ndarray | None:
    """Float seconds from the first value, exact for Fractions and Decimals; None if a value
    is missing or not finite (the frame clock then handles each one)."""
    if isinstance(raw, np.ndarray) and raw.dtype.kind in "fiu":
        values = raw.astype(np.float64, copy=False)
        if not np.isfinite(values).all():
            return None
        with np.errstate(over="ignore", invalid="ignore"):
            rel = values - values[0]
        return rel if np.isfinite(rel).all() else None
    if not all(_usable(v) for v in raw):
        return None
    diffs = [_difference_s(v, raw[0]) for v in raw]
    if any(d is None for d in diffs):
        return None
    return np.array(diffs, dtype=np.float64)


def _median_rate(raw: Sequence[RawTime] | np.ndarray) -> float:
    """The rate implied by the median positive interval between usable timestamps (a gap
    of missing ones shared among its frames)."""
    intervals: list[float] = []
    prev: RawTime = None
    prev_index = 0
    for index, value in enumerate(raw):
        if not _usable(value):
            continue
        if prev is not None:
            diff = _difference_s(value, prev)
            if diff is not None and diff > 0:
                intervals.append(diff / (index - prev_index))
        prev, prev_index = value, index
    return 1.0 / float(np.median(intervals)) if intervals else math.nan


def safe_timeline(
    raw: Sequence[RawTime] | np.ndarray,
    nominal_fps: float | None = None,
    max_gap_s: float = MAX_GAP_S,
    label: str = "the clip",
) -> Timeline:
    """The safe time line of a whole series of raw timestamps (see the module's description).

    The rate is decided from the median of every positive interval. A clean time line (from
    zero, intervals of 1 ms to `max_gap_s`, a camera's rate) comes back unchanged.
    """
    n = len(raw)
    if n <= 1:
        return Timeline(np.zeros(n), False, 0, ())
    rel = _relative_floats(raw)
    if rel is not None:
        dt = np.diff(rel)
        positive = dt[dt > 0]
        rate = 1.0 / float(np.median(positive)) if positive.size else math.nan
        clean = (
            is_camera_rate(rate)
            and bool(np.all(dt >= MIN_STEP_S * (1 - REL_TOL)))
            and bool(np.all(dt <= max_gap_s * (1 + REL_TOL)))
        )
        if clean:
            return Timeline(rel, False, 0, ())
    else:
        rate = _median_rate(raw)
    clock = FrameClock(nominal_fps, max_gap_s, label, rate_fps=rate)
    values = rel if rel is not None else raw
    times = np.fromiter((clock.time_of(v) for v in values), dtype=np.float64, count=n)
    return Timeline(times, clock.from_frame_count, clock.breaks, tuple(clock.warnings))
