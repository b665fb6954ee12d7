"""Gait from side-view landmarks: events, steps, step length, cadence, speed, symmetry.

Backward gait reverses the contact pattern: the toes reach the ground first and the heel leaves
it last, and the feet point away from the direction of travel. Events therefore come from the
foot's position along the direction of travel relative to the pelvis (after Zeni 2008), with the
travel direction taken from the pelvis, never from the feet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Side = Literal["left", "right"]
EventKind = Literal["toe_contact", "heel_contact", "heel_off", "toe_off"]


@dataclass
class GaitEvent:
    time_s: float
    frame: int
    side: Side
    kind: EventKind


@dataclass
class Step:
    """One step: the moment the two feet are furthest apart along the walk."""

    time_s: float
    frame: int
    side: Side                      # the foot that lands (leads in the direction of travel)
    step_length_leg: float          # ankle separation / leg length
    step_length_m: float | None     # needs the walker's height
    step_time_s: float | None       # time since the previous step


@dataclass
class GaitSummary:
    steps: list[Step]
    events: list[GaitEvent]
    cadence_spm: float | None
    step_length_leg: float | None           # median
    step_length_m: float | None
    step_time_s: float | None               # median
    speed_leg_s: float | None               # median walking speed while walking
    speed_m_s: float | None
    step_length_symmetry: float | None      # min(left, right) / max(left, right), 1 = symmetric
    step_time_symmetry: float | None
    leg_length_px: float | None
