"""A session's summary: what summary.json holds, as typed values.

`build_summary` condenses a whole clip's metrics, gait and cues into a `SessionSummary`;
`to_json` gives the summary.json content (the README documents each key) and `from_json` reads
one back. Stored summaries written by older versions may lack keys: those read as None (or an
empty list), never as an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from posecoach.coach.body_scale import BodyScale
from posecoach.coach.timed_test import TimedTestResult
from posecoach.outputs.files import to_jsonable
from posecoach.pose.landmarks import median_frame_interval_s

if TYPE_CHECKING:
    from posecoach.coach.cues import Cue
    from posecoach.coach.gait import GaitSummary
    from posecoach.coach.metrics import MetricsSeries
    from posecoach.pose.landmarks import PoseSeries
    from posecoach.settings import Settings

VIEWS = ("side", "front", "back")


# ---------------------------------------------------------------------------- reading values


def _number(value: Any) -> float | None:
    """A finite int or float as it is; None for anything else (null, NaN, text, booleans)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def _integer(value: Any) -> int | None:
    number = _number(value)
    if number is None or number != int(number):
        return None
    return int(number)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


# ---------------------------------------------------------------------------- parts


@dataclass(frozen=True)
class ViewTimes:
    """Seconds the walker was seen from each side."""

    side: float | None = None
    front: float | None = None
    back: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"side": self.side, "front": self.front, "back": self.back}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ViewTimes:
        return cls(*(_number(data.get(name)) for name in VIEWS))


@dataclass(frozen=True)
class CueRecord:
    """One cue as the summary keeps it. `end_s` is None for a cue still active at the end."""

    rule: str = ""
    message: str = ""
    severity: str = "info"
    start_s: float | None = None
    end_s: float | None = None
    guidance: str = ""
    priority: int = 5

    @classmethod
    def from_cue(cls, cue: Cue, digits: int | None = 3) -> CueRecord:
        """A coach's cue, its times rounded to `digits` (None keeps them as they are)."""
        def time(value: float | None) -> float | None:
            return value if digits is None or value is None else _round(value, digits)

        return cls(cue.rule, cue.message, cue.severity, time(cue.start_s), time(cue.end_s),
                   cue.guidance, cue.priority)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "message": self.message,
            "severity": self.severity,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "guidance": self.guidance,
            "priority": self.priority,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CueRecord:
        priority = _integer(data.get("priority"))
        return cls(
            rule=str(data.get("rule") or ""),
            message=str(data.get("message") or ""),
            severity=_text(data.get("severity")) or "info",
            start_s=_number(data.get("start_s")),
            end_s=_number(data.get("end_s")),
            guidance=str(data.get("guidance") or ""),
            priority=5 if priority is None else priority,
        )


@dataclass(frozen=True)
class StepRecord:
    """One step: when it landed, which foot, how long, and the time since the previous step."""

    time_s: float | None = None
    side: str | None = None
    step_length_leg: float | None = None
    step_length_m: float | None = None
    step_time_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "time_s": self.time_s,
            "side": self.side,
            "step_length_leg": self.step_length_leg,
            "step_length_m": self.step_length_m,
            "step_time_s": self.step_time_s,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepRecord:
        return cls(
            time_s=_number(data.get("time_s")),
            side=_text(data.get("side")),
            step_length_leg=_number(data.get("step_length_leg")),
            step_length_m=_number(data.get("step_length_m")),
            step_time_s=_number(data.get("step_time_s")),
        )


@dataclass(frozen=True)
class GaitEventRecord:
    """One foot contact or lift-off."""

    time_s: float | None = None
    side: str | None = None
    kind: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"time_s": self.time_s, "side": self.side, "kind": self.kind}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GaitEventRecord:
        return cls(_number(data.get("time_s")), _text(data.get("side")), _text(data.get("kind")))


