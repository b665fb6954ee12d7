"""Bad and awkward input, end to end: each case gets a clear message, a non-zero exit (or a
warning when part of it could be used) and never a traceback.

Cases already covered elsewhere: bad files for `probe` (test_video.py), bad files on the command
line (test_cli.py), malformed landmarks CSVs (test_landmarks_csv.py, test_properties.py), two
people in frame (test_pose.py), back view (test_analysis.py), and the web API (tests/server/).
"""

from __future__ import annotations

import csv
import json
import os
import queue
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from posecoach.media.probe import probe
from posecoach.media.reader import VideoReader
from posecoach.media.writer import VideoWriter
from posecoach.outputs.landmarks_csv import HEADER
from posecoach.pipeline.offline import analyze_video
from posecoach.settings import load_settings
from tests.bar_clips import one_pixel_clip, write_pyav
from tests.conftest import IMAGES, VIDEO, needs_shared_data

SIDE_1080 = VIDEO / "side_walk_1080p60.mp4"
EMPTY_SOURCE = VIDEO / "back_view_people_139s.mp4"  # nobody in the first 5.5 s
FRONT_GIF = VIDEO / "front_two_walkers.gif"
needs_data = needs_shared_data


def posecoach(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "posecoach", *args], capture_output=True, text=True, timeout=600
    )


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr


