"""The frame rates posecoach believes, and the one it counts at when a clip gives none.

Windows, plot ticks, the annotated clip and a frame's duration all need a rate. A rate
measured from timestamps or stated by a container is used when it is usable; otherwise every
part of posecoach falls back to the same `DEFAULT_FPS`.
"""

from __future__ import annotations

import math

MIN_FPS = 0.5
MAX_FPS = 1000.0
DEFAULT_FPS = 30.0
REL_TOL = 1e-6  # float noise allowed at the limits, so a clean time line stays unchanged


def is_camera_rate(fps: float | None) -> bool:
    """Whether `fps` frames per second is a rate cameras make (0.5 to 1,000)."""
    return (
        fps is not None
        and math.isfinite(fps)
        and MIN_FPS * (1 - REL_TOL) <= fps <= MAX_FPS * (1 + REL_TOL)
    )


def fps_or_default(fps: float | None, camera_only: bool = False) -> float:
    """`fps` when it is a rate to work with, else `DEFAULT_FPS`.

    A rate is usable when it is finite and above zero; with `camera_only` it must also be one
    cameras make (`is_camera_rate`), as when timestamps were not believed and frames are
    counted at the container's stated rate.
    """
    if fps is None or not math.isfinite(fps) or fps <= 0:
        return DEFAULT_FPS
    if camera_only and not is_camera_rate(fps):
        return DEFAULT_FPS
    return float(fps)
