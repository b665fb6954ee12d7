"""Rule engine: turns per-frame metrics and detected steps into coaching cues.

Every rule judges each frame as a fault, ok, or "cannot judge" (wrong view, nobody in frame,
a missing measurement). The timing is the same for all rules:

- A fault run starts at the first frame judged a fault. The cue starts at the first frame whose
  time is at least `persist_s` after the run's start, so `start_s` is that frame's time
  (fault start + persist_s, rounded up to the next frame). `update()` returns the cue at that
  frame, which is when the live UI speaks it.
- The cue ends at the first frame that is no longer a fault: `end_s` is that frame's time. A frame
  that cannot be judged also ends the cue and the fault run, so a cue never outlives the evidence.
- Cooldown counts from the previous cue's start: a rule starts no new cue until `cooldown_s` has
  passed since its last cue started. A fault that is still present when the cooldown runs out
  starts its cue then; one that clears inside the cooldown is never spoken.
- The message is chosen when the cue starts and stays with it.

Rule specifics:

- fall, in_frame and camera_view also judge the "unknown" view; in_frame is the only rule that
  judges frames without a person, so nobody in view for the whole clip is one in_frame cue.
- While the walker has fallen only fall and in_frame judge: posture advice to someone on the
  ground helps nobody.
- head_up cannot judge while the head is turned to look behind (look_back owns that time).
- look_back: a head turn up to `max_glance_s` long is a glance (recorded in `glances`, never a
  fault); a turn that lasts longer is a fault from that moment on.
- step_length judges side-view frames while the walker moves backward; it counts consecutive steps
  longer than the limit, is a fault once `min_steps` of them follow each other, and is ok again
  from the next short step.
- camera_view is a fault when a person is present but the view cannot judge the main form checks
  (the views of trunk_upright and step_length) or the view is unknown. It is how a rule that
  cannot judge says what to change.
- good_form praises after `praise_after_s` of backward walking in side view with no rule in fault
  (pending or cued). Each praise restarts that stretch, so praise repeats at most every
  `max(praise_after_s, cooldown_s)` with varied messages, and each praise cue ends when the next
  one starts or the stretch breaks.

Baseline (`baseline.enabled`): the first `baseline.duration_s` of frames with a person in side
view, |trunk lean| below 15 degrees, not fallen, and standing or walking give the walker's median
trunk lean and head angle. From then on trunk_upright and head_up judge the change from those
medians against `baseline.max_trunk_change_deg` and `baseline.max_head_change_deg`; before that
they use their own limits as absolute angles.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from posecoach.coach.cues import RULE_IDS, Cue, Severity
from posecoach.coach.gait import Step
from posecoach.coach.metrics import FrameMetrics
from posecoach.settings import RuleSettings, Settings

_EPS = 1e-9
BASELINE_MAX_LEAN_DEG = 15.0
_BASELINE_DIRECTIONS = ("standing", "backward", "forward")
_ANY_VIEW_RULES = frozenset({"fall", "in_frame", "camera_view"})
_WHILE_FALLEN_RULES = frozenset({"fall", "in_frame"})
_SEVERITY_RANK: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}

SEVERITY: dict[str, Severity] = {
    "fall": "critical",
    "in_frame": "warning",
    "trunk_upright": "warning",
    "trunk_sway": "warning",
    "head_up": "warning",
    "look_back": "warning",
    "step_length": "warning",
    "camera_view": "info",
    "good_form": "info",
}

MSG_FALL = "Stop. Are you OK?"
MSG_OUT_OF_VIEW = "Step back into view"
MSG_AT_EDGE = "You're near the edge of the frame"
MSG_LEAN_FORWARD = "Stand tall: you're leaning forward"
MSG_LEAN_BACK = "Don't lean back"
MSG_SWAY = "Keep your trunk steady; brace your core"
MSG_HEAD_UP = "Head up, eyes forward"
MSG_LOOK_BACK = "Glance back briefly, then face forward"
MSG_STEP_LENGTH = "Shorter steps, stay controlled"
MSG_CAMERA_VIEW = "Turn sideways to the camera so I can see your steps and posture"
PRAISE_MESSAGES = ("Great form, keep it up", "Nice and upright", "Good steady steps")

FAULT_RULES: tuple[str, ...] = tuple(r for r in RULE_IDS if r != "good_form")


class Verdict(NamedTuple):
    """One rule's judgement of one frame."""

    state: Literal["fault", "ok", "unknown"]
    message: str = ""


