"""Browser-playable H.264 MP4 clips, encoded on a background thread.

Problems surface as `VideoError`, whose message is meant to be shown to the walker as it is.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import queue
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from posecoach.errors import VideoError, user_message
from posecoach.media.handoff import hand_over
from posecoach.media.probe import file_label


def _write_error(name: str, exc: BaseException) -> VideoError:
    err = getattr(exc, "errno", None)
    if err == errno.ENOSPC:
        return VideoError(
            f"cannot finish writing {name}: the disk is full (free some space and try again)"
        )
    if err in (errno.EACCES, errno.EPERM, errno.EROFS):
        return VideoError(f"cannot write {name}: permission denied for its folder")
    if err == errno.ENOENT:
        return VideoError(f"cannot write {name}: its folder does not exist")
    return VideoError(f"cannot write {name}: {user_message(exc)}")


def _rgb_to_i420(image_rgb: np.ndarray) -> np.ndarray:
    """Planar YUV 4:2:0 (BT.601, video range) of an RGB frame with even sides.

    OpenCV's conversion costs about a fifth of libswscale's, and the encoder then needs none.
    """
    import cv2

    return cv2.cvtColor(image_rgb, cv2.COLOR_RGB2YUV_I420)


class VideoWriter:
    """H.264 (yuv420p) MP4 that browsers play, encoded on a background thread.

    `write()` copies the frame and returns at once unless the bounded queue is full. Odd
    widths or heights are cropped by one pixel (H.264 4:2:0 needs even sides). With
    `fragmented=True` the file is written in ~1 s fragments and stays playable up to the last
    fragment if the program is killed; otherwise the index is moved to the front on close
    (`+faststart`) so playback starts before the whole file is downloaded.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float,
        width: int,
        height: int,
        crf: int = 23,
        preset: str = "veryfast",
        fragmented: bool = False,
        queue_size: int = 16,
    ) -> None:
        self.path = str(path)
        self.name = file_label(path)
        if not fps or fps <= 0 or not math.isfinite(fps):
            raise ValueError(f"fps must be positive, got {fps}")
        if width < 2 or height < 2:
            raise ValueError(f"frame size must be at least 2x2, got {width}x{height}")
        self.in_width, self.in_height = int(width), int(height)
        self.width, self.height = self.in_width // 2 * 2, self.in_height // 2 * 2
        self.fps = float(fps)
        self.fragmented = fragmented
        self.frames_written = 0
        self._closed = False
        self._error: VideoError | None = None
        self._last_pts = -1
        folder = Path(self.path).resolve().parent
        if not folder.is_dir():
            raise VideoError(f"cannot write {self.name}: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise VideoError(f"cannot write {self.name}: the folder {folder} is not writable")
        if fragmented:
            movflags = "frag_keyframe+empty_moov+default_base_moof"
            container_options = {"movflags": movflags, "flush_packets": "1"}
        else:
            container_options = {"movflags": "+faststart"}
        try:
            self._container = av.open(
                self.path, mode="w", format="mp4", container_options=container_options
            )
        except (av.error.FFmpegError, OSError) as exc:
            raise _write_error(self.name, exc) from exc
        rate = Fraction(self.fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width, self._stream.height = self.width, self.height
        self._stream.pix_fmt = "yuv420p"
        self._time_base = Fraction(1, 90000)
        self._stream.codec_context.time_base = self._time_base
        self._stream.time_base = self._time_base
        # x264 on this one thread: its frame threads cost about 5% more CPU a frame, and the
        # clip (long side at most the annotated size) is never what a frame waits for
        options = {"crf": str(crf), "preset": preset, "threads": "1"}
        if fragmented:
            options["g"] = str(max(1, int(round(self.fps))))
        self._stream.options = options
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, queue_size))
        self._thread = threading.Thread(target=self._run, name="posecoach-encode", daemon=True)
        self._thread.start()

    def _mux(self, packets: Any) -> None:
        self._container.mux(packets)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                break
            if self._error is not None:
                continue
            try:
                self._mux(self._stream.encode(item))
            except Exception as exc:  # noqa: BLE001 - handed to the caller on write()/close()
                self._error = _write_error(self.name, exc)
        if self._error is None:
            try:
                self._mux(self._stream.encode(None))
            except Exception as exc:  # noqa: BLE001
                self._error = _write_error(self.name, exc)
        try:
            self._container.close()
        except Exception as exc:  # noqa: BLE001
            if self._error is None:
                self._error = _write_error(self.name, exc)

    def write(self, image_rgb: np.ndarray, time_s: float | None = None) -> None:
        """Queue one RGB uint8 frame; `time_s` (from the start) keeps variable frame rates."""
        if self._closed:
            raise VideoError(f"cannot write to {self.name}: the recording is already closed")
        if self._error is not None:
            raise self._error
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise ValueError(
                f"expected an RGB uint8 image, got {image_rgb.shape} {image_rgb.dtype}"
            )
        h, w = image_rgb.shape[:2]
        if (w, h) != (self.in_width, self.in_height):
            raise ValueError(
                f"frame size {w}x{h} differs from the recording's {self.in_width}x{self.in_height}"
            )
        if (w, h) != (self.width, self.height):
            image_rgb = image_rgb[: self.height, : self.width]
        frame = av.VideoFrame.from_ndarray(_rgb_to_i420(image_rgb), format="yuv420p")
        if time_s is None:
            pts = int(round(self.frames_written / self.fps / self._time_base))
        else:
            pts = int(round(time_s / self._time_base))
        pts = max(pts, self._last_pts + 1)
        self._last_pts = pts
        frame.pts = pts
        frame.time_base = self._time_base
        if not hand_over(self._queue, frame, self._thread):
            raise self._error or VideoError(f"cannot write {self.name}: the encoder stopped")
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file; raises VideoError if anything went wrong while writing."""
        if self._closed:
            if self._error is not None:
                raise self._error
            return
        self._closed = True
        while self._thread.is_alive():
            try:
                self._queue.put(None, timeout=0.5)
                break
            except queue.Full:
                continue
        self._thread.join()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            with contextlib.suppress(VideoError):
                self.close()