class SpyEstimator:
    """Finds nobody; remembers the size and time of every image it was given."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []
        self.times: list[float] = []
        self.first: np.ndarray | None = None

    def detect(self, image_rgb: np.ndarray, time_s: float) -> list[np.ndarray]:
        if self.first is None:
            self.first = image_rgb.copy()
        self.shapes.append(image_rgb.shape)
        self.times.append(time_s)
        return []

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> SpyEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write(path: Path, images: list[np.ndarray], pts: list[int] | None = None,
           time_base: Fraction = Fraction(1, 30), rotation: int | None = None,
           rate: int = 30) -> None:
    options = {"preset": "ultrafast", "crf": "30"}
    write_pyav(path, images, pts, time_base, rotation, options, rate)


def _landmark_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and list(rows[0]) == list(HEADER)
    return rows


def _side_frames(count: int, width: int = 640, start: int = 0) -> list[np.ndarray]:
    frames = []
    with av.open(str(SIDE_1080)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i < start:
                continue
            if len(frames) >= count:
                break
            rgb = frame.to_ndarray(format="rgb24")
            height = round(rgb.shape[0] * width / rgb.shape[1]) // 2 * 2
            frames.append(cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA))
    return frames


# ---------------------------------------------------------------- files


@pytest.fixture(scope="module")
def audio_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "voice memo.mp4"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=44100)
        stream.layout = "mono"
        for k in range(20):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate = 44100
            frame.pts = k * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_no_video_stream_on_the_command_line(audio_only: Path, tmp_path: Path) -> None:
    proc = posecoach("analyze", str(audio_only), "--out", str(tmp_path))
    assert proc.returncode == 1
    no_traceback(proc)
    assert "voice memo.mp4" in proc.stderr and "no video stream" in proc.stderr


@needs_data
def test_png_renamed_mp4_on_the_command_line(tmp_path: Path) -> None:
    photo = cv2.imread(str(IMAGES / "COCO_val2014_000000000241.jpg"))
    path = tmp_path / "holiday.mp4"
    ok, buf = cv2.imencode(".png", photo)
    assert ok
    path.write_bytes(buf.tobytes())
    proc = posecoach("analyze", str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1
    no_traceback(proc)
    assert "holiday.mp4" in proc.stderr and "photo" in proc.stderr.lower()
    assert not (tmp_path / "out" / "holiday" / "summary.json").exists()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("frame,time_s\n1,2\n", "landmarks columns"),
        (",".join(HEADER) + "\n0,0.0,640,480," + ",".join(["1"] * 60) + "\n", "line 2"),
        (",".join(HEADER) + "\n0,0.0,640,480," + ",".join(["inf"] * 132) + "\n", "infinite"),
        ("", "empty"),
    ],
    ids=["wrong-header", "cut-row", "inf", "empty"],
)
def test_bad_landmarks_csv_on_the_command_line(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "walk.landmarks.csv"
    path.write_text(content)
    proc = posecoach("analyze", str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1
    no_traceback(proc)
    assert "walk.landmarks.csv" in proc.stderr and fragment in proc.stderr


@needs_data
@pytest.mark.video
def test_truncated_video_is_analysed_up_to_the_cut(tmp_path: Path) -> None:
    full = tmp_path / "full.mp4"
    frames = _side_frames(90, width=320)
    with VideoWriter(full, 60, frames[0].shape[1], frames[0].shape[0], crf=20) as writer:
        for i, image in enumerate(frames):
            writer.write(image, i / 60)
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    proc = posecoach("analyze", str(cut), "--out", str(tmp_path / "out"))
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert "warning" in proc.stderr and "ends early" in proc.stderr
    summary = json.loads((tmp_path / "out" / "cut" / "summary.json").read_text())
    assert 0 < summary["frames"] < 90
    assert any("ends early" in w for w in summary["warnings"])
    rows = _landmark_rows(tmp_path / "out" / "cut" / "landmarks.csv")
    assert len(rows) == summary["frames"]


# ---------------------------------------------------------------- video properties


def test_4k_frames_are_downscaled_before_the_model(tmp_path: Path) -> None:
    """4K is the largest picture read (8K is refused from its header: tests/server/
    test_limits.py); it reaches the model at the model's working size."""
    settings = load_settings()
    limit = settings.pose.max_input_side_px
    image = np.zeros((2160, 3840, 3), np.uint8)
    image[:, :200] = 255
    path = tmp_path / "four_k.mp4"
    _write(path, [image, image])
    assert (probe(path).width, probe(path).height) == (3840, 2160)
    spy = SpyEstimator()
    result = analyze_video(path, tmp_path / "out", settings, estimator=spy)
    assert spy.shapes, "the model saw no frames"
    for height, width, _ in spy.shapes:
        assert max(width, height) <= limit
        assert width / height == pytest.approx(16 / 9, rel=0.01)
    rows = _landmark_rows(result.files["landmarks.csv"])
    width, height = int(rows[0]["width"]), int(rows[0]["height"])
    assert max(width, height) <= limit
    assert width / height == pytest.approx(16 / 9, rel=0.01)
    with av.open(str(result.files["annotated.mp4"])) as container:
        stream = container.streams.video[0]
        assert max(stream.width, stream.height) <= limit


def test_variable_frame_rate_uses_timestamps(tmp_path: Path) -> None:
    ms = [0, 33, 66, 200, 233, 700, 733, 766, 1500, 1533]
    images = [np.full((120, 160, 3), 20 * i, np.uint8) for i in range(len(ms))]
    path = tmp_path / "vfr.mp4"
    _write(path, images, pts=ms, time_base=Fraction(1, 1000))
    spy = SpyEstimator()
    result = analyze_video(path, tmp_path / "out", load_settings(), estimator=spy)
    assert np.allclose(spy.times, np.array(ms) / 1000, atol=2e-3)
    rows = _landmark_rows(result.files["landmarks.csv"])
    assert np.allclose([float(r["time_s"]) for r in rows], np.array(ms) / 1000, atol=2e-3)
    assert result.summary.duration_s == pytest.approx(1.533 + 0.033, abs=0.05)
    assert result.summary.frames == len(ms)


