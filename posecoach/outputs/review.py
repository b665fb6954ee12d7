"""A coach's review of a session: a note, and angles and distances measured on paused frames.

The review is kept beside the session's other files, in `review.json` (`SessionReview`, written
atomically). Points are kept as shares of the picture's width and height, so they draw on the
clip at any size. A measurement's value is worked out here, once, from those points:

- an angle (three points, the middle one the vertex) in degrees, in the picture's own pixels;
- a distance (two points) in metres when the session has a body scale (the walker's height),
  else in leg lengths (hip to ankle), against the walker's leg length in the picture around
  that frame (`metrics.csv`'s `leg_length_px`), the same scale the step lengths use.

`frame_readout` gives every frame's measures for the review page from `metrics.csv` and the
summary: trunk lean, head angle, the foot on the ground and the cue in force.
"""

from __future__ import annotations

import csv
import json
import math
import uuid
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass as plain_dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
from pydantic.dataclasses import dataclass

from posecoach.errors import Conflict, InputError, NotFound
from posecoach.frame_rate import DEFAULT_FPS
from posecoach.outputs.files import SessionFiles, atomic_write_json
from posecoach.outputs.summary import CueRecord, GaitEventRecord, SessionSummary
from posecoach.pose.landmarks import median_frame_interval_s
from posecoach.records import RECORD_CONFIG, Real, Record, Records

MeasureKind = Literal["angle", "distance"]
MeasureUnit = Literal["deg", "m", "leg"]
FootDown = Literal["left", "right", "both", "neither"]

POINTS_OF: dict[str, int] = {"angle": 3, "distance": 2}
"""How many points each tool takes."""
MAX_NOTE_CHARS = 4000
MAX_MEASUREMENTS = 200
LEG_WINDOW_S = 0.5
"""The walker's leg length at a frame is the median over this much time either side."""
CONTACT_KINDS = frozenset({"toe_contact", "heel_contact"})


@dataclass(frozen=True, config=RECORD_CONFIG)
class PicturePoint(Record):
    """A point on the picture: shares of its width (from the left) and height (from the top)."""

    x: Real = 0.0
    y: Real = 0.0


@dataclass(frozen=True, config=RECORD_CONFIG)
class Measurement(Record):
    """One measurement on one frame: an angle in degrees, or a distance in metres or leg
    lengths (`unit`). `time_s` is the frame's time in the clip, `frame` its number in
    `metrics.csv` (from 0; the page and the report count from 1)."""

    id: str = ""
    kind: MeasureKind = "angle"
    time_s: Real = 0.0
    frame: int | None = None
    points: Records[PicturePoint] = ()
    value: Real | None = None
    unit: MeasureUnit = "deg"
    created_at: str = ""


@dataclass(frozen=True, config=RECORD_CONFIG)
class SessionReview(Record):
    """What `review.json` holds: the coach's note and measurements, oldest first."""

    note: str = ""
    note_saved_at: str | None = None
    measurements: Records[Measurement] = ()


@dataclass(frozen=True, config=RECORD_CONFIG)
class FrameReadout(Record):
    """Every frame's measures, column by column (one entry per row of `metrics.csv`); null
    where a value was not measured. `cue` indexes `cues` (the cue in force, most urgent
    first), `foot_down` is null before the gait events say. `frame_interval_s` is one frame of
    the clip, from its frame times."""

    frame_interval_s: Real = 1.0 / DEFAULT_FPS
    time_s: tuple[float, ...] = ()
    trunk_lean_deg: tuple[float | None, ...] = ()
    head_angle_deg: tuple[float | None, ...] = ()
    view: tuple[str, ...] = ()
    direction: tuple[str, ...] = ()
    foot_down: tuple[FootDown | None, ...] = ()
    cue: tuple[int | None, ...] = ()
    cues: Records[CueRecord] = ()
    length_unit: MeasureUnit = "leg"


