"""`BlazePose`: BlazePose on LiteRT or OpenVINO, following each person from frame to frame.

A person found once is followed by the landmark model alone: each frame's alignment points give
the next frame's region, and a person whose presence drops below `min_presence` is let go. The
detector runs when nobody is followed, and every `people_check_s` seconds while fewer than
`num_poses` people are followed, so newcomers are picked up; once two people have been seen at
once (`crowded`) it runs on every frame with fewer than `num_poses` people, as MediaPipe does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posecoach.pose.backend import distinct_people
from posecoach.pose.blazepose.detector import PersonDetector, iou
from posecoach.pose.blazepose.filters import LandmarkSmoother
from posecoach.pose.blazepose.landmarker import Landmarker, LandmarkResult
from posecoach.pose.blazepose.roi import Roi, alignment_roi
from posecoach.pose.blazepose.runtime_io import LITERT, Runtime

# MediaPipe's video-mode smoothing: a One Euro filter on the points (minimum cutoff Hz, speed
# coefficient, derivative cutoff Hz) and a low-pass filter on visibility. The next region comes
# from the unsmoothed alignment points.
LANDMARK_FILTER = (0.05, 80.0, 1.0)
VISIBILITY_ALPHA = 0.1
# the presence a person needs to be kept (MediaPipe's default)
MIN_PRESENCE = 0.5
# two followed people overlapping this much have merged into one
MERGED_IOU = 0.5


def points_box(points: np.ndarray) -> tuple[float, float, float, float] | None:
    xy = points[:, :2][np.isfinite(points[:, :2]).all(axis=1)]
    if len(xy) == 0:
        return None
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def upright_iou(a: Roi, b: Roi) -> float:
    """Overlap of two regions' rectangles, rotation ignored."""
    def box(r: Roi) -> tuple[float, float, float, float]:
        return (r.cx_px - r.width_px / 2, r.cy_px - r.height_px / 2,
                r.cx_px + r.width_px / 2, r.cy_px + r.height_px / 2)
    return iou(box(a), box(b))


@dataclass
class _Track:
    roi: Roi
    smoother: LandmarkSmoother = field(default_factory=lambda: LandmarkSmoother(*LANDMARK_FILTER))
    presence: float = 0.0
    points: np.ndarray | None = None


