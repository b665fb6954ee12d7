"""Rule engine: turns per-frame metrics and detected steps into coaching cues.

Each rule of the catalogue judges each frame as a fault, ok, or "cannot judge" (a view it does
not judge, nobody in frame, a missing measurement). The timing is the same for all rules:

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

A praise rule (good_form) speaks after `praise_after_s` of frames it judges ok with no rule in
fault (pending or cued). Each praise restarts that stretch, so praise repeats at most every
`max(praise_after_s, cooldown_s)` with varied messages, and each praise cue ends when the next
one starts or the stretch breaks.

Baseline (`baseline.enabled`): the first `baseline.duration_s` of frames with a person in side
view, |trunk lean| below 15 degrees, not fallen, and standing or walking give the walker's median
trunk lean and head angle. From then on trunk_upright and head_up judge the change from those
medians against `baseline.max_trunk_change_deg` and `baseline.max_head_change_deg`; before that
they use their own limits as absolute angles.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from posecoach.coach.cues import Cue
from posecoach.coach.gait import Step
from posecoach.coach.metrics import FrameMetrics, ViewName
from posecoach.coach.rules.base import (
    OK,
    UNKNOWN,
    Baseline,
    Judge,
    JudgeInput,
    Rule,
    Verdict,
    finite,
)
from posecoach.coach.rules.catalogue import (
    LOOK_BACK,
    RULE_IDS,
    RULES,
    RULES_BY_ID,
    LookBackJudge,
)
from posecoach.settings import GoodFormRule, RuleSettings, Settings

_EPS = 1e-9
BASELINE_MAX_LEAN_DEG = 15.0
_BASELINE_DIRECTIONS = ("standing", "backward", "forward")
_SEVERITY_RANK: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}

FAULT_RULES: tuple[Rule, ...] = tuple(r for r in RULES if not r.praise)
PRAISE_RULES: tuple[Rule, ...] = tuple(r for r in RULES if r.praise)


def urgency_key(cue: Cue) -> tuple[int, int, float, int]:
    """Sort key putting the most urgent cue first: priority, severity, then the newest."""
    order = RULE_IDS.index(cue.rule) if cue.rule in RULES_BY_ID else len(RULE_IDS)
    return (cue.priority, _SEVERITY_RANK.get(cue.severity, 3), -cue.start_s, order)


@dataclass
class _Track:
    """One rule in a run: its judge and settings, the running fault, its active cue, the last
    cue start, and (for praise) the start of the current good stretch."""

    rule: Rule
    judge: Judge
    cfg: RuleSettings
    views: frozenset[ViewName]
    onset_s: float | None = None
    cue: Cue | None = None
    last_start_s: float | None = None
    good_since_s: float | None = None
    praise_count: int = 0

    def can_judge(self, m: FrameMetrics) -> bool:
        """Whether the rule judges this frame at all: its view, a person, not fallen."""
        if m.view not in self.views:
            return False
        if self.rule.needs_person and not m.has_person:
            return False
        return self.rule.judges_fallen or not m.fallen


@dataclass
class _BaselineCollector:
    """Collects upright side-view frames until they cover the baseline duration."""

    duration_s: float
    trunk: list[float] = field(default_factory=list)
    head: list[float] = field(default_factory=list)
    covered_s: float = 0.0
    first_s: float | None = None
    prev_ok_s: float | None = None
    result: Baseline | None = None

    def add(self, m: FrameMetrics) -> None:
        """Add one frame; time counts only between consecutive qualifying frames."""
        if self.result is not None:
            return
        if not _baseline_qualifies(m):
            self.prev_ok_s = None
            return
        if self.first_s is None:
            self.first_s = m.time_s
        if self.prev_ok_s is not None:
            self.covered_s += m.time_s - self.prev_ok_s
        self.prev_ok_s = m.time_s
        self.trunk.append(m.trunk_lean_deg)
        if finite(m.head_angle_deg):
            self.head.append(m.head_angle_deg)
        if self.covered_s >= self.duration_s - _EPS:
            self.result = Baseline(
                trunk_lean_deg=float(statistics.median(self.trunk)),
                head_angle_deg=float(statistics.median(self.head)) if self.head else None,
                from_s=self.first_s,
                to_s=m.time_s,
            )


def _baseline_qualifies(m: FrameMetrics) -> bool:
    return (
        m.has_person
        and not m.fallen
        and m.view == "side"
        and m.direction in _BASELINE_DIRECTIONS
        and finite(m.trunk_lean_deg)
        and abs(m.trunk_lean_deg) < BASELINE_MAX_LEAN_DEG
    )


class RuleEngine:
    """Applies the coaching rules frame by frame, with persistence, cooldown and priority.

    Feed frames in time order. `update` returns the cues that start at that frame; `active`
    lists the cues in progress, most urgent first; `finish` closes the run.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tracks: dict[str, _Track] = {}
        for rule in RULES:
            self._tracks[rule.id] = _Track(
                rule=rule,
                judge=rule.judge(settings),
                cfg=rule.config(settings),
                views=rule.judged_views(settings),
            )
        self._faults = [self._tracks[r.id] for r in FAULT_RULES]
        self._praise = [self._tracks[r.id] for r in PRAISE_RULES]
        self._cues: list[Cue] = []
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
        result = self._baseline.result
        return asdict(result) if result is not None else None

    @property
    def glances(self) -> list[tuple[float, float]]:
        """Head turns to look behind that stayed within `max_glance_s`: (start_s, end_s)."""
        judge = self._tracks[LOOK_BACK.id].judge
        return list(judge.glances) if isinstance(judge, LookBackJudge) else []

    @property
    def cues(self) -> list[Cue]:
        """Every cue started so far, in start order (active ones have end_s None)."""
        return list(self._cues)

    def update(self, m: FrameMetrics, new_steps: Sequence[Step] = ()) -> list[Cue]:
        """Judge one frame (and the steps detected up to it); return the cues starting now."""
        if self.settings.baseline.enabled:
            self._baseline.add(m)
        frame = JudgeInput(m, new_steps, self._baseline.result)
        started: list[Cue] = []
        for track in self._faults:
            cue = self._advance(track, self._judge(track, frame), m.time_s)
            if cue is not None:
                started.append(cue)
        calm = all(t.onset_s is None for t in self._faults)
        for track in self._praise:
            cue = self._praise_after(track, frame, calm)
            if cue is not None:
                started.append(cue)
        return sorted(started, key=urgency_key)

    def finish(self, end_s: float) -> list[Cue]:
        """Close every active cue (and an open glance) at end_s; return all cues in start order."""
        for track in self._tracks.values():
            track.onset_s = None
            track.good_since_s = None
            if track.cue is not None:
                track.cue.end_s = max(end_s, track.cue.start_s)
                track.cue = None
            track.judge.stop(end_s)
        return sorted(self._cues, key=lambda c: (c.start_s, urgency_key(c)))

    # ----------------------------------------------------------------- judging and timing

    @staticmethod
    def _judge(track: _Track, frame: JudgeInput) -> Verdict:
        if not track.can_judge(frame.metrics):
            track.judge.stop(frame.metrics.time_s)
            return UNKNOWN
        return track.judge(frame)

    def _start(self, track: _Track, message: str, t: float) -> Cue:
        cue = Cue(
            rule=track.rule.id,
            message=message,
            severity=track.rule.severity,
            start_s=t,
            end_s=None,
            guidance=track.cfg.guidance,
            priority=track.cfg.priority,
        )
        track.cue = cue
        track.last_start_s = t
        self._cues.append(cue)
        return cue

    def _advance(self, track: _Track, verdict: Verdict, t: float) -> Cue | None:
        """Apply persistence, cooldown and clearing to one rule's verdict at time t."""
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
        if t - track.onset_s < track.cfg.persist_s - _EPS:
            return None
        if _cooling_down(track, t):
            return None
        return self._start(track, track.rule.messages[verdict.message_key], t)

    def _praise_after(self, track: _Track, frame: JudgeInput, calm: bool) -> Cue | None:
        """Praise a long enough stretch of frames the rule judges ok with no rule in fault."""
        t = frame.metrics.time_s
        if not calm or self._judge(track, frame) != OK:
            track.good_since_s = None
            self._advance(track, OK, t)
            return None
        if track.good_since_s is None:
            track.good_since_s = t
        cfg = track.cfg
        assert isinstance(cfg, GoodFormRule), "a praise rule's settings say when to praise"
        if t - track.good_since_s < cfg.praise_after_s + cfg.persist_s - _EPS:
            return None
        if _cooling_down(track, t):
            return None
        if track.cue is not None:
            track.cue.end_s = t
            track.cue = None
        messages = list(track.rule.messages.values())
        message = messages[track.praise_count % len(messages)]
        track.praise_count += 1
        track.good_since_s = t
        return self._start(track, message, t)


def _cooling_down(track: _Track, t: float) -> bool:
    return track.last_start_s is not None and t - track.last_start_s < track.cfg.cooldown_s - _EPS


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
