"""Video in and out: probing, threaded decoding to RGB frames, threaded H.264 encoding.

Everything downstream (pose, metrics, overlay) wants upright RGB frames with honest timestamps,
so this module hides codecs, rotation metadata, variable frame rates and damaged files behind
`VideoReader`, `CameraReader` and `VideoWriter`. Problems surface as `VideoError`, whose message
is meant to be shown to the walker as it is.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from posecoach.errors import VideoError
from posecoach.pipeline.handoff import hand_over

# Codecs that hold still pictures. A file made of one such frame is a photo, not a video.
IMAGE_CODECS = frozenset(
    {
        "mjpeg", "jpegls", "jpeg2000", "png", "apng", "bmp", "tiff", "webp", "gif", "qoi",
        "exr", "dpx", "sgi", "targa", "pcx", "ppm", "pgm", "pgmyuv", "pbm", "pam", "xbm",
        "xpm", "xwd", "hdr", "jpegxl", "phm", "sunrast", "photocd", "pictor", "dds", "vbn",
        "psd", "ptx", "alias_pix", "brender_pix", "fits", "wbmp", "sun",
    }
)
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"styp", b"moof")
_MAX_REVERSE_S = 60.0
_REVERSE_BUDGET_BYTES = 512 * 1024 * 1024
_MIN_STEP_S = 1e-3  # nudge for repeated timestamps


@dataclass
class VideoInfo:
    """What a video file holds. width/height are the display size (after rotation)."""

    path: str
    width: int
    height: int
    fps: float
    duration_s: float | None
    frame_count: int | None
    codec: str
    rotation_deg: int  # counter-clockwise turn applied to stored frames to show them upright


@dataclass
class VideoFrame:
    """One decoded frame: RGB uint8 (H, W, 3), C-contiguous, time from the first frame."""

    index: int
    time_s: float
    image: np.ndarray


def _name(path: str | os.PathLike[str]) -> str:
    return Path(path).name or str(path)


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character may be cut at the end of the sample.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.95 * max(1, len(text))


def _normalise_rotation(deg: float) -> int:
    """Round a display rotation to 0, 90, 180 or 270 degrees counter-clockwise."""
    return int(round(deg / 90.0)) % 4 * 90


def _stream_rotation(stream: Any, first_frame: Any) -> int:
    rot = 0
    if first_frame is not None:
        try:
            rot = int(first_frame.rotation or 0)
        except Exception:  # noqa: BLE001 - side data can be missing or odd
            rot = 0
    if rot == 0:
        tag = stream.metadata.get("rotate") if stream.metadata else None
        if tag:
            try:
                rot = -int(float(tag))  # the old tag counts clockwise
            except ValueError:
                rot = 0
    return _normalise_rotation(rot)


def _fps_of(stream: Any) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            value = float(rate)
            if 0 < value < 1000:
                return value
    return 0.0


def _open_input(path: str | os.PathLike[str]) -> Any:
    """Open a file with PyAV, turning every failure into a readable VideoError."""
    name = _name(path)
    p = Path(path)
    if not p.exists():
        raise VideoError(f"{name} was not found ({p})")
    if p.is_dir():
        raise VideoError(f"{name} is a folder, not a video file")
    try:
        size = p.stat().st_size
        with p.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise VideoError(f"{name} cannot be read: {exc.strerror or exc}") from exc
    if size == 0:
        raise VideoError(f"{name} is empty (0 bytes)")
    try:
        return av.open(str(p), mode="r")
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        if _looks_like_text(head):
            raise VideoError(
                f"{name} is a text file, not a video file (no video stream could be read)"
            ) from exc
        if head[4:8] in _MP4_BOXES:
            raise VideoError(
                f"{name} is a damaged or incomplete MP4 file (it looks cut short, for example an "
                "unfinished copy, download or recording), and no video could be read from it"
            ) from exc
        raise VideoError(f"{name} is not a video file (no video stream could be read)") from exc


def _check_not_photo(name: str, container: Any, stream: Any, frames_seen: int) -> None:
    codec = stream.codec_context.name
    fmt = container.format.name or ""
    single_image_format = fmt.endswith("_pipe") or fmt == "image2"
    if single_image_format or (codec in IMAGE_CODECS and frames_seen <= 1):
        kind = {"mjpeg": "JPEG", "png": "PNG", "webp": "WebP", "gif": "GIF"}.get(
            codec, codec.upper()
        )
        raise VideoError(f"{name} is a photo ({kind} image), not a video")


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's size, rate, length, codec and rotation; decodes the first frame to be sure.

    The type is decided from the content, never from the file name.
    """
    name = _name(path)
    container = _open_input(path)
    try:
        audio_only = not container.streams.video
        if audio_only:
            what = " (it contains only audio)" if container.streams.audio else ""
            raise VideoError(f"{name} has no video stream{what}")
        stream = container.streams.video[0]
        first = None
        frames_seen = 0
        try:
            for frame in container.decode(stream):
                frames_seen += 1
                if first is None:
                    first = frame
                if frames_seen >= 2 or stream.codec_context.name not in IMAGE_CODECS:
                    break
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            if first is None:
                raise VideoError(
                    f"{name} is damaged: its video could not be decoded ({exc})"
                ) from exc
        if first is None:
            raise VideoError(f"{name} has a video stream but no picture could be decoded from it")
        _check_not_photo(name, container, stream, max(frames_seen, stream.frames or 0))

        rotation = _stream_rotation(stream, first)
        w = int(stream.codec_context.width or first.width)
        h = int(stream.codec_context.height or first.height)
        if rotation in (90, 270):
            w, h = h, w
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        frame_count = int(stream.frames) if stream.frames else None
        fps = _fps_of(stream)
        if fps == 0.0 and duration and frame_count:
            fps = frame_count / duration
        return VideoInfo(
            path=str(path),
            width=w,
            height=h,
            fps=fps,
            duration_s=duration,
            frame_count=frame_count,
            codec=stream.codec_context.name,
            rotation_deg=rotation,
        )
    finally:
        container.close()


