"""What a rule is: its identity and wording, the views it can judge, and its judge.

A judge looks at one frame at a time and answers fault, ok, or "cannot judge". The rule engine
(`engine.py`) owns everything about time: persistence, cooldown, clearing and priority.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from posecoach.coach.cues import Severity
from posecoach.coach.gait import Step
from posecoach.coach.metrics import FrameMetrics, ViewName
from posecoach.settings import RuleSettings, Settings

OverlayLine = Literal["trunk", "head"]
"""Lines the live overlay draws: trunk (mid-hip to mid-shoulder), head (shoulder to ear)."""

SIDE: frozenset[ViewName] = frozenset({"side"})
FRONT_BACK: frozenset[ViewName] = frozenset({"front", "back"})
SIDE_FRONT_BACK: frozenset[ViewName] = frozenset({"side", "front", "back"})
ANY_VIEW: frozenset[ViewName] = frozenset({"side", "front", "back", "unknown"})


class Verdict(NamedTuple):
    """One rule's judgement of one frame; a fault names its message by the rule's key."""

    state: Literal["fault", "ok", "unknown"]
    message_key: str = ""


OK = Verdict("ok")
UNKNOWN = Verdict("unknown")


def fault(message_key: str) -> Verdict:
    return Verdict("fault", message_key)


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


@dataclass(frozen=True)
class Baseline:
    """The walker's own upright posture: medians over the first qualifying stretch."""

    trunk_lean_deg: float
    head_angle_deg: float | None
    from_s: float
    to_s: float


@dataclass(frozen=True)
class JudgeInput:
    """What a judge sees at one frame: its metrics, the steps found up to it, the baseline."""

    metrics: FrameMetrics
    steps: Sequence[Step] = ()
    baseline: Baseline | None = None


class Judge:
    """Judges one rule frame by frame. One judge per run, so it may keep state between frames."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self, frame: JudgeInput) -> Verdict:
        raise NotImplementedError

    def stop(self, t: float) -> None:
        """The rule does not judge the frame at time t (or the run ends): drop running state."""


JudgeFactory = Callable[[Settings], Judge]


@dataclass(frozen=True)
class Rule:
    """One coaching rule: everything about it except its tunable settings.

    `messages` holds every sentence the rule can say, by key; a fault verdict picks one. `views`
    are the camera views whose measurements the rule needs ("unknown" when it also judges frames
    whose view is unknown); the `views` setting narrows them further. `settings_type` is the
    class of its `[rules.<id>]` section, where limits, timing, priority and the guidance
    sentence it enforces live. `lines` are the overlay lines its fault concerns. A `praise` rule
    speaks after a stretch with no fault instead of on a fault.
    """

    id: str
    label: str
    severity: Severity
    messages: Mapping[str, str]
    views: frozenset[ViewName]
    settings_type: type[RuleSettings]
    judge: JudgeFactory
    lines: tuple[OverlayLine, ...] = ()
    needs_person: bool = True
    judges_fallen: bool = False
    praise: bool = False

    def config(self, settings: Settings) -> RuleSettings:
        """This rule's `[rules.<id>]` settings."""
        cfg = getattr(settings.rules, self.id)
        assert isinstance(cfg, self.settings_type)
        return cfg

    def guidance(self, settings: Settings) -> str:
        """The sentence of the guidance that this rule enforces."""
        return self.config(settings).guidance

    def judged_views(self, settings: Settings) -> frozenset[ViewName]:
        """The views the rule judges with these settings: its own, narrowed by the setting."""
        configured = frozenset(self.config(settings).views) | {"unknown"}
        return self.views & configured
