"""WebSocket protocol with a fake coach: start, frames, stop, bad input, drops, disconnects."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from posecoach.media.jpeg import jpeg_size
from posecoach.server import create_app
from tests.server.conftest import FAST_LIMITS, ORIGIN, FakeEngine, receive_until, synthetic_jpeg


def wait_status(client: TestClient, session_id: str, status: str, timeout_s: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        record = client.get(f"/api/sessions/{session_id}").json()
        if record["status"] == status:
            return record
        time.sleep(0.05)
    raise AssertionError(f"session {session_id} never became {status}: {record}")


def start(ws, **extra) -> str:
    ws.send_text(json.dumps({"type": "start", "level": "beginner", "height_cm": 175, **extra}))
    reply = ws.receive_json()
    assert reply["type"] == "started", f"the session did not start: {reply}"
    return reply["session_id"]


def test_start_frames_stop(client: TestClient, data_dir: Path) -> None:
    frame = synthetic_jpeg()
    with client.websocket_connect("/ws/live", headers={"origin": ORIGIN}) as ws:
        session_id = start(ws)
        assert client.get(f"/api/sessions/{session_id}").json()["status"] == "recording"
        ws.send_bytes(frame)
        result = ws.receive_json()
        assert result["type"] == "result" and result["seq"] == 0 and result["dropped"] == 0
        assert len(result["landmarks"]) == 33 and result["metrics"]["trunk_lean_deg"] is None
        assert isinstance(result["server_ms"], float) and result["server_ms"] >= 0
        ws.send_bytes(frame)
        assert ws.receive_json()["seq"] == 1
        ws.send_text(json.dumps({"type": "stop"}))
        finished, _ = receive_until(ws, "finished")
    assert finished == {"type": "finished", "session_id": session_id, "status": "done",
                        "frames": 2, "dropped": 0}
    record = client.get(f"/api/sessions/{session_id}").json()
    assert record["status"] == "done" and record["kind"] == "live"
    assert record["height_cm"] == 175
    assert (data_dir / "sessions" / session_id / "annotated.mp4").is_file()


def test_stale_frames_are_dropped_not_queued(tmp_path: Path) -> None:
    engine = FakeEngine(delay_s=0.1)
    app = create_app(tmp_path, engine=engine, limits=FAST_LIMITS)
    frame = synthetic_jpeg()
    sent = 30
    with TestClient(app) as client, client.websocket_connect("/ws/live") as ws:
        start(ws)
        for _ in range(sent):
            ws.send_bytes(frame)
        ws.send_text(json.dumps({"type": "stop"}))
        finished, before = receive_until(ws, "finished")
    results = [m for m in before if m["type"] == "result"]
    assert [r["seq"] for r in results] == list(range(len(results)))
    assert len(results) < sent / 2
    assert finished["dropped"] > 0
    assert finished["frames"] + finished["dropped"] == sent
    assert engine.coaches[-1].closed


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"not a jpeg at all", "JPEG"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 50, "JPEG"),
        (b"\0" * (FAST_LIMITS.max_frame_bytes + 1), "larger than the limit"),
    ],
)
def test_bad_frames_get_an_error_and_the_session_goes_on(
    client: TestClient, payload: bytes, fragment: str
) -> None:
    with client.websocket_connect("/ws/live") as ws:
        session_id = start(ws)
        ws.send_bytes(payload)
        error = ws.receive_json()
        assert error["type"] == "error" and fragment in error["message"]
        ws.send_bytes(synthetic_jpeg())
        assert ws.receive_json()["type"] == "result"
        ws.send_text(json.dumps({"type": "stop"}))
        finished, _ = receive_until(ws, "finished")
    assert finished["status"] == "done"
    assert client.get(f"/api/sessions/{session_id}").json()["status"] == "done"


def test_truncated_jpeg_is_reported_by_the_decoder(client: TestClient) -> None:
    frame = synthetic_jpeg(320, 240)
    broken = frame[:200]
    assert jpeg_size(broken) == (320, 240)
    with client.websocket_connect("/ws/live") as ws:
        start(ws)
        ws.send_bytes(broken)
        error = ws.receive_json()
        assert error["type"] == "error" and "decoded" in error["message"]
        ws.send_bytes(frame)
        assert ws.receive_json()["type"] == "result"
        ws.send_text(json.dumps({"type": "stop"}))
        receive_until(ws, "finished")


def test_bad_text_messages(client: TestClient) -> None:
    with client.websocket_connect("/ws/live") as ws:
        ws.send_bytes(synthetic_jpeg())
        assert "start message" in ws.receive_json()["message"]
        ws.send_text("{garbage")
        assert "JSON" in ws.receive_json()["message"]
        ws.send_text(json.dumps({"type": "dance"}))
        assert "unknown" in ws.receive_json()["message"]
        ws.send_text(json.dumps({"type": "stop"}))
        assert "no session" in ws.receive_json()["message"]
        ws.send_text(json.dumps({"type": "start", "level": "expert"}))
        assert "unknown level" in ws.receive_json()["message"]
        ws.send_text(json.dumps({"type": "start", "height_cm": "tall"}))
        assert "height_cm" in ws.receive_json()["message"]
        start(ws)
        ws.send_text(json.dumps({"type": "start"}))
        assert "already running" in ws.receive_json()["message"]
        ws.send_text(json.dumps({"type": "stop"}))
        receive_until(ws, "finished")


def test_stop_without_frames_keeps_no_session(client: TestClient) -> None:
    with client.websocket_connect("/ws/live") as ws:
        session_id = start(ws)
        ws.send_text(json.dumps({"type": "stop"}))
        finished, _ = receive_until(ws, "finished")
    assert finished["status"] == "failed" and "no frame" in finished["error"]
    assert client.get(f"/api/sessions/{session_id}").status_code == 404


def test_disconnect_mid_session_still_finalises(client: TestClient, data_dir: Path) -> None:
    with client.websocket_connect("/ws/live") as ws:
        session_id = start(ws)
        for _ in range(3):
            ws.send_bytes(synthetic_jpeg())
            ws.receive_json()
    record = wait_status(client, session_id, "done")
    assert record["summary"]["frames"] == 3
    assert (data_dir / "sessions" / session_id / "summary.json").is_file()


def test_two_sessions_on_one_socket(client: TestClient) -> None:
    with client.websocket_connect("/ws/live") as ws:
        ids = []
        for _ in range(2):
            ids.append(start(ws))
            ws.send_bytes(synthetic_jpeg())
            ws.receive_json()
            ws.send_text(json.dumps({"type": "stop"}))
            receive_until(ws, "finished")
    assert ids[0] != ids[1]


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://testserver.evil.com"])
def test_bad_origin_is_rejected(client: TestClient, origin: str) -> None:
    with pytest.raises(WebSocketDisconnect) as caught, client.websocket_connect(
        "/ws/live", headers={"origin": origin}
    ) as ws:
        ws.receive_json()
    assert caught.value.code == 1008


def test_websocket_needs_the_token_when_set(tmp_path: Path) -> None:
    app = create_app(tmp_path, engine=FakeEngine(), token="s3cret", limits=FAST_LIMITS)
    with TestClient(app) as client:
        with pytest.raises(WebSocketDisconnect) as caught, client.websocket_connect(
            "/ws/live"
        ) as ws:
            ws.receive_json()
        assert caught.value.code == 1008
        with client.websocket_connect("/ws/live?token=s3cret") as ws:
            start(ws)
            ws.send_text(json.dumps({"type": "stop"}))
            receive_until(ws, "finished")


def test_source_socket_without_source(client: TestClient) -> None:
    with client.websocket_connect("/ws/source") as ws:
        assert "--source" in ws.receive_json()["message"]


def test_disconnect_while_a_frame_is_processing_still_finalises(tmp_path: Path) -> None:
    app = create_app(tmp_path, engine=FakeEngine(delay_s=0.5), limits=FAST_LIMITS)
    with TestClient(app) as client:
        with client.websocket_connect("/ws/live") as ws:
            session_id = start(ws)
            ws.send_bytes(synthetic_jpeg())
            time.sleep(0.1)
        record = wait_status(client, session_id, "done", timeout_s=10)
    assert record["summary"]["frames"] == 1


def _longest_gap_s(results: list[dict]) -> float:
    """The longest run of results without the walker: from its first result to the next result
    with him, in seconds of frame time."""
    longest, gap_start = 0.0, None
    for result in results:
        if not result["person"] and gap_start is None:
            gap_start = result["t"]
        elif result["person"] and gap_start is not None:
            longest, gap_start = max(longest, result["t"] - gap_start), None
    if gap_start is not None:
        longest = max(longest, results[-1]["t"] - gap_start)
    return longest


@pytest.mark.video
def test_looping_clip_never_loses_the_walker_in_view(real_client: TestClient) -> None:
    """The side-walk clip looped: the walker reappears at the other edge each time round. The
    model sees one person in every frame, so no stretch of results is without the walker."""
    from posecoach.media.jpeg import decode_jpeg
    from posecoach.pose.estimator import PoseEstimator
    from posecoach.settings import load_settings
    from tests.server.conftest import clip_jpegs

    frames = clip_jpegs(limit=200, every=2)
    with PoseEstimator(load_settings()) as estimator:
        seen = [len(estimator.detect(decode_jpeg(f), i / 30)) for i, f in enumerate(frames)]
    assert seen.count(1) == len(frames), "the model sees the walker in every frame"
    period_s = 1 / 30
    with real_client.websocket_connect("/ws/live", headers={"origin": ORIGIN}) as ws:
        start(ws, fps=30)
        results = []
        for frame in frames * 3:
            slot = time.monotonic() + period_s
            ws.send_bytes(frame)
            results.append(ws.receive_json())
            assert results[-1]["type"] == "result", results[-1]
            time.sleep(max(0.0, slot - time.monotonic()))
        ws.send_text(json.dumps({"type": "stop"}))
        receive_until(ws, "finished")
    share = sum(r["person"] for r in results) / len(results)
    assert share >= 0.95, f"the walker in {share:.0%} of results"
    assert _longest_gap_s(results) <= 0.2
    setup = [r["setup"] for r in results if r["setup"] is not None]
    assert setup and setup[-1]["done"] and setup[-1]["checks"][1]["name"] == "side_on"
    assert setup[-1]["checks"][1]["passed"] is True


def test_a_deeply_nested_message_is_refused_with_a_close_code(client: TestClient) -> None:
    with client.websocket_connect("/ws/live") as ws:
        session_id = start(ws)
        ws.send_bytes(synthetic_jpeg())
        assert ws.receive_json()["type"] == "result"
        ws.send_text("[" * 100_000 + "]" * 100_000)
        error = ws.receive_json()
        assert error["type"] == "error" and "nested too deeply" in error["message"]
        with pytest.raises(WebSocketDisconnect) as caught:
            ws.receive_json()
        assert caught.value.code == 1008
    assert wait_status(client, session_id, "done")["summary"]["frames"] == 1
    with client.websocket_connect("/ws/live") as ws:  # the server goes on
        ws.send_text('{"type": "ping"}')
        assert ws.receive_json() == {"type": "pong"}


@pytest.mark.video
def test_a_finished_session_keeps_no_coach_model_or_recorder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a real session ends, its coach, pose model and recorder are all freed, even while
    something still holds the session's run (the pool thread that finalised it may not have let
    go of it yet when the client reads "finished"): the run lets go of them as it finalises."""
    import gc
    import weakref

    from posecoach.server import routes_live
    from posecoach.server.engine import DefaultEngine
    from posecoach.server.live_run import LiveRun
    from tests.server.conftest import clip_jpegs

    runs: list[LiveRun] = []

    class HeldRun(LiveRun):
        def __init__(self, **kwargs) -> None:
            super().__init__(**kwargs)
            runs.append(self)

    monkeypatch.setattr(routes_live, "LiveRun", HeldRun)

    class WatchedEngine(DefaultEngine):
        def __init__(self) -> None:
            self.refs: list[weakref.ref] = []

        def live_coach(self, settings):
            coach = super().live_coach(settings)
            self.refs += [weakref.ref(coach), weakref.ref(coach.estimator)]
            return coach

        def recorder(self, out_dir, settings, fps, source_name, defer_drawing=None):
            recorder = super().recorder(out_dir, settings, fps, source_name,
                                        defer_drawing=defer_drawing)
            self.refs.append(weakref.ref(recorder))
            return recorder

    engine = WatchedEngine()
    app = create_app(tmp_path, engine=engine)
    frames = clip_jpegs(limit=16)
    with TestClient(app) as client:
        for _ in range(2):
            with client.websocket_connect("/ws/live") as ws:
                start(ws)
                for frame in frames:
                    ws.send_bytes(frame)
                    assert ws.receive_json()["type"] == "result"
                ws.send_text(json.dumps({"type": "stop"}))
                finished, _ = receive_until(ws, "finished")
            assert finished["status"] == "done" and finished["frames"] == len(frames)
        assert len(engine.refs) == 6 and len(runs) == 2
        gc.collect()
        alive = [ref() for ref in engine.refs if ref() is not None]
        assert not alive, f"still held after the sessions ended: {alive}"