def output_size(width: int, height: int, max_side_px: int | None) -> tuple[int, int]:
    """Size after shrinking so the long side is at most max_side_px (aspect kept, even sides)."""
    if not max_side_px or max(width, height) <= max_side_px:
        return width, height
    scale = max_side_px / max(width, height)
    w = max(2, int(round(width * scale / 2.0)) * 2)
    h = max(2, int(round(height * scale / 2.0)) * 2)
    return w, h


def _rotate(image: np.ndarray, rotation_deg: int) -> np.ndarray:
    if rotation_deg == 0:
        return image
    return np.ascontiguousarray(np.rot90(image, k=rotation_deg // 90))


class _Stop(Exception):
    """Raised inside a worker when its consumer has gone away."""


class _DecodeWorker:
    """Decodes on a background thread into a bounded queue.

    Kept apart from VideoReader so the thread holds no reference to the reader, which lets an
    abandoned reader be collected and its thread stopped.
    """

    def __init__(
        self, path: str, info: VideoInfo, size: tuple[int, int], queue_size: int
    ) -> None:
        self.path = path
        self.info = info
        self.size = size
        self.queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=max(1, queue_size))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="posecoach-decode", daemon=True)

    def _put(self, item: tuple[str, Any]) -> None:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stop

    def run(self) -> None:
        name = _name(self.path)
        container = None
        count = 0
        last_t = -math.inf
        t0: float | None = None
        try:
            container = av.open(self.path, mode="r")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rot = self.info.rotation_deg
            out_w, out_h = self.size
            # reformat works on stored frames, so swap the target for quarter turns
            fw, fh = (out_h, out_w) if rot in (90, 270) else (out_w, out_h)
            step = 1.0 / self.info.fps if self.info.fps > 0 else 1.0 / 30.0
            try:
                for frame in container.decode(stream):
                    if self.stop.is_set():
                        raise _Stop
                    if frame.pts is not None and frame.time_base is not None:
                        t_abs = float(frame.pts * frame.time_base)
                    elif count:
                        t_abs = (t0 or 0.0) + last_t + step
                    else:
                        t_abs = 0.0
                    if t0 is None:
                        t0 = t_abs
                    t = t_abs - t0
                    if t <= last_t:
                        t = last_t + _MIN_STEP_S
                    last_t = t
                    rgb = frame.reformat(
                        width=fw, height=fh, format="rgb24", interpolation="AREA"
                    ).to_ndarray()
                    image = _rotate(rgb, rot)
                    if not image.flags.c_contiguous:
                        image = np.ascontiguousarray(image)
                    self._put(("frame", VideoFrame(count, t, image)))
                    count += 1
            except (av.error.FFmpegError, OSError, ValueError) as exc:
                if count == 0:
                    self._put(("error", f"{name} is damaged: no picture could be decoded ({exc})"))
                    return
                self._put(("truncated", f"{name} ends early: the file is damaged after "
                           f"{last_t:.1f} s ({exc})"))
                return
            if count == 0:
                self._put(("error", f"{name} has a video stream but no picture could be decoded"))
                return
            if self._looks_cut_short(count, last_t):
                self._put(("truncated", f"{name} ends early: the file is cut short after "
                           f"{last_t:.1f} s"))
                return
            self._put(("end", None))
        except _Stop:
            return
        except Exception as exc:  # noqa: BLE001 - reported to the consumer, not lost in a thread
            try:
                self._put(("error", f"{name} could not be read: {exc}"))
            except _Stop:
                return
        finally:
            if container is not None:
                container.close()

    def _looks_cut_short(self, count: int, last_t: float) -> bool:
        info = self.info
        frame_dt = 1.0 / info.fps if info.fps > 0 else 0.1
        if info.frame_count and count < info.frame_count - max(3, 0.02 * info.frame_count):
            return True
        if info.duration_s:
            covered = last_t + frame_dt
            return covered < info.duration_s - max(0.5, 5 * frame_dt, 0.02 * info.duration_s)
        return False


