"""Tests for posecoach.media: probing, threaded reading, writing, live capture."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from posecoach.errors import VideoError
from posecoach.media.camera import CameraReader
from posecoach.media.probe import probe
from posecoach.media.reader import VideoReader
from posecoach.media.writer import VideoWriter
from tests.bar_clips import bar_image, one_pixel_clip, write_pyav
from tests.conftest import IMAGES, ROOT, VIDEO, needs_shared_data

SIDE_1080 = VIDEO / "side_walk_1080p60.mp4"
PHOTO = IMAGES / "COCO_val2014_000000000241.jpg"

needs_data = needs_shared_data


# ---------------------------------------------------------------- helpers


def _audio_only(path: Path) -> None:
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("aac", rate=44100)
        s.layout = "mono"
        for k in range(20):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate = 44100
            frame.pts = k * 1024
            c.mux(s.encode(frame))
        c.mux(s.encode(None))


def _make_bad(kind: str, path: Path) -> None:
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("Shopping list\n- eggs\n- milk\nThis is not a video.\n" * 20)
    elif kind == "photo":
        shutil.copy(PHOTO, path)
    elif kind == "random":
        path.write_bytes(np.random.default_rng(1).integers(0, 256, 300_000, np.uint8).tobytes())
    elif kind == "audio_only":
        _audio_only(path)
    elif kind == "truncated_head":
        data = SIDE_1080.read_bytes()
        path.write_bytes(data[: int(len(data) * 0.4)])
    elif kind == "truncated_vp9":
        data = (VIDEO / "side_walk_two_people_vp9.mp4").read_bytes()
        path.write_bytes(data[: int(len(data) * 0.02)])
    elif kind == "one_pixel":
        one_pixel_clip(path)
    else:
        raise AssertionError(kind)


def _decode_all(path: Path) -> tuple[str, str, int]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        n = sum(1 for _ in c.decode(s))
        return s.codec_context.name, s.codec_context.pix_fmt, n


# ---------------------------------------------------------------- bad inputs

BAD_INPUTS = [
    ("empty", "clip.mp4 is empty (0 bytes)"),
    ("text", "is a text file, not a video"),
    ("photo", "is a photo (JPEG image), not a video"),
    ("random", "is not a video file (no video stream could be read)"),
    ("audio_only", "has no video stream (it contains only audio)"),
    ("truncated_head", "incomplete MP4 file"),
    ("truncated_vp9", "could not be decoded (its data is invalid, as in a file cut short"),
    ("one_pixel", "clip.mp4 is only 1x1 pixels: too small to show a person"),
]


@needs_data
@pytest.mark.parametrize(("kind", "fragment"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_inputs_give_readable_errors(tmp_path: Path, kind: str, fragment: str) -> None:
    path = tmp_path / "clip.mp4"
    _make_bad(kind, path)
    with pytest.raises(VideoError) as info:
        probe(path)
    assert fragment in str(info.value)
    assert "Traceback" not in str(info.value)
    assert "Errno" not in str(info.value)
    with pytest.raises(VideoError, match="clip.mp4"):
        VideoReader(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="was not found"):
        probe(tmp_path / "nope.mp4")
    with pytest.raises(VideoError, match="is a folder"):
        probe(tmp_path)


@needs_data
def test_png_photo_renamed_is_rejected(tmp_path: Path) -> None:
    import cv2

    img = cv2.imread(str(PHOTO))
    path = tmp_path / "walk.mp4"
    ok, buf = cv2.imencode(".png", img)
    assert ok
    path.write_bytes(buf.tobytes())
    with pytest.raises(VideoError, match="is a photo"):
        probe(path)


# ---------------------------------------------------------------- real clips

REAL_CLIPS = [
    # name, frames, fps, width, height, codec
    ("side_walk_1080p60.mp4", 135, 59.7, 1920, 1080, "h264"),
    ("side_walk_two_people_vp9.mp4", 230, 30.0, 1768, 994, "vp9"),
    ("back_view_people_139s.mp4", 1394, 10.0, 768, 432, "h264"),
    ("front_two_walkers.gif", 35, 12.0, 480, 270, "gif"),
]


@needs_data
@pytest.mark.parametrize(("name", "frames", "fps", "w", "h", "codec"), REAL_CLIPS)
def test_real_clips(name: str, frames: int, fps: float, w: int, h: int, codec: str) -> None:
    info = probe(VIDEO / name)
    assert (info.width, info.height, info.codec, info.rotation_deg) == (w, h, codec, 0)
    assert info.frame_count == frames
    assert info.fps == pytest.approx(fps, rel=0.05)
    with VideoReader(VIDEO / name) as reader:
        times = []
        for frame in reader:
            if frame.index == 0:
                img = frame.image
                assert img.shape == (h, w, 3) and img.dtype == np.uint8
                assert img.flags.c_contiguous and img.std() > 5
            times.append(frame.time_s)
    assert reader.frames_read == frames and not reader.truncated
    assert times[0] == 0.0 and np.all(np.diff(times) > 0)
    measured_fps = (len(times) - 1) / times[-1]
    assert measured_fps == pytest.approx(fps, rel=0.05)


@needs_data
def test_downscale_keeps_aspect_and_content() -> None:
    import cv2

    with VideoReader(SIDE_1080, max_side_px=640) as small:
        first_small = next(iter(small))
    assert small.size == (640, 360)
    assert first_small.image.shape == (360, 640, 3)
    with VideoReader(SIDE_1080) as full:
        first_full = next(iter(full))
    ref = cv2.resize(first_full.image, (640, 360), interpolation=cv2.INTER_AREA)
    assert np.abs(ref.astype(int) - first_small.image.astype(int)).mean() < 3
    with VideoReader(SIDE_1080, max_side_px=4000) as same:
        assert same.size == (1920, 1080)


@needs_data
@pytest.mark.parametrize("name", ["side_walk_1080p60.mp4", "side_walk_two_people_vp9.mp4"])
def test_decoding_on_one_thread_gives_the_same_frames(name: str) -> None:
    """The reader's own thread alone (as `analyze` decodes on two cores) and the codec's frame
    threads decode the same pixels at the same times."""
    with VideoReader(VIDEO / name, max_side_px=1280) as threaded, \
            VideoReader(VIDEO / name, max_side_px=1280, decode_threads=1) as single:
        pairs = list(zip(threaded, single, strict=True))
    assert len(pairs) == probe(VIDEO / name).frame_count
    for a, b in pairs:
        assert a.time_s == b.time_s
        assert np.array_equal(a.image, b.image)


# ---------------------------------------------------------------- timestamps and rotation


def test_variable_frame_rate_timestamps(tmp_path: Path) -> None:
    ms = [0, 33, 66, 150, 170, 400, 433, 900, 1000, 1001]
    path = tmp_path / "vfr.mp4"
    write_pyav(path, [bar_image(i) for i in range(len(ms))], pts=ms,
                time_base=Fraction(1, 1000))
    with VideoReader(path) as reader:
        got = [(f.index, f.time_s) for f in reader]
    assert [i for i, _ in got] == list(range(len(ms)))
    assert np.allclose([t for _, t in got], np.array(ms) / 1000.0, atol=1e-3)


def test_writer_keeps_given_timestamps(tmp_path: Path) -> None:
    times = [0.0, 0.05, 0.07, 0.3, 0.31, 0.8]
    path = tmp_path / "vfr_writer.mp4"
    with VideoWriter(path, 30, 320, 240) as w:
        for i, t in enumerate(times):
            w.write(bar_image(i), time_s=t)
    with VideoReader(path) as reader:
        got = [f.time_s for f in reader]
    assert np.allclose(got, times, atol=1e-3)


def test_duplicate_timestamps_are_nudged(tmp_path: Path) -> None:
    path = tmp_path / "dup.mp4"
    with VideoWriter(path, 30, 64, 64) as w:
        for i in range(5):
            w.write(bar_image(i, 64, 64), time_s=0.1 if i in (1, 2) else i / 30)
    with VideoReader(path) as reader:
        got = [f.time_s for f in reader]
    assert len(got) == 5 and np.all(np.diff(got) > 0)


@pytest.mark.parametrize(
    ("rotation", "white_part"),
    # The stored frame's left half is white; a counter-clockwise turn of 90 moves it down.
    [(90, "bottom"), (-90, "top"), (180, "right"), (0, "left")],
)
def test_rotation_metadata_is_applied(tmp_path: Path, rotation: int, white_part: str) -> None:
    img = np.zeros((32, 64, 3), np.uint8)
    img[:, :32] = 255
    path = tmp_path / "rot.mp4"
    write_pyav(path, [img] * 5, rotation=rotation)
    info = probe(path)
    assert info.rotation_deg == rotation % 360
    upright = (32, 64) if rotation in (90, -90) else (64, 32)
    assert (info.width, info.height) == upright
    with VideoReader(path) as reader:
        frame = next(iter(reader)).image
    assert frame.shape == (upright[1], upright[0], 3)
    g = frame[..., 1].astype(float)
    h, w = g.shape
    halves = {
        "top": (g[: h // 2].mean(), g[h // 2 :].mean()),
        "bottom": (g[h // 2 :].mean(), g[: h // 2].mean()),
        "left": (g[:, : w // 2].mean(), g[:, w // 2 :].mean()),
        "right": (g[:, w // 2 :].mean(), g[:, : w // 2].mean()),
    }
    bright, dark = halves[white_part]
    assert bright > 200 and dark < 50


def test_rotated_clip_downscales_on_the_long_side(tmp_path: Path) -> None:
    img = np.full((240, 320, 3), 90, np.uint8)
    path = tmp_path / "portrait.mp4"
    write_pyav(path, [img] * 3, rotation=-90)
    with VideoReader(path, max_side_px=160) as reader:
        frame = next(iter(reader))
    assert reader.size == (120, 160)
    assert frame.image.shape == (160, 120, 3)


# ---------------------------------------------------------------- truncation and threads


def test_cut_short_file_keeps_decoded_frames(tmp_path: Path) -> None:
    full = tmp_path / "full.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(full, 30, 320, 240, crf=30) as w:  # faststart: index first
        for i in range(90):
            img = bar_image(i)
            img[:, :, 1] = rng.integers(0, 255, (240, 320), np.uint8)
            w.write(img)
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    reader = VideoReader(cut)
    frames = list(reader)
    assert 10 < len(frames) < 90
    assert reader.truncated
    assert reader.error_message is not None and "ends early" in reader.error_message
    assert "cut.mp4" in reader.error_message
    assert not reader.running


def _decode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "posecoach-decode"]


@needs_data
def test_early_stop_ends_the_thread() -> None:
    before = len(_decode_threads())
    reader = VideoReader(SIDE_1080, queue_size=2)
    for frame in reader:
        if frame.index == 2:
            break
    deadline = time.monotonic() + 5
    while reader.running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not reader.running
    assert reader.frames_read == 3
    assert len(_decode_threads()) == before


@needs_data
def test_close_without_iterating_and_abandoned_iterator() -> None:
    with VideoReader(SIDE_1080) as reader:
        pass
    assert not reader.running
    reader = VideoReader(SIDE_1080, queue_size=2)
    it = iter(reader)
    next(it)
    del it
    deadline = time.monotonic() + 5
    while reader.running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not reader.running
    with pytest.raises(RuntimeError):
        iter(reader)


# ---------------------------------------------------------------- writing


def test_writer_output_is_browser_h264(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    red = np.zeros((241, 321, 3), np.uint8)  # odd sides: cropped to even
    red[..., 0] = 220
    with VideoWriter(path, 25, 321, 241) as w:
        for _ in range(40):
            w.write(red)
    codec, pix_fmt, n = _decode_all(path)
    assert (codec, pix_fmt, n) == ("h264", "yuv420p", 40)
    info = probe(path)
    assert (info.width, info.height) == (320, 240)
    assert info.fps == pytest.approx(25, rel=0.01)
    data = path.read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")  # +faststart
    with VideoReader(path) as reader:
        img = next(iter(reader)).image
    r, g, b = img.reshape(-1, 3).mean(axis=0)
    assert r > 180 and g < 40 and b < 40


def test_writer_rejects_wrong_frames(tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "x.mp4", 30, 64, 64) as w:
        with pytest.raises(ValueError, match="differs"):
            w.write(np.zeros((32, 64, 3), np.uint8))
        with pytest.raises(ValueError, match="RGB uint8"):
            w.write(np.zeros((64, 64), np.uint8))
        w.write(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(VideoError, match="already closed"):
        w.write(np.zeros((64, 64, 3), np.uint8))


def test_writer_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="does not exist"):
        VideoWriter(tmp_path / "no" / "such" / "out.mp4", 30, 64, 64)


def test_disk_full_is_a_video_error_monkeypatched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}

    def full_disk(self: VideoWriter, packets: object) -> None:
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(VideoWriter, "_mux", full_disk)
    w = VideoWriter(tmp_path / "full.mp4", 30, 64, 64)
    with pytest.raises(VideoError, match="disk is full"):
        for i in range(500):
            w.write(bar_image(i, 64, 64))
            time.sleep(0.001)
        w.close()
    with pytest.raises(VideoError, match="disk is full"):
        w.close()


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 200 KiB tmpfs; skipped where mounting is not allowed."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def test_disk_full_on_real_tmpfs(tiny_disk: Path) -> None:
    rng = np.random.default_rng(0)
    out = tiny_disk / "out.mp4"
    with (
        pytest.raises(VideoError, match="disk is full"),
        VideoWriter(out, 30, 320, 240, crf=5, preset="ultrafast") as w,
    ):
        for _ in range(300):
            w.write(rng.integers(0, 255, (240, 320, 3), np.uint8))


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from posecoach.media.writer import VideoWriter

    w = VideoWriter(sys.argv[1], 30, 320, 240, fragmented=True, preset="ultrafast")
    for i in range(100000):
        img = np.zeros((240, 320, 3), np.uint8)
        img[:, (i * 8) % 320:(i * 8) % 320 + 8] = 255
        w.write(img)
        if i == 100:
            print("ready", flush=True)
        time.sleep(1 / 60)
    """
)


