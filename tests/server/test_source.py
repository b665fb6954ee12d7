"""`posecoach serve --source FILE`: every frame of a short file, and files that are not videos."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from posecoach.errors import VideoError
from posecoach.media.camera import CameraReader
from posecoach.server import create_app
from tests.conftest import IMAGES, VIDEO
from tests.server.conftest import FAST_LIMITS, FakeEngine, receive_until

GIF = VIDEO / "front_two_walkers.gif"
GIF_FRAMES = 35
PHOTO = IMAGES / "COCO_val2014_000000000192.jpg"


def test_a_gif_plays_every_frame_at_its_own_times() -> None:
    reader = CameraReader(str(GIF))
    assert reader.realtime and reader.info.frame_count == GIF_FRAMES
    time.sleep(1.5)  # getting ready (loading the model) must not skip the start of the clip
    frames = []
    for frame in reader:
        frames.append(frame)
        time.sleep(0.01)  # a consumer that keeps up with 12 frames/s
    assert [f.index for f in frames] == list(range(GIF_FRAMES))
    assert reader.frames_dropped == 0
    times = [f.time_s for f in frames]
    assert times[0] == 0.0 and all(b > a for a, b in zip(times, times[1:], strict=False))
    assert 2.5 < times[-1] < 3.0  # the GIF's own clock: 2.9 s
    assert frames[0].image.shape == (270, 480, 3)


def test_a_file_still_plays_in_real_time() -> None:
    reader = CameraReader(str(GIF))
    start = time.monotonic()
    count = sum(1 for _ in reader)
    assert count == GIF_FRAMES
    assert time.monotonic() - start > 2.0  # paced by the file's times, not read at once


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: _write(d / "notes.txt", b"walk backwards slowly\n" * 20), "not a video"),
        (lambda d: _write(d / "clip.mp4", b"\x00\x01\x02garbage" * 500), "not a video"),
        (lambda d: _write(d / "empty.mp4", b""), "empty"),
        (lambda d: PHOTO, "photo"),
        (lambda d: d, "folder"),
    ],
    ids=["text", "garbage-named-mp4", "empty", "photo", "folder"],
)
def test_a_file_that_is_not_a_video_says_so(tmp_path: Path, make, words: str) -> None:
    path = make(tmp_path)
    with pytest.raises(VideoError) as caught:
        CameraReader(str(path))
    message = str(caught.value)
    assert words in message
    assert "connected" not in message and "address" not in message


def test_a_missing_camera_still_gets_the_camera_message(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="check that it is connected"):
        CameraReader(str(tmp_path / "no-such-file.mp4"))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _run_source(tmp_path: Path, source: Path) -> tuple[dict, list[dict]]:
    app = create_app(tmp_path / "data", source=str(source), engine=FakeEngine(delay_s=0.01),
                     limits=FAST_LIMITS)
    with TestClient(app) as client, client.websocket_connect("/ws/source") as ws:
        ws.send_text(json.dumps({"type": "start", "level": "beginner"}))
        return receive_until(ws, "finished")


def test_the_server_coaches_every_frame_of_a_gif_source(tmp_path: Path) -> None:
    finished, before = _run_source(tmp_path, GIF)
    assert finished["status"] == "done"
    assert finished["frames"] == GIF_FRAMES and finished["dropped"] == 0
    results = [m for m in before if m["type"] == "result"]
    assert len(results) == GIF_FRAMES
    assert not [m for m in before if m["type"] == "error"]


def test_the_server_says_a_source_file_is_not_a_video(tmp_path: Path) -> None:
    text = _write(tmp_path / "walk.mp4", b"this is a note, not a clip\n" * 40)
    app = create_app(tmp_path / "data", source=str(text), engine=FakeEngine(),
                     limits=FAST_LIMITS)
    with TestClient(app) as client, client.websocket_connect("/ws/source") as ws:
        ws.send_text(json.dumps({"type": "start", "level": "beginner"}))
        error = ws.receive_json()
        assert error["type"] == "error"
        assert "not a video" in error["message"] and "connected" not in error["message"]
        ws.send_text(json.dumps({"type": "ping"}))
        assert ws.receive_json() == {"type": "pong"}  # the socket and the server go on