class VideoReader:
    """Upright RGB frames of a video file, decoded on a background thread.

    Iterate once: `for frame in reader:` yields `VideoFrame`s in order. Memory stays flat
    because the queue between the decoder and the consumer is bounded. A file that is damaged
    or cut short part-way stops cleanly with `truncated = True` and `error_message` set; only
    a file with no decodable frame raises `VideoError`.
    """

    def __init__(
        self, path: str | os.PathLike[str], max_side_px: int | None = None, queue_size: int = 8
    ) -> None:
        self.path = str(path)
        self.info = probe(path)
        self.size = output_size(self.info.width, self.info.height, max_side_px)
        self.truncated = False
        self.error_message: str | None = None
        self.frames_read = 0
        self._worker = _DecodeWorker(self.path, self.info, self.size, queue_size)
        self._started = False
        self._closed = False

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]

    def __iter__(self) -> Iterator[VideoFrame]:
        if self._started or self._closed:
            raise RuntimeError("a VideoReader can be iterated only once")
        self._started = True
        self._worker.thread.start()
        return self._frames()

    def _frames(self) -> Iterator[VideoFrame]:
        try:
            while True:
                kind, payload = self._worker.queue.get()
                if kind == "frame":
                    self.frames_read += 1
                    yield payload
                elif kind == "truncated":
                    self.truncated = True
                    self.error_message = payload
                    return
                elif kind == "error":
                    self.error_message = payload
                    if self.frames_read == 0:
                        raise VideoError(payload)
                    self.truncated = True
                    return
                else:
                    return
        finally:
            self.close()

    def close(self) -> None:
        """Stop the decoding thread and release the file."""
        if self._closed:
            return
        self._closed = True
        worker = self._worker
        worker.stop.set()
        if worker.thread.is_alive():
            while worker.thread.is_alive():
                try:
                    worker.queue.get_nowait()
                except queue.Empty:
                    worker.thread.join(timeout=0.05)
        self._drain()

    def _drain(self) -> None:
        while True:
            try:
                self._worker.queue.get_nowait()
            except queue.Empty:
                return

    @property
    def running(self) -> bool:
        """Whether the decoding thread is still alive."""
        return self._worker.thread.is_alive()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


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
    reason = getattr(exc, "strerror", None) or str(exc)
    return VideoError(f"cannot write {name}: {reason}")


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
        self.name = _name(path)
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
        options = {"crf": str(crf), "preset": preset}
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


