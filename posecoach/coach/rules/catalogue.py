"""The coaching rules, in one registry that the engine, the outputs and the web UI all read.

`RULES` lists them in order of precedence (ties between equally urgent cues go to the earlier
rule). Adding a rule: write its judge and `Rule` here and add it to `RULES`, then give it a
settings section (a field of `RulesSettings` in `posecoach/settings.py` and a `[rules.<id>]`
table in `default_config.toml`, which holds its guidance sentence).

How each rule judges a frame:

- fall: the walker has fallen. It and in_frame still judge while the walker is down; posture
  advice to someone on the ground helps nobody.
- in_frame: nobody in view, or the walker at the frame edge. The only rule that judges frames
  without a person, so nobody in view for the whole clip is one in_frame cue.
- trunk_upright, head_up: the trunk lean and the head angle against the level's limits, or, once
  the baseline is collected, their change from the walker's own upright medians. head_up cannot
  judge while the head is turned to look behind (look_back owns that time).
- look_back: a head turn up to `max_glance_s` long is a glance (recorded, never a fault); a turn
  that lasts longer is a fault from that moment on.
- step_length: counts consecutive steps longer than the limit while walking backward; a fault
  once `min_steps` of them follow each other, ok again from the next short step.
- camera_view: a person is present but the view suits neither of the main form checks
  (trunk_upright and step_length). It is how a rule that cannot judge says what to change.
- good_form: praise for a stretch of backward walking with no rule in fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from posecoach.coach.rules.base import (
    ANY_VIEW,
    FRONT_BACK,
    OK,
    SIDE,
    SIDE_FRONT_BACK,
    UNKNOWN,
    Judge,
    JudgeInput,
    Rule,
    Verdict,
    fault,
    finite,
)
from posecoach.settings import (
    GoodFormRule,
    HeadUpRule,
    LookBackRule,
    RuleSettings,
    Settings,
    StepLengthRule,
    TrunkSwayRule,
    TrunkUprightRule,
)

_EPS = 1e-9

# ---------------------------------------------------------------------------- safety


class _FallJudge(Judge):
    def __call__(self, frame: JudgeInput) -> Verdict:
        return fault("fallen") if frame.metrics.fallen else OK


FALL = Rule(
    id="fall",
    label="Fall",
    severity="critical",
    messages={"fallen": "Stop. Are you OK?"},
    views=ANY_VIEW,
    settings_type=RuleSettings,
    judge=_FallJudge,
    judges_fallen=True,
)


class _InFrameJudge(Judge):
    def __call__(self, frame: JudgeInput) -> Verdict:
        m = frame.metrics
        if not m.has_person:
            return fault("out_of_view")
        if m.fully_in_frame:
            return OK
        if finite(m.edge_distance_frac) and m.edge_distance_frac >= 0:
            return fault("at_edge")
        return fault("out_of_view")


IN_FRAME = Rule(
    id="in_frame",
    label="In frame",
    severity="warning",
    messages={
        "out_of_view": "Step back into view",
        "at_edge": "You're near the edge of the frame",
    },
    views=ANY_VIEW,
    settings_type=RuleSettings,
    judge=_InFrameJudge,
    needs_person=False,
    judges_fallen=True,
)

# ---------------------------------------------------------------------------- posture


class _TrunkUprightJudge(Judge):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.cfg = settings.rules.trunk_upright
        self.max_change_deg = settings.baseline.max_trunk_change_deg

    def __call__(self, frame: JudgeInput) -> Verdict:
        m = frame.metrics
        if not finite(m.trunk_lean_deg):
            return UNKNOWN
        forward_deg, backward_deg = self.cfg.max_forward_lean_deg, self.cfg.max_backward_lean_deg
        lean_deg = m.trunk_lean_deg
        if frame.baseline is not None:
            forward_deg = backward_deg = self.max_change_deg
            lean_deg -= frame.baseline.trunk_lean_deg
        if lean_deg > forward_deg:
            return fault("forward")
        if lean_deg < -backward_deg:
            return fault("back")
        return OK


TRUNK_UPRIGHT = Rule(
    id="trunk_upright",
    label="Trunk upright",
    severity="warning",
    messages={"forward": "Stand tall: you're leaning forward", "back": "Don't lean back"},
    views=SIDE,
    settings_type=TrunkUprightRule,
    judge=_TrunkUprightJudge,
    lines=("trunk",),
)


class _TrunkSwayJudge(Judge):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.limit_deg = settings.rules.trunk_sway.max_lateral_lean_deg

    def __call__(self, frame: JudgeInput) -> Verdict:
        lateral_deg = frame.metrics.trunk_lateral_lean_deg
        if not finite(lateral_deg):
            return UNKNOWN
        return fault("sway") if abs(lateral_deg) > self.limit_deg else OK


TRUNK_SWAY = Rule(
    id="trunk_sway",
    label="Trunk sway",
    severity="warning",
    messages={"sway": "Keep your trunk steady; brace your core"},
    views=FRONT_BACK,
    settings_type=TrunkSwayRule,
    judge=_TrunkSwayJudge,
    lines=("trunk",),
)


class _HeadUpJudge(Judge):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.limit_deg = settings.rules.head_up.max_head_angle_deg
        self.max_change_deg = settings.baseline.max_head_change_deg

    def __call__(self, frame: JudgeInput) -> Verdict:
        m = frame.metrics
        if m.head_turned:
            return UNKNOWN
        if m.looking_down:
            return fault("head_up")
        if not finite(m.head_angle_deg):
            return UNKNOWN
        limit_deg, angle_deg = self.limit_deg, m.head_angle_deg
        if frame.baseline is not None:
            limit_deg = self.max_change_deg
            if frame.baseline.head_angle_deg is not None:
                angle_deg -= frame.baseline.head_angle_deg
        return fault("head_up") if angle_deg > limit_deg else OK


HEAD_UP = Rule(
    id="head_up",
    label="Head up",
    severity="warning",
    messages={"head_up": "Head up, eyes forward"},
    views=SIDE_FRONT_BACK,
    settings_type=HeadUpRule,
    judge=_HeadUpJudge,
    lines=("head",),
)


class LookBackJudge(Judge):
    """Times head turns: short ones are glances, a longer one is a fault from then on."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.max_glance_s = settings.rules.look_back.max_glance_s
        self.glances: list[tuple[float, float]] = []
        self._turn_start_s: float | None = None
        self._stared = False

    def __call__(self, frame: JudgeInput) -> Verdict:
        t = frame.metrics.time_s
        if not frame.metrics.head_turned:
            self.stop(t)
            return OK
        if self._turn_start_s is None:
            self._turn_start_s = t
            self._stared = False
        if t - self._turn_start_s > self.max_glance_s + _EPS:
            self._stared = True
            return fault("look_back")
        return OK

    def stop(self, t: float) -> None:
        """End the current head turn at t; a turn that never became a stare is a glance."""
        if self._turn_start_s is not None and not self._stared:
            self.glances.append((self._turn_start_s, t))
        self._turn_start_s = None
        self._stared = False


