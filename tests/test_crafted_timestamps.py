"""Crafted and unusual timestamps: bounded work and a plain outcome, whatever a file says.

Each case is made here, with PyAV or as text: a clip whose frames are 1 ns apart in a 1 ns
time base, a clip whose timestamps jump by 10^9 s after its first second while its container
says it lasts 2 s, a clip of thousands of frames that says it lasts microseconds, and
landmark CSVs timed in Unix epoch seconds, 1 ns apart or at 10^15 s. Through the command line
(under a 2 GB address-space limit), the upload API and the analysis itself, each finishes or is
refused within 60 s with a plain message, and every size derived from time stays bounded by the
number of frames.
"""

from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posecoach.frame_rate import is_camera_rate
from posecoach.media.timeline import MAX_GAP_S, MIN_STEP_S
from posecoach.outputs.landmarks_csv import write_landmarks_csv
from posecoach.outputs.results import analyze_series
from posecoach.pipeline.offline import analyze_landmarks_file
from posecoach.pose.landmarks import PoseSeries
from posecoach.server import ServerLimits, create_app
from posecoach.settings import load_settings
from tests.conftest import VIDEO, needs_shared_data
from tests.server.conftest import ORIGIN, wait_job
from tests.synthetic import make_walk

SOURCE_CLIP = VIDEO / "side_walk_1080p60.mp4"
FRAMES = 60
LIMIT_S = 60.0
MEMORY_LIMIT_BYTES = 2 * 1024**3
SETTINGS = load_settings()
PROPS = settings(
    max_examples=int(os.environ.get("POSECOACH_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# ------------------------------------------------------------------------- crafting clips


def _source_frames(count: int, width: int = 320, height: int = 180) -> list[np.ndarray]:
    """The first frames of a real side-view walk, small, so the pose model has someone."""
    frames: list[np.ndarray] = []
    with av.open(str(SOURCE_CLIP)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.reformat(width=width, height=height, format="rgb24").to_ndarray())
            if len(frames) == count:
                break
    while len(frames) < count:
        frames.extend(frames[: count - len(frames)])
    return frames


def _encode(path: Path, images: list[np.ndarray], pts: list[int], time_base: Fraction,
            fmt: str, options: dict[str, str] | None = None) -> Path:
    height, width = images[0].shape[:2]
    with av.open(str(path), "w", format=fmt, container_options=options or {}) as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = time_base
        stream.time_base = time_base
        for image, p in zip(images, pts, strict=True):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = p, time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _set_matroska_duration(path: Path, duration_ms: float) -> None:
    """Overwrite the Segment's Duration element (an 8-byte float of milliseconds)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"\x44\x89\x88")
    assert at > 0, "no Duration element"
    data[at + 3: at + 11] = struct.pack(">d", duration_ms)
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def crafted(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("crafted")
    images = _source_frames(FRAMES)
    # Frames 1 ns apart in a 1 ns time base (ffmpeg's settb, setpts=N and a 10^9 timescale).
    nanosecond = _encode(root / "nanosecond.mp4", images, list(range(FRAMES)),
                         Fraction(1, 10**9), "mp4", {"video_track_timescale": "1000000000"})
    # 30 frames per second, then a jump of 10^9 s after the first second; the container says 2 s.
    jump_ms = [round(k * 1000 / 30) + (10**12 if k >= 30 else 0) for k in range(FRAMES)]
    jump = _encode(root / "jump.mkv", images, jump_ms, Fraction(1, 1000), "matroska")
    _set_matroska_duration(jump, 2000.0)
    # 3,000 tiny frames 1 ns apart: their container says 3 microseconds.
    tiny = [np.full((32, 32, 3), k % 256, dtype=np.uint8) for k in range(3000)]
    many = _encode(root / "many_frames.mp4", tiny, list(range(3000)), Fraction(1, 10**9),
                   "mp4", {"video_track_timescale": "1000000000"})
    return {"nanosecond": nanosecond, "jump": jump, "many_frames": many}


def test_the_crafted_clips_are_what_they_claim(crafted: dict[str, Path]) -> None:
    with av.open(str(crafted["nanosecond"])) as container:
        stream = container.streams.video[0]
        assert stream.time_base == Fraction(1, 10**9)
        assert [f.pts for f in container.decode(stream)][:3] == [0, 1, 2]
    with av.open(str(crafted["jump"])) as container:
        assert container.duration / 1e6 == pytest.approx(2.0)
        stream = container.streams.video[0]
        times = [float(f.pts * f.time_base) for f in container.decode(stream)]
        assert times[30] - times[29] > 1e8


# ------------------------------------------------------------------------- the command line


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def _analyze_cli(path: Path, out: Path) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "posecoach", "analyze", str(path), "--out", str(out)],
        capture_output=True, text=True, timeout=LIMIT_S, preexec_fn=_limited,
    )
    return proc, time.monotonic() - start


@pytest.mark.video
@pytest.mark.parametrize(
    ("name", "words"),
    [("nanosecond", "timed from their count"), ("jump", "break")],
)
def test_crafted_clips_through_the_command_line(
    crafted: dict[str, Path], tmp_path: Path, name: str, words: str
) -> None:
    proc, took_s = _analyze_cli(crafted[name], tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Traceback" not in output and "memory" not in output
    assert words in output
    assert took_s < LIMIT_S
    folder = tmp_path / crafted[name].stem
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["frames"] == FRAMES
    assert summary["duration_s"] < FRAMES / 30.0 + MAX_GAP_S + 1.0
    assert any(words in w for w in summary["warnings"])
    with av.open(str(folder / "annotated.mp4")) as clip:
        assert clip.streams.video[0].frames == FRAMES
        assert clip.duration / 1e6 < FRAMES / 30.0 + MAX_GAP_S + 1.0


# ------------------------------------------------------------------------- the upload API


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _PeakMemory:
    """The process's peak resident memory above where it started, sampled every 20 ms."""

    def __init__(self) -> None:
        self.start = _rss_bytes()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_bytes())

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start


@pytest.fixture(scope="module")
def upload_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    limits = ServerLimits(max_upload_bytes=20_000_000, max_duration_s=LIMIT_S)
    app = create_app(tmp_path_factory.mktemp("crafted-server"), limits=limits)
    with TestClient(app) as client:
        yield client


def _upload(client: TestClient, path: Path) -> tuple[int, dict]:
    with path.open("rb") as fh:
        response = client.post(
            "/api/uploads", files=[("files", (path.name, fh, "video/mp4"))],
            headers={"origin": ORIGIN},
        )
    return response.status_code, response.json()


@pytest.mark.video
@needs_shared_data
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads /proc for memory")
@pytest.mark.parametrize(
    ("name", "words"),
    [("nanosecond", "timed from their count"), ("jump", "break")],
)
def test_crafted_clips_through_the_upload_api(
    upload_client: TestClient, crafted: dict[str, Path], name: str, words: str
) -> None:
    with _PeakMemory() as memory:
        start = time.monotonic()
        status, body = _upload(upload_client, crafted[name])
        assert status == 202, body
        job = wait_job(upload_client, body["jobs"][0]["id"], timeout_s=LIMIT_S)
        took_s = time.monotonic() - start
    assert job["status"] == "done", job
    assert took_s < LIMIT_S
    assert memory.growth < 1024**3, f"grew by {memory.growth / 1e6:.0f} MB"
    session = upload_client.get(f"/api/sessions/{job['session_id']}").json()
    summary = session["summary"]
    assert summary["frames"] == FRAMES
    assert summary["duration_s"] < FRAMES / 30.0 + MAX_GAP_S + 1.0
    assert any(words in w for w in summary["warnings"])


@needs_shared_data
def test_a_clip_whose_frames_outlast_its_stated_duration_is_refused(
    upload_client: TestClient, crafted: dict[str, Path]
) -> None:
    start = time.monotonic()
    status, body = _upload(upload_client, crafted["many_frames"])
    assert time.monotonic() - start < LIMIT_S
    assert status == 422, body
    assert "min long; the limit is 1 min" in body["detail"]
    assert "many_frames.mp4" in body["detail"]


def test_a_stuck_job_fails_on_its_budget_and_the_queue_moves_on(tmp_path: Path) -> None:
    from tests.server.conftest import FakeEngine

    release = threading.Event()

    class StuckFirst(FakeEngine):
        calls = 0

        def analyze_video(self, path, out_dir, settings, progress,  # type: ignore[no-untyped-def]
                          source_name=None):
            StuckFirst.calls += 1
            if StuckFirst.calls == 1:
                release.wait(120)  # stuck: no progress, no end
            return super().analyze_video(path, out_dir, settings, progress)

    app = create_app(tmp_path / "data", engine=StuckFirst(),
                     limits=ServerLimits(max_upload_bytes=5_000_000))
    app.state.ctx.jobs.budget_min_s = 1.0
    app.state.ctx.jobs.budget_s_per_frame = 0.0
    clip = _encode(tmp_path / "small.mp4", [np.zeros((32, 32, 3), np.uint8)] * 10,
                   [k * 3000 for k in range(10)], Fraction(1, 90000), "mp4")
    try:
        with TestClient(app) as client:
            start = time.monotonic()
            first = _upload(client, clip)[1]["jobs"][0]["id"]
            second = _upload(client, clip)[1]["jobs"][0]["id"]
            stuck = wait_job(client, first, timeout_s=60)
            done = wait_job(client, second, timeout_s=60)
            # both settled long before the stuck analysis would have ended by itself
            assert time.monotonic() - start < 100
    finally:
        release.set()
    assert stuck["status"] == "failed"
    assert "time budget" in stuck["error"] and "Traceback" not in stuck["error"]
    assert done["status"] == "done"


# ------------------------------------------------------------------------- landmark CSVs


def _walk_csv(path: Path, offset_s: float = 0.0, spacing_s: float | None = None,
              fps: float = 60.0) -> Path:
    walk, _ = make_walk(duration_s=6.0, fps=fps, noise_px=0.5)
    times = walk.time_s if spacing_s is None else np.arange(len(walk)) * spacing_s
    series = PoseSeries(times, walk.points, walk.width, walk.height)
    write_landmarks_csv(path, series)
    if offset_s:
        lines = path.read_text().splitlines()
        shifted = [lines[0]]
        for line in lines[1:]:
            frame, t, rest = line.split(",", 2)
            shifted.append(f"{frame},{Decimal(repr(offset_s)) + Decimal(t)},{rest}")
        path.write_text("\n".join(shifted) + "\n")
    return path


def _comparable(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "source"}


def test_unix_epoch_times_give_the_same_analysis_as_times_from_zero(tmp_path: Path) -> None:
    zero = analyze_landmarks_file(_walk_csv(tmp_path / "zero.csv"), tmp_path / "zero", SETTINGS)
    epoch_path = _walk_csv(tmp_path / "epoch.csv", offset_s=1.7e9)
    assert epoch_path.read_text().splitlines()[1].split(",")[1].startswith("1700000000.")
    start = time.monotonic()
    epoch = analyze_landmarks_file(epoch_path, tmp_path / "epoch", SETTINGS)
    assert time.monotonic() - start < LIMIT_S
    assert _comparable(epoch.summary.to_json()) == _comparable(zero.summary.to_json())
    assert epoch.summary.to_json()["steps"] and not epoch.summary.to_json()["warnings"]


def test_times_at_ten_to_the_fifteen_read_exactly(tmp_path: Path) -> None:
    zero = analyze_landmarks_file(_walk_csv(tmp_path / "zero.csv"), tmp_path / "zero", SETTINGS)
    far = analyze_landmarks_file(_walk_csv(tmp_path / "far.csv", offset_s=1e15),
                                 tmp_path / "far", SETTINGS)
    assert _comparable(far.summary.to_json()) == _comparable(zero.summary.to_json())


@pytest.mark.parametrize("spacing_s", [1e-9, 1e15])
def test_csv_times_no_camera_makes_are_counted_from_the_frames(
    tmp_path: Path, spacing_s: float
) -> None:
    path = _walk_csv(tmp_path / "odd.csv", spacing_s=spacing_s)
    start = time.monotonic()
    if spacing_s < 1e-4:
        # Written with 4 decimals the times all read 0: a clear error, at once.
        with pytest.raises(ValueError, match="time_s must increase"):
            analyze_landmarks_file(path, tmp_path / "odd", SETTINGS)
        path = tmp_path / "odd.csv"
        lines = path.read_text().splitlines()
        rows = [lines[0]] + [
            f"{i},{i * spacing_s!r},{line.split(',', 2)[2]}" for i, line in enumerate(lines[1:])
        ]
        path.write_text("\n".join(rows) + "\n")
    result = analyze_landmarks_file(path, tmp_path / "odd", SETTINGS)
    assert time.monotonic() - start < LIMIT_S
    summary = result.summary.to_json()
    assert summary["fps"] == pytest.approx(30.0)
    assert any("timed from their count" in w for w in summary["warnings"])
    assert summary["duration_s"] == pytest.approx(len(result.series) / 30.0, abs=0.05)


@pytest.mark.video
def test_crafted_csvs_through_the_command_line(tmp_path: Path) -> None:
    paths = [
        _walk_csv(tmp_path / "epoch.csv", offset_s=1.7e9),
        _walk_csv(tmp_path / "far.csv", offset_s=1e15),
        _walk_csv(tmp_path / "slow.csv", spacing_s=1e15),
    ]
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "posecoach", "analyze", *map(str, paths), "--out",
         str(tmp_path / "out")],
        capture_output=True, text=True, timeout=LIMIT_S, preexec_fn=_limited,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert time.monotonic() - start < LIMIT_S
    assert "Traceback" not in output
    assert "timed from their count" in output


# ------------------------------------------------------------------------- any timestamps

BASE_WALK, _ = make_walk(duration_s=2.0, fps=30.0, noise_px=1.0)


@st.composite
def timed_walks(draw: st.DrawFn) -> PoseSeries:
    """A short walk with timestamps from anywhere: epochs, nanoseconds, 10^15 s, jumps."""
    n = draw(st.integers(1, 60))
    points = BASE_WALK.points[np.arange(n) % len(BASE_WALK)]
    base = draw(st.sampled_from([0.0, 1.7e9, 1e15, -5.0]))
    step = draw(st.sampled_from([1e-12, 1e-9, 1e-6, 1e-3, 1 / 30, 1.0, 3.0, 1e9, 1e15]))
    times = base + np.arange(n) * step
    if n > 2 and draw(st.booleans()):
        times[n // 2:] += draw(st.sampled_from([6.0, 1e9, 1e15]))
    if n > 2 and draw(st.booleans()):
        times[n // 3] = times[n // 3 - 1]
    return PoseSeries(times, points, BASE_WALK.width, BASE_WALK.height)


@PROPS
@given(series=timed_walks())
def test_any_timestamps_keep_the_analysis_bounded(series: PoseSeries) -> None:
    tracemalloc.start()
    try:
        start = time.monotonic()
        result = analyze_series(series, SETTINGS, "odd.csv")
        took_s = time.monotonic() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert took_s < 10.0
    assert peak < 64 * 1024**2, f"{peak / 1e6:.0f} MB for {len(series)} frames"
    n = len(series)
    assert len(result.metrics) == n
    times = result.series.time_s
    assert times[0] == 0.0 and np.all(np.isfinite(times))
    dt = np.diff(times)
    assert np.all(dt >= MIN_STEP_S * (1 - 1e-6)) and np.all(dt <= MAX_GAP_S * (1 + 1e-6))
    if n >= 2:
        assert is_camera_rate(result.series.fps)
    summary = result.summary.to_json()
    json.dumps(summary, allow_nan=False)
    assert summary["frames"] == n
    assert summary["duration_s"] <= n * MAX_GAP_S + 1.0