def _reverse_by_segments(src: str, info: VideoInfo, writer: VideoWriter) -> int:
    """Write src's frames last to first, decoding one keyframe segment at a time.

    Holding a whole clip would take gigabytes at 1080p, so each segment between keyframes is
    decoded after a seek, in slices that fit the memory budget, and written backwards.
    """
    with av.open(src, mode="r") as container:
        stream = container.streams.video[0]
        pts_list: list[int] = []
        keyframes: list[int] = []
        for packet in container.demux(stream):
            if packet.size == 0 or packet.pts is None:
                continue
            pts_list.append(int(packet.pts))
            if packet.is_keyframe:
                keyframes.append(int(packet.pts))
        if not pts_list:
            return 0
        pts_list = sorted(set(pts_list))
        keyframes = sorted(set(keyframes)) or [pts_list[0]]
        if keyframes[0] > pts_list[0]:
            keyframes[0] = pts_list[0]
        tb = stream.time_base
        t_end = float(pts_list[-1] * tb)
        out_w, out_h = writer.in_width, writer.in_height
        rot = info.rotation_deg
        fw, fh = (out_h, out_w) if rot in (90, 270) else (out_w, out_h)
        per_slice = max(1, _REVERSE_BUDGET_BYTES // (out_w * out_h * 3))
        written = 0
        bounds = keyframes + [pts_list[-1] + 1]
        for seg in range(len(keyframes) - 1, -1, -1):
            lo, hi = bounds[seg], bounds[seg + 1]
            seg_pts = [p for p in pts_list if lo <= p < hi]
            stop_after = bounds[min(seg + 2, len(bounds) - 1)]
            for s_end in range(len(seg_pts), 0, -per_slice):
                wanted = set(seg_pts[max(0, s_end - per_slice) : s_end])
                got: dict[int, np.ndarray] = {}
                container.seek(lo, stream=stream, backward=True, any_frame=False)
                for frame in container.decode(stream):
                    if frame.pts in wanted:
                        rgb = frame.reformat(
                            width=fw, height=fh, format="rgb24", interpolation="AREA"
                        ).to_ndarray()
                        got[int(frame.pts)] = _rotate(rgb, rot)
                        if len(got) == len(wanted):
                            break
                    if frame.pts is not None and frame.pts >= stop_after and seg + 1 < len(
                        keyframes
                    ):
                        break
                for p in sorted(got, reverse=True):
                    writer.write(got[p], time_s=t_end - float(p * tb))
                    written += 1
        return written


def reverse_video(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> int:
    """Write src played backwards to dst (H.264 MP4, no audio); returns the frames written.

    Used to make backward-walking stand-ins from forward-walking footage. Clips longer than
    60 s are refused.
    """
    if Path(dst).resolve() == Path(src).resolve():
        raise VideoError(f"{_name(src)} cannot be reversed onto itself: choose another output")
    info = probe(src)
    length = info.duration_s
    if length is None and info.frame_count and info.fps:
        length = info.frame_count / info.fps
    if length is None or length > _MAX_REVERSE_S:
        shown = "of unknown length" if length is None else f"{length:.0f} s long"
        raise VideoError(
            f"{_name(src)} is {shown}; only clips up to {_MAX_REVERSE_S:.0f} s can be reversed"
        )
    fps = info.fps or 30.0
    with VideoWriter(dst, fps, info.width, info.height) as writer:
        try:
            written = _reverse_by_segments(str(src), info, writer)
        except (av.error.FFmpegError, OSError) as exc:
            raise VideoError(f"{_name(src)} could not be reversed: it is damaged ({exc})") from exc
        if written == 0:
            raise VideoError(f"{_name(src)} has no frames to reverse")
    return written