class BlazePose:
    """Every person's landmarks, (33, 4) arrays in pixels, frame after frame.

    `runtime` says which engine runs the two models (LiteRT, or OpenVINO at f32 or bf16).

    `min_tracking` is how much (intersection over union) a detection must overlap a followed
    person's region to be that person; `min_presence` the presence a person needs to be kept.
    `threads_now`, when given, says on each frame how many of `num_threads` the landmark model
    may use (cores shared with other models running at once); a landmark model is loaded for
    each thread count asked for.
    """

    def __init__(self, detector_path: Path, landmark_path: Path, num_threads: int,
                 num_poses: int = 1, people_check_s: float = 0.5, min_detection: float = 0.5,
                 min_tracking: float = 0.5, min_presence: float = MIN_PRESENCE,
                 smooth: bool = True, threads_now: Callable[[], int] | None = None,
                 runtime: Runtime = LITERT) -> None:
        self.runtime = runtime
        self._detector = PersonDetector(detector_path, num_threads, min_detection, runtime)
        self._landmark_path = landmark_path
        self._threads_now = threads_now
        self.threads = max(1, num_threads)
        self._landmarkers = {self.threads: Landmarker(landmark_path, self.threads, runtime)}
        self._landmarker = self._landmarkers[self.threads]
        self.num_poses = max(1, num_poses)
        self.people_check_s = people_check_s
        self.min_tracking = min_tracking
        self.min_presence = min_presence
        self.smooth = smooth
        self._tracks: list[_Track] = []
        self._next_check_s = -math.inf
        self._frame_shape: tuple[int, ...] = ()
        # following up to num_poses people, looked for on every frame, from the first
        # frame or from when a second person is seen
        self.crowded = self.num_poses > 1 and people_check_s <= 0

    def detect(self, image_rgb: np.ndarray, time_s: float) -> list[np.ndarray]:
        if image_rgb.shape[:2] != self._frame_shape:
            # regions are in the previous frame's pixels: a new frame size starts afresh
            self._frame_shape = image_rgb.shape[:2]
            self._tracks = []
        self._landmarker = self._landmarker_now()
        tracks = list(self._tracks)
        due = self.num_poses > 1 and (self.crowded or time_s >= self._next_check_s)
        if not tracks or (due and len(tracks) < self.num_poses):
            if due and not self.crowded:
                self._next_check_s = time_s + self.people_check_s
            tracks = self._with_detections(image_rgb, tracks)
        followed = []
        for track in tracks:
            result = self._landmarker.run(image_rgb, track.roi)
            if result.presence >= self.min_presence and self._update(track, result, time_s):
                followed.append(track)
        self._tracks = self._without_duplicates(followed)
        people = [t.points.copy() for t in self._tracks if t.points is not None]
        if not self.crowded and self.num_poses > 1 and distinct_people(people) > 1:
            self.crowded = True
        return people

    def _landmarker_now(self) -> Landmarker:
        """The landmark model for the threads this frame may use."""
        if self._threads_now is None:
            return self._landmarker
        threads = min(self.threads, max(1, self._threads_now()))
        if threads not in self._landmarkers:
            self._landmarkers[threads] = Landmarker(self._landmark_path, threads, self.runtime)
        return self._landmarkers[threads]

    def _with_detections(self, image_rgb: np.ndarray, tracks: list[_Track]) -> list[_Track]:
        """The followed people plus newcomers the detector finds, up to `num_poses`.

        A detection of someone already followed is that person: while following several
        people its region replaces the one carried over from the last frame.
        """
        for det in self._detector.detect(image_rgb, self.num_poses):
            roi = det.roi()
            if roi is None:
                continue
            same = [t for t in tracks if upright_iou(t.roi, roi) > self.min_tracking]
            if same:
                if self.crowded:
                    same[0].roi = roi
            elif len(tracks) < self.num_poses:
                tracks.append(_Track(roi))
        return tracks

    def _update(self, track: _Track, result: LandmarkResult, time_s: float) -> bool:
        """Smooth the new points and set the next region; False when the region collapses."""
        scale_px = (track.roi.width_px + track.roi.height_px) / 2
        points = result.points.copy()
        alignment = result.alignment_px
        if self.smooth:
            points[:, :3] = track.smoother.apply(points[:, :3], time_s, scale_px)
            if track.points is not None:
                points[:, 3] = (VISIBILITY_ALPHA * points[:, 3]
                                + (1 - VISIBILITY_ALPHA) * track.points[:, 3])
        roi = alignment_roi(alignment[0], alignment[1])
        if roi is None or not np.isfinite(points[:, :2]).all():
            return False
        track.roi, track.presence, track.points = roi, result.presence, points
        return True

    @staticmethod
    def _without_duplicates(tracks: list[_Track]) -> list[_Track]:
        kept: list[_Track] = []
        for track in sorted(tracks, key=lambda t: -t.presence):
            box = points_box(track.points) if track.points is not None else None
            if box is None:
                continue
            if all(iou(box, b) <= MERGED_IOU for b in
                   (points_box(k.points) for k in kept if k.points is not None) if b is not None):
                kept.append(track)
        # keep the order people were found in, so the first person stays first
        return [t for t in tracks if any(t is k for k in kept)]

    def close(self) -> None:
        self._tracks = []
        self._landmarker = self._landmarkers[self.threads]
        self._landmarkers = {self.threads: self._landmarker}


LiteRTPose = BlazePose
"""The name this class had while LiteRT was its only engine."""
