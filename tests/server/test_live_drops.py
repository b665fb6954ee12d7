"""A `start` then a drop (or a stop) before any frame leaves nothing in the library: anyone with
the token could otherwise fill it with empty failed sessions."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fastapi.testclient import TestClient

from posecoach.server import create_app
from tests.server.conftest import FAST_LIMITS, FakeEngine, receive_until, synthetic_jpeg


def _sessions(client: TestClient, expected: int, timeout_s: float = 10.0) -> list[dict]:
    """The library's sessions once every finalising is over (none is left 'recording')."""
    deadline = time.monotonic() + timeout_s
    while True:
        listed = client.get("/api/sessions").json()
        settled = all(s["status"] != "recording" for s in listed)
        if (settled and len(listed) == expected) or time.monotonic() > deadline:
            return listed
        time.sleep(0.05)


def test_starts_then_drops_leave_no_session(tmp_path: Path) -> None:
    app = create_app(tmp_path, engine=FakeEngine(delay_s=0.0), limits=FAST_LIMITS)
    with TestClient(app) as client:
        for _ in range(20):
            with client.websocket_connect("/ws/live") as ws:
                ws.send_text(json.dumps({"type": "start"}))
                receive_until(ws, "started")
        with client.websocket_connect("/ws/live") as ws:
            ws.send_text(json.dumps({"type": "start"}))
            receive_until(ws, "started")
            ws.send_bytes(synthetic_jpeg())
            receive_until(ws, "result")
        listed = _sessions(client, 1)
        assert [s["status"] for s in listed] == ["done"], listed
        folders = sorted(p.name for p in (tmp_path / "sessions").iterdir())
        assert folders == [listed[0]["id"]], "no folder is left of the empty sessions"
        assert app.state.ctx.acquire_live(), "every live slot was given back"