OK = Verdict("ok")
UNKNOWN = Verdict("unknown")


def _fault(message: str) -> Verdict:
    return Verdict("fault", message)


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def urgency_key(cue: Cue) -> tuple[int, int, float, int]:
    """Sort key putting the most urgent cue first: priority, severity, then the newest."""
    order = RULE_IDS.index(cue.rule) if cue.rule in RULE_IDS else len(RULE_IDS)
    return (cue.priority, _SEVERITY_RANK.get(cue.severity, 3), -cue.start_s, order)


@dataclass
class _Track:
    """Timing state of one rule: the running fault, its active cue, and the last cue start."""

    onset_s: float | None = None
    cue: Cue | None = None
    last_start_s: float | None = None


@dataclass
class _BaselineCollector:
    """Collects upright side-view frames until they cover the baseline duration."""

    duration_s: float
    trunk: list[float] = field(default_factory=list)
    head: list[float] = field(default_factory=list)
    covered_s: float = 0.0
    first_s: float | None = None
    prev_ok_s: float | None = None
    result: dict[str, float | None] | None = None

    def add(self, m: FrameMetrics, qualifies: bool) -> None:
        """Add one frame; time counts only between consecutive qualifying frames."""
        if self.result is not None:
            return
        if not qualifies:
            self.prev_ok_s = None
            return
        if self.first_s is None:
            self.first_s = m.time_s
        if self.prev_ok_s is not None:
            self.covered_s += m.time_s - self.prev_ok_s
        self.prev_ok_s = m.time_s
        self.trunk.append(m.trunk_lean_deg)
        if _finite(m.head_angle_deg):
            self.head.append(m.head_angle_deg)
        if self.covered_s >= self.duration_s - _EPS:
            self.result = {
                "trunk_lean_deg": float(statistics.median(self.trunk)),
                "head_angle_deg": float(statistics.median(self.head)) if self.head else None,
                "from_s": self.first_s,
                "to_s": m.time_s,
            }


