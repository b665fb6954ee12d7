"""Following the walker among the people the pose model returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posecoach.pose.landmarks import empty_frame


def box_of(points: np.ndarray) -> tuple[float, float, float, float] | None:
    xy = points[:, :2][np.isfinite(points[:, 0])]
    if xy.size == 0:
        return None
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class _Track:
    track_id: int
    box: tuple[float, float, float, float]
    last_seen_s: float
    score: float = 0.0  # decayed sum of (box area share x travel factor) over frames seen
    speed_h_s: float = 0.0  # smoothed horizontal hip speed, body heights per second
    hip_x: float = float("nan")


class WalkerTracker:
    """Follows the walker among the people the model returns.

    People are linked frame to frame into tracks by box overlap. Every frame it is seen, a track
    gains its box area (as a share of the frame) times a travel factor, 0.25 + 4 x the horizontal
    speed of its hips in body heights per second (capped), and all scores decay with a half-life of
    `half_life_s`. So the walker is the largest, most persistent person who travels: a large
    bystander standing still or jumping in place scores less than the person walking. The current
    walker is kept while seen. When the walker is not seen and exactly one plausible person is
    (the walker stepped back in elsewhere, or came out from behind something), that person is
    followed at once; should the old walker reappear within `lost_after_s`, the old walker is
    followed again. With several people in view and the walker unseen, it waits `lost_after_s`
    before choosing: then, or when another person present has scored 1.5 times as much, the
    walker becomes the highest-scoring person present.
    """

    def __init__(self, lost_after_s: float = 1.0, min_iou: float = 0.2,
                 half_life_s: float = 10.0, min_height_frac: float = 0.05) -> None:
        self.lost_after_s = lost_after_s
        self.min_iou = min_iou
        self.half_life_s = half_life_s
        # A person whose landmarks span less than this share of the frame height is too small to
        # be taken for the walker without a choice between several people.
        self.min_height_frac = min_height_frac
        self._stand_in_for: int | None = None  # the lost walker a lone person is standing in for
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._last_time_s: float | None = None
        self.walker_id: int | None = None

    def update(
        self, people: list[np.ndarray], time_s: float, width: int, height: int
    ) -> np.ndarray:
        """Return the walker's (33, 4) landmarks for this frame, or an all-NaN frame."""
        area = float(width * height) or 1.0
        if self._last_time_s is not None:
            decay = 0.5 ** (max(0.0, time_s - self._last_time_s) / self.half_life_s)
            for track in self._tracks:
                track.score *= decay
        self._last_time_s = time_s
        present: dict[int, np.ndarray] = {}
        recent = [t for t in self._tracks if time_s - t.last_seen_s <= self.lost_after_s]
        free = sorted(recent, key=lambda t: t.last_seen_s, reverse=True)
        for points in people:
            box = box_of(points)
            if box is None:
                continue
            best = max(free, key=lambda t: iou(t.box, box), default=None)
            if best is None or iou(best.box, box) < self.min_iou:
                best = _Track(self._next_id, box, time_s)
                self._next_id += 1
                self._tracks.append(best)
            else:
                free.remove(best)
                dt = time_s - best.last_seen_s
                body_h = max(box[3] - box[1], 1.0)
                hip_x = float((points[23, 0] + points[24, 0]) / 2.0)
                if dt > 0 and np.isfinite(hip_x) and np.isfinite(best.hip_x):
                    speed = min(abs(hip_x - best.hip_x) / dt / body_h, 1.5)
                    best.speed_h_s += 0.2 * (speed - best.speed_h_s)
            best.box, best.last_seen_s = box, time_s
            best.hip_x = float((points[23, 0] + points[24, 0]) / 2.0)
            box_share = (box[2] - box[0]) * (box[3] - box[1]) / area
            best.score += box_share * (0.25 + 4.0 * best.speed_h_s)
            present[best.track_id] = points
        self._tracks = [t for t in self._tracks if time_s - t.last_seen_s <= 10 * self.lost_after_s]
        self._return_to_lost_walker(present, time_s)
        walker = next((t for t in self._tracks if t.track_id == self.walker_id), None)
        walker_lost = walker is None or time_s - walker.last_seen_s > self.lost_after_s
        outscored = walker is not None and any(
            t.track_id in present and t.score > 1.5 * walker.score for t in self._tracks
        )
        lone = self._lone_person(present, height)
        if walker is not None and self.walker_id not in present and lone is not None:
            if not walker_lost:
                self._stand_in_for = self.walker_id
            self.walker_id = lone
        elif (walker_lost or outscored) and present:
            best = max(
                (t for t in self._tracks if t.track_id in present), key=lambda t: t.score
            )
            self.walker_id = best.track_id
        if self.walker_id in present:
            return present[self.walker_id]
        return empty_frame()

    def _lone_person(self, present: dict[int, np.ndarray], height: int) -> int | None:
        """The track of the one plausible person in view, or None with nobody or several."""
        plausible = []
        for track in self._tracks:
            if track.track_id in present:
                box_h = track.box[3] - track.box[1]
                if box_h >= self.min_height_frac * max(height, 1):
                    plausible.append(track.track_id)
        return plausible[0] if len(plausible) == 1 else None

    def _return_to_lost_walker(self, present: dict[int, np.ndarray], time_s: float) -> None:
        """Follow the old walker again if seen soon after a lone person was taken in their place."""
        if self._stand_in_for is None:
            return
        old = next((t for t in self._tracks if t.track_id == self._stand_in_for), None)
        if old is None or time_s - old.last_seen_s > self.lost_after_s:
            self._stand_in_for = None
        elif old.track_id in present and old.last_seen_s == time_s:
            self.walker_id = old.track_id
            self._stand_in_for = None