@pytest.mark.parametrize("rotation", [90, -90])
def test_portrait_phone_clip_reaches_the_model_upright(tmp_path: Path, rotation: int) -> None:
    upright = np.zeros((320, 180, 3), np.uint8)
    upright[:40] = 255  # a white band at the top of the picture as the phone showed it
    stored = np.ascontiguousarray(np.rot90(upright, k=-rotation // 90))
    assert stored.shape == (180, 320, 3)
    path = tmp_path / "phone.mp4"
    _write(path, [stored] * 3, rotation=rotation)
    spy = SpyEstimator()
    result = analyze_video(path, tmp_path / "out", load_settings(), estimator=spy)
    assert spy.first is not None and spy.first.shape[:2] == (320, 180)
    rows_g = spy.first[..., 1].astype(float).mean(axis=1)
    assert rows_g[:30].mean() > 200 and rows_g[60:].mean() < 50
    rows = _landmark_rows(result.files["landmarks.csv"])
    assert (int(rows[0]["width"]), int(rows[0]["height"])) == (180, 320)
    with av.open(str(result.files["annotated.mp4"])) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert frame.shape[:2] == (320, 180)
    assert frame[5:30, :, 1].mean() > 150


@needs_data
@pytest.mark.video
def test_portrait_phone_clip_of_a_walker_is_measured_upright(tmp_path: Path) -> None:
    frames = _side_frames(40, width=1280, start=40)
    crops = [np.ascontiguousarray(cv2.resize(f[:, 380:785], (360, 640))) for f in frames]
    stored = [np.ascontiguousarray(np.rot90(c, k=-1)) for c in crops]
    path = tmp_path / "phone_walk.mp4"
    _write(path, stored, rotation=90)
    result = analyze_video(path, tmp_path / "out", load_settings())
    assert result.summary.frames_with_person >= 30
    points = result.series.points
    nose_y, ankle_y = points[:, 0, 1], np.nanmean(points[:, [27, 28], 1], axis=1)
    seen = np.isfinite(nose_y) & np.isfinite(ankle_y)
    assert (nose_y[seen] < ankle_y[seen]).mean() > 0.9, "the walker must come out upright"


def test_one_frame_video(tmp_path: Path) -> None:
    path = tmp_path / "one.mp4"
    _write(path, [np.full((96, 128, 3), 120, np.uint8)])
    proc = posecoach("analyze", str(path), "--out", str(tmp_path / "out"), "--json")
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "out" / "one" / "summary.json").read_text())
    assert summary["frames"] == 1 and summary["frames_with_person"] == 0
    assert summary["steps"] is None and summary["cadence_spm"] is None
    assert any("Nobody" in w for w in summary["warnings"])
    for name in ("annotated.mp4", "landmarks.csv", "metrics.csv", "report.html"):
        assert (tmp_path / "out" / "one" / name).stat().st_size > 0


class _CountingQueue(queue.Queue):  # type: ignore[type-arg]
    """A bounded queue that counts what went in and remembers its fullest moment."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize=maxsize)
        self.puts = 0
        self.peak = 0
        self.reached = threading.Event()

    def _put(self, item: Any) -> None:
        super()._put(item)
        self.puts += 1
        self.peak = max(self.peak, self._qsize())
        if self._qsize() >= self.maxsize:
            self.reached.set()


def test_two_hour_video_is_streamed_with_bounded_memory(tmp_path: Path) -> None:
    """7200 s at 1 fps (tiny frames: quick to make); the reader holds at most its queue."""
    path = tmp_path / "two_hours.mp4"
    images = [np.full((16, 16, 3), (i * 37) % 256, np.uint8) for i in range(7200)]
    _write(path, images, time_base=Fraction(1, 1), rate=1)
    info = probe(path)
    assert info.duration_s == pytest.approx(7200, abs=2)
    reader = VideoReader(path, queue_size=4)
    counting = _CountingQueue(4)
    reader._worker.queue = counting
    frames = iter(reader)
    first = next(frames)
    assert first.time_s == 0.0
    assert counting.reached.wait(timeout=60), "the decoder never filled its queue"
    # The consumer is idle: the decoder must be waiting, not reading ahead.
    assert reader.running
    assert counting.puts <= 1 + counting.maxsize + 1
    last = first
    count = 1
    for frame in frames:
        last = frame
        count += 1
    assert count == 7200
    assert last.time_s == pytest.approx(7199, abs=1)
    assert counting.peak <= counting.maxsize
    assert not reader.running and not reader.truncated


# ---------------------------------------------------------------- content (the real model)


@pytest.fixture(scope="module")
def empty_scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 5 s of a real clip, before anybody walks in: a room with a small table."""
    path = tmp_path_factory.mktemp("empty") / "empty_room.mp4"
    with av.open(str(EMPTY_SOURCE)) as container, VideoWriter(
        path, 10, 768, 432, preset="ultrafast"
    ) as writer:
        for i, frame in enumerate(container.decode(video=0)):
            if i >= 50:
                break
            writer.write(frame.to_ndarray(format="rgb24"), i / 10)
    return path


