"""The MediaPipe Tasks pose landmarker as a pose backend (`--pose-backend mediapipe`).

The landmarker runs in VIDEO mode (it tracks between frames) and follows up to `num_poses`
people. Each extra person it looks for costs about as much again per frame, even when nobody
else is there, so while one person is in view it follows just them and checks for others every
`people_check_s` seconds with a second landmarker; once it sees a second person it follows up to
`num_poses` for the rest of the clip. Needs mediapipe 0.10.21 (`posecoach[mediapipe]`).
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from posecoach.errors import ModelError
from posecoach.pose.backend import distinct_people, plausible_body
from posecoach.pose.landmarks import NUM_LANDMARKS
from posecoach.pose.model import resolve_model
from posecoach.pose.native import quiet_native_stderr
from posecoach.settings import PoseSettings


class MediaPipeBackend:
    """Runs the MediaPipe Tasks pose landmarker on RGB frames: every person's landmarks in pixels.

    With `num_poses` > 1 and `people_check_s` > 0 it follows one person and keeps a second
    landmarker for up to `num_poses` people, fed one frame every `people_check_s` seconds (it
    is created on a background thread, so its loading overlaps the first frames). When a check
    sees more than one distinct person, that landmarker takes over for the rest of the clip and
    `crowded` becomes True.
    """

    def __init__(self, settings: PoseSettings, model: str, num_poses: int,
                 people_check_s: float) -> None:
        try:
            with quiet_native_stderr():
                import mediapipe as mp
                from mediapipe.tasks.python import vision
        except ImportError as exc:
            raise ModelError(
                "the mediapipe backend is not installed: pip install 'posecoach[mediapipe]' "
                "(Python 3.12 or older), or use --pose-backend litert"
            ) from exc

        self._mp = mp
        self._vision = vision
        self._settings = settings
        self.model_path = resolve_model(model)
        self.num_poses = num_poses
        self.people_check_s = people_check_s if self.num_poses > 1 else 0.0
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
            with quiet_native_stderr():
                return self._vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"cannot load pose model {self.model_path}: {exc}") from exc

    def _load_checker(self) -> None:
        try:
            self._checker = self._create(self.num_poses)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            self._checker_error = exc

    def _run(self, landmarker: Any, image: Any, ms: int, shape: tuple[int, ...],
             quiet: bool) -> list[np.ndarray]:
        if quiet:
            with quiet_native_stderr():
                return _people(landmarker.detect_for_video(image, ms), shape)
        return _people(landmarker.detect_for_video(image, ms), shape)

    def detect(self, image_rgb: np.ndarray, time_s: float) -> list[np.ndarray]:
        """Landmarks of each person found: a list of (33, 4) arrays (x_px, y_px, z, visibility).

        Detections whose body proportions are not a person's (`plausible_body`) are dropped
        (the people check counts only real people).
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