def now_iso() -> str:
    """The time now, ISO 8601 UTC to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------------------- review.json


def read_review(files: SessionFiles) -> SessionReview:
    """The session's review; an empty one when there is none or it cannot be read."""
    try:
        data = json.loads(files.review.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return SessionReview()
    return SessionReview.from_json(data)


def write_review(files: SessionFiles, review: SessionReview) -> SessionReview:
    """Save the review atomically (`OutputError` with the reason when it cannot be)."""
    atomic_write_json(files.review, review.to_json())
    return review


def with_note(review: SessionReview, note: str) -> SessionReview:
    """The review with its note replaced (surrounding blank space removed)."""
    text = note.strip()
    if len(text) > MAX_NOTE_CHARS:
        raise InputError(f"the note is too long: at most {MAX_NOTE_CHARS} characters")
    return SessionReview(text, now_iso() if text else None, review.measurements)


def without_measurement(review: SessionReview, measurement_id: str) -> SessionReview:
    """The review without one measurement (`NotFound` when it has no such one)."""
    kept = tuple(m for m in review.measurements if m.id != measurement_id)
    if len(kept) == len(review.measurements):
        raise NotFound("no such measurement in this session")
    return SessionReview(review.note, review.note_saved_at, kept)


# ---------------------------------------------------------------------------- metrics.csv


@plain_dataclass(frozen=True)
class FrameColumns:
    """The columns of `metrics.csv` the review reads (NaN or "" where not measured)."""

    frame: np.ndarray
    time_s: np.ndarray
    view: tuple[str, ...]
    direction: tuple[str, ...]
    trunk_lean_deg: np.ndarray
    head_angle_deg: np.ndarray
    leg_length_px: np.ndarray


def _float(text: str) -> float:
    try:
        return float(text) if text.strip() else math.nan
    except ValueError:
        return math.nan


def read_frame_columns(files: SessionFiles) -> FrameColumns:
    """The review's columns of the session's `metrics.csv` (`Conflict` when it has none)."""
    try:
        with files.metrics.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError:
        raise Conflict("this session has no per-frame metrics (metrics.csv)") from None
    if not rows:
        raise Conflict("this session's metrics.csv is empty")
    header = rows[0]
    wanted = ("frame", "time_s", "view", "direction", "trunk_lean_deg", "head_angle_deg",
              "leg_length_px")
    missing = [name for name in wanted if name not in header]
    if missing:
        raise Conflict(f"this session's metrics.csv lacks {', '.join(missing)}")
    at = {name: header.index(name) for name in wanted}
    body = [r for r in rows[1:] if len(r) == len(header)]

    def numbers(name: str) -> np.ndarray:
        return np.array([_float(r[at[name]]) for r in body], dtype=float)

    def words(name: str) -> tuple[str, ...]:
        return tuple(r[at[name]] for r in body)

    frames = numbers("frame")
    return FrameColumns(
        frame=np.where(np.isfinite(frames), frames, -1).astype(int),
        time_s=numbers("time_s"),
        view=words("view"),
        direction=words("direction"),
        trunk_lean_deg=numbers("trunk_lean_deg"),
        head_angle_deg=numbers("head_angle_deg"),
        leg_length_px=numbers("leg_length_px"),
    )


def frame_interval_s(columns: FrameColumns, summary: SessionSummary | None) -> float:
    """One frame of the clip: the median gap of its frame times, else the summary's frame
    rate, else the default."""
    times = columns.time_s[np.isfinite(columns.time_s)]
    if times.size > 1:
        gap = median_frame_interval_s(times)
        if math.isfinite(gap) and gap > 0:
            return float(gap)
    fps = summary.fps if summary is not None else None
    return 1.0 / float(fps) if fps else 1.0 / DEFAULT_FPS


def row_at(columns: FrameColumns, time_s: float) -> int:
    """The row of the frame shown at `time_s`: the last one starting at or before it."""
    times = columns.time_s.tolist()
    return max(0, bisect_right(times, time_s + 1e-4) - 1)


def _maybe(value: float, digits: int = 1) -> float | None:
    return round(float(value), digits) if math.isfinite(value) else None


def feet_down(times: Sequence[float], events: Sequence[GaitEventRecord]) -> list[FootDown | None]:
    """Which foot is on the ground at each time, from the contacts and lift-offs: each foot is
    down from a contact until its next lift-off; None until an event of each foot is known."""
    ordered = sorted((e for e in events if e.time_s is not None and e.side and e.kind),
                     key=lambda e: float(e.time_s or 0.0))
    state: dict[str, bool | None] = {"left": None, "right": None}
    out: list[FootDown | None] = []
    k = 0
    for t in times:
        while k < len(ordered) and float(ordered[k].time_s or 0.0) <= t + 1e-4:
            event = ordered[k]
            state[str(event.side)] = event.kind in CONTACT_KINDS
            k += 1
        left, right = state["left"], state["right"]
        if left is None or right is None:
            out.append(None)
        elif left and right:
            out.append("both")
        elif left or right:
            out.append("left" if left else "right")
        else:
            out.append("neither")
    return out


def cues_in_force(times: Sequence[float], cues: Sequence[CueRecord]) -> list[int | None]:
    """The index of the most urgent cue in force at each time (priority 1 first, then the
    latest started), None where none is."""
    out: list[int | None] = []
    for t in times:
        best: int | None = None
        for i, c in enumerate(cues):
            start = c.start_s
            if start is None or t + 1e-4 < start or (c.end_s is not None and t >= c.end_s):
                continue
            if best is None or (c.priority, -start) < (cues[best].priority,
                                                       -(cues[best].start_s or 0.0)):
                best = i
        out.append(best)
    return out


def length_unit(summary: SessionSummary | None) -> MeasureUnit:
    """Metres when the session has a body scale, else leg lengths."""
    scale = summary.body_scale if summary is not None else None
    return "m" if scale is not None and scale.leg_m else "leg"


def frame_readout(files: SessionFiles, summary: SessionSummary | None) -> FrameReadout:
    """Every frame's measures for the review page."""
    columns = read_frame_columns(files)
    times = [float(t) for t in columns.time_s]
    cues = tuple(summary.cues) if summary is not None else ()
    events = summary.gait_events if summary is not None else ()
    return FrameReadout(
        frame_interval_s=frame_interval_s(columns, summary),
        time_s=tuple(round(t, 4) for t in times),
        trunk_lean_deg=tuple(_maybe(v) for v in columns.trunk_lean_deg),
        head_angle_deg=tuple(_maybe(v) for v in columns.head_angle_deg),
        view=columns.view,
        direction=columns.direction,
        foot_down=tuple(feet_down(times, events)),
        cue=tuple(cues_in_force(times, cues)),
        cues=cues,
        length_unit=length_unit(summary),
    )


# ---------------------------------------------------------------------------- measuring


def picture_size(files: SessionFiles) -> tuple[float, float]:
    """The analysed picture's width and height in pixels, from `landmarks.csv`'s first row."""
    try:
        with files.landmarks.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            first = next(reader, [])
    except OSError:
        raise Conflict("this session has no landmarks.csv to measure against") from None
    try:
        width = float(first[header.index("width")])
        height = float(first[header.index("height")])
    except (ValueError, IndexError):
        raise Conflict("this session's landmarks.csv does not give the picture's size") from None
    if not (width > 0 and height > 0):
        raise Conflict("this session's landmarks.csv does not give the picture's size")
    return width, height


def angle_deg(a: tuple[float, float], vertex: tuple[float, float],
              c: tuple[float, float]) -> float:
    """The angle at `vertex` between the lines to `a` and to `c`, 0-180 degrees."""
    first = math.atan2(a[1] - vertex[1], a[0] - vertex[0])
    second = math.atan2(c[1] - vertex[1], c[0] - vertex[0])
    turn = abs(math.degrees(first - second)) % 360.0
    return 360.0 - turn if turn > 180.0 else turn


def leg_px_near(columns: FrameColumns, row: int) -> float | None:
    """The walker's leg length in pixels around a frame (median within `LEG_WINDOW_S`), else
    over the whole clip; None when it was never measured."""
    legs = columns.leg_length_px
    t = columns.time_s[row]
    near = np.abs(columns.time_s - t) <= LEG_WINDOW_S
    for pick in (legs[near], legs):
        ok = pick[np.isfinite(pick) & (pick > 0)]
        if ok.size:
            return float(np.median(ok))
    return None


def new_measurement(files: SessionFiles, summary: SessionSummary | None, kind: MeasureKind,
                    time_s: float, points: Sequence[PicturePoint]) -> Measurement:
    """A measurement of `points` on the frame shown at `time_s`, its value worked out."""
    if len(points) != POINTS_OF[kind]:
        raise InputError(f"the {kind} tool takes {POINTS_OF[kind]} points, not {len(points)}")
    columns = read_frame_columns(files)
    if not len(columns.time_s):
        raise Conflict("this session has no frames to measure on")
    end = float(np.nanmax(columns.time_s))
    if not 0.0 <= time_s <= end + 1.0:
        raise InputError(f"the time {time_s:.2f} s is outside the clip (0-{end:.2f} s)")
    width, height = picture_size(files)
    px = [(p.x * width, p.y * height) for p in points]
    row = row_at(columns, time_s)
    unit: MeasureUnit
    if kind == "angle":
        value, unit = angle_deg(px[0], px[1], px[2]), "deg"
    else:
        leg_px = leg_px_near(columns, row)
        if leg_px is None:
            raise Conflict("the walker's legs were never measured in this clip: "
                           "a distance cannot be scaled")
        legs = math.dist(px[0], px[1]) / leg_px
        scale = summary.body_scale if summary is not None else None
        if scale is not None and scale.leg_m:
            value, unit = legs * float(scale.leg_m), "m"
        else:
            value, unit = legs, "leg"
    return Measurement(
        id=uuid.uuid4().hex[:12],
        kind=kind,
        time_s=round(float(columns.time_s[row]), 4),
        frame=int(columns.frame[row]),
        points=tuple(points),
        value=round(value, 1 if unit == "deg" else 3),
        unit=unit,
        created_at=now_iso(),
    )


def with_measurement(review: SessionReview, measurement: Measurement) -> SessionReview:
    """The review with one more measurement, in order of frame time."""
    if len(review.measurements) >= MAX_MEASUREMENTS:
        raise Conflict(f"a session keeps at most {MAX_MEASUREMENTS} measurements: "
                       "remove one first")
    kept = sorted((*review.measurements, measurement), key=lambda m: (m.time_s, m.created_at))
    return SessionReview(review.note, review.note_saved_at, tuple(kept))


UNIT_WORDS: dict[str, str] = {"deg": "\u00b0", "m": " m", "leg": " leg lengths"}


def measurement_text(m: Measurement) -> str:
    """A measurement's value with its unit, e.g. "132.5°", "0.412 m"."""
    if m.value is None:
        return "\u2014"
    digits = 1 if m.unit == "deg" else 2
    return f"{m.value:.{digits}f}{UNIT_WORDS[m.unit]}"
