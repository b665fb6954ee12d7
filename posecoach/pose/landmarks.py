"""Pose landmarks: MediaPipe's 33-point body model as typed numpy arrays.

Every later stage (smoothing, metrics, gait, overlay, CSV export) reads landmarks through
`PoseSeries` (a clip) or `PoseFrame` (one frame). Coordinates are image pixels with y pointing
down, z is the model's relative depth, and visibility is 0..1. A frame where nobody was found
holds NaN in every cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

NUM_LANDMARKS = 33
X, Y, Z, V = 0, 1, 2, 3  # channels of the last axis


class Landmark(IntEnum):
    """Indices of MediaPipe's pose landmarks."""

    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


L = Landmark

# Left/right pairs, used to mirror labels when the model swaps the legs.
LEFT_RIGHT_PAIRS: tuple[tuple[int, int], ...] = (
    (L.LEFT_EYE_INNER, L.RIGHT_EYE_INNER),
    (L.LEFT_EYE, L.RIGHT_EYE),
    (L.LEFT_EYE_OUTER, L.RIGHT_EYE_OUTER),
    (L.LEFT_EAR, L.RIGHT_EAR),
    (L.MOUTH_LEFT, L.MOUTH_RIGHT),
    (L.LEFT_SHOULDER, L.RIGHT_SHOULDER),
    (L.LEFT_ELBOW, L.RIGHT_ELBOW),
    (L.LEFT_WRIST, L.RIGHT_WRIST),
    (L.LEFT_PINKY, L.RIGHT_PINKY),
    (L.LEFT_INDEX, L.RIGHT_INDEX),
    (L.LEFT_THUMB, L.RIGHT_THUMB),
    (L.LEFT_HIP, L.RIGHT_HIP),
    (L.LEFT_KNEE, L.RIGHT_KNEE),
    (L.LEFT_ANKLE, L.RIGHT_ANKLE),
    (L.LEFT_HEEL, L.RIGHT_HEEL),
    (L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX),
)

LEG_PAIRS: tuple[tuple[int, int], ...] = (
    (L.LEFT_KNEE, L.RIGHT_KNEE),
    (L.LEFT_ANKLE, L.RIGHT_ANKLE),
    (L.LEFT_HEEL, L.RIGHT_HEEL),
    (L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX),
)

# Skeleton edges for drawing.
SKELETON_EDGES: tuple[tuple[int, int], ...] = (
    (L.LEFT_SHOULDER, L.RIGHT_SHOULDER),
    (L.LEFT_SHOULDER, L.LEFT_ELBOW),
    (L.LEFT_ELBOW, L.LEFT_WRIST),
    (L.RIGHT_SHOULDER, L.RIGHT_ELBOW),
    (L.RIGHT_ELBOW, L.RIGHT_WRIST),
    (L.LEFT_SHOULDER, L.LEFT_HIP),
    (L.RIGHT_SHOULDER, L.RIGHT_HIP),
    (L.LEFT_HIP, L.RIGHT_HIP),
    (L.LEFT_HIP, L.LEFT_KNEE),
    (L.LEFT_KNEE, L.LEFT_ANKLE),
    (L.LEFT_ANKLE, L.LEFT_HEEL),
    (L.LEFT_HEEL, L.LEFT_FOOT_INDEX),
    (L.LEFT_ANKLE, L.LEFT_FOOT_INDEX),
    (L.RIGHT_HIP, L.RIGHT_KNEE),
    (L.RIGHT_KNEE, L.RIGHT_ANKLE),
    (L.RIGHT_ANKLE, L.RIGHT_HEEL),
    (L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX),
    (L.RIGHT_ANKLE, L.RIGHT_FOOT_INDEX),
)


def median_frame_interval_s(time_s: np.ndarray) -> float:
    """Median spacing of increasing timestamps, repeats skipped (0 with fewer than two distinct).

    `np.median` of the positive intervals, by one sort: a live caller asks for it every frame.
    """
    dt = time_s[1:] - time_s[:-1]
    ordered = np.sort(dt[dt > 0])
    k = len(ordered)
    if k == 0:
        return 0.0
    return float(0.5 * (ordered[(k - 1) // 2] + ordered[k // 2]))


def empty_frame() -> np.ndarray:
    """A (33, 4) landmark array for a frame with nobody in it (all NaN)."""
    return np.full((NUM_LANDMARKS, 4), np.nan, dtype=np.float64)


@dataclass
class PoseFrame:
    """The walker's landmarks in one frame.

    `points` has shape (33, 4): x_px, y_px, z, visibility. All NaN when nobody was found.
    """

    index: int
    time_s: float
    width: int
    height: int
    points: np.ndarray

    def __post_init__(self) -> None:
        if self.points.shape != (NUM_LANDMARKS, 4):
            raise ValueError(f"points must have shape (33, 4), got {self.points.shape}")

    @property
    def has_person(self) -> bool:
        return bool(np.isfinite(self.points[:, X]).any())


@dataclass
class PoseSeries:
    """The walker's landmarks over a whole clip.

    `points` has shape (T, 33, 4); `time_s` has shape (T,), strictly increasing seconds from the
    clip's start (taken from timestamps, so variable frame rates are honoured).
    """

    time_s: np.ndarray
    points: np.ndarray
    width: int
    height: int
    frame_index: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.time_s = np.asarray(self.time_s, dtype=np.float64)
        self.points = np.asarray(self.points, dtype=np.float64)
        if self.points.ndim != 3 or self.points.shape[1:] != (NUM_LANDMARKS, 4):
            raise ValueError(f"points must have shape (T, 33, 4), got {self.points.shape}")
        if self.time_s.shape != (self.points.shape[0],):
            raise ValueError("time_s must have one entry per frame")
        if self.frame_index is None:
            self.frame_index = np.arange(len(self.time_s))
        if self.width <= 0 or self.height <= 0:
            raise ValueError("frame width and height must be positive")

    def __len__(self) -> int:
        return int(self.points.shape[0])

    @property
    def median_frame_interval_s(self) -> float:
        """Median time between frames (0 for fewer than two distinct timestamps)."""
        return median_frame_interval_s(self.time_s)

    @property
    def fps(self) -> float:
        """Median frame rate from the timestamps (0 for fewer than two distinct timestamps)."""
        dt_s = median_frame_interval_s(self.time_s)
        return 1.0 / dt_s if dt_s > 0 else 0.0

    @property
    def has_person(self) -> np.ndarray:
        """(T,) bool: whether the walker was found in each frame."""
        return np.isfinite(self.points[:, :, X]).any(axis=1)

    def frame(self, i: int) -> PoseFrame:
        return PoseFrame(
            int(self.frame_index[i]), float(self.time_s[i]), self.width, self.height, self.points[i]
        )

    @classmethod
    def from_frames(cls, frames: list[PoseFrame]) -> PoseSeries:
        if not frames:
            raise ValueError("no frames")
        return cls(
            time_s=np.array([f.time_s for f in frames]),
            points=np.stack([f.points for f in frames]),
            width=frames[0].width,
            height=frames[0].height,
            frame_index=np.array([f.index for f in frames]),
        )
