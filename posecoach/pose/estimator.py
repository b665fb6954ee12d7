"""Pose estimation: every person's 33 landmarks in pixels, from whichever backend is chosen.

`PoseEstimator` opens the backend named by `settings.pose.backend` ("auto", the default, picks
the faster of "litert" and "openvino" on this machine; or "mediapipe"), makes any frame safe to
feed it (grayscale, an alpha channel, odd number types, any size) and drops detections whose body
proportions are not a person's. All backends follow one person while they are alone and look for
others every `settings.pose.people_check_s` seconds; once a second person is seen they follow up
to `num_poses` people for the rest of the clip.
Choosing the walker among them is `posecoach.pose.tracker`'s job.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from posecoach.errors import SettingsError
from posecoach.pose.backend import (
    BACKENDS,
    MIN_TORSO_SHARE,
    CoreShare,
    PoseBackend,
    as_rgb,
    distinct_people,
    plausible_body,
    resolve_threads,
)
from posecoach.pose.blazepose.runtime_io import Precision
from posecoach.settings import Settings

if TYPE_CHECKING:
    from posecoach.pose.calibration import Calibration

__all__ = ["MIN_TORSO_SHARE", "PoseEstimator", "distinct_people", "plausible_body"]


class PoseEstimator:
    """Runs the pose model on RGB frames and returns every person's landmarks in pixels.

    With `share` and threads left to every core (`threads` and `settings.pose.threads` 0), the
    model takes part in that share of the cores while it is open: alone it uses them all, with
    others each gets its part (the LiteRT and OpenVINO backends; MediaPipe runs on one thread).
    `precision` "bf16" runs OpenVINO at bfloat16, for measuring it against f32: it is not a
    setting, because its landmarks move further than the agreement bounds allow.
    """

    def __init__(
        self, settings: Settings, model: str | None = None, num_poses: int | None = None,
        people_check_s: float | None = None, backend: str | None = None,
        threads: int | None = None, share: CoreShare | None = None,
        precision: Precision = "f32",
    ) -> None:
        pose = settings.pose
        self.backend = backend or pose.backend
        if self.backend not in BACKENDS:
            raise SettingsError(
                f"unknown pose backend {self.backend!r}: choose {', '.join(BACKENDS)}")
        self.num_poses = num_poses or pose.num_poses
        check_s = pose.people_check_s if people_check_s is None else people_check_s
        self.people_check_s = check_s if self.num_poses > 1 else 0.0
        wanted = pose.threads if threads is None else threads
        self.threads = resolve_threads(wanted)
        self._share = share if share is not None and wanted <= 0 else None
        self._had_person = False
        name = model or pose.model
        self._backend: PoseBackend
        self.calibration: Calibration | None = None
        if self.backend == "auto":
            from posecoach.pose.calibration import calibrate
            from posecoach.pose.model import litert_model_paths

            self.calibration = calibrate(litert_model_paths(name)[1], self.threads)
            self.backend = self.calibration.engine
        if self.backend == "mediapipe":
            from posecoach.pose.mediapipe_backend import MediaPipeBackend

            mp_backend = MediaPipeBackend(pose, name, self.num_poses, self.people_check_s)
            self.model_path: Path = mp_backend.model_path
            self._backend = mp_backend
        else:
            from posecoach.pose.blazepose.runtime import BlazePose
            from posecoach.pose.blazepose.runtime_io import Runtime
            from posecoach.pose.model import litert_model_paths

            detector_path, self.model_path = litert_model_paths(name)
            share_now, total = self._share, self.threads
            self._backend = BlazePose(
                detector_path, self.model_path, self.threads, num_poses=self.num_poses,
                people_check_s=self.people_check_s,
                min_detection=pose.min_detection_confidence,
                min_tracking=pose.min_tracking_confidence,
                threads_now=(None if share_now is None
                             else lambda: share_now.threads_each(total)),
                runtime=(Runtime("openvino", precision) if self.backend == "openvino"
                         else Runtime("litert")),
            )
        # leaves the share when closed, or when dropped without being closed
        self._leave_share: weakref.finalize | None = None
        if self._share is not None:
            self._share.join()
            self._leave_share = weakref.finalize(self, self._share.leave)

    @property
    def crowded(self) -> bool:
        """True once the model follows up to `num_poses` people on every frame."""
        return self._backend.crowded

    def detect(self, image_rgb: np.ndarray, time_s: float) -> list[np.ndarray]:
        """Landmarks of each person found: a list of (33, 4) arrays (x_px, y_px, z, visibility).

        Detections whose body proportions are not a person's (`plausible_body`) are dropped; a
        frame without pixels has nobody in it.
        """
        rgb = as_rgb(image_rgb)
        if rgb is None:
            return []
        people = [p for p in self._backend.detect(rgb, time_s) if plausible_body(p)]
        if not people and self._had_person:
            # The model follows a person from frame to frame; when that person jumps (stepping
            # back in elsewhere, a looping clip restarting) it loses them for a frame. Searching
            # the same frame again finds them now rather than one frame later.
            people = [p for p in self._backend.detect(rgb, time_s + 1e-3) if plausible_body(p)]
        self._had_person = bool(people)
        return people

    def close(self) -> None:
        if self._leave_share is not None:
            self._leave_share()  # a finalizer runs once, however often close is called
        self._backend.close()

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
