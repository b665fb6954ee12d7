"""The 3-metre backward walk test over /ws/live: start, per-trial timing, the final result.

The timed session runs the real live coach and the real recorder; only the pose model is
replaced by a motion-capture backward walk (../shared/data/mocap, its first pose held still for
1.5 s, projected into a side camera), looked up by the frame's time on the server's clock. So
the walk the server sees follows that clock, and its time is checked against the trial's true
time from the 3D joints.
"""

from __future__ import annotations

import json
import time
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from posecoach.coach.live import LiveCoach
from posecoach.server import create_app
from posecoach.server.engine import DefaultEngine
from posecoach.settings import Settings
from tests.conftest import MOCAP, needs_shared_data
from tests.mocap.timed_walk import (
    Truth,
    floor_marks,
    held_trial,
    project_held,
    timing_truth,
)
from tests.server.conftest import FAST_LIMITS, ORIGIN, FakeEngine, receive_until, synthetic_jpeg

TRIAL = MOCAP / "dataset-1_walk-back_active_001.bvh"
FRAME_W, FRAME_H = 640, 360          # what a browser sends; the projection is 1920x1080
SEND_EVERY_S = 1 / 30
TOLERANCE_S = 0.3


@cache
def _walk() -> tuple[np.ndarray, float, list[float], Truth]:
    """The projected walk in frame pixels, its frame rate, the floor marks and the truth."""
    held = held_trial(str(TRIAL))
    series, camera = project_held(held, noise_px=1.0, seed=5)
    scale = FRAME_W / series.width
    points = series.points.copy()
    points[:, :, :3] *= scale
    marks = [v * scale for v in floor_marks(held, camera)]
    return points, float(held.fps), marks, timing_truth(held)


class MocapPeople:
    """Stands in for the pose model: the walker's landmarks at the frame's time."""

    def __init__(self) -> None:
        self.points, self.fps, _, _ = _walk()
        self.crowded = False

    def detect(self, image_rgb: np.ndarray, time_s: float) -> list[np.ndarray]:
        i = min(int(round(time_s * self.fps)), len(self.points) - 1)
        return [self.points[i].copy()]

    def close(self) -> None:
        """Nothing to release."""


class MocapEngine(FakeEngine):
    """The real live coach and recorder, with the motion-capture walk as the pose model."""

    def __init__(self) -> None:
        super().__init__()
        self.settings: list[Settings] = []

    def live_coach(self, settings: Settings) -> Any:
        self.settings.append(settings)
        return LiveCoach(settings, estimator=MocapPeople(), check_setup=True)  # type: ignore[arg-type]

    def recorder(self, out_dir: Path, settings: Settings, fps: float, source_name: str,
                 defer_drawing: Any = None) -> Any:
        return DefaultEngine.recorder(self, out_dir, settings, fps, source_name,
                                      defer_drawing=defer_drawing)


@pytest.fixture(scope="module")
def engine() -> MocapEngine:
    return MocapEngine()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, engine: MocapEngine):
    app = create_app(tmp_path_factory.mktemp("posecoach-timed"), engine=engine,
                     limits=FAST_LIMITS)
    with TestClient(app) as test_client:
        yield test_client


def _start(ws: Any, **fields: Any) -> dict[str, Any]:
    ws.send_text(json.dumps({"type": "start", "level": "beginner", **fields}))
    return ws.receive_json()


def test_a_test_without_a_distance_scale_is_refused(client: TestClient) -> None:
    with client.websocket_connect("/ws/live", headers={"origin": ORIGIN}) as ws:
        refused = _start(ws, test="3m-backward", height_cm=None)
        assert refused["type"] == "error"
        assert refused["message"] == (
            "the timed test needs a distance scale: mark the two floor lines on the camera "
            "picture, or give the walker's height")
        refused = _start(ws, test="3m-backward", floor_marks_px=[1, 2, 3])
        assert refused["type"] == "error" and "8 numbers" in refused["message"]
        refused = _start(ws, test="3m-backward", height_cm=170, population="astronauts")
        assert refused["type"] == "error" and "unknown population" in refused["message"]
        refused = _start(ws, test="6-minute-walk", height_cm=170)
        assert refused["type"] == "error" and "unknown test" in refused["message"]
        refused = _start(ws, test="3m-backward", height_cm=170, person_id="0" * 32)
        assert refused == {"type": "error", "message": "no such person"}
        ws.send_text(json.dumps({"type": "time_trials"}))
        assert "timed test" in ws.receive_json()["message"]
    assert client.get("/api/sessions").json() == []


