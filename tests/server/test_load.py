"""Load: simultaneous live sessions on a real server over loopback, concurrent uploads, and the
live-session limit. Latency is printed, never asserted: only errors and finalising are."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from posecoach.server import ServerLimits, create_app
from tests.conftest import needs_shared_data
from tests.server.conftest import (
    FAST_LIMITS,
    ORIGIN,
    SIDE_CLIP,
    FakeEngine,
    receive_until,
    synthetic_jpeg,
    wait_job,
)
from tests.server.test_live import wait_status
from tools.loadtest import ServerProcess, jpeg_frames, report, run_clients

CLIENTS = 3
SECONDS = 10.0


@needs_shared_data
@pytest.mark.video
def test_simultaneous_live_sessions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = jpeg_frames(SIDE_CLIP, width=640)
    env = {"POSECOACH_MAX_LIVE_SESSIONS": str(CLIENTS)}
    with ServerProcess(tmp_path / "data", env=env) as server:
        stats = run_clients(server.ws_base, CLIENTS, SECONDS, frames, fps=15.0)
        records = [server.get_json(f"/api/sessions/{s.session_id}") for s in stats
                   if s.session_id]
    with capsys.disabled():
        print(f"\nload: {CLIENTS} live clients x {SECONDS:g} s, 640x360 JPEG frames\n"
              + report(stats, SECONDS))
    assert [s.errors for s in stats] == [[]] * CLIENTS
    assert all(s.results > 0 and s.finished for s in stats)
    assert len({s.session_id for s in stats}) == CLIENTS
    assert [r["status"] for r in records] == ["done"] * CLIENTS
    for stat, record in zip(stats, records, strict=True):
        assert stat.finished is not None and stat.finished["frames"] == stat.results
        assert record["summary"]["frames"] == stat.results
        assert "annotated.mp4" in record["files"] and "report.html" in record["files"]


def test_live_session_limit_refuses_the_extra_one_clearly(tmp_path: Path) -> None:
    limits = ServerLimits(max_upload_bytes=1_000_000, max_live_sessions=2)
    app = create_app(tmp_path, engine=FakeEngine(delay_s=0.0), limits=limits)
    start = json.dumps({"type": "start"})
    with TestClient(app) as client, client.websocket_connect("/ws/live") as first, \
            client.websocket_connect("/ws/live") as second, \
            client.websocket_connect("/ws/live") as third:
        ids = []
        for ws in (first, second):
            ws.send_text(start)
            ids.append(receive_until(ws, "started")[0]["session_id"])
            ws.send_bytes(synthetic_jpeg())
            assert ws.receive_json()["type"] == "result"
        third.send_text(start)
        refused = third.receive_json()
        assert refused["type"] == "error" and "already running" in refused["message"]
        first.send_text(json.dumps({"type": "stop"}))
        assert receive_until(first, "finished")[0]["status"] == "done"
        third.send_text(start)
        third_id = receive_until(third, "started")[0]["session_id"]
        third.send_bytes(synthetic_jpeg())
        assert third.receive_json()["type"] == "result"
        for ws in (second, third):
            ws.send_text(json.dumps({"type": "stop"}))
            assert receive_until(ws, "finished")[0]["status"] == "done"
        statuses = {s["id"]: s["status"] for s in client.get("/api/sessions").json()}
    assert [statuses[i] for i in (*ids, third_id)] == ["done"] * 3


def test_client_vanishing_mid_session_frees_its_slot(tmp_path: Path) -> None:
    limits = ServerLimits(max_upload_bytes=1_000_000, max_live_sessions=1)
    app = create_app(tmp_path, engine=FakeEngine(delay_s=0.0), limits=limits)
    with TestClient(app) as client:
        for _ in range(3):
            with client.websocket_connect("/ws/live") as ws:
                ws.send_text(json.dumps({"type": "start"}))
                session_id = receive_until(ws, "started")[0]["session_id"]
                ws.send_bytes(synthetic_jpeg())
                ws.receive_json()
            # closed without a stop: finalised, and the only slot is free again
            wait_status(client, session_id, "done")
        sessions = client.get("/api/sessions").json()
    assert [s["status"] for s in sessions] == ["done"] * 3
    assert app.state.ctx._live_count == 0


def test_concurrent_uploads_all_finish(tmp_path: Path) -> None:
    app = create_app(tmp_path, engine=FakeEngine(delay_s=0.0),
                     limits=ServerLimits(max_upload_bytes=5_000_000))
    clip = SIDE_CLIP.read_bytes()
    responses: list[Any] = [None] * 6

    with TestClient(app) as client:
        def post(k: int) -> None:
            body = clip if k % 3 else b"plain text, not a video\n" * 40
            responses[k] = client.post(
                "/api/uploads", files=[("files", (f"clip{k}.mp4", body, "video/mp4"))],
                headers={"origin": ORIGIN},
            )

        threads = [threading.Thread(target=post, args=(k,)) for k in range(len(responses))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        codes = [r.status_code for r in responses]
        assert codes == [415 if k % 3 == 0 else 202 for k in range(len(responses))], codes
        jobs = [r.json()["jobs"][0] for r in responses if r.status_code == 202]
        finished = [wait_job(client, job["id"]) for job in jobs]
        sessions = client.get("/api/sessions").json()
    assert [job["status"] for job in finished] == ["done"] * len(jobs)
    assert len({job["session_id"] for job in finished}) == len(jobs)
    assert len(sessions) == len(jobs)
    assert not any((tmp_path / "uploads").glob("*")), "every upload moved or removed"


def test_concurrent_oversized_uploads_leave_nothing(tmp_path: Path) -> None:
    app = create_app(tmp_path, engine=FakeEngine(), limits=FAST_LIMITS)
    big = b"\0" * (FAST_LIMITS.max_upload_bytes + 10)
    codes: list[int] = []
    with TestClient(app) as client:
        def post() -> None:
            codes.append(client.post(
                "/api/uploads", files=[("files", ("big.mp4", big, "video/mp4"))]
            ).status_code)

        threads = [threading.Thread(target=post) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert codes == [413] * 4
    assert not any((tmp_path / "uploads").glob("*"))
