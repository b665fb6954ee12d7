"""Security: loopback by default, tokens, Host and Origin checks, no CORS, path traversal,
generated upload names, types decided by probing, configurable limits."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from typer.testing import CliRunner

import posecoach.server as server_mod
from posecoach.server import ServerLimits, create_app, run_server
from posecoach.server.auth import LOOPBACK_NAMES, host_name, origin_allowed
from tests.conftest import IMAGES, ROOT
from tests.server.conftest import FAST_LIMITS, ORIGIN, SIDE_CLIP, CapturedRun, FakeEngine, wait_job

PHOTO = IMAGES / "COCO_val2014_000000000241.jpg"
HEX_ID = re.compile(r"^[0-9a-f]{32}(\.[a-z0-9]+)?$")


@pytest.fixture(scope="module")
def sec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("security")


@pytest.fixture(scope="module")
def app(sec_dir: Path) -> FastAPI:
    return create_app(sec_dir, engine=FakeEngine(delay_s=0.0), limits=FAST_LIMITS)


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Any:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def session_id(client: TestClient) -> str:
    response = _upload(client, ("walk.mp4", SIDE_CLIP.read_bytes()))
    assert response.status_code == 202, response.text
    job = wait_job(client, response.json()["jobs"][0]["id"])
    assert job["status"] == "done"
    return str(job["session_id"])


def _upload(client: TestClient, *files: tuple[str, bytes]) -> Any:
    return client.post(
        "/api/uploads",
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
        headers={"origin": ORIGIN},
    )


def _raw_get(app: FastAPI, raw_path: str, host: str = "testserver") -> tuple[int, bytes]:
    """GET with the path exactly as given (no client-side normalising of `..`)."""
    path_only = raw_path.split("?", 1)[0]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path_only, "raw_path": path_only.encode("latin-1"),
        "query_string": b"", "root_path": "", "headers": [(b"host", host.encode())],
        "client": ("127.0.0.1", 1234), "server": ("127.0.0.1", 80),
    }
    status = 0
    body = bytearray()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    # A fresh thread has no running event loop, even when a browser test's loop is alive here.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result()
    return status, bytes(body)


# ---------------------------------------------------------------- binding and tokens


def test_loopback_is_the_default_everywhere() -> None:
    assert inspect.signature(run_server).parameters["host"].default == "127.0.0.1"
    from posecoach.cli import app as cli_app

    help_text = CliRunner().invoke(cli_app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    assert "127.0.0.1" in help_text and "--token" in help_text


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
     ("127.0.0.2", True), ("0.0.0.0", False), ("192.168.1.20", False), ("::", False),
     ("example.com", False)],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert server_mod.is_loopback(host) is loopback


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_other_interfaces_need_a_token(tmp_path: Path, captured: CapturedRun, host: str) -> None:
    with pytest.raises(ValueError, match="--token"):
        run_server(host=host, data_dir=tmp_path)
    with pytest.raises(ValueError, match="must not be empty"):
        run_server(host=host, data_dir=tmp_path, token="   ")
    assert captured.app is None
    run_server(host=host, data_dir=tmp_path, token="s3cret-Tok3n-for-tests")
    assert captured.app is not None and captured.kwargs["host"] == host
    with TestClient(captured.app, base_url="http://192.168.1.20:8000") as client:
        assert client.get("/api/sessions").status_code == 401
        assert client.get("/api/sessions?token=wrong").status_code == 401
        ok = client.get("/?token=s3cret-Tok3n-for-tests", follow_redirects=False)
        assert ok.status_code == 303 and ok.headers["location"] == "/"
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert client.get("/api/sessions").status_code == 200  # the cookie now carries it
        bearer = {"authorization": "Bearer s3cret-Tok3n-for-tests"}
        client.cookies.clear()
        assert client.get("/api/sessions", headers=bearer).status_code == 200


def test_cli_refuses_other_interfaces_without_a_token(tmp_path: Path) -> None:
    from posecoach.cli import app as cli_app

    result = CliRunner().invoke(
        cli_app, ["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)],
        env={"POSECOACH_TOKEN": ""},
    )
    assert result.exit_code == 2
    assert "--token" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("host", "allowed"),
    [("127.0.0.1:8000", True), ("localhost:8000", True), ("[::1]:8000", True),
     ("LOCALHOST", True), ("evil.example:8000", False), ("127.0.0.1.evil.example", False),
     ("", False)],
)
def test_without_a_token_only_loopback_host_names_are_answered(
    tmp_path: Path, captured: CapturedRun, host: str, allowed: bool
) -> None:
    run_server(data_dir=tmp_path)
    assert captured.app is not None
    status, body = _raw_get(captured.app, "/api/sessions", host=host)
    assert status == (200 if allowed else 403), body
    if not allowed:
        assert b"Host" in body


def test_host_name() -> None:
    assert host_name("127.0.0.1:8000") == "127.0.0.1"
    assert host_name("[::1]:80") == "::1"
    assert host_name("::1") == "::1"
    assert host_name(None) == ""
    assert "localhost" in LOOPBACK_NAMES


def test_rebinding_websocket_is_refused(tmp_path: Path, captured: CapturedRun) -> None:
    run_server(data_dir=tmp_path)
    assert captured.app is not None
    with TestClient(captured.app, base_url="http://evil.example:8000") as client:
        with pytest.raises(WebSocketDisconnect) as caught, client.websocket_connect(
            "/ws/live", headers={"origin": "http://evil.example:8000", "host": "evil.example:8000"}
        ) as ws:
            ws.receive_json()
        assert caught.value.code == 1008
    with TestClient(captured.app, base_url="http://127.0.0.1:8000") as client:
        headers = {"origin": "http://127.0.0.1:8000", "host": "127.0.0.1:8000"}
        with client.websocket_connect("/ws/live", headers=headers) as ws:
            ws.send_text('{"type": "ping"}')
            assert ws.receive_json() == {"type": "pong"}


def test_the_live_page_explains_https_for_phones() -> None:
    text = (ROOT / "web" / "index.html").read_text(encoding="utf-8")
    assert "HTTPS" in text and "phone" in text.lower()


# ---------------------------------------------------------------- origins and CORS


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (None, "127.0.0.1:8000", True),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("https://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("http://127.0.0.1:9999", "127.0.0.1:8000", False),
        ("http://localhost:8000", "127.0.0.1:8000", False),
        ("null", "127.0.0.1:8000", False),
        ("file://", "127.0.0.1:8000", False),
        ("http://127.0.0.1:8000.evil.example", "127.0.0.1:8000", False),
        ("http://127.0.0.1:8000", None, False),
    ],
)
def test_origin_table(origin: str | None, host: str | None, allowed: bool) -> None:
    assert origin_allowed(origin, host) is allowed


def test_no_cors_headers_for_other_origins(client: TestClient) -> None:
    preflight = client.options(
        "/api/uploads",
        headers={"origin": "http://evil.example", "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    plain = client.get("/api/sessions", headers={"origin": "http://evil.example"})
    assert "access-control-allow-origin" not in plain.headers
    assert "access-control-allow-credentials" not in plain.headers


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/api/uploads"), ("post", "/api/sessions/{id}/checkin")],
)
def test_cross_origin_writes_are_refused(
    client: TestClient, session_id: str, method: str, path: str
) -> None:
    response = client.request(
        method.upper(),
        path.format(id=session_id),
        json={"pain": "none", "score": 0},
        headers={"origin": "http://evil.example"},
    )
    assert response.status_code == 403
    assert client.get(f"/api/sessions/{session_id}").json()["checkin"] is None


@pytest.mark.parametrize("origin", ["http://evil.example", "http://testserver:1", "null"])
def test_cross_origin_websockets_are_refused(client: TestClient, origin: str) -> None:
    for path in ("/ws/live", "/ws/source"):
        with pytest.raises(WebSocketDisconnect) as caught, client.websocket_connect(
            path, headers={"origin": origin}
        ) as ws:
            ws.receive_json()
        assert caught.value.code == 1008


# ---------------------------------------------------------------- path traversal

TRAVERSAL_NAMES = [
    "../posecoach.db", "..%2Fposecoach.db", "..%2f..%2fposecoach.db", "%2e%2e%2fposecoach.db",
    "%2E%2E/%2E%2E/posecoach.db", "..%252F..%252Fposecoach.db", "%252e%252e%252fposecoach.db",
    "..%5Cposecoach.db", "..\\posecoach.db", "%c0%ae%c0%ae/posecoach.db", "..%c0%afposecoach.db",
    "/etc/passwd", "%2Fetc%2Fpasswd", "source.mp4", "plots.json", "summary.json%00",
    "summary.json%00.html", ".", "..", "%00", "summary.json/.", "./summary.json",
]


@pytest.mark.parametrize("name", TRAVERSAL_NAMES)
def test_file_names_cannot_leave_the_session(
    app: FastAPI, client: TestClient, session_id: str, name: str
) -> None:
    for raw in (True, False):
        path = f"/api/sessions/{session_id}/files/{name}"
        if raw:
            status, body = _raw_get(app, path)
        else:
            response = client.get(path)
            status, body = response.status_code, response.content
        if raw:
            assert status in (400, 404, 405), status
        assert b"SQLite format" not in body and b"root:" not in body


TRAVERSAL_IDS = ["..", ".", "%2e%2e", "..%2F..", "..%252F..", "../..", "%2e%2e%2f%2e%2e",
                 "0" * 31, "0" * 33, "G" * 32, "00000000-0000-0000-0000-000000000000",
                 "sessions", "%00"]


@pytest.mark.parametrize("bad_id", TRAVERSAL_IDS)
def test_session_ids_cannot_leave_the_data_folder(app: FastAPI, bad_id: str) -> None:
    for suffix in ("", "/files/summary.json", "/plots"):
        status, body = _raw_get(app, f"/api/sessions/{bad_id}{suffix}")
        assert status in (400, 404, 405), (bad_id, suffix, status)
        assert b"SQLite format" not in body
    status, _ = _raw_get(app, f"/review/{bad_id}")
    assert status in (400, 404)


@pytest.mark.parametrize(
    "path",
    ["/static/../posecoach.db", "/static/..%2fposecoach.db", "/static/%2e%2e/%2e%2e/pyproject.toml",
     "/static/../../pyproject.toml", "/static/..%5c..%5cpyproject.toml", "/static//etc/passwd",
     "/static/%2fetc%2fpasswd", "/../posecoach.db", "/api/../posecoach.db"],
)
def test_static_files_cannot_leave_the_web_folder(app: FastAPI, path: str) -> None:
    status, body = _raw_get(app, path)
    assert status in (400, 404, 405), (path, status)
    assert b"SQLite format" not in body and b"[project]" not in body and b"root:" not in body


def test_data_folder_files_are_never_served(app: FastAPI, sec_dir: Path) -> None:
    assert (sec_dir / "posecoach.db").is_file()
    for path in ("/posecoach.db", "/sessions", "/uploads", "/static/posecoach.db"):
        status, body = _raw_get(app, path)
        assert status == 404 and b"SQLite format" not in body


# ---------------------------------------------------------------- uploads

HOSTILE_NAMES = ["/etc/passwd.mp4", "C:\\Windows\\evil.mp4", "../../../../tmp/evil.mp4", "..",
                 "name\x00.mp4", "a" * 500 + ".mp4", "<script>alert(1)</script>.mp4",
                 "sp ace\n.mp4", "ünïcödé.mp4"]


def test_uploads_get_generated_names(client: TestClient, sec_dir: Path) -> None:
    clip = SIDE_CLIP.read_bytes()
    response = _upload(client, *[(name, clip) for name in HOSTILE_NAMES])
    assert response.status_code == 202, response.text
    jobs = [wait_job(client, job["id"]) for job in response.json()["jobs"]]
    assert all(job["status"] == "done" for job in jobs)
    for job in jobs:
        assert "/" not in job["filename"] and "\\" not in job["filename"]
        assert job["filename"] not in (".", "..") and "\x00" not in job["filename"]
        assert len(job["filename"]) <= 200
        assert job["session_id"] and HEX_ID.match(job["session_id"])
        stored = sorted(p.name for p in (sec_dir / "sessions" / job["session_id"]).iterdir())
        assert [n for n in stored if n.startswith("source")] in (["source.mp4"], ["source.bin"])
    for child in (sec_dir / "uploads").iterdir():
        assert HEX_ID.match(child.name), child.name
    for child in (sec_dir / "sessions").iterdir():
        assert HEX_ID.match(child.name), child.name
    assert not Path("/tmp/evil.mp4").exists()
    names = {p.name for p in sec_dir.rglob("*")}
    assert not any("evil" in n or "passwd" in n or "script" in n for n in names)


def test_the_type_comes_from_the_content_not_the_name(client: TestClient, sec_dir: Path) -> None:
    clip = SIDE_CLIP.read_bytes()
    response = _upload(client, ("holiday.txt", clip), ("no-extension", clip))
    assert response.status_code == 202, response.text
    for job in response.json()["jobs"]:
        done = wait_job(client, job["id"])
        assert done["status"] == "done", done
        stored = [p.name for p in (sec_dir / "sessions" / done["session_id"]).glob("source*")]
        assert stored == ["source.bin"]
    photo = _upload(client, ("walk.mp4", PHOTO.read_bytes()))
    assert photo.status_code == 415 and "photo" in photo.json()["detail"]
    text = _upload(client, ("walk.mov", b"#!/bin/sh\necho this is a shell script\n" * 10))
    assert text.status_code == 415 and "text file" in text.json()["detail"]


def test_a_huge_file_name_is_a_clean_client_error(client: TestClient) -> None:
    response = _upload(client, ("a" * 20_000 + ".mp4", SIDE_CLIP.read_bytes()))
    assert response.status_code in (202, 400)
    if response.status_code == 202:
        assert len(response.json()["jobs"][0]["filename"]) <= 200
    else:
        assert "multipart" in response.json()["detail"]


def test_too_many_files_in_one_upload(tmp_path: Path) -> None:
    limits = ServerLimits(max_upload_bytes=1_000_000, max_files_per_upload=2)
    with TestClient(create_app(tmp_path, engine=FakeEngine(), limits=limits)) as client:
        response = _upload(client, *[(f"{i}.mp4", b"x" * 10) for i in range(3)])
    assert response.status_code == 400 and "at most 2 files" in response.json()["detail"]
    assert not any((tmp_path / "uploads").glob("*"))


# ---------------------------------------------------------------- configurable limits


def test_limits_from_the_environment() -> None:
    limits = ServerLimits().with_env(
        {"POSECOACH_MAX_UPLOAD_MB": "1.5", "POSECOACH_MAX_DURATION_MIN": "0.5",
         "POSECOACH_MAX_FILES_PER_UPLOAD": "3", "POSECOACH_MAX_LIVE_SESSIONS": "1"}
    )
    assert limits.max_upload_bytes == 1_500_000
    assert limits.max_duration_s == 30.0
    assert limits.max_files_per_upload == 3 and limits.max_live_sessions == 1
    assert ServerLimits().with_env({}) == ServerLimits()
    for bad in ("abc", "-1", "0", "inf", "nan"):
        with pytest.raises(ValueError, match="POSECOACH_MAX_UPLOAD_MB"):
            ServerLimits().with_env({"POSECOACH_MAX_UPLOAD_MB": bad})
    with pytest.raises(ValueError):
        ServerLimits(max_upload_bytes=0)


def test_run_server_applies_limits(
    tmp_path: Path, captured: CapturedRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSECOACH_MAX_UPLOAD_MB", "0.001")
    monkeypatch.setenv("POSECOACH_MAX_DURATION_MIN", "0.01")
    run_server(data_dir=tmp_path / "env")
    assert captured.app is not None
    with TestClient(captured.app, base_url="http://127.0.0.1:8000") as client:
        limits = client.get("/api/config").json()["limits"]
        assert limits["max_upload_bytes"] == 1000 and limits["max_duration_s"] == 0.6
        too_big = client.post(
            "/api/uploads", files=[("files", ("a.mp4", b"\0" * 2000, "video/mp4"))]
        )
        assert too_big.status_code == 413 and "limit" in too_big.json()["detail"]
    explicit = ServerLimits(max_frame_bytes=100_000, max_upload_bytes=5000)
    run_server(data_dir=tmp_path / "explicit", limits=explicit)
    assert captured.kwargs["ws_max_size"] == 400_000
    with TestClient(captured.app, base_url="http://127.0.0.1:8000") as client:
        limits = client.get("/api/config").json()["limits"]
        assert limits["max_upload_bytes"] == 5000 and limits["max_frame_bytes"] == 100_000
    monkeypatch.setenv("POSECOACH_MAX_LIVE_SESSIONS", "many")
    with pytest.raises(ValueError, match="POSECOACH_MAX_LIVE_SESSIONS"):
        run_server(data_dir=tmp_path / "bad")


def test_duration_limit_refuses_long_clips(tmp_path: Path) -> None:
    shutil.copy(SIDE_CLIP, tmp_path / "clip.mp4")
    limits = ServerLimits(max_upload_bytes=50_000_000, max_duration_s=1.0)
    with TestClient(create_app(tmp_path / "data", engine=FakeEngine(), limits=limits)) as client:
        response = _upload(client, ("long.mp4", (tmp_path / "clip.mp4").read_bytes()))
        assert response.status_code == 422
        assert "limit is" in response.json()["detail"]
        assert client.get("/api/sessions").json() == []
    assert not any((tmp_path / "data" / "uploads").glob("*"))


# ---------------------------------------------------------------- hostile WebSocket input


def _image_bytes(ext: str, width: int = 64, height: int = 48) -> bytes:
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(ext, np.full((height, width, 3), 90, np.uint8))
    assert ok
    return buf.tobytes()


def _jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(_image_bytes(".jpg"))
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        pos = data.find(marker)
        if pos >= 0:
            data[pos + 5 : pos + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
            return bytes(data)
    raise AssertionError("no frame header")


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (_image_bytes(".png"), "JPEG"),
        (_image_bytes(".webp"), "JPEG"),
        (_image_bytes(".bmp"), "JPEG"),
        (b"GIF89a" + b"\0" * 100, "JPEG"),
        (b"\xff\xd8\xff", "JPEG"),
        (_jpeg_claiming(60000, 60000), "too large"),
        (b"", "JPEG"),
    ],
    ids=["png", "webp", "bmp", "gif", "jpeg-magic-only", "huge-claimed-size", "empty"],
)
def test_wrong_image_formats_get_an_error_and_the_session_goes_on(
    client: TestClient, payload: bytes, fragment: str
) -> None:
    from tests.server.conftest import receive_until, synthetic_jpeg

    with client.websocket_connect("/ws/live") as ws:
        ws.send_text('{"type": "start"}')
        receive_until(ws, "started")
        ws.send_bytes(payload)
        error = ws.receive_json()
        assert error["type"] == "error" and fragment in error["message"]
        ws.send_bytes(synthetic_jpeg())
        assert ws.receive_json()["type"] == "result"
        ws.send_text('{"type": "stop"}')
        assert receive_until(ws, "finished")[0]["status"] == "done"


@pytest.mark.parametrize(
    "text",
    ["", "null", "[]", "42", '"start"', '{"type": null}', '{"type": ["start"]}',
     '{"type": "start", "level": 3}', '{"type": "start", "height_cm": true}',
     '{"type": "start", "height_cm": 1e999}', '{"type": "start", "level": "x' + "y" * 10_000 + '"}',
     "\x00\x01\x02", "{" * 5000, "x" * 300_000],
)
def test_garbage_text_messages_get_an_error(client: TestClient, text: str) -> None:
    with client.websocket_connect("/ws/live") as ws:
        ws.send_text(text)
        reply = ws.receive_json()
        assert reply["type"] == "error" and reply["message"]
        assert len(reply["message"]) < 500
        ws.send_text('{"type": "ping"}')
        assert ws.receive_json() == {"type": "pong"}


@pytest.mark.video
def test_a_message_over_the_socket_limit_closes_only_that_socket(tmp_path: Path) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    from tools.loadtest import ServerProcess

    limit = 4 * ServerLimits().max_frame_bytes
    with ServerProcess(tmp_path / "data") as server:
        with connect(f"{server.ws_base}/ws/live", max_size=None) as ws:
            ws.send('{"type": "ping"}')
            assert "pong" in ws.recv(timeout=30)
            ws.send(b"\xff\xd8\xff" + b"\0" * (limit + 10))
            with pytest.raises(ConnectionClosed) as caught:
                ws.recv(timeout=30)
            assert caught.value.rcvd is not None and caught.value.rcvd.code == 1009
        with connect(f"{server.ws_base}/ws/live") as ws:
            ws.send('{"type": "ping"}')
            assert "pong" in ws.recv(timeout=30)
        assert server.get_json("/api/config")["limits"]["max_frame_bytes"] == limit // 4


@pytest.mark.video
def test_a_deeply_nested_array_gets_a_close_frame_and_the_server_stays_up(
    tmp_path: Path,
) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    from tools.loadtest import ServerProcess

    deep = "[" * 100_000 + "]" * 100_000
    with ServerProcess(tmp_path / "data") as server:
        with connect(f"{server.ws_base}/ws/live", max_size=None) as ws:
            ws.send(deep)
            reply = ws.recv(timeout=30)
            assert '"error"' in reply and "nested too deeply" in reply
            with pytest.raises(ConnectionClosed) as caught:
                ws.recv(timeout=30)
            assert caught.value.rcvd is not None and caught.value.rcvd.code == 1008
        with connect(f"{server.ws_base}/ws/live") as ws:
            ws.send('{"type": "ping"}')
            assert "pong" in ws.recv(timeout=30)
        assert "Traceback" not in server.log_tail(20_000)


def test_a_deeply_nested_message_on_the_source_socket_closes_it(tmp_path: Path) -> None:
    from tests.conftest import VIDEO

    app = create_app(tmp_path, source=str(VIDEO / "front_two_walkers.gif"), engine=FakeEngine(),
                     limits=FAST_LIMITS)
    with TestClient(app) as client:
        with client.websocket_connect("/ws/source") as ws:
            ws.send_text('{"type": ' * 50_000 + "1" + "}" * 50_000)
            assert "nested too deeply" in ws.receive_json()["message"]
            with pytest.raises(WebSocketDisconnect) as caught:
                ws.receive_json()
            assert caught.value.code == 1008
        with client.websocket_connect("/ws/source") as ws:
            ws.send_text('{"type": "ping"}')
            assert ws.receive_json() == {"type": "pong"}


# ---------------------------------------------------------------- tokens, addresses and options


def test_a_token_with_any_character_works(
    tmp_path: Path, captured: CapturedRun, capsys: pytest.CaptureFixture[str]
) -> None:
    token = "pass€word-K9x-strong"
    encoded = "pass%E2%82%ACword-K9x-strong"
    run_server(host="0.0.0.0", port=8123, data_dir=tmp_path, token=token)
    assert f"http://0.0.0.0:8123/?token={encoded}" in capsys.readouterr().out
    assert captured.app is not None
    with TestClient(captured.app, base_url="http://192.168.1.20:8000") as client:
        assert client.get("/api/sessions").status_code == 401
        assert client.get("/api/sessions?token=pass%E2%82%ACwort-K9x-strong").status_code == 401
        assert client.get("/api/sessions?token=pass%80word-K9x-strong").status_code == 401
        assert client.get(f"/api/sessions?token={encoded}").status_code == 200
        page = client.get(f"/?token={encoded}", follow_redirects=False)
        assert page.status_code == 303
        assert f"posecoach_token={encoded};" in page.headers["set-cookie"]
        assert client.get("/api/sessions").status_code == 200  # the cookie carries it
        client.cookies.clear()
        bearer = {"authorization": f"Bearer {token}".encode()}
        assert client.get("/api/sessions", headers=bearer).status_code == 200
        wrong = {"authorization": "Bearer pass€wort-K9x-strong".encode()}
        assert client.get("/api/sessions", headers=wrong).status_code == 401
        with client.websocket_connect(f"/ws/live?token={encoded}") as ws:
            ws.send_text('{"type": "ping"}')
            assert ws.receive_json() == {"type": "pong"}


def test_the_token_is_redacted_from_log_lines() -> None:
    from posecoach.server import uvicorn_log_config
    from posecoach.server.auth import TokenRedactingFilter

    access = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/sessions?token=s3cr%E2%82%ACt&x=1", "1.1", 200), None,
    )
    socket_line = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/ws/live?level=beginner&token=s3cret"), None,
    )
    for record in (access, socket_line):
        assert TokenRedactingFilter().filter(record)
        line = record.getMessage()
        assert "s3cr" not in line and "token=[redacted]" in line, line
    assert access.getMessage().endswith("token=[redacted]&x=1 HTTP/1.1\" 200")
    config = uvicorn_log_config()
    assert all("redact_token" in h["filters"] for h in config["handlers"].values())


def test_addresses_are_shown_with_one_pair_of_brackets(
    tmp_path: Path, captured: CapturedRun, capsys: pytest.CaptureFixture[str]
) -> None:
    assert server_mod.server_url("::1", 8000) == "http://[::1]:8000/"
    assert server_mod.server_url("[::1]", 8000) == "http://[::1]:8000/"
    assert server_mod.server_url("127.0.0.1", 80, "a b&c") == "http://127.0.0.1:80/?token=a%20b%26c"
    for host in ("::1", "[::1]"):
        run_server(host=host, port=8124, data_dir=tmp_path)
        assert captured.kwargs["host"] == "::1"
        assert "open http://[::1]:8124/" in capsys.readouterr().out
        status, _ = _raw_get(captured.app, "/api/sessions", host="[::1]:8124")  # type: ignore[arg-type]
        assert status == 200


def _ipv6_loopback() -> bool:
    import socket

    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_serve_on_ipv6_loopback_with_a_unicode_token(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket(socket.AF_INET6) as sock:
        sock.bind(("::1", 0))
        port = int(sock.getsockname()[1])
    encoded = "pass%E2%82%ACword-K9x-strong"
    proc = subprocess.Popen(
        [sys.executable, "-m", "posecoach", "serve", "--host", "[::1]", "--port", str(port),
         "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "POSECOACH_TOKEN": "pass€word-K9x-strong"},
    )
    try:
        answered = None
        deadline = time.monotonic() + 120
        while answered is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                url = f"http://[::1]:{port}/api/sessions?token={encoded}"
                with urllib.request.urlopen(url, timeout=5) as response:
                    answered = response.status
            except OSError:
                time.sleep(0.5)
        assert answered == 200
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert f"open http://[::1]:{port}/?token={encoded}" in out, out + err
    assert "[[" not in out + err and "Traceback" not in err, out + err
    assert (out + err).count(encoded) == 1, "only the address to open holds the token"
    assert "GET /api/sessions?token=[redacted]" in out + err, out + err


@pytest.mark.parametrize(
    "option", ["--max-upload-mb=inf", "--max-upload-mb=nan", "--max-upload-mb=-1",
               "--max-upload-mb=0", "--max-duration-min=inf", "--max-duration-min=-5"],
)
def test_limit_options_must_be_finite_and_positive(tmp_path: Path, option: str) -> None:
    from posecoach.cli import app as cli_app

    result = CliRunner().invoke(cli_app, ["serve", option, "--data-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert option.split("=")[0] in result.output and "positive number" in result.output
    assert "Traceback" not in result.output


def test_limit_options_apply() -> None:
    limits = server_mod.limits_from_options(1.5, 0.5, base=ServerLimits())
    assert limits.max_upload_bytes == 1_500_000 and limits.max_duration_s == 30.0
    assert server_mod.limits_from_options(base=ServerLimits()) == ServerLimits()
    with pytest.raises(ValueError, match="--max-upload-mb"):
        server_mod.limits_from_options(float("inf"), base=ServerLimits())
