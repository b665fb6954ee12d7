"""Following the walker among the people the pose model returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from posecoach.pose.landmarks import NUM_LANDMARKS, empty_frame


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



@dataclass
class _ClipTrack:
    """One person linked across a whole clip: the frames seen, their boxes, hips and points."""

    frames: list[int]
    boxes: list[tuple[float, float, float, float]]
    hip_x: list[float]
    points: list[np.ndarray]


def _inside(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """The share of the smaller of two boxes that lies inside the other."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / smaller if smaller > 0 else 0.0


def _distinct_people(people: list[np.ndarray], same_iou: float = 0.6,
                     same_inside: float = 0.9) -> list[np.ndarray]:
    """A frame's people without duplicates: of two whose boxes overlap by `same_iou` or more,
    or one almost wholly inside the other (the model found one person twice, or a part of
    them), the one with the more visible landmarks is kept. The choice depends on the frame
    alone, never on the frames before or after."""
    ranked = sorted((p for p in people if box_of(p) is not None),
                    key=lambda p: (float(np.nansum(p[:, 3])), float(np.nansum(p[:, :2]))),
                    reverse=True)
    kept: list[np.ndarray] = []
    for points in ranked:
        box = box_of(points)
        others = [box_of(k) for k in kept]
        if all(iou(box, o) < same_iou and _inside(box, o) < same_inside  # type: ignore[arg-type]
               for o in others):
            kept.append(points)
    return kept


def _link_tracks(frames_people: Sequence[list[np.ndarray]], time_s: np.ndarray,
                 lost_after_s: float, min_iou: float) -> list[_ClipTrack]:
    """People linked frame to frame by box overlap into tracks (a person unseen for longer
    than `lost_after_s` starts a new track)."""
    tracks: list[_ClipTrack] = []
    for i, people in enumerate(frames_people):
        t = float(time_s[i])
        free = [k for k, tr in enumerate(tracks)
                if t - float(time_s[tr.frames[-1]]) <= lost_after_s]
        for points in _distinct_people(people):
            box = box_of(points)
            if box is None:
                continue
            best = max(free, key=lambda k: iou(tracks[k].boxes[-1], box), default=None)
            if best is None or iou(tracks[best].boxes[-1], box) < min_iou:
                tracks.append(_ClipTrack([], [], [], []))
                best = len(tracks) - 1
            else:
                free.remove(best)
            track = tracks[best]
            track.frames.append(i)
            track.boxes.append(box)
            track.hip_x.append(float((points[23, 0] + points[24, 0]) / 2.0))
            track.points.append(points)
    return tracks


def _track_score(track: _ClipTrack, time_s: np.ndarray, area: float) -> float:
    """How much a track looks like the walker over the whole clip: the sum over its frames of
    its box's share of the picture times a travel factor, 0.25 + 4 x its mean horizontal
    speed in body heights per second (capped at 1.5), the hips smoothed over about half a
    second so that jitter in place does not count as travel. Sums and path lengths read the
    same whichever way the clip plays."""
    boxes = np.array(track.boxes)
    shares = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) / area
    body_h = max(float(np.median(boxes[:, 3] - boxes[:, 1])), 1.0)
    times = time_s[np.array(track.frames)]
    span_s = float(times[-1] - times[0])
    hips = np.array(track.hip_x)
    hips = hips[np.isfinite(hips)]
    speed = 0.0
    if span_s > 0 and hips.size >= 2:
        fps = (len(track.frames) - 1) / span_s
        width = max(1, min(hips.size, int(round(0.5 * fps))))
        smooth = np.convolve(hips, np.ones(width) / width, mode="valid")
        travel = float(np.abs(np.diff(smooth)).sum()) if smooth.size >= 2 else 0.0
        speed = min(travel / body_h / span_s, 1.5)
    return float(shares.sum()) * (0.25 + 4.0 * speed)


def follow_walker_offline(frames_people: Sequence[list[np.ndarray]], time_s: np.ndarray,
                          width: int, height: int, lost_after_s: float = 1.0,
                          min_iou: float = 0.2, min_height_frac: float = 0.05) -> np.ndarray:
    """The walker's (T, 33, 4) landmarks over a whole recorded clip, chosen with hindsight.

    `WalkerTracker` must choose as frames arrive, so which person it follows can depend on who
    was seen first: a clip and the same clip played backwards could follow different people.
    Offline the whole clip is known. People are linked into tracks by box overlap, every track
    is scored over all its frames (`_track_score`: largest, present longest, travelling most),
    and each frame's walker is the best-scoring plausible person in it (one whose landmarks
    span at least `min_height_frac` of the frame height, or anyone when nobody does). The
    choice reads the same whichever way the clip plays.
    """
    time_s = np.asarray(time_s, dtype=float)
    out = np.full((len(frames_people), NUM_LANDMARKS, 4), np.nan)
    tracks = _link_tracks(frames_people, time_s, lost_after_s, min_iou)
    area = float(width * height) or 1.0
    scores = [_track_score(tr, time_s, area) for tr in tracks]
    best_score = np.full(len(frames_people), -np.inf)
    best_plausible = np.zeros(len(frames_people), dtype=bool)
    for track, score in zip(tracks, scores, strict=True):
        for frame, box, points in zip(track.frames, track.boxes, track.points, strict=True):
            plausible = box[3] - box[1] >= min_height_frac * max(height, 1)
            if (plausible, score) > (bool(best_plausible[frame]), float(best_score[frame])):
                best_plausible[frame], best_score[frame] = plausible, score
                out[frame] = points
    return out
