"""A session's summary: what summary.json holds, as typed values.

`build_summary` condenses a whole clip's metrics, gait and cues into a `SessionSummary`. The
summary is declared once, here, as pydantic dataclasses (`posecoach.records`): the same
declaration gives the attributes, the summary.json content (`to_json`, the README documents
each key), the reading of a stored file (`from_json`) and the HTTP API's schema. Stored
summaries written by older versions may lack keys or hold values that no longer fit: those
read as None (or an empty list), never as an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field
from pydantic.dataclasses import dataclass

from posecoach.coach.body_scale import BodyScale
from posecoach.coach.cues import Severity
from posecoach.coach.gait import EventKind, Side
from posecoach.coach.timed_test import TimedTestResult
from posecoach.frame_rate import DEFAULT_FPS
from posecoach.pose.landmarks import median_frame_interval_s
from posecoach.records import RECORD_CONFIG, Number, Record, Records

if TYPE_CHECKING:
    from posecoach.coach.cues import Cue
    from posecoach.coach.gait import GaitSummary
    from posecoach.coach.metrics import MetricsSeries
    from posecoach.pose.landmarks import PoseSeries
    from posecoach.settings import Settings

VIEWS = ("side", "front", "back")
Direction = Literal["backward", "forward", "mixed", "unknown"]
View = Literal["side", "front", "back", "mixed", "unknown"]
WalkSetting = Literal["overground", "treadmill"]


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


# ---------------------------------------------------------------------------- parts


@dataclass(frozen=True, config=RECORD_CONFIG)
class ViewTimes(Record):
    """Seconds the walker was seen from each side."""

    side: Number | None = None
    front: Number | None = None
    back: Number | None = None


@dataclass(frozen=True, config=RECORD_CONFIG)
class CueRecord(Record):
    """One coaching cue over an interval of the session. `end_s` is None for a cue still
    active at the end."""

    rule: str = ""
    message: str = ""
    severity: Severity = "info"
    start_s: Number | None = None
    end_s: Number | None = Field(None, description="null while a live cue is still active")
    guidance: str = ""
    priority: int = 5

    @classmethod
    def from_cue(cls, cue: Cue, digits: int | None = 3) -> CueRecord:
        """A coach's cue, its times rounded to `digits` (None keeps them as they are)."""
        def time(value: float | None) -> float | None:
            return value if digits is None or value is None else _round(value, digits)

        return cls(cue.rule, cue.message, cue.severity, time(cue.start_s), time(cue.end_s),
                   cue.guidance, cue.priority)


@dataclass(frozen=True, config=RECORD_CONFIG)
class StepRecord(Record):
    """One step: when it landed, which foot, how long, and the time since the previous step."""

    time_s: Number | None = None
    side: Side | None = None
    step_length_leg: Number | None = None
    step_length_m: Number | None = None
    step_time_s: Number | None = None


@dataclass(frozen=True, config=RECORD_CONFIG)
class GaitEventRecord(Record):
    """One foot contact or lift-off."""

    time_s: Number | None = None
    side: Side | None = None
    kind: EventKind | None = None


@dataclass(frozen=True, config=RECORD_CONFIG)
class Thresholds(Record):
    """The limits the session was judged against."""

    trunk_max_forward_lean_deg: Number | None = None
    trunk_max_backward_lean_deg: Number | None = None
    head_max_angle_deg: Number | None = None
    step_max_length_leg: Number | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        rules = settings.rules
        return cls(
            trunk_max_forward_lean_deg=rules.trunk_upright.max_forward_lean_deg,
            trunk_max_backward_lean_deg=rules.trunk_upright.max_backward_lean_deg,
            head_max_angle_deg=rules.head_up.max_head_angle_deg,
            step_max_length_leg=rules.step_length.max_step_length_leg,
        )

    def filled_from(self, other: Thresholds) -> Thresholds:
        """These limits, with the ones missing taken from `other`."""
        def pick(mine: float | None, theirs: float | None) -> float | None:
            return theirs if mine is None else mine

        return Thresholds(
            pick(self.trunk_max_forward_lean_deg, other.trunk_max_forward_lean_deg),
            pick(self.trunk_max_backward_lean_deg, other.trunk_max_backward_lean_deg),
            pick(self.head_max_angle_deg, other.head_max_angle_deg),
            pick(self.step_max_length_leg, other.step_max_length_leg),
        )