@needs_data
@pytest.mark.video
def test_still_background_with_nobody_says_so(tmp_path: Path) -> None:
    frames = _side_frames(135, width=640)
    background = np.concatenate([frames[0][:, :320], frames[-1][:, 320:]], axis=1)
    path = tmp_path / "nobody.mp4"
    _write(path, [background] * 20)
    proc = posecoach("analyze", str(path), "--out", str(tmp_path / "out"))
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert "Nobody was found" in proc.stderr
    summary = json.loads((tmp_path / "out" / "nobody" / "summary.json").read_text())
    assert summary["frames_with_person"] == 0
    assert summary["direction"] == "unknown" and summary["steps"] is None


@needs_data
@pytest.mark.video
def test_real_empty_room_finds_nobody(empty_scene: Path, tmp_path: Path) -> None:
    result = analyze_video(empty_scene, tmp_path / "out", load_settings())
    assert result.summary.frames_with_person <= 2
    assert all(cue.rule in ("in_frame", "camera_view") for cue in result.summary.cues)


@needs_data
@pytest.mark.video
def test_walker_partly_out_of_frame_is_told_to_step_into_view(tmp_path: Path) -> None:
    frames = _side_frames(135, width=640)
    keep = int(frames[0].shape[0] * 0.75) // 2 * 2
    path = tmp_path / "legs_cut.mp4"
    with VideoWriter(path, 60, 640, keep, preset="ultrafast") as writer:
        for i, image in enumerate(frames):
            writer.write(np.ascontiguousarray(image[:keep]), i / 60)
    result = analyze_video(path, tmp_path / "out", load_settings())
    with_person = [m for m in result.metrics.rows() if m.has_person]
    assert len(with_person) > 100
    assert sum(not m.fully_in_frame for m in with_person) > 0.8 * len(with_person)
    assert "in_frame" in {cue.rule for cue in result.summary.cues}
    assert result.summary.step_length_leg is None


@needs_data
@pytest.mark.video
def test_front_view_does_not_judge_step_length(tmp_path: Path) -> None:
    proc = posecoach("analyze", str(FRONT_GIF), "--out", str(tmp_path), "--json")
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "front_two_walkers" / "summary.json").read_text())
    assert summary["view"] == "front"
    assert summary["step_length_leg"] is None and summary["step_length_m"] is None
    assert summary["steps"] is None
    assert summary["frames_with_person"] > summary["frames"] // 2


# ---------------------------------------------------------------- odd files, plain words


def _cut_vp9(path: Path) -> Path:
    """The real VP9 clip cut to its first 2 %: its first picture cannot be decoded."""
    data = (VIDEO / "side_walk_two_people_vp9.mp4").read_bytes()
    path.write_bytes(data[: int(len(data) * 0.02)])
    return path


def _plain(text: str) -> None:
    assert "Traceback" not in text and "internal error" not in text
    assert "Errno" not in text and "1094995529" not in text


