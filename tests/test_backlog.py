"""Frames waiting to be drawn: the byte-bounded backlog, the spool file, and a live recorder whose
drawing waits while sessions share the cores yet keeps every frame of a real clip."""

from __future__ import annotations

import threading
import time

import av
import cv2
import numpy as np
import pytest

from posecoach.errors import OutputError
from posecoach.pipeline.backlog import Backlog, FrameSpool
from tests.conftest import VIDEO, needs_shared_data


@pytest.fixture
def consumer():
    """A consumer thread that stays alive for the test."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    yield thread
    stop.set()


def test_backlog_is_first_in_first_out_and_counts_bytes(consumer):
    backlog: Backlog[str] = Backlog(100)
    assert backlog.put("a", 30, consumer)
    assert backlog.put("b", 50, consumer)
    assert backlog.bytes == 80 and len(backlog) == 2
    assert backlog.get() == "a"
    assert backlog.bytes == 50
    assert backlog.get() == "b"
    assert backlog.bytes == 0 and backlog.peak_bytes == 80 and backlog.peak_items == 2


def test_backlog_over_budget_waits_for_the_consumer():
    backlog: Backlog[int] = Backlog(100)
    taken: list[int | None] = []
    ready = threading.Event()

    def consume() -> None:
        ready.wait()
        while (item := backlog.get()) is not None:
            taken.append(item)

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    assert backlog.put(1, 60, consumer)
    put_done = threading.Event()

    def producer() -> None:
        backlog.put(2, 60, consumer)  # over budget: waits until item 1 is taken
        put_done.set()

    threading.Thread(target=producer, daemon=True).start()
    assert not put_done.wait(0.3)
    assert len(backlog) == 1
    ready.set()
    assert put_done.wait(5)
    assert backlog.put(None, 0, consumer)
    consumer.join(5)
    assert taken == [1, 2]
    assert backlog.peak_bytes <= 100


def test_an_item_bigger_than_the_budget_is_taken_when_the_backlog_is_empty(consumer):
    backlog: Backlog[str] = Backlog(10)
    assert backlog.put("big", 1000, consumer)
    assert backlog.get() == "big"


def test_backlog_gives_up_once_the_consumer_has_stopped():
    consumer = threading.Thread(target=lambda: None)
    consumer.start()
    consumer.join()
    backlog: Backlog[int] = Backlog(10)
    assert not backlog.put(1, 5, consumer)
    assert not backlog.put(2, 5, None)
    assert len(backlog) == 0


def _real_jpegs(count: int) -> list[bytes]:
    """640x360 JPEGs of every fourth frame of the side-view clip, as a phone would send."""
    jpegs: list[bytes] = []
    with av.open(str(VIDEO / "side_walk_1080p60.mp4")) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if k % 4:
                continue
            small = cv2.resize(frame.to_ndarray(format="bgr24"), (640, 360),
                               interpolation=cv2.INTER_AREA)
            jpegs.append(cv2.imencode(".jpg", small)[1].tobytes())
            if len(jpegs) == count:
                break
    return jpegs


def _clip_frames(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.mark.parametrize("deferred", [True, False], ids=["sessions-share-cores", "alone"])
@needs_shared_data
def test_live_recorder_keeps_every_frame_of_a_real_clip(tmp_path, deferred):
    """A live session's recorder given each frame with its JPEG: while drawing is deferred
    nothing is drawn until the session finishes, and the frames are drawn from the JPEGs (the
    decoded arrays are blacked out after hand-over); either way the clip holds every frame at
    the session's size."""
    from posecoach.coach.live import LiveCoach
    from posecoach.media.jpeg import decode_jpeg
    from posecoach.pipeline.recorder import SessionRecorder
    from posecoach.settings import load_settings

    settings = load_settings()
    jpegs = _real_jpegs(24)
    coach = LiveCoach(settings)
    recorder = SessionRecorder(tmp_path, settings, 15.0, "live", fragmented=True,
                               defer_drawing=lambda: deferred)
    try:
        for k, data in enumerate(jpegs):
            image = decode_jpeg(data)
            time_s = k / 15.0
            result = coach.process(image, time_s)
            recorder.add(image, time_s, result, jpeg=data)
            if deferred:
                image[:] = 0  # a deferred frame is drawn from its JPEG, not these pixels
        drawn_before_finish = recorder._writer.frames_written
        spool = tmp_path / "frames-waiting.mjpeg"
        spooled_bytes = spool.stat().st_size if spool.exists() else 0
        result = recorder.finish()
    finally:
        coach.close()
    if deferred:
        assert drawn_before_finish == 0
        assert spooled_bytes == sum(len(j) for j in jpegs)
    else:
        assert spooled_bytes == 0
    assert not spool.exists()  # removed once every frame is drawn
    assert result.summary.frames == len(jpegs)
    frames = _clip_frames(tmp_path / "annotated.mp4")
    assert len(frames) == len(jpegs)
    assert frames[0].shape == (360, 640, 3)
    assert float(np.mean([f.mean() for f in frames])) > 40.0