# ---------------------------------------------------------------------------- the summary


@dataclass(frozen=True, config=RECORD_CONFIG)
class SessionSummary(Record):
    """A session's summary.json: what one session or clip came to; None where it could not be
    measured.

    Times are seconds, lengths leg lengths (`_leg`) or metres (`_m`, only with the walker's
    height), angles degrees, shares 0..1, cadence steps per minute. `steps` is None when steps
    could not be judged (no side view), 0 when none were seen in a side view.
    """

    WRITTEN_WHEN_SET: ClassVar[frozenset[str]] = frozenset({"direction_reason", "body_scale"})

    source: str = ""
    level: str | None = None
    height_cm: Number | None = None
    duration_s: Number | None = None
    frames: int | None = None
    frames_with_person: int | None = None
    fps: Number | None = None
    direction: Direction | None = None
    direction_reason: str | None = None      # why the direction is unknown ("feet out of frame")
    backward_time_s: Number | None = None
    forward_time_s: Number | None = None
    standing_time_s: Number | None = None
    view: View | None = None
    view_time_s: ViewTimes | None = None
    steps: int | None = None
    cadence_spm: Number | None = None
    step_length_leg: Number | None = None
    step_length_m: Number | None = None
    step_time_s: Number | None = None
    speed_leg_s: Number | None = None
    speed_m_s: Number | None = None
    step_length_symmetry: Number | None = None
    step_time_symmetry: Number | None = None
    trunk_lean_deg_median: Number | None = None
    head_angle_deg_median: Number | None = None
    upright_share: Number | None = None
    head_up_share: Number | None = None
    setting: WalkSetting | None = None   # "treadmill" also for walking in place
    handrail_share: Number | None = None  # treadmill: share of the walk holding the rails
    cues: Records[CueRecord] = ()
    step_list: Records[StepRecord] = ()
    gait_events: Records[GaitEventRecord] = ()
    thresholds: Thresholds | None = None
    warnings: tuple[str, ...] = ()
    timed_test: TimedTestResult | None = Field(
        None, description="the 3-metre backward walk test, when it was asked for")
    body_scale: BodyScale | None = Field(
        None, description="the one scale of every metre: its sources and uncertainty")


def as_summary(value: SessionSummary | Mapping[str, Any] | None) -> SessionSummary:
    """A summary as given, or read from a stored summary.json's content."""
    if isinstance(value, SessionSummary):
        return value
    return SessionSummary.from_json(value)


# ---------------------------------------------------------------------------- building


def _frame_durations(time_s: np.ndarray) -> np.ndarray:
    if len(time_s) == 0:
        return np.zeros(0)
    if len(time_s) == 1:
        return np.ones(1) / DEFAULT_FPS
    return np.append(np.diff(time_s), median_frame_interval_s(time_s))


def _median(values: np.ndarray) -> float | None:
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(np.median(arr)) if arr.size else None


def _column(metrics: MetricsSeries, name: str, dtype: Any) -> np.ndarray:
    """One per-frame metric over the clip, as an array."""
    return np.asarray(metrics.column(name), dtype=dtype)


FEET_OUT_SHARE = 0.3   # feet out of view this share of the side-view walk: no direction from them


MIN_MOVING_S = 0.5     # less walking than this with a known direction: it cannot be measured


def _overall_direction(backward_s: float, forward_s: float, overall_view: str) -> str:
    """The clip's direction: "unknown" only where it cannot be measured; otherwise the way
    most of the walking with a measured direction went ("mixed" when neither has 3/4 of it).
    Frames whose direction is unclear (turning, partly seen) do not outvote the walking."""
    moving = backward_s + forward_s
    # The direction is only judged where the walker is seen from the side: a back-view clip
    # with a few side-view seconds does not get a direction from them.
    if moving < MIN_MOVING_S or overall_view not in ("side", "mixed"):
        return "unknown"
    if backward_s >= 0.75 * moving:
        return "backward"
    if forward_s >= 0.75 * moving:
        return "forward"
    return "mixed"


def _overall_view(view_time: Mapping[str, float]) -> str:
    seen = sum(view_time.values())
    if seen <= 0:
        return "unknown"
    top = max(view_time, key=lambda name: view_time[name])
    return top if view_time[top] >= 0.7 * seen else "mixed"


