"""Live frames from a camera, a stream URL, or a file played in real time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from posecoach.errors import VideoError
from posecoach.media.probe import VideoInfo, output_size
from posecoach.media.reader import VideoFrame, VideoReader


class CameraReader:
    """Live frames from a camera index ("0"), an rtsp/http URL, or a file played in real time.

    A capture thread keeps only the newest frame, so a slow consumer skips frames instead of
    falling behind. From a camera or a stream, `time_s` comes from a monotonic clock, from the
    first frame captured. A file is decoded by `VideoReader` (so anything that is not a video
    is refused with the reason) and played at its own frame times from the moment the consumer
    starts reading, so time spent getting ready does not skip the start of the clip; its
    `time_s` are the file's. `index` counts frames in the source, so gaps show how many were
    dropped.
    """

    def __init__(
        self,
        source: str | int,
        max_side_px: int | None = None,
        realtime: bool | None = None,
        open_timeout_s: float = 10.0,
    ) -> None:
        import cv2

        self._cv2 = cv2
        self.source = source
        src: str | int = source
        if isinstance(source, str) and source.strip().isdigit():
            src = int(source.strip())
        is_file = isinstance(src, str) and Path(src).exists()
        self.realtime = is_file if realtime is None else realtime
        self._cap: Any = None
        self._file: VideoReader | None = None
        if is_file:
            self._file = VideoReader(str(src), max_side_px=max_side_px)
            self.info = self._file.info
            self.size = self._file.size
        else:
            self._cap = cv2.VideoCapture(src)
            if not self._cap.isOpened():
                self._cap.release()
                what = f"camera {src}" if isinstance(src, int) else str(source)
                raise VideoError(
                    f"could not open {what}: check that it is connected, not used by another "
                    "program, and that the address is right"
                )
            w = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
            h = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
            if not 0 < fps < 1000:
                fps = 0.0
            self.info = VideoInfo(str(source), w, h, fps, None, None, "live", 0)
            self.size = output_size(w, h, max_side_px) if w and h else (w, h)
        self.frames_read = 0
        self.frames_dropped = 0
        self.truncated = False
        self.error_message: str | None = None
        self._open_timeout_s = open_timeout_s
        self._cond = threading.Condition()
        self._latest: VideoFrame | None = None
        self._ended = False
        self._stop = threading.Event()
        target = self._play_file if self._file is not None else self._run
        self._thread = threading.Thread(target=target, name="posecoach-camera", daemon=True)
        self._t0: float | None = None
        if self._file is None:
            self._thread.start()

    def _offer(self, frame: VideoFrame) -> None:
        with self._cond:
            if self._latest is not None:
                self.frames_dropped += 1
            self._latest = frame
            self._cond.notify_all()

    def _end(self) -> None:
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def _run(self) -> None:
        cv2 = self._cv2
        count = 0
        failures = 0
        period = 1.0 / self.info.fps if self.realtime and self.info.fps > 0 else 0.0
        next_due = time.monotonic()
        try:
            while not self._stop.is_set():
                ok, bgr = self._cap.read()
                if not ok or bgr is None:
                    failures += 1
                    if self.realtime or failures >= 50:
                        break
                    time.sleep(0.02)
                    continue
                failures = 0
                now = time.monotonic()
                if period:
                    next_due += period
                    delay = next_due - now
                    if delay > 0:
                        time.sleep(delay)
                        now = time.monotonic()
                if self._t0 is None:
                    self._t0 = now
                out_w, out_h = self.size
                if out_w and out_h and (bgr.shape[1], bgr.shape[0]) != (out_w, out_h):
                    bgr = cv2.resize(bgr, (out_w, out_h), interpolation=cv2.INTER_AREA)
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                self._offer(VideoFrame(count, now - self._t0, rgb))
                count += 1
        except Exception as exc:  # noqa: BLE001 - reported to the consumer
            self.error_message = f"the live video stopped: {exc}"
        finally:
            self._end()

    def _play_file(self) -> None:
        """Each frame of the file at its own time (when `realtime`), the newest one kept."""
        assert self._file is not None
        start = time.monotonic()
        last_offered = start
        last_time_s = 0.0
        try:
            for frame in self._file:
                if self._stop.is_set():
                    break
                if self.realtime:
                    delay = start + frame.time_s - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                    # A frame is replaced only once the consumer has had a frame's time for it,
                    # even when decoding fell behind and frames come out in a burst.
                    self._wait_taken(last_offered + frame.time_s - last_time_s)
                    last_offered, last_time_s = time.monotonic(), frame.time_s
                self._offer(frame)
            if self._file.truncated:
                self.truncated = True
                self.error_message = self._file.error_message
        except VideoError as exc:
            self.error_message = str(exc)
        except Exception as exc:  # noqa: BLE001 - reported to the consumer
            self.error_message = f"the video stopped: {exc}"
        finally:
            self._file.close()
            self._end()

    def _wait_taken(self, deadline: float) -> None:
        """Wait until the consumer takes the waiting frame, or until `deadline` (monotonic)."""
        with self._cond:
            while self._latest is not None and not self._stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)

    def __iter__(self) -> Iterator[VideoFrame]:
        if self._file is not None and not self._thread.is_alive() and not self._ended:
            self._thread.start()
        return self._frames()

    def _frames(self) -> Iterator[VideoFrame]:
        try:
            first = True
            while True:
                with self._cond:
                    deadline = time.monotonic() + self._open_timeout_s if first else None
                    while self._latest is None and not self._ended:
                        remaining = None if deadline is None else deadline - time.monotonic()
                        if remaining is not None and remaining <= 0:
                            raise VideoError(f"no picture arrived from {self.source}")
                        self._cond.wait(timeout=remaining if remaining else 0.5)
                    frame, self._latest = self._latest, None
                    self._cond.notify_all()
                if frame is None:
                    if self.frames_read == 0 and self.error_message:
                        raise VideoError(self.error_message)
                    return
                first = False
                self.frames_read += 1
                yield frame
        finally:
            self.close()

    def close(self) -> None:
        """Stop capturing and release the device or file."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)
        if self._cap is not None:
            self._cap.release()
        if self._file is not None and not self._thread.is_alive():
            self._file.close()

    def __enter__(self) -> CameraReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
