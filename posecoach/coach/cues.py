"""Cues: what posecoach tells the walker, each tied to the guidance it enforces."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["info", "warning", "critical"]


@dataclass
class Cue:
    """One coaching cue over an interval of the clip or session.

    `rule` is the id of a rule in `posecoach.coach.rules.RULES`. `message` is short enough to be
    spoken. `end_s` is None while a live cue is still active. `guidance` quotes the sentence of
    the guidance that the rule enforces.
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
