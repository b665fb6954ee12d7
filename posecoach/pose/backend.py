"""The pose backend interface, and what every backend shares.

A backend turns an RGB frame into every person's 33 landmarks in pixels. Three are available:
"litert" (BlazePose run directly on LiteRT, `posecoach.pose.blazepose`), "openvino" (the same
BlazePose code with the models on OpenVINO, at f32) and "mediapipe" (the MediaPipe Tasks pose
landmarker, an optional install for Python <= 3.12). All use the same two models, so their
landmarks agree closely. "auto", the default, runs whichever of litert and openvino is faster on
this machine (`posecoach.pose.calibration`).
"""

from __future__ import annotations

import os
import threading
from typing import Protocol

import numpy as np

from posecoach.pose.tracker import box_of, iou

BACKENDS = ("auto", "litert", "openvino", "mediapipe")
DEFAULT_BACKEND = "auto"
MIN_TORSO_SHARE = 0.2


class PoseBackend(Protocol):
    """Every person's landmarks in one frame: (33, 4) arrays, x_px, y_px, z, visibility."""

    crowded: bool

    def detect(self, image_rgb: np.ndarray, time_s: float) -> list[np.ndarray]: ...

    def close(self) -> None: ...


def cpu_count() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def resolve_threads(threads: int | None) -> int:
    """Threads for the model: 0 or None means every core."""
    return cpu_count() if not threads or threads <= 0 else int(threads)


def pipelined_threads(threads: int | None) -> int:
    """Threads for the model when other stages run beside it (`analyze`: decoding, coaching,
    drawing and encoding keep a core busy): `threads` when set, else one core fewer than this
    process may use, at least one.

    On two cores the model's second thread would only take turns with those stages, at a fifth
    more CPU a frame (OpenVINO f32: 11.4 ms on one thread against 2 x 6.8 on two).
    """
    return int(threads) if threads and threads > 0 else max(1, cpu_count() - 1)


class CoreShare:
    """The cores shared out among pose models running at once.

    Live sessions on one server each run their own model; every model of a share runs on
    `threads // models` threads (at least one), so a session alone uses every thread it was
    given and three at once do not fight over the same cores. The count is read on each frame,
    so a session's model speeds up again when the others end.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models = 0

    @property
    def models(self) -> int:
        """Models sharing the cores now."""
        return self._models

    def join(self) -> None:
        with self._lock:
            self._models += 1

    def leave(self) -> None:
        with self._lock:
            self._models = max(0, self._models - 1)

    def threads_each(self, threads: int) -> int:
        """Threads for one model of the share, out of `threads` for all of them."""
        return max(1, threads // max(1, self._models))


LIVE_CORES = CoreShare()
"""The share of the live sessions of this process."""


def as_rgb(image: np.ndarray) -> np.ndarray | None:
    """A frame as contiguous (H, W, 3) uint8 RGB; None when it holds no pixels.

    Grayscale ((H, W) or (H, W, 1)) is repeated into three channels, an alpha channel is dropped,
    and other number types are clipped into 0..255.
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[0] == 0 or arr.shape[1] == 0 or arr.shape[2] == 0:
        return None
    if arr.shape[2] == 1 or arr.shape[2] == 2:
        arr = np.repeat(arr[:, :, :1], 3, axis=2)
    elif arr.shape[2] > 3:
        arr = arr[:, :, :3]
    if arr.dtype != np.uint8:
        values = arr.astype(np.float64)
        if arr.dtype.kind == "f" and np.nanmax(values, initial=0.0) <= 1.0:
            values = values * 255.0
        arr = np.clip(np.nan_to_num(values), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


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


def distinct_people(people: list[np.ndarray], max_iou: float = 0.3) -> int:
    """How many of `people` are separate persons (boxes overlapping less than `max_iou`)."""
    boxes: list[tuple[float, float, float, float]] = []
    for points in people:
        box = box_of(points)
        if box is not None and all(iou(box, other) < max_iou for other in boxes):
            boxes.append(box)
    return len(boxes)