def test_coaching_sessions_are_not_timed(client: TestClient, engine: MocapEngine) -> None:
    with client.websocket_connect("/ws/live", headers={"origin": ORIGIN}) as ws:
        started = _start(ws, height_cm=170)
        assert started["type"] == "started"
        assert engine.settings[-1].timed_test.run is False
        ws.send_text(json.dumps({"type": "time_trials"}))
        assert "timed test" in ws.receive_json()["message"]
        ws.send_bytes(synthetic_jpeg(FRAME_W, FRAME_H))
        ws.send_text(json.dumps({"type": "stop"}))
        finished, _ = receive_until(ws, "finished")
    assert "timed_test" not in finished


@needs_shared_data
def test_a_timed_trial_from_floor_marks_is_stored_under_the_person(
    client: TestClient, engine: MocapEngine
) -> None:
    _, _, marks, truth = _walk()
    assert truth.time_s is not None and truth.end_s is not None
    storage = client.app.state.ctx.storage  # type: ignore[attr-defined]
    person = storage.create_person("Ward 3 bed 2", height_cm=None, population="parkinsons")
    frame = synthetic_jpeg(FRAME_W, FRAME_H)
    with client.websocket_connect("/ws/live", headers={"origin": ORIGIN}) as ws:
        started = _start(ws, test="3m-backward", floor_marks_px=marks, person_id=person.id)
        assert started["type"] == "started", started
        settings = engine.settings[-1]
        assert settings.timed_test.run and settings.timed_test.population == "parkinsons"
        assert settings.timed_test.floor_marks_px == pytest.approx(marks)
        t0 = time.monotonic()
        sent = 0
        asked_mid_walk = False
        while (elapsed := time.monotonic() - t0) < truth.end_s + 0.8:
            ws.send_bytes(frame)
            sent += 1
            if not asked_mid_walk and elapsed > truth.onset_s + 1.0:
                ws.send_text(json.dumps({"type": "time_trials"}))
                asked_mid_walk = True
            time.sleep(max(0.0, t0 + sent * SEND_EVERY_S - time.monotonic()))
        assert elapsed > truth.end_s
        ws.send_text(json.dumps({"type": "time_trials"}))
        mid_walk, _ = receive_until(ws, "trials")
        trials, _ = receive_until(ws, "trials")
        ws.send_text(json.dumps({"type": "stop"}))
        finished, _ = receive_until(ws, "finished")

    under_way = mid_walk["timed_test"]["trials"]
    assert mid_walk["walking"] is True
    assert len(under_way) == 1 and not under_way[0]["timed"], under_way
    assert 0.3 < under_way[0]["distance_m"] < 3.0

    so_far = trials["timed_test"]
    assert trials["walking"] is True
    assert trials["session_id"] == started["session_id"]
    assert so_far["trials"] and so_far["trials"][0]["timed"], so_far
    assert abs(so_far["trials"][0]["time_s"] - truth.time_s) <= TOLERANCE_S

    assert finished["status"] == "done"
    final = finished["timed_test"]
    assert final["timed"], final["reason"]
    assert final["scale_source"] == "floor_marks" and final["population"] == "parkinsons"
    assert abs(final["time_s"] - truth.time_s) <= TOLERANCE_S, (final["time_s"], truth.time_s)
    assert final["interpretation"] and any("4.2 s" in i["text"] for i in final["interpretation"])

    record = client.get(f"/api/sessions/{started['session_id']}").json()
    assert record["summary"]["timed_test"] == final
    assert "clinician_report.html" in record["files"]
    report = client.get(f"/api/sessions/{started['session_id']}/files/clinician_report.html")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert f"{final['time_s']:.2f}" in report.text
    record = storage.get_session(started["session_id"])
    assert record is not None and record.person_id == person.id
    stored = storage.timed_tests(person.id)
    assert [row.session_id for row in stored] == [started["session_id"]]
    assert stored[0].time_s == final["time_s"]
