"""Where the walk happens: overground, or on a treadmill (or walking in place), and handrails.

A walker whose pelvis stays put while the feet keep cycling is on a belt or walks in place
(`FrameMetrics.in_place`); a walker whose two wrists stay nearly still in the image while the
feet cycle holds the handrails (`FrameMetrics.hands_still`). The setting is the majority of the
walking time, over the whole clip offline and over the last few seconds live; a user can state
it instead (`[walk_setting] setting`).
"""

from __future__ import annotations

from collections import deque
from typing import Literal

import numpy as np

from posecoach.coach.metrics import FrameMetrics, MetricsSeries
from posecoach.settings import Settings

WalkSetting = Literal["overground", "treadmill"]
SETTINGS: tuple[WalkSetting, ...] = ("overground", "treadmill")


def _walking(direction: np.ndarray, has_person: np.ndarray) -> np.ndarray:
    return has_person & ((direction == "backward") | (direction == "forward"))


def detect_setting(metrics: MetricsSeries, settings: Settings) -> WalkSetting:
    """The clip's setting: the user's, or treadmill when the pelvis stayed in place for at
    least `treadmill_min_share` of the walking time."""
    ws = settings.walk_setting
    if ws.setting != "auto":
        return ws.setting
    walking = _walking(metrics.direction, metrics.has_person)
    if not walking.any():
        return "overground"
    share = float(np.mean(metrics.in_place[walking]))
    return "treadmill" if share >= ws.treadmill_min_share else "overground"


def handrail_share(metrics: MetricsSeries, setting: WalkSetting) -> float | None:
    """Share of the walking time on a treadmill with both hands still (on the rails).

    None overground or when nobody walked.
    """
    if setting != "treadmill":
        return None
    walking = _walking(metrics.direction, metrics.has_person)
    if not walking.any():
        return None
    return float(np.mean(metrics.hands_still[walking]))


class SettingTracker:
    """The setting measured live, from the frames of the last `live_window_s` seconds only."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._recent: deque[tuple[float, bool, bool]] = deque()
        self.setting: WalkSetting = (settings.walk_setting.setting
                                     if settings.walk_setting.setting != "auto"
                                     else "overground")
        self.on_rails = False

    def update(self, m: FrameMetrics) -> WalkSetting:
        """Take one frame's metrics and return the setting as measured so far."""
        ws = self.settings.walk_setting
        if m.has_person and m.direction in ("backward", "forward"):
            self._recent.append((m.time_s, bool(m.in_place), bool(m.hands_still)))
        while self._recent and m.time_s - self._recent[0][0] > ws.live_window_s:
            self._recent.popleft()
        # half the window of walking is needed before the measured setting changes
        enough = (len(self._recent) >= 2
                  and self._recent[-1][0] - self._recent[0][0] >= 0.5 * ws.live_window_s)
        if ws.setting != "auto":
            self.setting = ws.setting
        elif enough:
            share = sum(r[1] for r in self._recent) / len(self._recent)
            self.setting = "treadmill" if share >= ws.treadmill_min_share else "overground"
        self.on_rails = (self.setting == "treadmill" and enough
                         and sum(r[2] for r in self._recent) / len(self._recent) >= 0.5)
        return self.setting
