"""One live coaching session: frames in, results out, always finalised.

A session's work runs off the event loop in two stages on their own threads: the pose model
(which releases the GIL while it infers), then the coach (tracking, smoothing, metrics, rules),
the recording and the reply. The model starts on the next frame while the coach finishes the
last one, so a frame waits for the model only, not for the whole pipeline. Frames arrive in a
`LatestSlot` that keeps only the newest unprocessed frame, so a slow model skips frames instead
of falling behind; between the stages there is room for one frame.
"""

from __future__ import annotations

import asyncio
import base64
import ctypes
import ctypes.util
import functools
import gc
import logging
import queue
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from pydantic import BaseModel

from posecoach.coach.timed_test import TimedTestResult
from posecoach.errors import OutputError, PosecoachError, user_message
from posecoach.media.handoff import hand_over
from posecoach.server.engine import InputError
from posecoach.server.messages import (
    ErrorMessage,
    FinishedMessage,
    FrameMessage,
    ResultMessage,
    TrialsMessage,
)
from posecoach.server.retry import retry_in_background
from posecoach.server.storage import Storage

log = logging.getLogger(__name__)
SendJson = Callable[[BaseModel], Awaitable[None]]
SEND_TIMEOUT_S = 10.0
PREVIEW_MAX_SIDE_PX = 960


class LatestSlot:
    """Holds the newest unprocessed item only; replaced items are counted as dropped."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Any = None
        self._closed = False
        self.dropped = 0

    def put(self, item: Any) -> None:
        """Offer an item; an item still waiting is dropped."""
        with self._cond:
            if self._closed:
                return
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()

    def take(self) -> Any:
        """Wait for the next item; None once closed and empty."""
        with self._cond:
            while self._item is None and not self._closed:
                self._cond.wait()
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        """No more items; a waiting item is still handed out."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


def encode_preview(image_rgb: np.ndarray) -> str:
    """A base64 JPEG of the frame, at most `PREVIEW_MAX_SIDE_PX` on its long side."""
    height, width = image_rgb.shape[:2]
    scale = PREVIEW_MAX_SIDE_PX / max(height, width)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image_rgb = cv2.resize(image_rgb, size, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, 75])
    if not ok:
        raise InputError("the frame could not be encoded")
    return base64.b64encode(buf.tobytes()).decode("ascii")


@dataclass
class FrameIn:
    """One frame for the coach, or an error to report in its place."""

    image: np.ndarray | None
    time_s: float
    error: str | None = None
    preview: bool = False
    arrived: float | None = None  # time.monotonic() when the frame reached the server
    jpeg: bytes | None = None  # the JPEG `image` was decoded from, kept for the recording
    frame_no: int | None = None  # the page's number for the frame, echoed in its result


@dataclass
class _Detected:
    """A frame past the model stage: its people, or the error to report in its place."""

    item: FrameIn
    image: np.ndarray | None = None
    time_s: float = 0.0
    people: Any = None
    preview: str | None = None
    error: str | None = None
    jpeg: bytes | None = None


