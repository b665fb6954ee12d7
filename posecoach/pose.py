"""Pose estimation with the MediaPipe Tasks pose landmarker, and choosing the walker.

The landmarker runs in VIDEO mode (it tracks between frames) and follows up to
`settings.pose.num_poses` people. Each extra person it looks for costs about as much again per
frame, even when nobody else is there, so while one person is in view `PoseEstimator` follows
just them and checks for others every `settings.pose.people_check_s` seconds; once it sees a
second person it follows up to `num_poses` for the rest of the clip. `WalkerTracker` then keeps
following one person: the walker is the largest, most persistent track. See `WalkerTracker` for
the exact rule.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .landmarks import NUM_LANDMARKS, empty_frame
from .settings import Settings

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
DEFAULT_MODEL = MODELS_DIR / "pose_landmarker_full.task"


_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_stderr_fd: int | None = None


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence the C++ start-up chatter MediaPipe and TFLite print straight to file descriptor 2.

    The redirect is process-wide, so overlapping uses (a landmarker loading on another thread)
    share it: the first one in redirects, the last one out restores.
    """
    global _quiet_depth, _saved_stderr_fd
    if os.environ.get("POSECOACH_DEBUG"):
        yield
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    with _quiet_lock:
        if _quiet_depth == 0:
            sys.stderr.flush()
            _saved_stderr_fd = os.dup(fd)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _saved_stderr_fd is not None:
                os.dup2(_saved_stderr_fd, fd)
                os.close(_saved_stderr_fd)
                _saved_stderr_fd = None


MIN_TORSO_SHARE = 0.2


def plausible_body(points: np.ndarray, min_torso_share: float = MIN_TORSO_SHARE) -> bool:
    """False when the torso is implausibly short for the detection's size.

    The model now and then fits a skeleton to furniture (a small table, a lamp) with a torso a
    few pixels long; a real person's shoulder-to-hip distance is at least about a fifth of their
    extent in the image, in any view.
    """
    xy = points[:, :2]
    ok = np.isfinite(xy).all(axis=1)
    if not ok[[11, 12, 23, 24]].all():
        return True
    torso = float(np.linalg.norm((xy[11] + xy[12]) / 2 - (xy[23] + xy[24]) / 2))
    span = float(np.max(np.ptp(xy[ok], axis=0)))
    return span > 0 and torso >= min_torso_share * span


class PoseModelError(RuntimeError):
    """The pose model cannot be found or loaded."""


