"""Body proportions measured from landmarks: the leg length that scales speeds and distances.

Lengths in leg lengths (hip to ankle) need no camera calibration; where no leg is seen whole,
the torso (mid-hip to mid-shoulder) stands in through the typical adult proportion.
"""

from __future__ import annotations

import numpy as np

from posecoach.coach.rolling import nan_to_zero
from posecoach.pose.landmarks import Landmark, V

LEG_PER_TORSO = 1.7  # adult hip-to-ankle length / hip-to-shoulder length

_LEG_CHAINS = np.array([
    [Landmark.LEFT_HIP, Landmark.LEFT_KNEE, Landmark.LEFT_ANKLE],
    [Landmark.RIGHT_HIP, Landmark.RIGHT_KNEE, Landmark.RIGHT_ANKLE],
])


def leg_length_px(points: np.ndarray) -> np.ndarray:
    """Hip->knee + knee->ankle of the better-seen leg (px), NaN where neither leg is whole.

    `points` is (..., 33, 4): one frame or a series. The better-seen leg has the higher mean
    visibility of hip, knee and ankle (missing counts 0); the left one wins a tie. Call under
    `np.errstate(invalid="ignore")`: missing landmarks make NaN lengths on purpose.
    """
    legs = points[..., _LEG_CHAINS, :]                  # (..., left/right, hip/knee/ankle, 4)
    d = legs[..., 1:, :2] - legs[..., :-1, :2]          # thigh, shank
    segment = np.hypot(d[..., 0], d[..., 1])
    length = segment[..., 0] + segment[..., 1]          # (..., 2)
    vis = nan_to_zero(legs[..., V])
    leg_vis = (vis[..., 0] + vis[..., 1] + vis[..., 2]) / 3.0
    leg_vis = np.where(np.isfinite(length), leg_vis, -1.0)
    return np.where(leg_vis[..., 0] >= leg_vis[..., 1], length[..., 0], length[..., 1])