@dataclass(frozen=True)
class Thresholds:
    """The limits the session was judged against."""

    trunk_max_forward_lean_deg: float | None = None
    trunk_max_backward_lean_deg: float | None = None
    head_max_angle_deg: float | None = None
    step_max_length_leg: float | None = None

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

    def to_json(self) -> dict[str, Any]:
        return {
            "trunk_max_forward_lean_deg": self.trunk_max_forward_lean_deg,
            "trunk_max_backward_lean_deg": self.trunk_max_backward_lean_deg,
            "head_max_angle_deg": self.head_max_angle_deg,
            "step_max_length_leg": self.step_max_length_leg,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Thresholds:
        return cls(
            trunk_max_forward_lean_deg=_number(data.get("trunk_max_forward_lean_deg")),
            trunk_max_backward_lean_deg=_number(data.get("trunk_max_backward_lean_deg")),
            head_max_angle_deg=_number(data.get("head_max_angle_deg")),
            step_max_length_leg=_number(data.get("step_max_length_leg")),
        )


# ---------------------------------------------------------------------------- the summary


@dataclass(frozen=True)
class SessionSummary:
    """What one session or clip came to; None where it could not be measured.

    Times are seconds, lengths leg lengths (`_leg`) or metres (`_m`, only with the walker's
    height), angles degrees, shares 0..1, cadence steps per minute. `steps` is None when steps
    could not be judged (no side view), 0 when none were seen in a side view.
    """

    source: str = ""
    level: str | None = None
    height_cm: float | None = None
    duration_s: float | None = None
    frames: int | None = None
    frames_with_person: int | None = None
    fps: float | None = None
    direction: str | None = None
    direction_reason: str | None = None      # why the direction is unknown ("feet out of frame")
    backward_time_s: float | None = None
    forward_time_s: float | None = None
    standing_time_s: float | None = None
    view: str | None = None
    view_time_s: ViewTimes | None = None
    steps: int | None = None
    cadence_spm: float | None = None
    step_length_leg: float | None = None
    step_length_m: float | None = None
    step_time_s: float | None = None
    speed_leg_s: float | None = None
    speed_m_s: float | None = None
    step_length_symmetry: float | None = None
    step_time_symmetry: float | None = None
    trunk_lean_deg_median: float | None = None
    head_angle_deg_median: float | None = None
    upright_share: float | None = None
    head_up_share: float | None = None
    setting: str | None = None               # "overground" | "treadmill" (also walking in place)
    handrail_share: float | None = None      # treadmill: share of the walk holding the rails
    cues: tuple[CueRecord, ...] = ()
    step_list: tuple[StepRecord, ...] = ()
    gait_events: tuple[GaitEventRecord, ...] = ()
    thresholds: Thresholds | None = None
    warnings: tuple[str, ...] = ()
    timed_test: TimedTestResult | None = None
    body_scale: BodyScale | None = None      # the one scale of every metre: sources, uncertainty

    def to_json(self) -> dict[str, Any]:
        """The summary.json content: JSON types only, NaN and infinity as null."""
        return to_jsonable({
            "source": self.source,
            "level": self.level,
            "height_cm": self.height_cm,
            "duration_s": self.duration_s,
            "frames": self.frames,
            "frames_with_person": self.frames_with_person,
            "fps": self.fps,
            "direction": self.direction,
            "direction_reason": self.direction_reason,
            "backward_time_s": self.backward_time_s,
            "forward_time_s": self.forward_time_s,
            "standing_time_s": self.standing_time_s,
            "view": self.view,
            "view_time_s": None if self.view_time_s is None else self.view_time_s.to_json(),
            "steps": self.steps,
            "cadence_spm": self.cadence_spm,
            "step_length_leg": self.step_length_leg,
            "step_length_m": self.step_length_m,
            "step_time_s": self.step_time_s,
            "speed_leg_s": self.speed_leg_s,
            "speed_m_s": self.speed_m_s,
            "step_length_symmetry": self.step_length_symmetry,
            "step_time_symmetry": self.step_time_symmetry,
            "trunk_lean_deg_median": self.trunk_lean_deg_median,
            "head_angle_deg_median": self.head_angle_deg_median,
            "upright_share": self.upright_share,
            "head_up_share": self.head_up_share,
            "setting": self.setting,
            "handrail_share": self.handrail_share,
            "cues": [cue.to_json() for cue in self.cues],
            "step_list": [step.to_json() for step in self.step_list],
            "gait_events": [event.to_json() for event in self.gait_events],
            "thresholds": None if self.thresholds is None else self.thresholds.to_json(),
            "warnings": list(self.warnings),
            "timed_test": None if self.timed_test is None else self.timed_test.to_json(),
            "body_scale": None if self.body_scale is None else self.body_scale.to_json(),
        })

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionSummary:
        """Read a stored summary; missing or malformed values become None (or empty)."""
        view_time = data.get("view_time_s")
        thresholds = data.get("thresholds")
        warnings = data.get("warnings")
        timed_test = data.get("timed_test")
        return cls(
            source=str(data.get("source") or ""),
            level=_text(data.get("level")),
            height_cm=_number(data.get("height_cm")),
            duration_s=_number(data.get("duration_s")),
            frames=_integer(data.get("frames")),
            frames_with_person=_integer(data.get("frames_with_person")),
            fps=_number(data.get("fps")),
            direction=_text(data.get("direction")),
            direction_reason=_text(data.get("direction_reason")),
            backward_time_s=_number(data.get("backward_time_s")),
            forward_time_s=_number(data.get("forward_time_s")),
            standing_time_s=_number(data.get("standing_time_s")),
            view=_text(data.get("view")),
            view_time_s=ViewTimes.from_json(view_time) if isinstance(view_time, Mapping) else None,
            steps=_integer(data.get("steps")),
            cadence_spm=_number(data.get("cadence_spm")),
            step_length_leg=_number(data.get("step_length_leg")),
            step_length_m=_number(data.get("step_length_m")),
            step_time_s=_number(data.get("step_time_s")),
            speed_leg_s=_number(data.get("speed_leg_s")),
            speed_m_s=_number(data.get("speed_m_s")),
            step_length_symmetry=_number(data.get("step_length_symmetry")),
            step_time_symmetry=_number(data.get("step_time_symmetry")),
            trunk_lean_deg_median=_number(data.get("trunk_lean_deg_median")),
            head_angle_deg_median=_number(data.get("head_angle_deg_median")),
            upright_share=_number(data.get("upright_share")),
            head_up_share=_number(data.get("head_up_share")),
            setting=_text(data.get("setting")),
            handrail_share=_number(data.get("handrail_share")),
            cues=tuple(CueRecord.from_json(c) for c in _items(data.get("cues"))),
            step_list=tuple(StepRecord.from_json(s) for s in _items(data.get("step_list"))),
            gait_events=tuple(
                GaitEventRecord.from_json(e) for e in _items(data.get("gait_events"))
            ),
            thresholds=(
                Thresholds.from_json(thresholds) if isinstance(thresholds, Mapping) else None
            ),
            warnings=(
                tuple(str(w) for w in warnings) if isinstance(warnings, list | tuple) else ()
            ),
            timed_test=(
                TimedTestResult.from_json(timed_test) if isinstance(timed_test, Mapping) else None
            ),
            body_scale=(BodyScale.from_json(data["body_scale"])
                        if isinstance(data.get("body_scale"), Mapping) else None),
        )


def as_summary(value: SessionSummary | Mapping[str, Any] | None) -> SessionSummary:
    """A summary as given, or read from a stored summary.json's content."""
    if isinstance(value, SessionSummary):
        return value
    return SessionSummary.from_json(_mapping(value))


# ---------------------------------------------------------------------------- building


def _frame_durations(time_s: np.ndarray) -> np.ndarray:
    if len(time_s) == 0:
        return np.zeros(0)
    if len(time_s) == 1:
        return np.ones(1) / 30.0
    return np.append(np.diff(time_s), median_frame_interval_s(time_s))


def _median(values: np.ndarray) -> float | None:
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(np.median(arr)) if arr.size else None


def _column(metrics: MetricsSeries, name: str, dtype: Any) -> np.ndarray:
    """One per-frame metric over the clip, as an array."""
    return np.asarray(metrics.column(name), dtype=dtype)


FEET_OUT_SHARE = 0.3   # feet out of view this share of the side-view walk: no direction from them


def _overall_direction(backward_s: float, forward_s: float, unknown_s: float) -> str:
    moving = backward_s + forward_s
    # The direction is only judged where the walker is seen from the side: a back-view clip
    # with a few side-view seconds does not get a direction from them.
    if moving < 0.5 or unknown_s > 2.0 * moving:
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
    unknown_s = float(dt[np.isin(direction, ("unknown", "turning")) & person].sum())
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
    overall_direction = _overall_direction(backward_s, forward_s, unknown_s)
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
