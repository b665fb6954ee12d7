"""Live frames from a camera, a stream URL, or a file played in real time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

from posecoach.errors import VideoError
from posecoach.media.probe import VideoInfo, output_size
from posecoach.media.reader import VideoFrame


class CameraReader:
    """Live frames from a camera index ("0"), an rtsp/http URL, or a file played in real time.

    A capture thread keeps only the newest frame, so a slow consumer skips frames instead of
    falling behind. `time_s` comes from a monotonic clock, from the first frame captured;
    `index` counts captured frames, so gaps show how many were dropped.
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
        self._thread = threading.Thread(target=self._run, name="posecoach-camera", daemon=True)
        self._t0: float | None = None
        self._thread.start()

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
                frame = VideoFrame(count, now - self._t0, rgb)
                count += 1
                with self._cond:
                    if self._latest is not None:
                        self.frames_dropped += 1
                    self._latest = frame
                    self._cond.notify_all()
        except Exception as exc:  # noqa: BLE001 - reported to the consumer
            self.error_message = f"the live video stopped: {exc}"
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    def __iter__(self) -> Iterator[VideoFrame]:
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
        """Stop capturing and release the device."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)
        self._cap.release()

    def __enter__(self) -> CameraReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