@needs_shared_data
def test_deferred_drawing_catches_up_when_the_backlog_is_half_full(tmp_path):
    """Frames given as pixels wait in memory while drawing is deferred, but not beyond half
    the backlog's budget: a recording longer than that does not hold every frame in memory."""
    from posecoach.coach.live import LiveCoach
    from posecoach.media.jpeg import decode_jpeg
    from posecoach.pipeline.recorder import SessionRecorder
    from posecoach.settings import load_settings

    settings = load_settings()
    settings = settings.model_copy(update={
        "output": settings.output.model_copy(update={"recording_backlog_mb": 8})})
    image0 = decode_jpeg(_real_jpegs(1)[0])  # 640x360 pixels: 0.69 MB a frame
    coach = LiveCoach(settings)
    recorder = SessionRecorder(tmp_path, settings, 15.0, "live", fragmented=True,
                               defer_drawing=lambda: True)
    try:
        for k in range(9):
            image = image0.copy()
            time_s = k / 15.0
            recorder.add(image, time_s, coach.process(image, time_s))
        # 6.2 MB wait: more than half the budget, so drawing has begun before the finish
        deadline = time.monotonic() + 20.0
        while recorder._writer.frames_written == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert recorder._writer.frames_written > 0
        assert recorder._draw_queue.peak_bytes <= 8 * 2**20
        recorder.finish()
    finally:
        coach.close()
    assert len(_clip_frames(tmp_path / "annotated.mp4")) == 9


def test_spool_reads_back_each_frame_and_is_a_stream_of_the_frames(tmp_path):
    spool = FrameSpool(tmp_path / "waiting.mjpeg")
    frames = [bytes([k]) * (1000 + 37 * k) for k in range(5)]
    places = [spool.append(f) for f in frames]
    assert [spool.read(p) for p in reversed(places)] == frames[::-1]
    assert (tmp_path / "waiting.mjpeg").read_bytes() == b"".join(frames)
    spool.close(keep=True)
    assert (tmp_path / "waiting.mjpeg").exists()
    spool.close()
    assert not (tmp_path / "waiting.mjpeg").exists()


def test_spool_that_cannot_be_written_says_so(tmp_path):
    spool = FrameSpool(tmp_path / "no such folder" / "waiting.mjpeg")
    with pytest.raises(OutputError, match="waiting.mjpeg"):
        spool.append(b"jpeg")


@needs_shared_data
def test_deferred_drawing_resumes_when_the_sessions_thin_out(tmp_path):
    """The drawing waits while several sessions run and starts again, before the finish, once
    this session is alone; the spool then empties into the clip."""
    from posecoach.coach.live import LiveCoach
    from posecoach.media.jpeg import decode_jpeg
    from posecoach.pipeline.recorder import SessionRecorder
    from posecoach.settings import load_settings

    settings = load_settings()
    jpegs = _real_jpegs(10)
    several = threading.Event()
    several.set()
    coach = LiveCoach(settings)
    recorder = SessionRecorder(tmp_path, settings, 15.0, "live", fragmented=True,
                               defer_drawing=several.is_set)
    try:
        for k, data in enumerate(jpegs):
            image = decode_jpeg(data)
            recorder.add(image, k / 15.0, coach.process(image, k / 15.0), jpeg=data)
        time.sleep(0.3)
        assert recorder._writer.frames_written == 0
        several.clear()
        deadline = time.monotonic() + 20.0
        while recorder._writer.frames_written < len(jpegs) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert recorder._writer.frames_written == len(jpegs)
        recorder.finish()
    finally:
        coach.close()
    assert len(_clip_frames(tmp_path / "annotated.mp4")) == len(jpegs)
    assert not (tmp_path / "frames-waiting.mjpeg").exists()