def test_fragmented_file_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "live.mp4"
    script = tmp_path / "rec.py"
    script.write_text(KILL_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    codec, pix_fmt, n = _decode_all(path)
    assert (codec, pix_fmt) == ("h264", "yuv420p")
    assert n >= 60  # at least two of the ~1 s fragments of the 100+ frames written
    with VideoReader(path) as reader:
        frames = list(reader)
    assert len(frames) == n


# ---------------------------------------------------------------- live capture


def test_camera_reader_drops_stale_frames(tmp_path: Path) -> None:
    path = tmp_path / "cam.mp4"
    img = np.zeros((120, 160, 3), np.uint8)
    img[..., 0] = 200  # red, to catch BGR/RGB mix-ups
    with VideoWriter(path, 30, 160, 120) as w:
        for _ in range(45):
            w.write(img)
    got = []
    with CameraReader(str(path)) as cam:
        assert cam.realtime
        for frame in cam:
            got.append(frame)
            time.sleep(0.1)  # a slow consumer
    assert 5 <= len(got) < 45
    idx = [f.index for f in got]
    assert idx == sorted(idx) and idx[-1] - idx[0] > len(got)  # gaps: stale frames dropped
    assert np.all(np.diff([f.time_s for f in got]) > 0)
    r, g, b = got[0].image.reshape(-1, 3).mean(axis=0)
    assert r > 150 and b < 50 and got[0].image.shape == (120, 160, 3)
    assert cam.frames_dropped > 0


def test_camera_reader_bad_source(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="could not open"):
        CameraReader(str(tmp_path / "nothing-here.mp4"))
