"""Fixtures for the server tests: apps over temporary data folders, fake and real engines."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from posecoach.coach.live import LiveResultBody
from posecoach.coach.metrics import FrameMetrics
from posecoach.outputs.summary import SessionSummary
from posecoach.server import ServerLimits, create_app
from posecoach.server.engine import DefaultEngine, InputError
from posecoach.server.storage import SessionRecord, StoredCheckIn
from posecoach.settings import Settings
from tests.conftest import VIDEO
from tools.loadtest import jpeg_frames

SIDE_CLIP = VIDEO / "side_walk_1080p60.mp4"
ORIGIN = "http://testserver"


class CapturedRun:
    """Stands in for `uvicorn.run`: keeps the app and the options the server would run with."""

    def __init__(self) -> None:
        self.app: FastAPI | None = None
        self.kwargs: dict[str, Any] = {}

    def run(self, app: FastAPI, **kwargs: Any) -> None:
        self.app, self.kwargs = app, kwargs


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> CapturedRun:
    """`uvicorn.run` captured, and no server limits taken from the environment."""
    import uvicorn

    capture = CapturedRun()
    monkeypatch.setattr(uvicorn, "run", capture.run)
    for var in ("POSECOACH_MAX_UPLOAD_MB", "POSECOACH_MAX_DURATION_MIN",
                "POSECOACH_MAX_FILES_PER_UPLOAD", "POSECOACH_MAX_LIVE_SESSIONS"):
        monkeypatch.delenv(var, raising=False)
    return capture


def clip_jpegs(
    path: Path = SIDE_CLIP, limit: int = 40, every: int = 2, width: int = 640
) -> list[bytes]:
    """JPEG frames of a real clip, downscaled as a browser would send them."""
    frames = jpeg_frames(path, limit=limit, every=every, width=width)
    assert frames, f"no frames could be read from {path}"
    return frames


def synthetic_jpeg(width: int = 160, height: int = 120) -> bytes:
    """A small valid JPEG."""
    image = np.full((height, width, 3), 127, dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    return buf.tobytes()


class FakeResult:
    """A live result without the pose model: the walker seen, nothing measured (NaN)."""

    def __init__(self, time_s: float, width: int, height: int) -> None:
        self.time_s, self.width, self.height = time_s, width, height

    def body(self) -> LiveResultBody:
        nan = float("nan")
        metrics = FrameMetrics(
            frame=0, time_s=self.time_s, has_person=True, view="unknown", facing=0,
            direction="unknown", pelvis_speed_leg_s=nan, trunk_lean_deg=nan,
            trunk_lateral_lean_deg=nan, head_angle_deg=nan, looking_down=False, head_turn=nan,
            head_turned=False, edge_distance_frac=nan, fully_in_frame=True, leg_length_px=nan,
            hip_height_frac=nan, fallen=False)
        return LiveResultBody(
            t=self.time_s, width=self.width, height=self.height, person=True,
            landmarks=[(0.5, 0.5, 0.9)] * 33, metrics=metrics, cues=[], new_cues=[], steps=[],
            setting="overground", on_rails=False, setup=None)


class FakeCoach:
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.closed = False

    def detect(self, image_rgb: np.ndarray, time_s: float) -> list[Any]:
        time.sleep(self.delay_s)
        return []

    def process_people(self, people: list[Any], time_s: float, width: int,
                       height: int) -> FakeResult:
        return FakeResult(time_s, width, height)

    def finish(self, end_s: float) -> list[Any]:
        return []

    def close(self) -> None:
        self.closed = True


class FakeRecorder:
    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.times: list[float] = []

    def add(self, image_rgb: np.ndarray, time_s: float, result: Any,
            jpeg: bytes | None = None) -> None:
        with (self.out_dir / "annotated.mp4").open("ab") as fh:
            fh.write(b"frame")
        self.times.append(time_s)

    def finish(self) -> Any:
        if not self.times:
            raise InputError("no frames were recorded")
        summary = {"duration_s": self.times[-1] - self.times[0], "frames": len(self.times)}
        (self.out_dir / "summary.json").write_text(json.dumps(summary))
        return SimpleNamespace(summary=SessionSummary.from_json(summary))


class FakeEngine(DefaultEngine):
    """The real `probe`; instant analysis and live coaching without the pose model."""

    def __init__(self, delay_s: float = 0.02) -> None:
        self.delay_s = delay_s
        self.coaches: list[FakeCoach] = []

    def analyze_video(self, path: Path, out_dir: Path, settings: Settings, progress: Any,
                      source_name: str | None = None) -> Any:
        for done in range(1, 5):
            if progress is not None:
                progress(done, 4)
        summary = {"duration_s": 2.0, "upright_share": 0.9, "head_up_share": 0.9, "cues": []}
        for name in ("annotated.mp4", "landmarks.csv", "metrics.csv", "report.html"):
            (out_dir / name).write_text(name)
        (out_dir / "summary.json").write_text(json.dumps(summary))
        return SimpleNamespace(summary=SessionSummary.from_json(summary))

    def live_coach(self, settings: Settings) -> FakeCoach:
        coach = FakeCoach(self.delay_s)
        self.coaches.append(coach)
        return coach

    def recorder(self, out_dir: Path, settings: Settings, fps: float, source_name: str,
                 defer_drawing: Any = None) -> Any:
        return FakeRecorder(out_dir)

    def plots(self, out_dir: Path, settings: Settings, width_in: float = 9.0) -> dict[str, str]:
        return {"posture": "<svg class=\"plot\"></svg>"}


FAST_LIMITS = ServerLimits(
    max_upload_bytes=2_000_000, max_frame_bytes=300_000, max_duration_s=600.0, max_live_sessions=4
)


@pytest.fixture(scope="module")
def fake_engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("posecoach-data")


@pytest.fixture(scope="module")
def client(data_dir: Path, fake_engine: FakeEngine) -> Iterator[TestClient]:
    app = create_app(data_dir, engine=fake_engine, limits=FAST_LIMITS)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def real_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = create_app(tmp_path_factory.mktemp("posecoach-real"))
    with TestClient(app) as test_client:
        yield test_client


def wait_job(client: TestClient, job_id: str, timeout_s: float = 300.0) -> dict[str, Any]:
    """Poll a job until it is done or failed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout_s} s")


def receive_until(ws: Any, kind: str, limit: int = 10_000) -> tuple[dict[str, Any], list[dict]]:
    """Read messages until one of `kind`; return it and everything before it."""
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        message = ws.receive_json()
        if message["type"] == kind:
            return message, seen
        seen.append(message)
    raise AssertionError(f"no {kind!r} message")


def finished_session(
    day: int,
    summary: SessionSummary,
    checkin: StoredCheckIn | None,
    duration_s: float | None = None,
) -> SessionRecord:
    """A finished session's record as the library hands it out, on day `day` of January."""
    created_at = f"2025-01-{day:02d}T10:00:00+00:00"
    return SessionRecord(
        id=f"{day:032x}", kind="upload", created_at=created_at, source_name="walk.mp4",
        level="beginner", height_cm=None, status="done",
        duration_s=duration_s if duration_s is not None else summary.duration_s,
        out_dir=Path("sessions") / f"{day:032x}", summary=summary, error=None, missing=(),
        recoveries=0, person_id=None, person_name=None, checkin=checkin, settings=None,
    )