class LiveRun:
    """Runs a live session on its two threads (model, coach) and finalises it exactly once."""

    def __init__(
        self,
        *,
        storage: Storage,
        coach: Any,
        recorder: Any,
        session_id: str,
        frames: Callable[[], Iterator[FrameIn]],
        dropped: Callable[[], int],
        send_json: SendJson,
        loop: asyncio.AbstractEventLoop,
        on_close: Callable[[], None] | None = None,
        timed_test: bool = False,
    ) -> None:
        self.storage = storage
        self.timed_test = timed_test
        self.coach = coach
        self.recorder = recorder
        self.session_id = session_id
        self._frames = frames
        self._dropped = dropped
        self._send_json = send_json
        self._loop = loop
        self._on_close = on_close
        self._size: tuple[int, int] | None = None
        self._last_t = -1.0
        self.seq = 0
        self.client_gone = False
        self.recording_error: str | None = None
        self._finished: FinishedMessage | None = None
        self._detected: queue.Queue[_Detected | None] = queue.Queue(maxsize=1)
        self._coach_thread = threading.Thread(
            target=self._coach_all, name="posecoach-live-coach", daemon=True
        )
        self._coach_thread.start()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="posecoach-live")
        self.processing = asyncio.wrap_future(self._executor.submit(self._process_all))

    def _send(self, message: BaseModel) -> None:
        if self.client_gone:
            return
        try:
            future = asyncio.run_coroutine_threadsafe(self._send_json(message), self._loop)
            future.result(timeout=SEND_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - a vanished client must not stop the recording
            self.client_gone = True

    def _fit(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        if self._size is None:
            self._size = (width, height)
        elif (width, height) != self._size:
            image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        return image

    def _process_all(self) -> None:
        """The model stage: every frame's people, handed to the coach stage."""
        try:
            for item in self._frames():
                hand_over(self._detected, self._detect(item), self._coach_thread)
        finally:
            hand_over(self._detected, None, self._coach_thread)
            self._coach_thread.join()


    def _detect(self, item: FrameIn) -> _Detected:
        if item.error is not None or item.image is None:
            return _Detected(item, error=item.error or "unusable frame")
        try:
            image = self._fit(item.image)
            time_s = max(item.time_s, self._last_t + 1e-3)
            self._last_t = time_s
            preview = encode_preview(image) if item.preview else None
            people = self.coach.detect(image, time_s)
            # a frame scaled to the session's size is recorded from its pixels, not its JPEG
            jpeg = item.jpeg if image is item.image else None
            return _Detected(item, image, time_s, people, preview, jpeg=jpeg)
        except InputError as exc:
            return _Detected(item, error=user_message(exc))
        except Exception:
            log.exception("live frame failed in session %s", self.session_id)
            return _Detected(item, error="the frame could not be processed")

    def _coach_all(self) -> None:
        """The coach stage: metrics and cues, the recording, and the reply to the client."""
        while (done := self._detected.get()) is not None:
            if done.error is not None:
                self._send(ErrorMessage(message=done.error))
                continue
            try:
                self._send(self._process(done))
            except InputError as exc:
                self._send(ErrorMessage(message=user_message(exc)))
            except Exception:
                log.exception("live frame failed in session %s", self.session_id)
                self._send(ErrorMessage(message="the frame could not be processed"))

    def _record_frame(self, image: np.ndarray, time_s: float, result: Any,
                      jpeg: bytes | None) -> None:
        """Append to the recording; once it fails (a full disk), say so once and coach on."""
        if self.recording_error is not None:
            return
        try:
            self.recorder.add(image, time_s, result, jpeg=jpeg)
        except Exception as exc:
            if isinstance(exc, PosecoachError):
                message = user_message(exc)
                log.error("session %s stopped recording: %s", self.session_id, message)
            else:
                log.exception("recording failed in session %s", self.session_id)
                message = "the recording failed (see the server log)"
            self.recording_error = message
            self._send(ErrorMessage(
                message=f"{message}. The recording stopped here; coaching goes on."))

    def _process(self, done: _Detected) -> ResultMessage:
        assert done.image is not None
        height, width = done.image.shape[:2]
        result = self.coach.process_people(done.people, done.time_s, width, height)
        self._record_frame(done.image, done.time_s, result, done.jpeg)
        if done.preview is not None:
            self._send(FrameMessage(seq=self.seq, jpeg=done.preview))
        server_ms = None
        if done.item.arrived is not None:
            server_ms = round((time.monotonic() - done.item.arrived) * 1000.0, 1)
        message = ResultMessage.of(result.body(), self.seq, self._dropped(), server_ms,
                                   frame_no=done.item.frame_no)
        self.seq += 1
        return message

    async def time_trials(self) -> TrialsMessage:
        """The timed test over what is recorded so far, timed off the event loop while the
        session goes on."""
        time_trials = getattr(self.recorder, "time_trials", None)
        if time_trials is None:
            reason = "not timed: this recording cannot be timed during the session"
            return TrialsMessage(session_id=self.session_id,
                                 timed_test=TimedTestResult(reason=reason), walking=False)
        trials = await self._loop.run_in_executor(None, time_trials)
        return TrialsMessage(session_id=self.session_id, timed_test=trials.result,
                             walking=trials.walking)

    def _record(self, **fields: Any) -> None:
        """Store the outcome; a database that cannot be written leaves the session to recovery."""
        def write() -> None:
            self.storage.update_session(self.session_id, **fields)

        try:
            write()
        except OutputError as exc:
            log.error("the outcome of session %s could not be saved: %s", self.session_id, exc)
            self._send(ErrorMessage(
                message=f"{user_message(exc)}. This session is added to the history as soon "
                "as there is free space."))
            retry_in_background(write, f"the outcome of session {self.session_id}")
        except Exception:  # noqa: BLE001 - saved later, or settled by the next start
            log.exception("could not record the outcome of session %s", self.session_id)
            retry_in_background(write, f"the outcome of session {self.session_id}")

    def _finalise(self) -> FinishedMessage:
        if self._finished is not None:
            return self._finished
        # The run lets go of its coach (and pose model) and recorder here, so they are freed
        # when the session ends, not when the last holder of the run (the pool thread that ran
        # this, a pending task) lets go of it.
        coach, self.coach = self.coach, None
        recorder, self.recorder = self.recorder, None
        close = getattr(coach, "close", None)
        try:
            if close is not None:
                close()
        except Exception:  # noqa: BLE001 - closing the model must not block finalising
            log.exception("closing the live coach failed")
        self._release()
        if self.seq == 0 and self._discard():
            return self._finished_empty()
        try:
            result = recorder.finish()
        except Exception as exc:
            message = _finish_error(exc)
            self._record(status="failed", error=message)
            self._finished = FinishedMessage(session_id=self.session_id, status="failed",
                                             error=message)
        else:
            summary = result.summary
            self._record(status="done", summary=summary, duration_s=summary.duration_s)
            self._finished = FinishedMessage(
                session_id=self.session_id, status="done", frames=self.seq,
                dropped=self._dropped(), timed_test=getattr(summary, "timed_test", None))
        return self._finished

    def _discard(self) -> bool:
        """Drop a session no frame reached (a start, then a drop or a stop): nothing is kept,
        so starts cannot fill the library with empty sessions. False when it must be kept."""
        abandon = getattr(self.recorder, "abandon", None)
        try:
            if abandon is not None:
                abandon()
            return self.storage.discard_session(self.session_id)
        except Exception:  # noqa: BLE001 - then it is finalised (as failed) like any other
            log.exception("the empty session %s could not be removed", self.session_id)
            return False

    def _finished_empty(self) -> FinishedMessage:
        self._finished = FinishedMessage(
            session_id=self.session_id, status="failed",
            error="no frame arrived, so nothing was recorded or kept")
        return self._finished

    def _release(self) -> None:
        """Free the live slot (and camera) once the model is closed, before the slow outputs."""
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            try:
                on_close()
            except Exception:  # noqa: BLE001 - must not stop the finalising
                log.exception("releasing session %s failed", self.session_id)

    async def finish(self, close_input: Callable[[], None]) -> FinishedMessage:
        """Stop taking frames, process what is waiting, and finalise the recording.

        The finalising is queued on the session's thread at once and shielded, so it
        completes even if this coroutine is cancelled (a closed tab, a server shutdown).
        """
        close_input()
        future = self._executor.submit(self._finalise)
        self._executor.submit(release_free_memory)
        self._executor.shutdown(wait=False)
        return await asyncio.shield(asyncio.wrap_future(future))


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None where the C library has none (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> None:
    """Give the memory a finished session freed back to the system.

    The C allocator keeps freed memory in per-thread arenas, and each session runs on new
    threads (the model, the coach, the encoder), so the pages one session frees are often not
    the ones the next reuses: without this the server grew by tens of MB with every session.
    """
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _finish_error(exc: Exception) -> str:
    """Why a session could not be finalised, for the walker; unexpected errors are logged."""
    if isinstance(exc, PosecoachError):
        return user_message(exc)
    log.error("finalising a live session failed", exc_info=exc)
    return "the session could not be finalised (see the server log)"