def build_summary(
    series: PoseSeries,
    metrics: MetricsSeries,
    gait: GaitSummary,
    cues: Sequence[Cue],
    settings: Settings,
    source: str = "",
    warnings: Sequence[str] | None = None,
) -> SessionSummary:
    """The summary of a whole clip from its offline metrics, gait and cues."""
    dt = _frame_durations(series.time_s)
    person = _column(metrics, "has_person", bool)
    direction = _column(metrics, "direction", None)
    view = _column(metrics, "view", None)
    backward_s = float(dt[(direction == "backward") & person].sum())
    forward_s = float(dt[(direction == "forward") & person].sum())
    standing_s = float(dt[(direction == "standing") & person].sum())
    view_time = {v: float(dt[(view == v) & person].sum()) for v in VIEWS}
    overall_view = _overall_view(view_time)

    # Sagittal posture needs a side view: stray side-view frames in a front or back view clip
    # (a walker turning, a misread frame) are not enough to report it.
    side = person & (view == "side") & (overall_view in ("side", "mixed"))
    trunk = _column(metrics, "trunk_lean_deg", float)
    head = _column(metrics, "head_angle_deg", float)
    looking_down = _column(metrics, "looking_down", bool)
    limits = Thresholds.from_settings(settings)
    tu = settings.rules.trunk_upright
    trunk_ok = np.isfinite(trunk) & side
    upright = trunk_ok & (trunk <= tu.max_forward_lean_deg) & (trunk >= -tu.max_backward_lean_deg)
    head_ok = np.isfinite(head) & side
    head_up = head_ok & (head <= settings.rules.head_up.max_head_angle_deg) & ~looking_down

    if gait.steps:
        steps: int | None = len(gait.steps)
    else:
        steps = 0 if side.any() else None
    duration = float(series.time_s[-1] - series.time_s[0] + dt[-1]) if len(series) else 0.0
    overall_direction = _overall_direction(backward_s, forward_s, overall_view)
    direction_reason = None
    feet_out = gait.feet_out_of_view_share
    if (feet_out is not None and feet_out >= FEET_OUT_SHARE
            and (gait.setting == "treadmill" or overall_direction in ("mixed", "unknown")
                 or standing_s > backward_s + forward_s)):
        # with the pelvis mostly still (a belt, walking in place) the direction comes from the
        # feet: without them it is not guessed
        overall_direction, direction_reason = "unknown", "feet out of frame"
    return SessionSummary(
        source=source,
        level=settings.level,
        height_cm=settings.height_cm,
        duration_s=_round(duration),
        frames=len(series),
        frames_with_person=int(person.sum()),
        fps=_round(series.fps, 2),
        direction=overall_direction,
        direction_reason=direction_reason,
        backward_time_s=_round(backward_s),
        forward_time_s=_round(forward_s),
        standing_time_s=_round(standing_s),
        view=overall_view,
        view_time_s=ViewTimes(*(_round(view_time[v]) for v in VIEWS)),
        steps=steps,
        cadence_spm=_round(gait.cadence_spm, 1),
        step_length_leg=_round(gait.step_length_leg),
        step_length_m=_round(gait.step_length_m),
        step_time_s=_round(gait.step_time_s),
        speed_leg_s=_round(gait.speed_leg_s),
        speed_m_s=_round(gait.speed_m_s),
        step_length_symmetry=_round(gait.step_length_symmetry),
        step_time_symmetry=_round(gait.step_time_symmetry),
        trunk_lean_deg_median=_round(_median(trunk[side]), 2),
        head_angle_deg_median=_round(_median(head[side]), 2),
        upright_share=_round(float(upright.sum() / trunk_ok.sum()) if trunk_ok.any() else None),
        head_up_share=_round(float(head_up.sum() / head_ok.sum()) if head_ok.any() else None),
        setting=gait.setting,
        handrail_share=_round(gait.handrail_share),
        cues=tuple(CueRecord.from_cue(c) for c in cues),
        step_list=tuple(
            StepRecord(_round(s.time_s), s.side, _round(s.step_length_leg),
                       _round(s.step_length_m), _round(s.step_time_s))
            for s in gait.steps
        ),
        gait_events=tuple(
            GaitEventRecord(_round(e.time_s), e.side, e.kind) for e in gait.events
        ),
        thresholds=limits,
        warnings=tuple(warnings or ()),
        body_scale=gait.body_scale if gait.body_scale and gait.body_scale.sources else None,
    )