class RuleEngine:
    """Applies the coaching rules frame by frame, with persistence, cooldown and priority.

    Feed frames in time order. `update` returns the cues that start at that frame; `active`
    lists the cues in progress, most urgent first; `finish` closes the run.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tracks: dict[str, _Track] = {rule: _Track() for rule in RULE_IDS}
        self._cues: list[Cue] = []
        self._glances: list[tuple[float, float]] = []
        self._turn_start_s: float | None = None
        self._stared = False
        self._long_steps = 0
        self._good_since_s: float | None = None
        self._praise_count = 0
        self._baseline = _BaselineCollector(settings.baseline.duration_s)

    # ----------------------------------------------------------------- public API

    @property
    def active(self) -> list[Cue]:
        """Cues in progress, most urgent first (priority 1 first, then severity)."""
        cues = [t.cue for t in self._tracks.values() if t.cue is not None]
        return sorted(cues, key=urgency_key)

    @property
    def baseline(self) -> dict[str, float | None] | None:
        """The personal posture baseline once collected (medians and the window), else None."""
        return dict(self._baseline.result) if self._baseline.result is not None else None

    @property
    def glances(self) -> list[tuple[float, float]]:
        """Head turns to look behind that stayed within `max_glance_s`: (start_s, end_s)."""
        return list(self._glances)

    @property
    def cues(self) -> list[Cue]:
        """Every cue started so far, in start order (active ones have end_s None)."""
        return list(self._cues)

    def update(self, m: FrameMetrics, new_steps: Sequence[Step] = ()) -> list[Cue]:
        """Judge one frame (and the steps detected up to it); return the cues starting now."""
        t = m.time_s
        if self.settings.baseline.enabled:
            self._baseline.add(m, self._baseline_qualifies(m))
        started: list[Cue] = []
        for rule in FAULT_RULES:
            verdict = self._judge(rule, m, new_steps)
            cue = self._advance(rule, verdict, t)
            if cue is not None:
                started.append(cue)
        praise = self._good_form(m)
        if praise is not None:
            started.append(praise)
        return sorted(started, key=urgency_key)

    def finish(self, end_s: float) -> list[Cue]:
        """Close every active cue (and an open glance) at end_s; return all cues in start order."""
        for track in self._tracks.values():
            track.onset_s = None
            if track.cue is not None:
                track.cue.end_s = max(end_s, track.cue.start_s)
                track.cue = None
        self._close_turn(end_s)
        self._good_since_s = None
        return sorted(self._cues, key=lambda c: (c.start_s, urgency_key(c)))

    # ----------------------------------------------------------------- timing

    def _rule(self, rule: str) -> RuleSettings:
        return getattr(self.settings.rules, rule)

    def _start(self, rule: str, message: str, t: float) -> Cue:
        cfg = self._rule(rule)
        cue = Cue(
            rule=rule,
            message=message,
            severity=SEVERITY[rule],
            start_s=t,
            end_s=None,
            guidance=cfg.guidance,
            priority=cfg.priority,
        )
        track = self._tracks[rule]
        track.cue = cue
        track.last_start_s = t
        self._cues.append(cue)
        return cue

    def _advance(self, rule: str, verdict: Verdict, t: float) -> Cue | None:
        """Apply persistence, cooldown and clearing to one rule's verdict at time t."""
        track = self._tracks[rule]
        if verdict.state != "fault":
            track.onset_s = None
            if track.cue is not None:
                track.cue.end_s = t
                track.cue = None
            return None
        if track.onset_s is None:
            track.onset_s = t
        if track.cue is not None:
            return None
        cfg = self._rule(rule)
        if t - track.onset_s < cfg.persist_s - _EPS:
            return None
        if track.last_start_s is not None and t - track.last_start_s < cfg.cooldown_s - _EPS:
            return None
        return self._start(rule, verdict.message, t)

    # ----------------------------------------------------------------- judgements

    def _view_ok(self, rule: str, m: FrameMetrics) -> bool:
        if rule in _ANY_VIEW_RULES and m.view == "unknown":
            return True
        return m.view in self._rule(rule).views

    def _judge(self, rule: str, m: FrameMetrics, steps: Sequence[Step]) -> Verdict:
        if rule == "in_frame":
            return self._judge_in_frame(m) if self._view_ok(rule, m) else UNKNOWN
        if not m.has_person or not self._view_ok(rule, m):
            if rule == "look_back":
                self._close_turn(m.time_s)
            if rule == "step_length":
                self._long_steps = 0
            return UNKNOWN
        if m.fallen and rule not in _WHILE_FALLEN_RULES:
            if rule == "look_back":
                self._close_turn(m.time_s)
            if rule == "step_length":
                self._long_steps = 0
            return UNKNOWN
        judge = getattr(self, f"_judge_{rule}")
        if rule == "step_length":
            return judge(m, steps)
        return judge(m)

    def _judge_fall(self, m: FrameMetrics) -> Verdict:
        return _fault(MSG_FALL) if m.fallen else OK

    def _judge_in_frame(self, m: FrameMetrics) -> Verdict:
        if not m.has_person:
            return _fault(MSG_OUT_OF_VIEW)
        if m.fully_in_frame:
            return OK
        if _finite(m.edge_distance_frac) and m.edge_distance_frac >= 0:
            return _fault(MSG_AT_EDGE)
        return _fault(MSG_OUT_OF_VIEW)

    def _judge_trunk_upright(self, m: FrameMetrics) -> Verdict:
        if not _finite(m.trunk_lean_deg):
            return UNKNOWN
        cfg = self.settings.rules.trunk_upright
        forward, backward = cfg.max_forward_lean_deg, cfg.max_backward_lean_deg
        if self._baseline.result is not None:
            forward = backward = self.settings.baseline.max_trunk_change_deg
        lean = m.trunk_lean_deg - self._baseline_value("trunk_lean_deg")
        if lean > forward:
            return _fault(MSG_LEAN_FORWARD)
        if lean < -backward:
            return _fault(MSG_LEAN_BACK)
        return OK

    def _judge_trunk_sway(self, m: FrameMetrics) -> Verdict:
        if not _finite(m.trunk_lateral_lean_deg):
            return UNKNOWN
        limit = self.settings.rules.trunk_sway.max_lateral_lean_deg
        return _fault(MSG_SWAY) if abs(m.trunk_lateral_lean_deg) > limit else OK

    def _judge_head_up(self, m: FrameMetrics) -> Verdict:
        if m.head_turned:
            return UNKNOWN
        if m.looking_down:
            return _fault(MSG_HEAD_UP)
        if not _finite(m.head_angle_deg):
            return UNKNOWN
        limit = self.settings.rules.head_up.max_head_angle_deg
        if self._baseline.result is not None:
            limit = self.settings.baseline.max_head_change_deg
        angle = m.head_angle_deg - self._baseline_value("head_angle_deg")
        return _fault(MSG_HEAD_UP) if angle > limit else OK

    def _judge_look_back(self, m: FrameMetrics) -> Verdict:
        t = m.time_s
        if not m.head_turned:
            self._close_turn(t)
            return OK
        if self._turn_start_s is None:
            self._turn_start_s = t
            self._stared = False
        if t - self._turn_start_s > self.settings.rules.look_back.max_glance_s + _EPS:
            self._stared = True
            return _fault(MSG_LOOK_BACK)
        return OK

    def _judge_step_length(self, m: FrameMetrics, steps: Sequence[Step]) -> Verdict:
        if m.direction != "backward":
            self._long_steps = 0
            return UNKNOWN
        cfg = self.settings.rules.step_length
        for step in steps:
            if _finite(step.step_length_leg) and step.step_length_leg > cfg.max_step_length_leg:
                self._long_steps += 1
            elif _finite(step.step_length_leg):
                self._long_steps = 0
        return _fault(MSG_STEP_LENGTH) if self._long_steps >= cfg.min_steps else OK

    def _judge_camera_view(self, m: FrameMetrics) -> Verdict:
        rules = self.settings.rules
        judging = set(rules.trunk_upright.views) | set(rules.step_length.views)
        if m.view not in judging:
            return _fault(MSG_CAMERA_VIEW)
        return OK

    def _close_turn(self, t: float) -> None:
        """End the current head turn; a turn that never became a stare is a glance."""
        if self._turn_start_s is not None and not self._stared:
            self._glances.append((self._turn_start_s, t))
        self._turn_start_s = None
        self._stared = False

    # ----------------------------------------------------------------- praise

    def _good_form(self, m: FrameMetrics) -> Cue | None:
        """Praise a long stretch of backward side-view walking with no rule in fault."""
        t = m.time_s
        cfg = self.settings.rules.good_form
        track = self._tracks["good_form"]
        eligible = (
            m.has_person
            and not m.fallen
            and m.view == "side"
            and m.view in cfg.views
            and m.direction == "backward"
            and all(self._tracks[r].onset_s is None for r in FAULT_RULES)
        )
        if not eligible:
            self._good_since_s = None
            self._advance("good_form", OK, t)
            return None
        if self._good_since_s is None:
            self._good_since_s = t
        if t - self._good_since_s < cfg.praise_after_s + cfg.persist_s - _EPS:
            return None
        if track.last_start_s is not None and t - track.last_start_s < cfg.cooldown_s - _EPS:
            return None
        if track.cue is not None:
            track.cue.end_s = t
            track.cue = None
        message = PRAISE_MESSAGES[self._praise_count % len(PRAISE_MESSAGES)]
        self._praise_count += 1
        self._good_since_s = t
        return self._start("good_form", message, t)

    # ----------------------------------------------------------------- baseline

    def _baseline_qualifies(self, m: FrameMetrics) -> bool:
        return (
            m.has_person
            and not m.fallen
            and m.view == "side"
            and m.direction in _BASELINE_DIRECTIONS
            and _finite(m.trunk_lean_deg)
            and abs(m.trunk_lean_deg) < BASELINE_MAX_LEAN_DEG
        )

    def _baseline_value(self, key: str) -> float:
        result = self._baseline.result
        if result is None:
            return 0.0
        value = result.get(key)
        return float(value) if value is not None else 0.0


def evaluate_rules(
    metrics: Sequence[FrameMetrics], steps: Sequence[Step], settings: Settings
) -> list[Cue]:
    """Run the rules over a whole clip; each step is passed at the first frame reaching its time.

    Returns every cue of the clip in start order, the last ones closed at the last frame's time.
    """
    frames = sorted(metrics, key=lambda f: f.time_s)
    if not frames:
        return []
    pending = sorted(steps, key=lambda s: s.time_s)
    engine = RuleEngine(settings)
    i = 0
    for m in frames:
        j = i
        while j < len(pending) and pending[j].time_s <= m.time_s + _EPS:
            j += 1
        engine.update(m, pending[i:j])
        i = j
    return engine.finish(frames[-1].time_s)
