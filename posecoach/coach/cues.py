"""Cues: what posecoach tells the walker, each tied to the guidance it enforces."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["info", "warning", "critical"]

RULE_IDS = (
    "fall",
    "in_frame",
    "trunk_upright",
    "trunk_sway",
    "head_up",
    "look_back",
    "step_length",
    "camera_view",
    "good_form",
)


@dataclass
class Cue:
    """One coaching cue over an interval of the clip or session.

    `message` is short enough to be spoken. `end_s` is None while a live cue is still active.
    `guidance` quotes the sentence of the guidance that the rule enforces.
    """

    rule: str
    message: str
    severity: Severity
    start_s: float
    end_s: float | None
    guidance: str
    priority: int = 5

    def to_dict(self) -> dict:
        return asdict(self)