LOOK_BACK = Rule(
    id="look_back",
    label="Looking back",
    severity="warning",
    messages={"look_back": "Glance back briefly, then face forward"},
    views=SIDE_FRONT_BACK,
    settings_type=LookBackRule,
    judge=LookBackJudge,
    lines=("head",),
)

# ---------------------------------------------------------------------------- steps


class _StepLengthJudge(Judge):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.cfg = settings.rules.step_length
        self._long_steps = 0

    def __call__(self, frame: JudgeInput) -> Verdict:
        if frame.metrics.direction != "backward":
            self._long_steps = 0
            return UNKNOWN
        for step in frame.steps:
            if not finite(step.step_length_leg):
                continue
            if step.step_length_leg > self.cfg.max_step_length_leg:
                self._long_steps += 1
            else:
                self._long_steps = 0
        return fault("shorter") if self._long_steps >= self.cfg.min_steps else OK

    def stop(self, t: float) -> None:
        self._long_steps = 0


STEP_LENGTH = Rule(
    id="step_length",
    label="Step length",
    severity="warning",
    messages={"shorter": "Shorter steps, stay controlled"},
    views=SIDE,
    settings_type=StepLengthRule,
    judge=_StepLengthJudge,
)

# ---------------------------------------------------------------------------- framing


MAIN_CHECKS: tuple[Rule, ...] = (TRUNK_UPRIGHT, STEP_LENGTH)
"""The form checks the camera must suit: camera_view asks to turn when it suits neither."""


class _CameraViewJudge(Judge):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.judging = frozenset().union(*(r.judged_views(settings) for r in MAIN_CHECKS))

    def __call__(self, frame: JudgeInput) -> Verdict:
        return OK if frame.metrics.view in self.judging else fault("turn_sideways")


CAMERA_VIEW = Rule(
    id="camera_view",
    label="Camera view",
    severity="info",
    messages={"turn_sideways": "Turn sideways to the camera so I can see your steps and posture"},
    views=ANY_VIEW,
    settings_type=RuleSettings,
    judge=_CameraViewJudge,
)

# ---------------------------------------------------------------------------- praise


class _GoodFormJudge(Judge):
    """A frame counts towards praise while the walker moves backward (and nothing is faulty)."""

    def __call__(self, frame: JudgeInput) -> Verdict:
        return OK if frame.metrics.direction == "backward" else UNKNOWN


GOOD_FORM = Rule(
    id="good_form",
    label="Good form",
    severity="info",
    messages={
        "great": "Great form, keep it up",
        "upright": "Nice and upright",
        "steady": "Good steady steps",
    },
    views=SIDE,
    settings_type=GoodFormRule,
    judge=_GoodFormJudge,
    praise=True,
)

# ---------------------------------------------------------------------------- the registry


RULES: tuple[Rule, ...] = (
    FALL,
    IN_FRAME,
    TRUNK_UPRIGHT,
    TRUNK_SWAY,
    HEAD_UP,
    LOOK_BACK,
    STEP_LENGTH,
    CAMERA_VIEW,
    GOOD_FORM,
)
RULES_BY_ID: Mapping[str, Rule] = {r.id: r for r in RULES}
RULE_IDS: tuple[str, ...] = tuple(RULES_BY_ID)
RULE_LABELS: Mapping[str, str] = {r.id: r.label for r in RULES}


def rules_for_display() -> list[dict[str, Any]]:
    """What the web UI needs about each rule: id, label, severity, and the overlay lines it
    turns red while its cue is active."""
    return [
        {"id": r.id, "label": r.label, "severity": r.severity, "lines": list(r.lines)}
        for r in RULES
    ]