def test_one_pixel_video_on_the_command_line(tmp_path: Path) -> None:
    clip = one_pixel_clip(tmp_path / "dot.mp4")
    proc = posecoach("analyze", str(clip), "--out", str(tmp_path / "out"))
    _plain(proc.stdout + proc.stderr)
    assert proc.returncode == 1
    assert "dot.mp4 is only 1x1 pixels: too small to show a person" in proc.stderr
    assert not (tmp_path / "out" / "dot").exists()


@needs_data
def test_truncated_vp9_on_the_command_line(tmp_path: Path) -> None:
    clip = _cut_vp9(tmp_path / "cut.mp4")
    proc = posecoach("analyze", str(clip), "--out", str(tmp_path / "out"))
    _plain(proc.stdout + proc.stderr)
    assert proc.returncode == 1
    assert "cut.mp4 is damaged: its video could not be decoded" in proc.stderr
    assert "cut short or damaged" in proc.stderr


@needs_data
def test_one_pixel_and_truncated_uploads_are_refused_in_words(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from posecoach.server import create_app
    from tests.server.conftest import FAST_LIMITS, ORIGIN, FakeEngine

    app = create_app(tmp_path / "data", engine=FakeEngine(delay_s=0.0), limits=FAST_LIMITS)
    dot = one_pixel_clip(tmp_path / "dot.mp4").read_bytes()
    cut = _cut_vp9(tmp_path / "cut.mp4").read_bytes()
    with TestClient(app) as client:
        for name, data, words in (("dot.mp4", dot, "too small to show a person"),
                                  ("cut.mp4", cut, "could not be decoded")):
            response = client.post(
                "/api/uploads",
                files=[("files", (name, data, "application/octet-stream"))],
                headers={"origin": ORIGIN},
            )
            assert response.status_code == 415, response.text
            detail = response.json()["detail"]
            assert words in detail
            _plain(detail)


@needs_data
@pytest.mark.video
def test_file_name_with_a_non_utf8_byte_gets_every_output(tmp_path: Path) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    raw_name = b"walk\xff.mp4"
    clip = Path(os.fsdecode(bytes(folder) + b"/" + raw_name))
    _write(clip, _side_frames(45, width=320))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "posecoach", "analyze", os.fsencode(clip), "--out", str(out)],
        capture_output=True, timeout=600,
    )
    stderr = proc.stderr.decode("utf-8")  # every name shown is valid text
    _plain(stderr)
    assert proc.returncode == 0, stderr
    assert "walk\ufffd.mp4" in proc.stdout.decode("utf-8")
    made = out / "walk\ufffd"
    assert sorted(p.name for p in out.iterdir()) == [made.name]
    for name in ("annotated.mp4", "landmarks.csv", "metrics.csv", "summary.json", "report.html"):
        assert (made / name).stat().st_size > 0, name
    summary = json.loads((made / "summary.json").read_text(encoding="utf-8"))
    assert summary["source"] == "walk\ufffd.mp4"
    report = (made / "report.html").read_text(encoding="utf-8")
    assert "walk\ufffd.mp4" in report


@needs_data
@pytest.mark.video
def test_video_and_gif_of_the_same_name_in_parallel(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    mp4 = clips / "clipA.mp4"
    mp4.write_bytes(SIDE_1080.read_bytes())
    gif = clips / "clipA.gif"
    gif.write_bytes(FRONT_GIF.read_bytes())
    out = tmp_path / "out"
    proc = posecoach("analyze", str(mp4), str(gif), "--out", str(out), "--jobs", "2")
    _plain(proc.stdout + proc.stderr)
    assert proc.returncode == 0, proc.stderr
    assert "2 analysed, 0 failed" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "batch.csv", "clipA", "clipA.gif", "index.html"]
    for folder, source in (("clipA", "clipA.mp4"), ("clipA.gif", "clipA.gif")):
        summary = json.loads((out / folder / "summary.json").read_text())
        assert summary["source"] == source
        assert (out / folder / "report.html").is_file()
        assert (out / folder / "annotated.mp4").stat().st_size > 0