@pytest.mark.video
def test_ctrl_c_finishes_the_session_being_recorded(tmp_path: Path) -> None:
    """Ctrl+C on `posecoach serve` ends a live session as Stop would: the client's socket is
    closed, the server exits cleanly, and the session is saved as done with all its outputs
    (what the README promises)."""
    import signal
    import sqlite3

    from tests.conftest import VIDEO
    from tools.loadtest import ClientStats, ServerProcess, jpeg_frames, live_client

    frames = jpeg_frames(VIDEO / "side_walk_1080p60.mp4", limit=60, width=640)
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir).start()
    assert server.proc is not None
    interrupted: list[int] = []

    def ctrl_c_after_some_results(stats: ClientStats) -> None:
        if not interrupted and stats.results >= 20:
            interrupted.append(stats.results)
            server.proc.send_signal(signal.SIGINT)

    try:
        stats = live_client(server.ws_base, frames, seconds=60.0, fps=15.0, stop=False,
                            on_result=ctrl_c_after_some_results)
        exit_code = server.proc.wait(timeout=120)
    finally:
        server.stop()
    assert interrupted, f"the session never got going: {stats.errors}\n{server.log_tail()}"
    assert stats.errors, "the client must have seen its socket closed"
    assert stats.finished is None
    assert exit_code == 0, server.log_tail()
    assert "Traceback" not in server.log_tail(20_000)
    with sqlite3.connect(data_dir / "posecoach.db") as db:
        (status,) = db.execute(
            "SELECT status FROM sessions WHERE id = ?", (stats.session_id,)
        ).fetchone()
    assert status == "done", server.log_tail()
    session_dir = data_dir / "sessions" / str(stats.session_id)
    for name in ("annotated.mp4", "landmarks.csv", "summary.json", "report.html"):
        assert (session_dir / name).stat().st_size > 0, name
    summary = json.loads((session_dir / "summary.json").read_text())
    assert summary["frames"] >= interrupted[0]