def resolve_model(name: str = "auto") -> Path:
    """Find the model bundle: "auto", a path, or a name such as "heavy" in `models/`.

    "auto" builds the bundle from the mediapipe wheel if it is not there yet (no download).
    """
    if name in ("", "auto"):
        if not DEFAULT_MODEL.is_file():
            from .model_bundle import build_bundle

            build_bundle(DEFAULT_MODEL)
        return DEFAULT_MODEL
    path = Path(name).expanduser()
    candidates = [path, MODELS_DIR / name, MODELS_DIR / f"pose_landmarker_{name}.task"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    available = ", ".join(sorted(p.name for p in MODELS_DIR.glob("*.task"))) or "none"
    raise PoseModelError(f"pose model {name!r} not found (models available: {available})")


class PoseEstimator:
    """Runs the pose landmarker on RGB frames and returns every person's landmarks in pixels.

    With `num_poses` > 1 and `people_check_s` > 0 it follows one person and keeps a second
    landmarker for up to `num_poses` people, fed one frame every `people_check_s` seconds (it
    is created on a background thread, so its loading overlaps the first frames). When a check
    sees more than one distinct person, that landmarker takes over for the rest of the clip and
    `crowded` becomes True.
    """

    def __init__(
        self, settings: Settings, model: str | None = None, num_poses: int | None = None,
        people_check_s: float | None = None,
    ) -> None:
        with _quiet_native_stderr():
            import mediapipe as mp
            from mediapipe.tasks.python import vision

        self._mp = mp
        self._vision = vision
        self._settings = settings.pose
        self.model_path = resolve_model(model or settings.pose.model)
        self.num_poses = num_poses or settings.pose.num_poses
        check_s = settings.pose.people_check_s if people_check_s is None else people_check_s
        self.people_check_s = check_s if self.num_poses > 1 else 0.0
        self.crowded = self.people_check_s <= 0
        self._checker: Any = None
        self._checker_error: BaseException | None = None
        self._checker_thread: threading.Thread | None = None
        if not self.crowded:
            self._checker_thread = threading.Thread(
                target=self._load_checker, name="posecoach-people-check", daemon=True
            )
            self._checker_thread.start()
        try:
            self._landmarker = self._create(1 if not self.crowded else self.num_poses)
        except BaseException:
            self._close_checker()
            raise
        self._next_check_s = -math.inf
        self._last_ms = -1
        self._calls = 0

    def _create(self, num_poses: int) -> Any:
        from mediapipe.tasks.python import BaseOptions

        pose = self._settings
        options = self._vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=self._vision.RunningMode.VIDEO,
            num_poses=num_poses,
            min_pose_detection_confidence=pose.min_detection_confidence,
            min_tracking_confidence=pose.min_tracking_confidence,
        )
        try:
            with _quiet_native_stderr():
                return self._vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise PoseModelError(f"cannot load pose model {self.model_path}: {exc}") from exc

    def _load_checker(self) -> None:
        try:
            self._checker = self._create(self.num_poses)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            self._checker_error = exc

    def _run(self, landmarker: Any, image: Any, ms: int, shape: tuple[int, ...],
             quiet: bool) -> list[np.ndarray]:
        if quiet:
            with _quiet_native_stderr():
                return _people(landmarker.detect_for_video(image, ms), shape)
        return _people(landmarker.detect_for_video(image, ms), shape)

    def detect(self, image_rgb: np.ndarray, time_s: float) -> list[np.ndarray]:
        """Landmarks of each person found: a list of (33, 4) arrays (x_px, y_px, z, visibility).

        Detections whose body proportions are not a person's (`plausible_body`) are dropped.
        """
        ms = max(self._last_ms + 1, int(round(time_s * 1000.0)))
        self._last_ms = ms
        image = self._mp.Image(
            image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(image_rgb)
        )
        if not self.crowded and time_s >= self._next_check_s:
            self._next_check_s = time_s + self.people_check_s
            checker = self._people_checker()
            # the multi-person pass logs native warnings now and then: keep them off the console
            everyone = self._run(checker, image, ms, image_rgb.shape, quiet=True)
            if distinct_people(everyone) > 1:
                self._landmarker.close()
                self._landmarker, self._checker = checker, None
                self.crowded = True
                return everyone
        people = self._run(self._landmarker, image, ms, image_rgb.shape, self._calls < 2)
        self._calls += 1
        return people

    def _people_checker(self) -> Any:
        if self._checker_thread is not None:
            self._checker_thread.join()
            self._checker_thread = None
        if self._checker_error is not None:
            raise self._checker_error
        return self._checker

    def close(self) -> None:
        self._landmarker.close()
        self._close_checker()

    def _close_checker(self) -> None:
        if self._checker_thread is not None:
            self._checker_thread.join()
            self._checker_thread = None
        if self._checker is not None:
            self._checker.close()
            self._checker = None

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def distinct_people(people: list[np.ndarray], max_iou: float = 0.3) -> int:
    """How many of `people` are separate persons (boxes overlapping less than `max_iou`)."""
    boxes: list[tuple[float, float, float, float]] = []
    for points in people:
        box = _box(points)
        if box is not None and all(_iou(box, other) < max_iou for other in boxes):
            boxes.append(box)
    return len(boxes)


def _people(result: Any, shape: tuple[int, ...]) -> list[np.ndarray]:
    """The plausible people of a landmarker result, as (33, 4) arrays in pixels."""
    height, width = shape[:2]
    people = []
    for pose in result.pose_landmarks:
        pts = np.array([(lm.x, lm.y, lm.z, lm.visibility) for lm in pose], dtype=np.float64)
        if pts.shape != (NUM_LANDMARKS, 4):
            continue
        pts[:, 0] *= width
        pts[:, 1] *= height
        pts[:, 2] *= width
        if plausible_body(pts):
            people.append(pts)
    return people


def _box(points: np.ndarray) -> tuple[float, float, float, float] | None:
    xy = points[:, :2][np.isfinite(points[:, 0])]
    if xy.size == 0:
        return None
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
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
    walker is kept while seen; once lost for `lost_after_s`, or when another person present has
    scored 1.5 times as much, the walker becomes the highest-scoring person present.
    """

    def __init__(self, lost_after_s: float = 1.0, min_iou: float = 0.2,
                 half_life_s: float = 10.0) -> None:
        self.lost_after_s = lost_after_s
        self.min_iou = min_iou
        self.half_life_s = half_life_s
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
            box = _box(points)
            if box is None:
                continue
            best = max(free, key=lambda t: _iou(t.box, box), default=None)
            if best is None or _iou(best.box, box) < self.min_iou:
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
        walker = next((t for t in self._tracks if t.track_id == self.walker_id), None)
        walker_lost = walker is None or time_s - walker.last_seen_s > self.lost_after_s
        outscored = walker is not None and any(
            t.track_id in present and t.score > 1.5 * walker.score for t in self._tracks
        )
        if (walker_lost or outscored) and present:
            best = max(
                (t for t in self._tracks if t.track_id in present), key=lambda t: t.score
            )
            self.walker_id = best.track_id
        if self.walker_id in present:
            return present[self.walker_id]
        return empty_frame()
