"""Per-frame form metrics from smoothed landmarks: trunk, head, view, direction, frame edge.

Angles are degrees. Sagittal angles (trunk lean, head angle) are positive towards where the
walker faces. Lengths are in leg lengths (hip to ankle) so they need no camera calibration.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

Direction = Literal["backward", "forward", "standing", "turning", "unknown"]
ViewName = Literal["side", "front", "back", "unknown"]


@dataclass
class FrameMetrics:
    """Everything measured in one frame. NaN (or "unknown") where it cannot be measured."""

    frame: int
    time_s: float
    has_person: bool
    view: ViewName
    facing: int                      # +1 faces image right, -1 image left, 0 unknown (side view)
    direction: Direction
    pelvis_speed_leg_s: float        # signed travel along facing: negative = moving backwards
    trunk_lean_deg: float            # side view: mid-hip->mid-shoulder vs vertical, + = towards facing
    trunk_lateral_lean_deg: float    # front/back view: + = towards image right
    head_angle_deg: float            # ear->shoulder line vs vertical, + = forward
    looking_down: bool
    head_turn: float                 # 0 = head faces the body's way, 1 = turned to look behind
    head_turned: bool
    edge_distance_frac: float        # nearest landmark to a frame edge, share of frame size
    fully_in_frame: bool
    leg_length_px: float
    hip_height_frac: float           # mid-hip height above frame bottom, share of frame height
    fallen: bool


METRIC_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(FrameMetrics))
