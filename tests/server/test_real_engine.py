"""The server over the real pose engine and real footage (../shared/data)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from posecoach.outputs.files import SessionFiles
from posecoach.server import create_app
from tests.conftest import needs_shared_data
from tests.server.conftest import (
    ORIGIN,
    SIDE_CLIP,
    clip_jpegs,
    receive_until,
    wait_job,
)
from tests.server.test_live import start, wait_status

pytestmark = [pytest.mark.video, needs_shared_data]


@pytest.fixture(scope="module")
def uploaded(real_client: TestClient) -> dict:
    with SIDE_CLIP.open("rb") as fh:
        response = real_client.post(
            "/api/uploads",
            files=[("files", ("side_walk_1080p60.mp4", fh, "video/mp4"))],
            params={"level": "beginner", "height_cm": "178"},
            headers={"origin": ORIGIN},
        )
    assert response.status_code == 202, response.text
    job = wait_job(real_client, response.json()["jobs"][0]["id"])
    assert job["status"] == "done", job
    return real_client.get(f"/api/sessions/{job['session_id']}").json()


def test_real_upload_runs_to_done_and_downloads(real_client: TestClient, uploaded: dict) -> None:
    assert uploaded["status"] == "done"
    assert uploaded["summary"]["frames"] > 100
    assert uploaded["summary"]["height_cm"] == 178
    assert set(uploaded["files"]) == {
        "annotated.mp4", "landmarks.csv", "metrics.csv", "summary.json", "report.html"
    }
    base = f"/api/sessions/{uploaded['id']}/files"
    video = real_client.get(f"{base}/annotated.mp4")
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    partial = real_client.get(f"{base}/annotated.mp4", headers={"range": "bytes=0-99"})
    assert partial.status_code == 206 and len(partial.content) == 100
    summary = real_client.get(f"{base}/summary.json").json()
    assert summary["duration_s"] == pytest.approx(2.3, abs=0.2)
    assert real_client.get(f"{base}/landmarks.csv").text.startswith("frame,time_s")
    assert "<html" in real_client.get(f"{base}/report.html").text.lower()
    plots = real_client.get(f"/api/sessions/{uploaded['id']}/plots").json()
    assert plots and all(svg.lstrip().startswith("<svg") for svg in plots.values())


def test_plots_are_written_by_the_analysis_and_served_from_disk(
    real_client: TestClient, uploaded: dict
) -> None:
    storage = real_client.app.state.ctx.storage
    record = storage.get_session(uploaded["id"])
    assert record is not None
    plots_file = SessionFiles(record.out_dir).plots
    saved = json.loads(plots_file.read_text(encoding="utf-8"))
    url = f"/api/sessions/{uploaded['id']}/plots"
    assert real_client.get(url).json() == saved

    plots_file.unlink()  # a session folder from before the plots were kept
    drawn = real_client.get(url).json()
    assert set(drawn) == set(saved)
    assert plots_file.is_file(), "plots drawn for an older session are kept"

    lost = storage.create_session("upload", "beginner", None, "lost.mp4", "done")
    assert real_client.get(f"/api/sessions/{lost.id}/plots").json() == {}


def test_real_live_session(real_client: TestClient) -> None:
    frames = clip_jpegs(limit=30)
    with real_client.websocket_connect("/ws/live", headers={"origin": ORIGIN}) as ws:
        session_id = start(ws, fps=30)
        results = []
        for frame in frames:
            ws.send_bytes(frame)
            results.append(ws.receive_json())
            assert results[-1]["type"] == "result", results[-1]
        ws.send_text(json.dumps({"type": "stop"}))
        finished, _ = receive_until(ws, "finished")
    assert finished["status"] == "done", finished
    with_person = [r for r in results if r["person"]]
    assert len(with_person) > len(results) // 2
    landmarks = with_person[-1]["landmarks"]
    assert len(landmarks) == 33 and all(0 <= p[0] <= 1.2 for p in landmarks if p[0] is not None)
    record = real_client.get(f"/api/sessions/{session_id}").json()
    assert record["status"] == "done"
    assert "annotated.mp4" in record["files"] and "report.html" in record["files"]
    assert record["summary"]["frames"] == len(frames)


def test_real_disconnect_is_finalised(real_client: TestClient) -> None:
    frames = clip_jpegs(limit=10)
    with real_client.websocket_connect("/ws/live") as ws:
        session_id = start(ws)
        for frame in frames:
            ws.send_bytes(frame)
            ws.receive_json()
    record = wait_status(real_client, session_id, "done", timeout_s=60)
    assert "annotated.mp4" in record["files"] and "summary.json" in record["files"]


def test_crashed_session_is_recovered_from_its_landmarks(
    uploaded: dict, tmp_path: Path, real_client: TestClient
) -> None:
    data_dir = tmp_path / "data"
    app = create_app(data_dir)
    storage = app.state.ctx.storage
    record = storage.create_session("live", "beginner", None, "browser camera", "recording")
    source = real_client.get(f"/api/sessions/{uploaded['id']}/files/landmarks.csv").text
    cut = source[: len(source) - 300]
    Path(record.out_dir, "landmarks.csv.partial").write_text(cut)
    restarted = create_app(data_dir)
    settled = restarted.state.ctx.storage.get_session(record.id)
    assert settled.status == "done"
    assert settled.summary.frames == cut.count("\n") - 1
    assert "recovered" in " ".join(settled.summary.warnings)
    assert Path(record.out_dir, "report.html").is_file()


def test_server_side_source_plays_a_file(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    shutil.copy(SIDE_CLIP, clip)
    app = create_app(tmp_path / "data", source=str(clip))
    with TestClient(app) as client, client.websocket_connect("/ws/source") as ws:
        ws.send_text(json.dumps({"type": "start", "level": "beginner"}))
        started, _ = receive_until(ws, "started")
        t0 = time.monotonic()
        finished, before = receive_until(ws, "finished")
    assert finished["status"] == "done"
    assert time.monotonic() - t0 < 60
    kinds = [m["type"] for m in before]
    assert "frame" in kinds and "result" in kinds
    frame = next(m for m in before if m["type"] == "frame")
    assert frame["jpeg"].startswith("/9j/")
    with TestClient(app) as client:
        record = client.get(f"/api/sessions/{started['session_id']}").json()
    assert record["status"] == "done" and record["source_name"] == str(clip)
